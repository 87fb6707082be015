//! The media half of `bench-platform`: every file of a small media set
//! downloaded over loopback, one at a time and four at a time.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Row, Server, Sizes, http, large, max, median, open_export, seed_into, walk};

/// Downloads `urls` one after another; returns the bodies in order.
async fn download_all(
    http: reqwest::Client,
    urls: Vec<(usize, String)>,
) -> Result<Vec<(usize, impl AsRef<[u8]> + Send + use<>)>> {
    let mut out = Vec::with_capacity(urls.len());
    for (i, url) in urls {
        let resp = http.get(&url).send().await?;
        let status = resp.status();
        ensure!(
            status.as_u16() == 200,
            "downloading {url} answered {status}"
        );
        out.push((i, resp.bytes().await?));
    }
    Ok(out)
}

/// Downloads every file once, `parallel` at a time; returns the seconds it
/// took. Every body is checked against its declared sha256 after the clock
/// stops (the client's hashing is not the server's speed).
async fn download_pass(
    http: &reqwest::Client,
    urls: &[(usize, String)],
    media: &[Value],
    parallel: usize,
    expected_bytes: u64,
) -> Result<f64> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..parallel {
        let share: Vec<(usize, String)> = urls
            .iter()
            .filter(|(i, _)| i % parallel == lane)
            .cloned()
            .collect();
        tasks.spawn(download_all(http.clone(), share));
    }
    let mut bodies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        bodies.extend(done.context("a download task failed")??);
    }
    let took = started.elapsed().as_secs_f64();
    let mut bytes = 0u64;
    for (i, body) in &bodies {
        let m = &media[*i];
        let body = body.as_ref();
        let sha: String = Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ensure!(
            m["sha256"].as_str() == Some(sha.as_str()),
            "media {} does not match its sha256",
            m["id"]
        );
        bytes += body.len() as u64;
    }
    ensure!(
        bytes == expected_bytes,
        "downloaded {bytes} bytes, the seed wrote {expected_bytes}"
    );
    Ok(took)
}

/// (c) Media: downloads of every file of a small media set, one at a time
/// and four at a time.
pub(super) async fn bench_media(dir: &Path, sizes: &Sizes) -> Result<Vec<Row>> {
    eprintln!("bench-platform: seeding {} media files…", sizes.media);
    let db = dir.join("media.db");
    let (store, report, _) =
        tokio::task::block_in_place(|| seed_into(&db, &large(1_000, sizes.media)))?;
    let server = Server::start(store).await?;
    let (user, token) = server.large_account()?;
    let http = http()?;
    let export = open_export(&http, &server, &token, user, &["media"]).await?;
    let base = format!("{}/api/v1/users/{user}/exports/{export}", server.url);
    let (media, _) = walk(&http, &base, &token, "media").await?;
    ensure!(
        media.len() as u64 == sizes.media,
        "the media walk returned {} items, not {}",
        media.len(),
        sizes.media
    );
    let urls: Vec<(usize, String)> = media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok((
                i,
                m["download_url"]
                    .as_str()
                    .context("a download URL")?
                    .to_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    let total_mb = report.media_bytes as f64 / 1e6;

    // One untimed pass first, so every measured pass finds the same warm caches.
    download_all(http.clone(), urls.clone()).await?;
    let mut rows = Vec::new();
    for parallel in [1usize, 4] {
        let mut rates = Vec::new();
        for pass in 1..=sizes.media_passes {
            let took = download_pass(&http, &urls, &media, parallel, report.media_bytes).await?;
            eprintln!(
                "bench-platform: {} files, {parallel} at a time, pass {pass}: {took:.3} s",
                media.len()
            );
            rates.push(total_mb / took);
        }
        rows.push(Row::new(
            format!(
                "Media download: {} files ({total_mb:.1} MB), {parallel} at a time, {} passes",
                media.len(),
                sizes.media_passes
            ),
            format!(
                "best {:.0} MB/s, median {:.0} MB/s",
                max(&rates),
                median(&rates)
            ),
            "—",
        ));
    }
    Ok(rows)
}
