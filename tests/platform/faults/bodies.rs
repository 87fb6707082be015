//! Faults inside a response's body: cut half way, truncated, slowed or corrupted.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A response read off a bare socket, so a cut connection shows as exactly
/// what arrived before the cut (reqwest would only report an error).
struct RawReply {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    body: Vec<u8>,
}

async fn raw_get(base: &str, path: &str, token: Option<&str>) -> RawReply {
    let addr = base
        .strip_prefix("http://")
        .expect("the platform speaks plain http on loopback");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the platform");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf))
            .await
            .expect("the platform answers or closes the connection within 20 s");
        match read {
            Ok(0) | Err(_) => break, // a reset is as good an end as a close
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head arrived");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let field = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        })
    };
    RawReply {
        status,
        content_length: field("content-length").and_then(|v| v.parse().ok()),
        chunked: field("transfer-encoding").is_some_and(|v| v.contains("chunked")),
        body: raw[split + 4..].to_vec(),
    }
}

/// The head, then exactly half the body, then the cut: resumable downloads
/// can only be rehearsed if the bytes before the cut really arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_delivers_exactly_half_a_download_then_cuts() {
    let (platform, api, alice) = demo().await;
    let (_, media) = first_page(&api, alice, "media", 1).await;
    let item = &media.body["items"][0];
    let url = item["download_url"]
        .as_str()
        .expect("a download URL")
        .to_owned();
    let size = item["size"].as_u64().expect("a media size") as usize;
    let (status, _, whole) = get_bytes(&api, &url).await;
    assert_eq!(
        (status, whole.len()),
        (200, size),
        "without the fault the download completes"
    );

    platform.state.set_faults(FaultPlan {
        reset_mid_body: 1.0,
        ..FaultPlan::default()
    });
    let path = url
        .strip_prefix(&platform.url)
        .expect("the download URL points at this platform");
    let raw = raw_get(&platform.url, path, None).await;
    assert_eq!(raw.status, 200, "the fault strikes after the head");
    assert_eq!(
        raw.content_length,
        Some(size),
        "the head promises the whole file"
    );
    assert_eq!(
        raw.body.len(),
        size / 2,
        "exactly half the file arrives before the cut"
    );
    assert_eq!(
        raw.body,
        whole[..size / 2],
        "what arrives is the true start of the file"
    );

    // What a client sees: the head is fine, reading the body fails.
    let resp = client().get(&url).send().await.expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.bytes().await.is_err(),
        "reading a body cut mid-way is an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_cuts_json_pages_half_way_too() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["posts"]).await;
    let posts = page_path(alice, &export, "posts", 20, None);
    let (_, _, whole) = get_bytes(&api, &format!("{}{posts}", api.base)).await;

    platform.state.set_faults(FaultPlan {
        reset_mid_body: 1.0,
        ..FaultPlan::default()
    });
    let raw = raw_get(&platform.url, &posts, Some(&api.token)).await;
    assert_eq!(raw.status, 200, "the fault strikes after the head");
    assert!(
        !raw.chunked,
        "a cut is only visible against a declared length"
    );
    assert_eq!(
        raw.content_length,
        Some(whole.len()),
        "the head promises the whole page"
    );
    assert_eq!(
        raw.body.len(),
        whole.len() / 2,
        "exactly half the page arrives before the cut"
    );
    assert_eq!(
        raw.body,
        whole[..whole.len() / 2],
        "what arrives is the true start of the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_json_sends_the_first_half_with_a_matching_length() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["posts"]).await;
    let url = format!(
        "{}{}",
        api.base,
        page_path(alice, &export, "posts", 20, None)
    );
    let (_, _, whole) = get_bytes(&api, &url).await;
    serde_json::from_slice::<Value>(&whole).expect("without the fault the page is JSON");

    platform.state.set_faults(FaultPlan {
        truncate_json: 1.0,
        ..FaultPlan::default()
    });
    let (status, headers, cut) = get_bytes(&api, &url).await;
    assert_eq!(status, 200, "a truncated body still comes with 200");
    assert_eq!(
        cut,
        whole[..whole.len() / 2],
        "the body is the first half of the page"
    );
    assert_eq!(
        header_of(&headers, "content-length"),
        cut.len().to_string(),
        "Content-Length matches what is sent"
    );
    assert!(
        serde_json::from_slice::<Value>(&cut).is_err(),
        "half a page is not JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_delivers_the_same_bytes_slowly() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["posts"]).await;
    let url = format!(
        "{}{}",
        api.base,
        page_path(alice, &export, "posts", 40, None)
    );
    let (_, _, whole) = get_bytes(&api, &url).await;

    let delay_ms = 1;
    platform.state.set_faults(FaultPlan {
        slow_body: 1.0,
        slow_body_delay_ms: delay_ms,
        ..FaultPlan::default()
    });
    let started = Instant::now();
    let (status, _, slow) = get_bytes(&api, &url).await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(slow, whole, "a slow body arrives intact");
    // One pause after every 64 bytes: the floor no scheduler can undercut.
    let floor = Duration::from_millis((whole.len() as u64 / 64) * delay_ms);
    assert!(
        floor >= Duration::from_millis(100),
        "the page is big enough to measure ({} bytes)",
        whole.len()
    );
    assert!(
        took >= floor,
        "{} bytes with a pause per 64 took {took:?}, less than {floor:?}",
        whole.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_media_flips_a_byte_so_the_declared_sha256_no_longer_matches() {
    let (platform, api, alice) = demo().await;
    let (_, page) = first_page(&api, alice, "media", 1).await;
    let item = &page.body["items"][0];
    let url = item["download_url"].as_str().expect("a download URL");
    let declared = item["sha256"].as_str().expect("a declared sha256");
    let size = item["size"].as_u64().expect("a size") as usize;

    let (status, _, good) = get_bytes(&api, url).await;
    assert_eq!(status, 200);
    assert_eq!(
        (good.len(), sha256_hex(&good).as_str()),
        (size, declared),
        "without the fault the file is intact"
    );

    platform.state.set_faults(FaultPlan {
        corrupt_media: 1.0,
        ..FaultPlan::default()
    });
    let (status, headers, bad) = get_bytes(&api, url).await;
    assert_eq!(status, 200);
    assert_eq!(bad.len(), size, "a corrupted file keeps its size");
    assert_ne!(
        sha256_hex(&bad),
        declared,
        "a corrupted file no longer matches its declared sha256"
    );
    let flipped: Vec<usize> = (0..size).filter(|i| good[*i] != bad[*i]).collect();
    assert_eq!(flipped.len(), 1, "exactly one byte is damaged: {flipped:?}");
    assert_eq!(
        header_of(&headers, "etag"),
        format!("\"{declared}\""),
        "the ETag still names the true content"
    );
}
