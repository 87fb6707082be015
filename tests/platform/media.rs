//! Media downloads: signed URLs, integrity, HEAD and Range for resuming.

use base64::Engine as _;
use keepsake_platform::seed::Preset;
use keepsake_tests::{Platform, client};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn first_media(p: &Platform) -> (Value, String, i64) {
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api
        .open_export(alice, json!({"categories": ["media"]}))
        .await
        .expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    let page = api
        .get(&format!("/api/v1/users/{alice}/exports/{id}/media?limit=1"))
        .await
        .expect(200);
    (page.body["items"][0].clone(), id, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_matches_its_declared_size_and_hash() {
    let p = Platform::start(Preset::Demo).await;
    let (m, _, _) = first_media(&p).await;
    let url = m["download_url"].as_str().expect("url");
    assert!(
        url.starts_with(&p.url),
        "{url} is absolute on this platform"
    );
    let resp = client().get(url).send().await.expect("download");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(
        resp.headers()["content-type"].to_str().expect("type"),
        m["content_type"].as_str().expect("type")
    );
    let body = resp.bytes().await.expect("body");
    assert_eq!(body.len() as u64, m["size"].as_u64().expect("size"));
    assert_eq!(
        hex::encode(Sha256::digest(&body)),
        m["sha256"].as_str().expect("sha")
    );

    let head = client().head(url).send().await.expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().expect("len"),
        m["size"].to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_let_an_interrupted_download_resume() {
    let p = Platform::start(Preset::Demo).await;
    let (m, _, _) = first_media(&p).await;
    let url = m["download_url"].as_str().expect("url");
    let size = m["size"].as_u64().expect("size");
    let half = size / 2;
    let first = client()
        .get(url)
        .header("range", format!("bytes=0-{}", half - 1))
        .send()
        .await
        .expect("range");
    assert_eq!(first.status().as_u16(), 206);
    assert_eq!(
        first.headers()["content-range"].to_str().expect("cr"),
        format!("bytes 0-{}/{size}", half - 1)
    );
    let mut bytes = first.bytes().await.expect("body").to_vec();
    assert_eq!(bytes.len() as u64, half);
    let rest = client()
        .get(url)
        .header("range", format!("bytes={half}-"))
        .send()
        .await
        .expect("range");
    assert_eq!(rest.status().as_u16(), 206);
    bytes.extend_from_slice(&rest.bytes().await.expect("rest"));
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        m["sha256"].as_str().expect("sha")
    );

    let suffix = client()
        .get(url)
        .header("range", "bytes=-10")
        .send()
        .await
        .expect("suffix");
    assert_eq!(
        suffix.bytes().await.expect("tail").as_ref(),
        &bytes[bytes.len() - 10..]
    );
    let beyond = client()
        .get(url)
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .expect("416");
    assert_eq!(beyond.status().as_u16(), 416);
    assert_eq!(
        beyond.headers()["content-range"].to_str().expect("cr"),
        format!("bytes */{size}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_urls_are_refused_and_a_fresh_one_comes_from_the_metadata() {
    let p = Platform::start(Preset::Demo).await;
    let (m, export_id, alice) = first_media(&p).await;
    let url = m["download_url"].as_str().expect("url");
    let forged_sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0u8; 32]);
    let mut parsed = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "sig" {
                forged_sig.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = client().get(parsed.as_str()).send().await.expect("forged");
    assert_eq!(resp.status().as_u16(), 403);
    let problem: Value = resp.json().await.expect("problem");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or("")
            .ends_with("/media-url-expired")
    );

    let other = url.replace(&format!("/media/{}/", m["id"]), "/media/2/");
    assert_eq!(
        client()
            .get(&other)
            .send()
            .await
            .expect("other")
            .status()
            .as_u16(),
        403,
        "a URL names one file"
    );

    let api = p.api(&p.token("alice", "export:self"));
    let fresh = api
        .get(&format!(
            "/api/v1/users/{alice}/exports/{export_id}/media/{}",
            m["id"]
        ))
        .await
        .expect(200);
    assert_eq!(fresh.body["sha256"], m["sha256"]);
    let resp = client()
        .get(fresh.body["download_url"].as_str().expect("url"))
        .send()
        .await
        .expect("fresh");
    assert_eq!(resp.status().as_u16(), 200);
    api.get(&format!(
        "/api/v1/users/{alice}/exports/{export_id}/media/999999"
    ))
    .await
    .expect(404);
}
