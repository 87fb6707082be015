//! The outcome report that fails, Ctrl-C while it is tried, and escape
//! sequences meant for the terminal (issue 14: "The outcome report must not
//! hold the audit log hostage", "Terminal and display injection").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keepsake_tests::hostile::{CATEGORIES, Hostile, Script, hook, json_answer, problem, trickle};
use serde_json::{Value, json};

use crate::common::{
    Home, TOKEN, archives, assert_audited, assert_no_token, export_then_ctrl_c, text, watch,
};

/// The first session's PATCH path (the default script's export id).
const FIRST: &str = "/api/v1/users/1/exports/exp_0123456789abcdef";
/// A second export's id, for a run after the first.
const SECOND_ID: &str = "exp_fedcba9876543210";

fn patches(h: &Hostile, path: &str) -> usize {
    h.seen()
        .iter()
        .filter(|s| s.method == "PATCH" && s.path == path)
        .count()
}

/// `keepsake verify` on the only archive in `--out`, which must be intact.
fn assert_one_intact_archive(home: &Home) {
    let zips = archives(&home.out());
    assert_eq!(zips.len(), 1, "{zips:?}");
    let verify = home.run(&["verify", zips[0].to_str().expect("utf-8 path")]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

/// The session a POST opens, with `id` instead of the script's export id.
fn session(id: &str) -> Value {
    let alice = json!({
        "id": 1, "login": "alice", "display_name": "Alice Example", "role": "user",
        "created_at": "2021-03-04T10:00:00Z", "deleted": false,
    });
    let categories: serde_json::Map<String, Value> = CATEGORIES
        .iter()
        .map(|c| {
            let count = match *c {
                "profile" | "media" => 1,
                "posts" => 3,
                _ => 0,
            };
            ((*c).to_owned(), json!({"count": count, "bytes": 200}))
        })
        .collect();
    json!({
        "export_id": id, "subject": alice, "actor": alice, "reason": null,
        "status": "running", "as_of": "2026-11-26T06:40:00Z",
        "created_at": "2026-11-26T06:40:00Z", "finished_at": null,
        "since": null, "until": null, "categories": categories, "outcome": null,
    })
}

// Issue 14: a PATCH answering 500 forever kept the CLI retrying for over
// 120 s, and no audit record was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_the_platform_never_takes_costs_seconds_and_is_sent_by_the_next_run() {
    let down = Arc::new(AtomicBool::new(true));
    let second = Arc::new(AtomicBool::new(false));
    let (d, s2) = (down.clone(), second.clone());
    let h = Hostile::start(Script {
        hook: Some(hook(move |req| {
            if req.method == "PATCH" && d.load(Ordering::SeqCst) {
                return Some(problem(500, "internal", "the outcome store is down"));
            }
            if req.method == "POST" && req.path.ends_with("/exports") && s2.load(Ordering::SeqCst) {
                return Some(json_answer(201, session(SECOND_ID)));
            }
            None
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let canaries = home.canaries(&[]);

    let run = home.export(&[], Duration::from_secs(60));
    assert!(!run.killed, "{}", run.text());
    assert!(run.took < Duration::from_secs(30), "took {:?}", run.took);
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_eq!(run.result().expect("a JSON result")["reported"], false);
    assert_one_intact_archive(&home);
    // A bounded number of tries, not the page retry policy.
    let tries = patches(&h, FIRST);
    assert!((1..=3).contains(&tries), "{tries} PATCH requests");
    // The export's record, then a follow-up saying the report is pending.
    let audit = home.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "completed");
    assert!(audit[0].get("report").is_none(), "{}", audit[0]);
    assert_eq!(audit[1]["report"], "pending", "{}", audit[1]);
    assert_eq!(audit[1]["export_id"], "exp_0123456789abcdef");
    assert_eq!(audit[1]["archive_sha256"], audit[0]["archive_sha256"]);
    let kept = home.path("data/keepsake/pending-reports.json");
    let kept_text = fs_err::read_to_string(&kept).expect("the report is kept");
    assert_no_token(&kept_text);
    assert!(kept_text.contains(FIRST), "{kept_text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&kept).expect("kept").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(run.text().contains("the report is kept"), "{}", run.text());

    // The platform is back; the next export reports its own outcome and the
    // one kept by the first run.
    down.store(false, Ordering::SeqCst);
    second.store(true, Ordering::SeqCst);
    let run = home.export(&[], Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_eq!(run.result().expect("a JSON result")["reported"], true);
    assert_eq!(patches(&h, FIRST), tries + 1, "{:?}", h.seen());
    assert_eq!(
        patches(&h, &format!("/api/v1/users/1/exports/{SECOND_ID}")),
        1
    );
    assert!(!kept.exists(), "nothing is left to send");
    let audit = home.audit();
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert_eq!(audit[2]["export_id"], SECOND_ID);
    assert!(audit[2].get("report").is_none(), "{}", audit[2]);
    assert_eq!(audit[3]["report"], "delivered", "{}", audit[3]);
    assert_eq!(audit[3]["export_id"], "exp_0123456789abcdef");
    let chain = home.run(&["audit", "verify"]);
    assert_eq!(chain.status.code(), Some(0), "{}", text(&chain));
    canaries.assert_intact();
}

// Issue 14: "the next export (or login) to the same platform retries
// pending reports".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_sends_a_kept_report() {
    let down = Arc::new(AtomicBool::new(true));
    let d = down.clone();
    let h = Hostile::start(Script {
        hook: Some(hook(move |req| {
            (req.method == "PATCH" && d.load(Ordering::SeqCst))
                .then(|| problem(503, "unavailable", "come back later"))
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = home.export(&[], Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_audited(&home, "completed");
    let tries = patches(&h, FIRST);

    down.store(false, Ordering::SeqCst);
    let tokens = home.path("tokens.json");
    let mut login = home
        .cmd(&[
            "--insecure-token-file",
            tokens.to_str().expect("utf-8 path"),
            "login",
            "--token-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keepsake login");
    {
        use std::io::Write;
        let mut stdin = login.stdin.take().expect("stdin");
        writeln!(stdin, "{TOKEN}").expect("token");
    }
    let login = watch(login, Duration::from_secs(60));
    assert_eq!(login.code(), 0, "{}", login.text());
    assert_eq!(patches(&h, FIRST), tries + 1, "{:?}", h.seen());
    assert!(!home.path("data/keepsake/pending-reports.json").exists());
    let last = assert_audited(&home, "completed");
    assert_eq!(last["report"], "delivered", "{last}");
}

/// A script whose PATCH answer never quite arrives, and whose posts
/// answer `posts` when given.
fn reporting_never_ends(posts: Option<(u16, &'static str)>) -> Script {
    Script {
        hook: Some(hook(move |req| {
            if let (Some((status, detail)), Some("posts")) = (posts, req.category()) {
                return Some(problem(status, "forbidden", detail));
            }
            (req.method == "PATCH").then(|| trickle(200, vec![b' '; 4096], Duration::from_secs(5)))
        })),
        ..Script::default()
    }
}

/// Ctrl-C once the client waits on the report's body: the run must end
/// within 3 s.
fn ctrl_c_while_reporting(h: &Hostile, home: &Home) -> crate::common::Run {
    // Past the first byte of the answer: the client is waiting on the body.
    let (run, after) = export_then_ctrl_c(
        home,
        &[],
        || patches(h, FIRST) > 0,
        Duration::from_millis(300),
    );
    assert!(
        after < Duration::from_secs(3),
        "took {after:?} after Ctrl-C"
    );
    run
}

// Issue 14: Ctrl-C during the PATCH retries was ignored until a SIGKILL,
// and no audit record was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_reporting_ends_the_run_at_once_with_archive_and_record() {
    let h = Hostile::start(reporting_never_ends(None)).await;
    let home = Home::new(&h.url);
    let run = ctrl_c_while_reporting(&h, &home);
    // The archive was complete before the report began.
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_one_intact_archive(&home);
    let audit = home.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "completed");
    assert_eq!(audit[1]["report"], "pending", "{}", audit[1]);
    assert_eq!(audit[1]["error_code"], "cancelled", "{}", audit[1]);
    assert!(home.path("data/keepsake/pending-reports.json").exists());
}

/// Everything the terminal would have received, with what it must not.
fn assert_no_raw_controls(what: &str, bytes: &[u8]) {
    let shown = String::from_utf8_lossy(bytes);
    assert!(
        !bytes.contains(&0x1b),
        "{what}: a raw ESC reached the terminal: {shown:?}"
    );
    assert!(
        !bytes.contains(&0x07),
        "{what}: a raw BEL reached the terminal: {shown:?}"
    );
    for bad in ['\u{9b}', '\u{202e}', '\u{2066}', '\r'] {
        assert!(
            !shown.contains(bad),
            "{what}: {bad:?} reached the terminal: {shown:?}"
        );
    }
}

// Issue 14: raw ANSI escape sequences from a server-chosen login, display
// name or problem detail were written to the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_from_the_platform_never_reach_the_terminal_raw() {
    let evil_login = "\u{1b}[2J\u{1b}[Hevil\u{9b}31m\u{202e}nimda";
    let fail_posts = Arc::new(AtomicBool::new(false));
    let f = fail_posts.clone();
    let h = Hostile::start(Script {
        login: evil_login.into(),
        display_name: "\u{1b}]0;pwned\u{7}\rAlice".into(),
        hook: Some(hook(move |req| {
            (f.load(Ordering::SeqCst) && req.category() == Some("posts")).then(|| {
                problem(
                    403,
                    "forbidden",
                    "\u{1b}[1A\u{1b}[2Kexport complete\r\u{9b}32m ok\u{2066}",
                )
            })
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);

    let who = home.run(&["whoami"]);
    assert_eq!(who.status.code(), Some(0), "{}", text(&who));
    assert_no_raw_controls("whoami", &[who.stdout.clone(), who.stderr.clone()].concat());
    assert!(text(&who).contains("\\x1b[2J"), "{}", text(&who));
    let who = home.run(&["--json", "whoami"]);
    assert_no_raw_controls("whoami --json", &who.stdout);
    let me: Value = serde_json::from_slice::<Value>(&who.stdout).expect("JSON")["result"].clone();
    assert_eq!(me["login"], evil_login, "--json keeps the value exact");

    // A whole export, on a terminal's terms and in JSON (each in a home of
    // its own: the server opens the same session every time).
    let text_export = |home: &Home| {
        let out = home.out();
        home.run_bounded(
            &["export", "--out", out.to_str().expect("utf-8 path")],
            Duration::from_secs(60),
        )
    };
    let run = text_export(&home);
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_no_raw_controls(
        "export",
        &[run.output.stdout.clone(), run.output.stderr.clone()].concat(),
    );
    let home = Home::new(&h.url);
    let run = home.export(&[], Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_no_raw_controls("export --json", &run.output.stdout);
    assert_no_raw_controls("export --json", &run.output.stderr);

    // A problem detail in the error that ends an export.
    fail_posts.store(true, Ordering::SeqCst);
    let home = Home::new(&h.url);
    let run = text_export(&home);
    assert_ne!(run.code(), 0, "{}", run.text());
    assert_no_raw_controls(
        "failed export",
        &[run.output.stdout.clone(), run.output.stderr.clone()].concat(),
    );
    assert!(
        run.text().contains("\\x1b[1A"),
        "the detail is shown escaped: {}",
        run.text()
    );
    assert_audited(&home, "failed");
}

// A line feed in a login listed by `keepsake audit list` started what
// looked like a record of its own (the list kept line feeds for its lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_cannot_fake_a_line_of_the_audit_list() {
    let forged = "mallory\n#2    2020-01-01T00:00:00Z  completed  alice";
    let h = Hostile::start(Script {
        login: forged.into(),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let out = home.out();
    home.run_bounded(
        &["export", "--out", out.to_str().expect("utf-8 path")],
        Duration::from_secs(60),
    );
    let records = home.audit().len();
    assert!(records >= 1, "the export is recorded");
    let listed = home.run(&["audit", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    assert_no_raw_controls("audit list", &listed.stdout);
    let shown = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(shown.lines().count(), records, "one line a record: {shown}");
    assert!(shown.contains("mallory\\x0a#2"), "shown escaped: {shown}");
}

// Issue 14: the report of a failed export is bounded and cancellable too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_reporting_a_failure_ends_the_run_at_once_with_its_record() {
    let h = Hostile::start(reporting_never_ends(Some((403, "posts are off limits")))).await;
    let home = Home::new(&h.url);
    let run = ctrl_c_while_reporting(&h, &home);
    assert_eq!(run.code(), 1, "{}", run.text());
    assert!(
        run.text().contains("posts are off limits"),
        "{}",
        run.text()
    );
    let audit = home.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "failed");
    assert_eq!(audit[1]["result"], "failed");
    assert_eq!(audit[1]["report"], "pending", "{}", audit[1]);
    // Stopped by Ctrl-C, not given up on its own.
    assert_eq!(audit[1]["error_code"], "cancelled", "{}", audit[1]);
    let kept = fs_err::read_to_string(home.path("data/keepsake/pending-reports.json"))
        .expect("the report is kept");
    assert!(kept.contains("\"failed\""), "{kept}");
}
