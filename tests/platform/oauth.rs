//! OAuth 2.0 for native apps, played from the browser's side: the sign-in
//! page, the consent form, the loopback redirect, and the token endpoint.

use base64::Engine as _;
use keepsake_platform::seed::Preset;
use keepsake_tests::{Platform, client};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:49321/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_params(redirect: &str, scope: &str, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "keepsake".into()),
        ("redirect_uri", redirect.into()),
        ("scope", scope.into()),
        ("state", state.into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .expect("redirect is a URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Signs in on the consent page as a browser would; returns the redirect.
async fn sign_in(
    p: &Platform,
    login: &str,
    password: &str,
    scope: &str,
    decision: &str,
) -> reqwest::Response {
    let http = client();
    let page = http
        .get(format!("{}/oauth/authorize", p.url))
        .query(&authorize_params(REDIRECT, scope, "st-123"))
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"));
    let mut form = authorize_params(REDIRECT, scope, "st-123");
    form.push(("login", login.into()));
    form.push(("password", password.into()));
    form.push(("decision", decision.into()));
    http.post(format!("{}/oauth/authorize", p.url))
        .form(&form)
        .send()
        .await
        .expect("consent")
}

async fn code_for(p: &Platform, login: &str, password: &str, scope: &str) -> String {
    let resp = sign_in(p, login, password, scope, "approve").await;
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "sign-in redirects back to the app"
    );
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(
        q.get("state").map(String::as_str),
        Some("st-123"),
        "state comes back unchanged"
    );
    q.get("code").cloned().expect("a code in the redirect")
}

async fn token(p: &Platform, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = client()
        .post(format!("{}/oauth/token", p.url))
        .form(form)
        .send()
        .await
        .expect("token endpoint");
    let status = resp.status();
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn exchange(p: &Platform, code: &str, redirect: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        p,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", "keepsake"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(p: &Platform, refresh_token: &str) -> (StatusCode, Value) {
    token(
        p,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "keepsake"),
        ],
    )
    .await
}

async fn me_status(p: &Platform, access: &str) -> u16 {
    p.api(access).get("/api/v1/me").await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_signs_in_and_rotates_refresh_tokens() {
    let p = Platform::start(Preset::Demo).await;
    let code = code_for(&p, "alice", "alice-demo-password", "export:self").await;
    let (status, t) = exchange(&p, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "export:self");
    assert!(t["expires_in"].as_i64().is_some_and(|s| s > 0));
    let access = t["access_token"].as_str().expect("access token");
    let me = p.api(access).get("/api/v1/me").await.expect(200);
    assert_eq!(me.body["login"], "alice");
    assert_eq!(me.body["token_kind"], "oauth");

    let first_refresh = t["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (status, t2) = refresh(&p, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let second_refresh = t2["refresh_token"]
        .as_str()
        .expect("rotated refresh token")
        .to_owned();
    assert_ne!(
        first_refresh, second_refresh,
        "refresh tokens rotate on use"
    );
    let access2 = t2["access_token"].as_str().expect("new access").to_owned();
    assert_eq!(me_status(&p, &access2).await, 200);

    // Reusing the old refresh token means it leaked: refused, and every token
    // of this sign-in dies with it.
    let (status, err) = refresh(&p, &first_refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(me_status(&p, &access2).await, 401);
    assert_eq!(me_status(&p, access).await, 401);
    let (status, _) = refresh(&p, &second_refresh).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the newest refresh token is revoked too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pkce_verifier_is_refused() {
    let p = Platform::start(Preset::Demo).await;
    let code = code_for(&p, "alice", "alice-demo-password", "export:self").await;
    let (status, err) = exchange(
        &p,
        &code,
        REDIRECT,
        "a-completely-different-verifier-of-sufficient-length-123",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert!(
        err["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("PKCE"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_redirect_uri_is_refused_at_both_ends() {
    let p = Platform::start(Preset::Demo).await;
    let code = code_for(&p, "alice", "alice-demo-password", "export:self").await;
    let (status, err) = exchange(&p, &code, "http://127.0.0.1:49322/callback", VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");

    // At the authorize step, a redirect that is not a loopback IP literal is
    // never followed: an error page, no Location.
    for bad in [
        "https://evil.example/cb",
        "http://localhost:5000/cb",
        "http://127.0.0.1/cb",
        "http://10.0.0.1:80/cb",
    ] {
        let resp = client()
            .get(format!("{}/oauth/authorize", p.url))
            .query(&authorize_params(bad, "export:self", "s"))
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            resp.headers().get("location").is_none(),
            "{bad} must not be redirected to"
        );
    }
    let mut params = authorize_params(REDIRECT, "export:self", "s");
    params[1].1 = "someone-else".into();
    let resp = client()
        .get(format!("{}/oauth/authorize", p.url))
        .query(&params)
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "unknown clients get an error page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let p = Platform::start(Preset::Demo).await;
    let code = code_for(&p, "alice", "alice-demo-password", "export:self").await;
    let (status, t) = exchange(&p, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let access = t["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me_status(&p, &access).await, 200);
    let (status, err) = exchange(&p, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(
        me_status(&p, &access).await,
        401,
        "tokens from a replayed code are revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_mandatory_and_errors_go_back_through_the_redirect() {
    let p = Platform::start(Preset::Demo).await;
    for (name, value) in [
        ("code_challenge_method", "plain"),
        ("code_challenge", "short"),
    ] {
        let mut params = authorize_params(REDIRECT, "export:self", "st-9");
        params
            .iter_mut()
            .filter(|(k, _)| *k == name)
            .for_each(|(_, v)| *v = value.into());
        let resp = client()
            .get(format!("{}/oauth/authorize", p.url))
            .query(&params)
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), StatusCode::FOUND);
        let q = query_of(resp.headers()["location"].to_str().expect("location"));
        assert_eq!(q["error"], "invalid_request", "{name}={value}");
        assert_eq!(q["state"], "st-9");
    }
    let resp = sign_in(&p, "alice", "alice-demo-password", "export:self", "deny").await;
    let q = query_of(resp.headers()["location"].to_str().expect("location"));
    assert_eq!(q["error"], "access_denied");
    assert!(!q.contains_key("code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unearned_scopes_get_no_code() {
    let p = Platform::start(Preset::Demo).await;
    let resp = sign_in(&p, "alice", "not-her-password", "export:self", "approve").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.expect("page").contains("do not match"));

    let resp = sign_in(&p, "alice", "alice-demo-password", "export:any", "approve").await;
    let q = query_of(resp.headers()["location"].to_str().expect("location"));
    assert_eq!(
        q["error"], "invalid_scope",
        "only support staff may hold export:any"
    );

    let code = code_for(&p, "carol", "carol-demo-password", "export:self export:any").await;
    let (status, t) = exchange(&p, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["scope"], "export:any export:self");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_the_whole_sign_in() {
    let p = Platform::start(Preset::Demo).await;
    let code = code_for(&p, "bob", "bob-demo-password", "export:self").await;
    let (_, t) = exchange(&p, &code, REDIRECT, VERIFIER).await;
    let access = t["access_token"].as_str().expect("access").to_owned();
    let resp = client()
        .post(format!("{}/oauth/revoke", p.url))
        .form(&[
            ("token", t["refresh_token"].as_str().expect("refresh")),
            ("client_id", "keepsake"),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(me_status(&p, &access).await, 401);
    let resp = client()
        .post(format!("{}/oauth/revoke", p.url))
        .form(&[("token", "ksr_unknown")])
        .send()
        .await
        .expect("revoke");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "RFC 7009: unknown tokens are not an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_escapes_what_it_echoes_and_shows_demo_accounts_only_in_demo_mode() {
    let p = Platform::start(Preset::Demo).await;
    let evil = "\"><script>alert(1)</script>";
    let html = client()
        .get(format!("{}/oauth/authorize", p.url))
        .query(&authorize_params(REDIRECT, "export:self", evil))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        !html.contains("<script>"),
        "reflected markup must be escaped"
    );
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    assert!(!html.contains("alice-demo-password"), "not in demo mode");

    let demo = Platform::start_with(
        Preset::Demo,
        keepsake_platform::Config {
            demo: true,
            ..Default::default()
        },
    )
    .await;
    let html = client()
        .get(format!("{}/oauth/authorize", demo.url))
        .query(&authorize_params(REDIRECT, "export:self", "s"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("alice-demo-password") && html.contains("carol-demo-password"));
}
