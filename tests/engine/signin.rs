//! Signing in as the desktop app and the CLI do: the Keepsake Export API
//! connector's browser sign-in (OAuth with PKCE) with a scripted browser
//! that signs in on the platform's consent page, then refresh, revocation
//! and the single-flight `TokenSource`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use keepsake_core::connector::keepsake::OAUTH;
use keepsake_core::credentials::{
    CredentialStore, Credentials, InsecureFileStore, TokenKind, TokenSource,
};
use keepsake_core::{Error, PlatformUrl, Secret, connector, oauth};
use keepsake_platform::seed::Preset;
use keepsake_tests::{Platform, client};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(60);

/// What the scripted browser does on the consent page.
#[derive(Clone, Copy)]
enum Browser {
    Approve,
    Deny,
    /// Approves, but the redirect reaches the listener with another state,
    /// as a forged request from another page would.
    ForgeState,
}

/// What the browser finally showed: the loopback listener's page.
#[derive(Debug)]
struct Shown {
    status: u16,
    body: String,
}

/// Plays the browser: loads the sign-in page, submits the consent form as
/// alice, and follows the platform's redirect to Keepsake's listener.
async fn browse(authorize: Url, act: Browser) -> Shown {
    let http = client();
    let page = http
        .get(authorize.clone())
        .send()
        .await
        .expect("sign-in page");
    assert_eq!(page.status(), 200, "the platform shows its consent page");

    // The form posts the request parameters back as hidden fields.
    let mut form: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("login".into(), "alice".into()));
    form.push(("password".into(), "alice-demo-password".into()));
    let decision = match act {
        Browser::Deny => "deny",
        Browser::Approve | Browser::ForgeState => "approve",
    };
    form.push(("decision".into(), decision.into()));
    let mut action = authorize.clone();
    action.set_query(None);
    let answer = http.post(action).form(&form).send().await.expect("consent");
    assert_eq!(
        answer.status(),
        302,
        "the platform redirects to the listener"
    );
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let mut redirect = Url::parse(&location).expect("redirect URL");
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    if matches!(act, Browser::ForgeState) {
        let pairs: Vec<(String, String)> = redirect
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "forged".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        redirect.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let shown = http.get(redirect).send().await.expect("listener answers");
    Shown {
        status: shown.status().as_u16(),
        body: shown.text().await.expect("page"),
    }
}

/// Signs in through the scripted browser; returns the engine's result and
/// what the browser showed.
async fn sign_in(p: &Platform, act: Browser) -> (Result<Credentials, Error>, Shown) {
    let platform = PlatformUrl::parse(&p.url).expect("platform URL");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let result = connector::keepsake()
        .sign_in_browser(
            &platform,
            false,
            Box::new(move |url| {
                let _ = tx.send(tokio::spawn(browse(url.clone(), act)));
                Ok(())
            }),
            TIMEOUT,
        )
        .await;
    let shown = rx
        .await
        .expect("the browser was opened")
        .await
        .expect("the browser finished");
    (result, shown)
}

async fn signed_in(p: &Platform) -> Credentials {
    let (result, shown) = sign_in(p, Browser::Approve).await;
    let creds = result.expect("signed in");
    assert_eq!(shown.status, 200, "{}", shown.body);
    creds
}

async fn me_status(p: &Platform, token: &Secret) -> u16 {
    p.api(token.expose()).get("/api/v1/me").await.status
}

#[tokio::test]
async fn signing_in_through_the_browser_yields_working_tokens() {
    let p = Platform::start(Preset::Demo).await;
    let (result, shown) = sign_in(&p, Browser::Approve).await;
    let creds = result.expect("signed in");

    assert_eq!(shown.status, 200);
    assert!(
        shown
            .body
            .contains("Signed in to Keepsake — you can close this tab"),
        "{}",
        shown.body
    );
    assert_eq!(creds.platform, p.url);
    assert_eq!(creds.kind, TokenKind::OAuth);
    assert_eq!(creds.scope.as_deref(), Some("export:self"));
    assert!(creds.access_token.expose().starts_with("ksa_"));
    assert!(
        creds
            .refresh_token
            .as_ref()
            .is_some_and(|r| r.expose().starts_with("ksr_"))
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires_at = creds.expires_at.expect("expiry");
    assert!(
        (now + 3590..=now + 3610).contains(&expires_at),
        "{expires_at} vs {now}"
    );
    // Nothing of the tokens in Debug output.
    let shown = format!("{creds:?}");
    assert!(!shown.contains(creds.access_token.expose()), "{shown}");

    let me = p
        .api(creds.access_token.expose())
        .get("/api/v1/me")
        .await
        .expect(200);
    assert_eq!(me.body["login"], "alice");
    assert_eq!(me.body["token_kind"], "oauth");
}

#[tokio::test]
async fn declining_in_the_browser_is_a_sign_in_error() {
    let p = Platform::start(Preset::Demo).await;
    let (result, shown) = sign_in(&p, Browser::Deny).await;
    match result {
        Err(Error::SignIn { detail }) => {
            assert!(
                detail.contains("you declined the sign-in in the browser"),
                "{detail}"
            );
        }
        other => panic!("expected a sign-in error, got {other:?}"),
    }
    assert!(shown.body.contains("you declined"), "{}", shown.body);
}

#[tokio::test]
async fn an_answer_with_a_forged_state_is_refused_and_no_token_is_issued() {
    let p = Platform::start(Preset::Demo).await;
    let (result, shown) = sign_in(&p, Browser::ForgeState).await;
    match result {
        Err(Error::SignIn { detail }) => {
            assert!(detail.contains("state did not match"), "{detail}");
        }
        other => panic!("expected a sign-in error, got {other:?}"),
    }
    assert_eq!(shown.status, 400, "{}", shown.body);
    // The code was never exchanged: no OAuth token exists on the platform.
    let (used_codes, oauth_tokens) = p
        .state
        .store()
        .run(|c| {
            Ok((
                c.query_row("SELECT COUNT(*) FROM auth_codes WHERE used = 1", [], |r| {
                    r.get::<_, i64>(0)
                })?,
                c.query_row(
                    "SELECT COUNT(*) FROM tokens WHERE family IS NOT NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )?,
            ))
        })
        .await
        .expect("query");
    assert_eq!((used_codes, oauth_tokens), (0, 0));
}

#[tokio::test]
async fn no_answer_from_the_browser_times_out_with_a_clear_message() {
    let p = Platform::start(Preset::Demo).await;
    let platform = PlatformUrl::parse(&p.url).expect("platform URL");
    let err = oauth::login_with_browser(
        &platform,
        &OAUTH,
        &["export:self"],
        |_| Ok(()),
        Duration::from_millis(300),
    )
    .await
    .expect_err("nobody answers");
    assert!(matches!(err, Error::SignIn { .. }), "{err}");
    assert!(
        err.to_string().contains("no answer came from the browser"),
        "{err}"
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_is_refused() {
    let p = Platform::start(Preset::Demo).await;
    let first = signed_in(&p).await;
    let old_refresh = first.refresh_token.clone().expect("refresh token");

    // Where to refresh is kept with the sign-in: no connector needed then.
    let with = first.refresh_with.clone().expect("a refresh endpoint");
    assert_eq!(first.kind, TokenKind::OAuth);
    let refresh = |token| oauth::refresh(&first.platform, &with.token_path, &with.client_id, token);
    let second = refresh(&old_refresh).await.expect("refreshed");
    let new_refresh = second.refresh_token.clone().expect("rotated refresh token");
    assert_ne!(new_refresh, old_refresh, "the refresh token rotates");
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(me_status(&p, &second.access_token).await, 200);

    // The old refresh token is dead; presenting it again is reuse.
    match refresh(&old_refresh).await {
        Err(Error::SignIn { detail }) => assert!(detail.contains("already used"), "{detail}"),
        other => panic!("expected the old refresh token to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn revoking_ends_the_token() {
    let p = Platform::start(Preset::Demo).await;
    let creds = signed_in(&p).await;
    assert_eq!(me_status(&p, &creds.access_token).await, 200);

    oauth::revoke(&creds.platform, &OAUTH, &creds.access_token)
        .await
        .expect("revoked");
    assert_eq!(me_status(&p, &creds.access_token).await, 401);

    // Revoking the refresh token ends the sign-in: it cannot be refreshed.
    let refresh = creds.refresh_token.clone().expect("refresh token");
    oauth::revoke(&creds.platform, &OAUTH, &refresh)
        .await
        .expect("revoked");
    let err = oauth::refresh(&creds.platform, OAUTH.token, OAUTH.client_id, &refresh)
        .await
        .expect_err("refresh after revocation");
    assert!(matches!(err, Error::SignIn { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_401s_cause_exactly_one_refresh() {
    let p = Platform::start(Preset::Demo).await;
    let creds = signed_in(&p).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InsecureFileStore::new(dir.path().join("tokens.json")));
    store.save(&creds).expect("save");
    let source = Arc::new(TokenSource::new(store.clone(), creds.clone()));

    let rejected = source.access_token().await.expect("token");
    assert_eq!(rejected, creds.access_token);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let source = Arc::clone(&source);
        let rejected = rejected.clone();
        tasks.push(tokio::spawn(async move {
            source.refresh_after_401(&rejected).await
        }));
    }
    let mut tokens = HashSet::new();
    for t in tasks {
        let token = t.await.expect("task").expect("refreshed");
        tokens.insert(token.expose().to_owned());
    }
    assert_eq!(tokens.len(), 1, "one refresh, shared by all eight");
    let fresh = Secret::new(tokens.into_iter().next().expect("token"));
    assert_ne!(fresh, creds.access_token);
    // A second refresh with the same refresh token would have revoked the
    // whole family: the new token working proves there was only one.
    assert_eq!(me_status(&p, &fresh).await, 200);

    // The rotated tokens were stored before they were handed out.
    let stored = store.load(&creds.platform).expect("load").expect("stored");
    assert_eq!(stored.access_token, fresh);
    assert_ne!(stored.refresh_token, creds.refresh_token);
    assert_eq!(stored, source.credentials().await);
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_use() {
    let p = Platform::start(Preset::Demo).await;
    let mut creds = signed_in(&p).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InsecureFileStore::new(dir.path().join("tokens.json")));
    creds.expires_at = Some(time::OffsetDateTime::now_utc().unix_timestamp() + 5);
    store.save(&creds).expect("save");
    let source = TokenSource::load(store, &creds.platform)
        .await
        .expect("load");
    let token = source.access_token().await.expect("token");
    assert_ne!(token, creds.access_token, "refreshed ahead of expiry");
    assert_eq!(me_status(&p, &token).await, 200);
}

#[tokio::test]
async fn a_refused_pat_is_not_refreshed() {
    let p = Platform::start(Preset::Demo).await;
    let pat = Secret::new(p.token("alice", "export:self"));
    let platform = PlatformUrl::parse(&p.url).expect("platform URL");
    let creds = Credentials::from_pat(&platform, pat.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InsecureFileStore::new(dir.path().join("tokens.json")));
    store.save(&creds).expect("save");
    let source = TokenSource::new(store, creds);
    oauth::revoke(&p.url, &OAUTH, &pat).await.expect("revoked");
    assert_eq!(me_status(&p, &pat).await, 401);
    let err = source
        .refresh_after_401(&pat)
        .await
        .expect_err("a PAT cannot be refreshed");
    assert!(err.to_string().contains("sign in again"), "{err}");
    assert_eq!(err.hint(), Some(keepsake_core::Hint::SignIn));
}

/// The fault knob "tokens that expire after N seconds" during a whole
/// export: every 401 is met by one refresh, the export completes, and the
/// rotated tokens are the ones stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_outlives_its_access_tokens() {
    use keepsake_core::client::{ApiClient, RetryPolicy};
    use keepsake_core::export::{self, CancelFlag, ExportOptions, ResumeMode, Silent};
    use keepsake_platform::FaultPlan;

    let p = Platform::start(Preset::Demo).await;
    // Tokens live one second; every request waits 150 ms, so the export
    // (dozens of requests) spans several token lifetimes.
    p.state.set_faults(FaultPlan {
        token_ttl_secs: Some(1),
        latency_ms: 150,
        ..FaultPlan::default()
    });
    let creds = signed_in(&p).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InsecureFileStore::new(dir.path().join("tokens.json")));
    store.save(&creds).expect("save");
    let source = Arc::new(TokenSource::new(store.clone(), creds.clone()));
    let platform = PlatformUrl::parse(&p.url).expect("url");
    let client = ApiClient::new(&platform, source.clone())
        .expect("client")
        .with_retry(RetryPolicy {
            max_retries: 8,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        });
    let opts = ExportOptions {
        connector: keepsake_core::connector::keepsake(),
        subject_id: None,
        reason: None,
        categories: Some(vec![
            "profile".into(),
            "posts".into(),
            "likes".into(),
            "media".into(),
        ]),
        since: None,
        until: None,
        out_dir: dir.path().join("out"),
        resume: ResumeMode::Auto,
        media_workers: 2,
        media_memory: keepsake_core::export::DEFAULT_MEDIA_MEMORY,
        undeclared_file_max: keepsake_core::export::DEFAULT_UNDECLARED_FILE_MAX,
        formats: Default::default(),
        split_size: None,
    };
    let report = export::run(
        &client,
        &opts,
        Arc::new(Silent),
        CancelFlag::default(),
        None,
    )
    .await
    .expect("export completes");
    assert_eq!(
        report.outcome,
        keepsake_core::audit::Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    let stored = store.load(&creds.platform).expect("load").expect("stored");
    assert_ne!(
        stored.refresh_token, creds.refresh_token,
        "the token was refreshed during the export"
    );
    assert_eq!(
        stored,
        source.credentials().await,
        "what is stored is what is in use"
    );
}
