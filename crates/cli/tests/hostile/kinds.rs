//! Which API a platform speaks: `keepsake login` asks before it signs in,
//! and refuses a platform that answers like none Keepsake knows.

use std::io::Write;
use std::process::Stdio;

use keepsake_tests::hostile::{Hostile, Script, hook, problem};

use crate::common::{Home, TOKEN, text};

fn login(home: &Home, extra: &[&str]) -> std::process::Output {
    let tokens = home.path("tokens.json");
    let mut args = vec![
        "login",
        "--token-stdin",
        "--insecure-token-file",
        tokens.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let mut child = home
        .cmd(&args)
        .env_remove("KEEPSAKE_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keepsake starts");
    // Refused before the prompt, the pipe may be closed already.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{TOKEN}\n").as_bytes());
    child.wait_with_output().expect("login ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_speaking_the_export_api_is_found_and_the_kind_is_kept() {
    let h = Hostile::start(Script::default()).await;
    let home = Home::new(&h.url);
    let o = login(&home, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("Keepsake Export API v1 at {}", h.url)),
        "{}",
        text(&o)
    );
    // Asked without the token: nothing is signed in yet.
    let asked = h.seen();
    let detection = asked
        .iter()
        .find(|s| s.path == "/openapi.yaml")
        .expect("the contract's self-description was read");
    assert!(!detection.authorized, "{asked:?}");
    let stored = fs_err::read_to_string(home.path("tokens.json")).expect("stored");
    assert!(
        stored.contains("\"connector\": \"keepsake-export-api\""),
        "{stored}"
    );
}

// A platform that is not one Keepsake knows is refused before any token is
// asked for or stored, with the address and the kinds tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_answering_like_no_known_api_is_refused_before_sign_in() {
    let h = Hostile::start(Script {
        hook: Some(hook(|req| {
            (req.path == "/openapi.yaml").then(|| problem(404, "not-found", "no such page"))
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let o = login(&home, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("does not answer like any platform Keepsake knows"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("Keepsake Export API v1"), "{}", text(&o));
    assert!(
        text(&o).contains("name its kind: --kind"),
        "the CLI's own hint: {}",
        text(&o)
    );
    assert!(!home.path("tokens.json").exists(), "nothing was stored");
    assert!(
        h.seen().iter().all(|s| !s.authorized),
        "no request carried a token: {:?}",
        h.seen()
    );

    // --kind skips the question.
    let o = login(&home, &["--kind", "keepsake-export-api"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = login(&home, &["--kind", "gopher"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("knows no platform of the kind 'gopher'; it knows: keepsake-export-api"),
        "{}",
        text(&o)
    );
}
