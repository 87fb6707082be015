//! Every fault-injection knob does exactly what it says — and nothing when it
//! is off — so client suites can rely on them to rehearse bad networks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use keepsake_platform::{FaultPlan, seed::Preset};
use keepsake_tests::{Api, Platform, Reply, client, ids};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A demo platform, a personal access token client for alice, and her id.
async fn demo() -> (Platform, Api, i64) {
    let platform = Platform::start(Preset::Demo).await;
    let api = platform.api(&platform.token("alice", "export:self"));
    let alice = platform.user_id("alice");
    (platform, api, alice)
}

/// Opens an export of `categories` for `user`; call it before switching
/// faults on, or the opening request suffers them too.
async fn open(api: &Api, user: i64, categories: &[&str]) -> String {
    let reply = api
        .open_export(user, json!({ "categories": categories }))
        .await
        .expect(201);
    reply.body["export_id"]
        .as_str()
        .expect("the session has an export_id")
        .to_owned()
}

fn page_path(
    user: i64,
    export: &str,
    collection: &str,
    limit: u32,
    cursor: Option<&str>,
) -> String {
    let mut path = format!("/api/v1/users/{user}/exports/{export}/{collection}?limit={limit}");
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={c}"));
    }
    path
}

/// Raw bytes of a GET through reqwest, for tests that compare bodies byte for byte.
async fn get_bytes(api: &Api, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = api
        .http
        .get(url)
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("request reaches the platform");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("the whole body arrives").to_vec();
    (status, headers, body)
}

#[track_caller]
fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_eq!(reply.status, status, "unexpected reply: {:#}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "problems are problem+json"
    );
    assert_eq!(reply.problem(), slug, "problem type of {:#}", reply.body);
    assert_eq!(
        reply.body["status"],
        json!(status),
        "the problem repeats its status"
    );
}

#[track_caller]
fn header_of<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("the response has a {name} header"))
        .to_str()
        .expect("the header is text")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
}

/// The platform counts lifetimes in whole Unix seconds (a one-second TTL
/// lasts one to two seconds). Starting early in a second keeps each check
/// well away from a second boundary.
async fn early_in_a_second() {
    let ms = u64::from(unix_now().subsec_millis());
    if ms > 300 {
        tokio::time::sleep(Duration::from_millis(1_000 - ms + 20)).await;
    }
}

/// Sleeps until the wall clock is safely past Unix second `secs`.
async fn sleep_past(secs: u64) {
    let target = Duration::from_secs(secs) + Duration::from_millis(150);
    if let Some(wait) = target.checked_sub(unix_now()) {
        tokio::time::sleep(wait).await;
    }
}

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

// Nothing listens on the redirect: the test reads the code off the 302.
const REDIRECT: &str = "http://127.0.0.1:43210/cb";

/// Signs alice in as a browser would: the consent form's POST with her
/// password and a PKCE challenge. Returns the authorization code and the
/// verifier that redeems it.
async fn oauth_authorize(platform: &Platform) -> (String, String) {
    let http = client();
    let verifier = format!("{:-<64}", "keepsake-faults-test-verifier");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let resp = http
        .post(format!("{}/oauth/authorize", platform.url))
        .form(&[
            ("response_type", "code"),
            ("client_id", keepsake_platform::CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("scope", "export:self"),
            ("state", "faults-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("login", "alice"),
            ("password", "alice-demo-password"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .expect("the consent form reaches the platform");
    assert_eq!(
        resp.status().as_u16(),
        302,
        "approving the consent form redirects"
    );
    let location =
        url::Url::parse(header_of(resp.headers(), "location")).expect("an absolute redirect");
    let query = |k: &str| {
        location
            .query_pairs()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        query("state").as_deref(),
        Some("faults-state"),
        "the state comes back"
    );
    let code = query("code").unwrap_or_else(|| panic!("the redirect carries a code: {location}"));
    (code, verifier)
}

/// Redeems an authorization code as the native app would. Returns the token
/// endpoint's JSON.
async fn oauth_exchange(platform: &Platform, code: &str, verifier: &str) -> Value {
    let resp = client()
        .post(format!("{}/oauth/token", platform.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", keepsake_platform::CLIENT_ID),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("the token request reaches the platform");
    assert_eq!(resp.status().as_u16(), 200, "the code exchange succeeds");
    resp.json().await.expect("the token response is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_ms_delays_every_api_response() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        latency_ms: 300,
        ..FaultPlan::default()
    });
    for _ in 0..2 {
        let started = Instant::now();
        api.get("/api/v1/me").await.expect(200);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "a reply with 300 ms of injected latency came after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_429_answers_rate_limited_with_the_configured_retry_after() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_429: 1.0,
        retry_after_secs: 7,
        ..FaultPlan::default()
    });
    for _ in 0..3 {
        let reply = api.get("/api/v1/me").await;
        assert_problem(&reply, 429, "rate-limited");
        assert_eq!(reply.header("retry-after"), Some("7"));
        assert_eq!(
            reply.body["retry_after"],
            json!(7),
            "the problem names the wait too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_500_answers_internal_errors() {
    let (platform, api, alice) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_500: 1.0,
        ..FaultPlan::default()
    });
    assert_problem(&api.get("/api/v1/me").await, 500, "internal");
    assert_problem(
        &api.get(&format!("/api/v1/users/{alice}")).await,
        500,
        "internal",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_503_answers_unavailable_with_retry_after() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_503: 1.0,
        retry_after_secs: 4,
        ..FaultPlan::default()
    });
    let reply = api.get("/api/v1/me").await;
    assert_problem(&reply, 503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("4"));
}

/// The statuses of 200 requests (four request kinds, interleaved) under `plan`.
async fn statuses_under(plan: FaultPlan) -> Vec<u16> {
    let (platform, api, alice) = demo().await;
    platform.state.set_faults(plan);
    let paths = [
        "/api/v1/me".to_owned(),
        format!("/api/v1/users/{alice}"),
        format!("/api/v1/users/{alice}/exports"),
        "/api/v1/nowhere".to_owned(),
    ];
    let mut statuses = Vec::with_capacity(200);
    for i in 0..200 {
        statuses.push(api.get(&paths[i % paths.len()]).await.status);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fraction_hits_about_that_share_and_the_same_seed_repeats_the_sequence() {
    let plan = FaultPlan {
        seed: 42,
        rate_500: 0.3,
        ..FaultPlan::default()
    };
    let first = statuses_under(plan.clone()).await;
    let hits = first.iter().filter(|s| **s == 500).count();
    // Expect 60 ± 6.5: a band of about four standard deviations either side.
    assert!(
        (35..=85).contains(&hits),
        "rate_500 = 0.3 failed {hits} of 200 requests"
    );
    assert!(
        first.iter().all(|s| [200, 404, 500].contains(s)),
        "only the injected fault and real answers: {first:?}"
    );
    assert!(
        first.contains(&404),
        "requests that get through are answered for real"
    );

    // A fresh platform, the same seed: the very same requests fail.
    assert_eq!(
        statuses_under(plan.clone()).await,
        first,
        "the same seed gives the same fault sequence"
    );
    // Another seed picks other victims (identical by chance: about 2^-120).
    let other = statuses_under(FaultPlan { seed: 43, ..plan }).await;
    assert_ne!(other, first, "the seed chooses which requests fail");
}

/// The head, then exactly half the body, then the cut: resumable downloads
/// can only be rehearsed if the bytes before the cut really arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_delivers_exactly_half_a_download_then_cuts() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["media"]).await;
    let media = api
        .get(&page_path(alice, &export, "media", 1, None))
        .await
        .expect(200);
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
async fn repeat_cursor_hands_back_the_cursor_it_was_given() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["posts"]).await;
    let first = api
        .get(&page_path(alice, &export, "posts", 10, None))
        .await
        .expect(200);
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("alice has more than 10 posts")
        .to_owned();
    let honest = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    assert_ne!(
        honest.body["next_cursor"],
        json!(cursor),
        "without the fault the cursor moves on"
    );

    platform.state.set_faults(FaultPlan {
        repeat_cursor: 1.0,
        ..FaultPlan::default()
    });
    let stuck = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    assert_eq!(
        stuck.body["next_cursor"],
        json!(cursor),
        "next_cursor is the cursor sent"
    );
    assert_eq!(
        stuck.body["items"], honest.body["items"],
        "the page itself is the right one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_record_starts_a_page_with_the_previous_pages_last_record() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["posts"]).await;
    let first = api
        .get(&page_path(alice, &export, "posts", 10, None))
        .await
        .expect(200);
    let items = first.body["items"].as_array().expect("items").clone();
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("alice has more than 10 posts")
        .to_owned();
    let honest = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    let honest_items = honest.body["items"].as_array().expect("items").clone();

    platform.state.set_faults(FaultPlan {
        duplicate_record: 1.0,
        ..FaultPlan::default()
    });
    let dup = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    let dup_items = dup.body["items"].as_array().expect("items").clone();
    assert_eq!(
        dup_items.first(),
        items.last(),
        "the page repeats the previous page's last record first"
    );
    assert_eq!(
        dup_items[1..],
        honest_items[..dup_items.len() - 1],
        "then it goes on as the honest page does"
    );
    assert_eq!(ids(&dup_items).len(), 10, "the limit still holds");
    // Only pages after a cursor repeat anything: a first page has no previous record.
    let again = api
        .get(&page_path(alice, &export, "posts", 10, None))
        .await
        .expect(200);
    assert_eq!(again.body["items"], first.body["items"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_media_flips_a_byte_so_the_declared_sha256_no_longer_matches() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["media"]).await;
    let page = api
        .get(&page_path(alice, &export, "media", 1, None))
        .await
        .expect(200);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_ttl_secs_expires_oauth_access_tokens_but_not_personal_tokens() {
    let (platform, pat, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        token_ttl_secs: Some(1),
        ..FaultPlan::default()
    });
    // The password check is slow; get it done before the clock matters.
    let (code, verifier) = oauth_authorize(&platform).await;
    early_in_a_second().await;
    let tokens = oauth_exchange(&platform, &code, &verifier).await;
    let issued_in = unix_now().as_secs();
    assert_eq!(
        tokens["expires_in"],
        json!(1),
        "the token response announces the shortened lifetime"
    );
    let oauth = platform.api(tokens["access_token"].as_str().expect("an access token"));
    let me = oauth.get("/api/v1/me").await.expect(200);
    assert_eq!(
        me.body["token_kind"],
        json!("oauth"),
        "the new token works at once"
    );

    // Issued at or before `issued_in` with a one-second TTL: valid through
    // second `issued_in + 1`, dead once that second is over.
    sleep_past(issued_in + 2).await;
    let reply = oauth.get("/api/v1/me").await;
    assert_problem(&reply, 401, "invalid-token");
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|h| h.contains("invalid_token")),
        "{:?}",
        reply.headers
    );
    let me = pat.get("/api/v1/me").await.expect(200);
    assert_eq!(
        me.body["token_kind"],
        json!("pat"),
        "personal access tokens keep working"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_url_ttl_secs_expires_signed_urls_and_the_metadata_endpoint_renews_them() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["media"]).await;
    platform.state.set_faults(FaultPlan {
        media_url_ttl_secs: Some(1),
        ..FaultPlan::default()
    });
    early_in_a_second().await;
    let page = api
        .get(&page_path(alice, &export, "media", 1, None))
        .await
        .expect(200);
    let item = page.body["items"][0].clone();
    let url = item["download_url"].as_str().expect("a download URL");
    let declared = item["sha256"].as_str().expect("a declared sha256");
    let (status, _, bytes) = get_bytes(&api, url).await;
    assert_eq!(status, 200, "a fresh URL works at once");
    assert_eq!(sha256_hex(&bytes), declared);

    let expires = item["url_expires_at"].as_str().expect("url_expires_at");
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .expect("url_expires_at is RFC 3339")
            .unix_timestamp();
    assert!(
        expires <= unix_now().as_secs() as i64 + 1,
        "the URL lives one second, not the default 900: {expires}"
    );
    // Valid through its `expires` second, dead once that second is over.
    sleep_past(expires as u64 + 1).await;
    let resp = client()
        .get(url)
        .send()
        .await
        .expect("request reaches the platform");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.expect("a problem body");
    let reply = Reply {
        status,
        headers,
        body,
    };
    assert_problem(&reply, 403, "media-url-expired");
    assert_eq!(
        reply.body["media_id"], item["id"],
        "the problem names the media item"
    );

    early_in_a_second().await;
    let id = item["id"].as_i64().expect("a media id");
    let fresh = api
        .get(&format!(
            "/api/v1/users/{alice}/exports/{export}/media/{id}"
        ))
        .await
        .expect(200);
    let fresh_url = fresh.body["download_url"]
        .as_str()
        .expect("a fresh download URL");
    assert_ne!(fresh_url, url, "the metadata endpoint signs a new URL");
    let (status, _, bytes) = get_bytes(&api, fresh_url).await;
    assert_eq!(status, 200, "the fresh URL works");
    assert_eq!(sha256_hex(&bytes), declared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_touch_only_the_api_and_media_downloads() {
    let (platform, api, alice) = demo().await;
    let export = open(&api, alice, &["media"]).await;
    let page = api
        .get(&page_path(alice, &export, "media", 1, None))
        .await
        .expect(200);
    let url = page.body["items"][0]["download_url"]
        .as_str()
        .expect("a download URL")
        .to_owned();

    platform.state.set_faults(FaultPlan {
        rate_500: 1.0,
        ..FaultPlan::default()
    });
    let http = client();
    assert_problem(&api.get("/api/v1/me").await, 500, "internal");
    let media = http
        .get(&url)
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        media.status().as_u16(),
        500,
        "media downloads suffer faults too"
    );

    let health = http
        .get(format!("{}/healthz", platform.url))
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        health.status().as_u16(),
        200,
        "health checks never suffer faults"
    );
    assert_eq!(
        health.json::<Value>().await.expect("JSON"),
        json!({ "status": "ok" })
    );
    let spec = http
        .get(format!("{}/openapi.yaml", platform.url))
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        spec.status().as_u16(),
        200,
        "the served contract never suffers faults"
    );
    // OAuth answers for itself: here its own error for a bad grant, not an injected 500.
    let token = http
        .post(format!("{}/oauth/token", platform.url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", keepsake_platform::CLIENT_ID),
        ])
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(token.status().as_u16(), 400);
    let body: Value = token.json().await.expect("an OAuth error body");
    assert_eq!(body["error"], json!("unsupported_grant_type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loopback_admin_endpoint_reads_sets_and_validates_the_plan() {
    let (platform, api, _) = demo().await;
    let http = client();
    let admin = format!("{}/admin/faults", platform.url);
    let current = http
        .get(&admin)
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(current.status().as_u16(), 200);
    let default = serde_json::to_value(FaultPlan::default()).expect("a plan serializes");
    assert_eq!(
        current.json::<Value>().await.expect("JSON"),
        default,
        "faults are off by default"
    );

    // Fields left out take their defaults.
    let put = http
        .put(&admin)
        .json(&json!({ "rate_503": 1.0, "retry_after_secs": 3 }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(
        put.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let plan = FaultPlan {
        rate_503: 1.0,
        retry_after_secs: 3,
        ..FaultPlan::default()
    };
    let expected = serde_json::to_value(&plan).expect("a plan serializes");
    assert_eq!(
        put.json::<Value>().await.expect("JSON"),
        expected,
        "PUT answers with the plan now in force"
    );
    assert_eq!(platform.state.faults(), plan);
    let reply = api.get("/api/v1/me").await;
    assert_problem(&reply, 503, "unavailable");
    assert_eq!(
        reply.header("retry-after"),
        Some("3"),
        "the plan set over HTTP is the one applied"
    );

    for (bad, why) in [
        (json!({ "rate_429": 1.5 }), "rate_429"),
        (json!({ "corrupt_media": -0.1 }), "corrupt_media"),
        (
            json!({ "rate_500": 0.5, "no_such_knob": true }),
            "no_such_knob",
        ),
    ] {
        let resp = http.put(&admin).json(&bad).send().await.expect("PUT");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.expect("a problem body");
        let reply = Reply {
            status,
            headers,
            body,
        };
        assert_problem(&reply, 400, "bad-request");
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "the refusal names {why}: {detail}");
        assert_eq!(
            platform.state.faults(),
            plan,
            "a refused plan changes nothing ({bad})"
        );
    }

    let off = http.put(&admin).json(&json!({})).send().await.expect("PUT");
    assert_eq!(off.status().as_u16(), 200);
    api.get("/api/v1/me").await.expect(200);
}
