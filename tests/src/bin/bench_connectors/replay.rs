//! The lower bound of an export from a platform: the very requests the
//! export made, sent again the way it sends them (a few walks at once,
//! each in order, files eight at once), their bodies read and thrown away.
//! What is left of the export's time above it is Keepsake's own work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures_util::StreamExt as _;
use keepsake_tests::proxy::Exchange;

/// How requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    /// HTTP Basic (WordPress's application passwords).
    Basic(String, String),
    /// A bearer token (Matrix).
    Bearer(String),
}

/// The requests of one export, by chain: those of one walk, in order, and
/// each file on its own; `setup` (who am I, the counts, the room list)
/// first.
pub struct Requests {
    pub setup: Vec<String>,
    pub walks: Vec<Vec<String>>,
    pub files: Vec<String>,
}

/// What a request is part of.
pub enum Part {
    Setup,
    Walk(String),
    File,
}

/// Sorts what the export asked (through the recording proxy) into chains.
pub fn chains(log: &[Exchange], part: impl Fn(&str) -> Part) -> Requests {
    let mut walks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut setup, mut files) = (Vec::new(), Vec::new());
    for e in log.iter().filter(|e| e.method == "GET") {
        match part(&e.path) {
            Part::Setup => setup.push(e.path.clone()),
            Part::File => files.push(e.path.clone()),
            Part::Walk(key) => walks.entry(key).or_default().push(e.path.clone()),
        }
    }
    Requests {
        setup,
        walks: walks.into_values().collect(),
        files,
    }
}

/// Sends every request of `r` to `base` as the export did — `walks` walks
/// at once, eight files at once, alongside — and returns the wall time.
pub async fn replay(base: &str, auth: &Auth, r: &Requests, walks: usize) -> Result<f64> {
    let http = reqwest::Client::builder()
        .build()
        .context("an HTTP client")?;
    let get = {
        let (http, base, auth) = (http.clone(), base.to_owned(), auth.clone());
        Arc::new(move |path: String| {
            let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
            async move {
                let req = http.get(format!("{base}{path}"));
                let req = match &auth {
                    Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
                    Auth::Bearer(t) => req.bearer_auth(t),
                };
                // (Answered as it was to the export: a refusal included, such
                // as Synapse's to a non-admin asking whether it is one.)
                let resp = req.send().await.with_context(|| format!("GET {path}"))?;
                ensure!(
                    !resp.status().is_server_error(),
                    "GET {path}: {}",
                    resp.status()
                );
                let mut body = resp.bytes_stream();
                while let Some(chunk) = body.next().await {
                    chunk.with_context(|| format!("the body of {path}"))?;
                }
                Ok::<_, anyhow::Error>(())
            }
        })
    };
    let started = Instant::now();
    for path in &r.setup {
        get(path.clone()).await?;
    }
    let walking = futures_util::stream::iter(r.walks.clone())
        .map(|chain| {
            let get = get.clone();
            async move {
                for path in chain {
                    get(path).await?;
                }
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(walks.max(1))
        .collect::<Vec<_>>();
    let fetching = futures_util::stream::iter(r.files.clone())
        .map(|path| get.clone()(path))
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let (w, f) = tokio::join!(walking, fetching);
    for done in w.into_iter().chain(f) {
        done?;
    }
    Ok(started.elapsed().as_secs_f64())
}
