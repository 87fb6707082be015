use keepsake_desktop::commands;
use keepsake_desktop::error::ErrorCode;
use keepsake_platform::seed::Preset;
use keepsake_tests::{Platform, client};
use url::Url;

use crate::support::TestApp;

#[tokio::test]
async fn a_token_signs_in_is_kept_and_never_comes_back() {
    let p = Platform::start(Preset::Demo).await;
    let t = TestApp::new(&p);
    assert_eq!(commands::who_am_i(t.state()).await.expect("asked"), None);

    let token = p.token("alice", "export:self");
    let account = commands::sign_in_with_token(t.state(), token.clone())
        .await
        .expect("signed in");
    assert_eq!(account.login, "alice");
    assert!(!account.support);
    let shown = serde_json::to_string(&account).expect("json");
    assert!(!shown.contains(&token), "no token goes back to the UI");

    let again = commands::who_am_i(t.state()).await.expect("asked");
    assert_eq!(again.map(|a| a.login).as_deref(), Some("alice"));

    commands::sign_out(t.state()).await.expect("signed out");
    assert_eq!(commands::who_am_i(t.state()).await.expect("asked"), None);
    // Signing out revoked the token on the platform too.
    assert_eq!(p.api(&token).get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_not_kept() {
    let p = Platform::start(Preset::Demo).await;
    let t = TestApp::new(&p);
    let err = commands::sign_in_with_token(t.state(), "ksp_not-a-token".into())
        .await
        .expect_err("refused");
    // Issue 9: a mistyped token said "you are signed out".
    assert_eq!(err.code, ErrorCode::SignIn, "{err:?}");
    assert!(
        err.message.contains("did not accept this sign-in"),
        "{err:?}"
    );
    assert!(
        !err.message.contains("keepsake login"),
        "no CLI advice in the window: {err:?}"
    );
    assert_eq!(commands::who_am_i(t.state()).await.expect("asked"), None);

    let empty = commands::sign_in_with_token(t.state(), "  ".into())
        .await
        .expect_err("empty");
    assert_eq!(empty.code, ErrorCode::Invalid);
}

#[tokio::test]
async fn the_platform_is_found_remembered_and_checked() {
    let p = Platform::start(Preset::Demo).await;
    let t = TestApp::with_url(None);
    let info = commands::get_platform(t.state()).await.expect("asked");
    assert_eq!((info.url, info.demo, info.kind), (None, false, None));
    let err = commands::sign_in_with_token(t.state(), "x".into())
        .await
        .expect_err("no platform yet");
    assert_eq!(err.code, ErrorCode::Invalid);

    let bad = commands::set_platform(t.state(), "http://platform.example".into())
        .await
        .expect_err("plain http to a remote host");
    assert_eq!(bad.code, ErrorCode::Invalid, "{bad:?}");
    // Nothing listens there: nothing is remembered.
    let gone = commands::set_platform(t.state(), "http://127.0.0.1:1".into())
        .await
        .expect_err("unreachable");
    assert_eq!(gone.code, ErrorCode::Network, "{gone:?}");
    // An address that answers, but like no platform: said in the window's
    // terms, with no command-line flag in it.
    let none = commands::set_platform(t.state(), format!("{}/no-platform-here/", p.url))
        .await
        .expect_err("not a platform");
    assert_eq!(none.code, ErrorCode::Invalid, "{none:?}");
    assert!(
        none.message
            .contains("does not answer like any platform Keepsake knows"),
        "{none:?}"
    );
    assert!(!none.message.contains("--"), "no CLI flag: {none:?}");
    assert_eq!(t.state().chosen_url(), None);

    // The address is asked what it is: the window shows it, and how to
    // sign in to it.
    let info = commands::set_platform(t.state(), format!("{}/", p.url))
        .await
        .expect("set");
    assert_eq!(info.url.as_deref(), Some(p.url.trim_end_matches('/')));
    assert_eq!(info.kind.as_deref(), Some("keepsake-export-api"));
    assert_eq!(info.name.as_deref(), Some("Keepsake Export API v1"));
    let flows: Vec<&str> = info.offers.iter().map(|o| o.flow.as_str()).collect();
    assert_eq!(flows, ["browser", "token"]);
    let again = commands::get_platform(t.state()).await.expect("asked");
    assert_eq!(
        (again.url.as_deref(), again.kind.as_deref()),
        (
            Some(p.url.trim_end_matches('/')),
            Some("keepsake-export-api")
        ),
        "remembered in settings.json, with its kind"
    );
    let t2 = TestApp::new(&p);
    assert!(
        commands::get_platform(t2.state())
            .await
            .expect("asked")
            .demo,
        "the environment's platform is demo mode"
    );
}

#[tokio::test]
async fn an_unreachable_platform_says_so() {
    // Nothing listens on port 1.
    let t = TestApp::with_url(Some("http://127.0.0.1:1".into()));
    let err = commands::sign_in_with_token(t.state(), "ksp_x".into())
        .await
        .expect_err("unreachable");
    assert_eq!(err.code, ErrorCode::Network, "{err:?}");
}

/// Plays the browser on the platform's authorize page: sign in as `login`
/// and approve, then follow the redirect back to the app's listener.
async fn approve(authorize: Url, login: &str) -> u16 {
    let http = client();
    let page = http.get(authorize.clone()).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let mut form: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("login".into(), login.into()));
    form.push(("password".into(), format!("{login}-demo-password")));
    form.push(("decision".into(), "approve".into()));
    let mut action = authorize;
    action.set_query(None);
    let answer = http.post(action).form(&form).send().await.expect("consent");
    assert_eq!(answer.status(), 302);
    let back = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    http.get(back)
        .send()
        .await
        .expect("listener")
        .status()
        .as_u16()
}

#[tokio::test]
async fn signing_in_through_the_browser_keeps_an_oauth_sign_in() {
    let p = Platform::start(Preset::Demo).await;
    let t = TestApp::new(&p);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let account = t
        .state()
        .sign_in_with_browser(true, move |url| {
            let _ = tx.send(tokio::spawn(approve(url.clone(), "carol")));
            Ok(())
        })
        .await
        .expect("signed in");
    let shown = rx
        .await
        .expect("browser opened")
        .await
        .expect("browser done");
    assert_eq!(shown, 200, "the listener thanked the browser");
    assert_eq!(account.login, "carol");
    assert!(account.support, "support scopes were asked for and granted");
    let me = commands::who_am_i(t.state()).await.expect("asked");
    assert_eq!(me.map(|a| a.login).as_deref(), Some("carol"));
}

#[tokio::test]
async fn a_browser_sign_in_can_be_cancelled_and_its_listener_closes() {
    let p = Platform::start(Preset::Demo).await;
    let t = TestApp::new(&p);
    assert!(!t.state().cancel_sign_in(), "nothing to cancel yet");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let state = t.state();
    let waiting = state.sign_in_with_browser(false, move |url| {
        let _ = tx.send(url.clone());
        Ok(())
    });
    let cancel = async {
        // The browser was opened: the sign-in waits for it.
        let url = rx.await.expect("browser opened");
        assert!(state.cancel_sign_in(), "a sign-in was waiting");
        url
    };
    let (result, url) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(waiting, cancel)
    })
    .await
    .expect("the cancel ends the wait at once");
    let err = result.expect_err("cancelled");
    assert_eq!(err.code, ErrorCode::Cancelled);
    // The loopback listener is gone: the browser's late answer finds no one.
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("redirect_uri");
    assert!(
        client().get(&redirect).send().await.is_err(),
        "nothing listens on {redirect} any more"
    );
    let me = commands::who_am_i(t.state()).await.expect("asked");
    assert!(me.is_none(), "nobody is signed in");
}
