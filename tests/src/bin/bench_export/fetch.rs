//! The fetch-only lower bound: the requests `keepsake export` makes, in the
//! same shape (categories concurrently, each cursor chain in order, media
//! files four at a time as their URLs arrive), with every body discarded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Value, json};

/// Parallel media downloads: the CLI's default `--parallel`.
pub const MEDIA_WORKERS: usize = keepsake_core::export::DEFAULT_MEDIA_WORKERS;

/// The fetch-only lower bound: what `keepsake export` asks, with every body
/// discarded (pages parsed only as far as the cursor and media URLs); returns
/// the bytes received. Ends the session as cancelled, so the next one opens.
pub async fn fetch_only(base: &str, token: &str) -> Result<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .context("building the HTTP client")?;
    let me: Value = get_json(&http, token, &format!("{base}/api/v1/me")).await?;
    let user = me["id"].as_i64().context("/me has no id")?;
    let resp = http
        .post(format!("{base}/api/v1/users/{user}/exports"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await?;
    let status = resp.status();
    let session: Value = resp.json().await.context("the session is not JSON")?;
    ensure!(
        status == 201,
        "opening an export answered {status}: {session}"
    );
    let export = session["export_id"].as_str().context("no export_id")?;
    let session_url = format!("{base}/api/v1/users/{user}/exports/{export}");
    let walked = walk_everything(&http, &session_url, token).await;
    let end = http
        .patch(&session_url)
        .bearer_auth(token)
        .json(&json!({"status": "cancelled", "error": "benchmark fetch finished"}))
        .send()
        .await?;
    ensure!(
        end.status().is_success(),
        "ending the session answered {}",
        end.status()
    );
    let (counts, bytes) = walked?;
    for (cat, est) in session["categories"].as_object().context("no categories")? {
        let want = est["count"].as_u64().unwrap_or(0);
        let got = counts.get(cat.as_str()).copied().unwrap_or(0);
        ensure!(
            got == want,
            "the fetch got {got} {cat}, the session announced {want}"
        );
    }
    Ok(bytes)
}

#[derive(Deserialize)]
pub struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct MediaUrl {
    download_url: String,
}

/// The profile, every collection concurrently (each cursor chain in order)
/// and the media files [`MEDIA_WORKERS`] at a time as their URLs arrive.
/// Returns the items per category (media: files downloaded) and the bytes.
pub async fn walk_everything(
    http: &reqwest::Client,
    session: &str,
    token: &str,
) -> Result<(HashMap<String, u64>, u64)> {
    let mut bytes = get_bytes(http, token, &format!("{session}/profile")).await?;
    let mut counts = HashMap::from([("profile".to_owned(), 1)]);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut tasks = tokio::task::JoinSet::new();
    for cat in ["posts", "comments", "likes", "connections"] {
        let (h, s, t) = (http.clone(), session.to_owned(), token.to_owned());
        tasks.spawn(async move { walk::<IgnoredAny>(&h, &s, &t, cat, |_| {}).await });
    }
    let (h, s, t) = (http.clone(), session.to_owned(), token.to_owned());
    tasks.spawn(async move {
        walk::<MediaUrl>(&h, &s, &t, "media", move |m| {
            let _ = tx.send(m.download_url);
        })
        .await
    });
    for _ in 0..MEDIA_WORKERS {
        let (h, t, rx) = (http.clone(), token.to_owned(), rx.clone());
        tasks.spawn(async move {
            let (mut files, mut bytes) = (0u64, 0u64);
            loop {
                let next = rx.lock().await.recv().await;
                let Some(url) = next else { break };
                let mut resp = h.get(&url).bearer_auth(&t).send().await?;
                ensure!(resp.status() == 200, "{url} answered {}", resp.status());
                while let Some(chunk) = resp.chunk().await? {
                    bytes += chunk.len() as u64;
                }
                files += 1;
            }
            Ok(("media files", files, bytes))
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (cat, n, b) = done.context("a fetch task panicked")??;
        *counts.entry(cat.to_owned()).or_default() += n;
        bytes += b;
    }
    let files = counts.get("media files").copied().unwrap_or(0);
    let media = counts.get("media").copied().unwrap_or(0);
    ensure!(files == media, "downloaded {files} media files of {media}");
    Ok((counts, bytes))
}

/// Walks one cursor chain at limit=500; returns (category, items, bytes).
pub async fn walk<T: DeserializeOwned>(
    http: &reqwest::Client,
    session: &str,
    token: &str,
    cat: &'static str,
    mut each: impl FnMut(T),
) -> Result<(&'static str, u64, u64)> {
    let (mut items, mut bytes, mut cursor) = (0u64, 0u64, None::<String>);
    loop {
        let mut url = format!("{session}/{cat}?limit=500");
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
        }
        let resp = http.get(&url).bearer_auth(token).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        ensure!(status == 200, "{url} answered {status}");
        bytes += body.len() as u64;
        let page: Page<T> =
            serde_json::from_slice(&body).with_context(|| format!("{url} is not a page"))?;
        items += page.items.len() as u64;
        page.items.into_iter().for_each(&mut each);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((cat, items, bytes)),
        }
    }
}

pub async fn get_bytes(http: &reqwest::Client, token: &str, url: &str) -> Result<u64> {
    let resp = http.get(url).bearer_auth(token).send().await?;
    ensure!(resp.status() == 200, "{url} answered {}", resp.status());
    Ok(resp.bytes().await?.len() as u64)
}

pub async fn get_json(http: &reqwest::Client, token: &str, url: &str) -> Result<Value> {
    let resp = http.get(url).bearer_auth(token).send().await?;
    ensure!(resp.status() == 200, "{url} answered {}", resp.status());
    resp.json()
        .await
        .with_context(|| format!("{url} is not JSON"))
}
