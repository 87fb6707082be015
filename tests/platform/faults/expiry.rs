//! Expiring credentials and signed media links.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::*;

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
    // (A body that is not JSON reads as null, which no problem matches.)
    let reply = Reply::read(resp).await;
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
