//! The client against a scripted server on loopback: what a hostile or
//! broken platform can make it do, and what it must not.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const TOKEN: &str = "ksk_unit_test_token_0123456789";

/// What the server does with one request.
enum Answer {
    /// A whole response, head and body.
    Whole(String),
    /// `head`, then the body one byte every `every`.
    Trickle(String, Vec<u8>, Duration),
    /// `head`, then zeros until the client hangs up.
    Endless(String),
}

fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    Answer::Whole(format!("{head}\r\n{body}"))
}

struct Server {
    url: String,
    /// The request heads, in order.
    heads: Arc<Mutex<Vec<String>>>,
    /// Body bytes written to clients in all.
    written: Arc<AtomicU64>,
}

impl Server {
    async fn start(script: impl Fn(usize, &str) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let script = Arc::new(script);
        let n = Arc::new(AtomicUsize::new(0));
        let (h, w) = (heads.clone(), written.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (h, w, script, n) = (h.clone(), w.clone(), script.clone(), n.clone());
                tokio::spawn(serve(stream, h, w, script, n));
            }
        });
        Self {
            url,
            heads,
            written,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    heads: Arc<Mutex<Vec<String>>>,
    written: Arc<AtomicU64>,
    script: Arc<impl Fn(usize, &str) -> Answer>,
    n: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&byte[..k]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    heads.lock().expect("lock").push(head.clone());
    let i = n.fetch_add(1, Ordering::SeqCst);
    match script(i, &head) {
        Answer::Whole(r) => {
            let _ = stream.write_all(r.as_bytes()).await;
        }
        Answer::Trickle(head, body, every) => {
            let _ = stream.write_all(head.as_bytes()).await;
            for b in body {
                tokio::time::sleep(every).await;
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
            }
        }
        Answer::Endless(head) => {
            let _ = stream.write_all(head.as_bytes()).await;
            let zeros = vec![0u8; 64 << 10];
            while stream.write_all(&zeros).await.is_ok() {
                written.fetch_add(zeros.len() as u64, Ordering::Relaxed);
            }
        }
    }
    let _ = stream.shutdown().await;
}

fn client(url: &str, retry: RetryPolicy) -> ApiClient {
    let platform = PlatformUrl::parse(url).expect("url");
    ApiClient::new(
        &platform,
        Arc::new(StaticToken::new(Secret::new(TOKEN), &platform)),
    )
    .expect("client")
    .with_retry(retry)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn authorized(head: &str) -> bool {
    head.to_ascii_lowercase().contains("\r\nauthorization:")
}

// Issue 14: a 500 with a 1 GiB body took the client to 2.1 GB.
#[tokio::test]
async fn an_error_body_is_read_only_up_to_its_cap() {
    let s = Server::start(|_, _| {
        Answer::Endless(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/problem+json\r\n\r\n"
                .into(),
        )
    })
    .await;
    let c = client(
        &s.url,
        RetryPolicy {
            max_retries: 0,
            ..quick()
        },
    );
    let t = Instant::now();
    let err = c
        .get_json::<serde_json::Value>("/x")
        .await
        .expect_err("500");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(err.code(), "platform_error", "{err}");
    // Socket buffers hold a few MB at most; the body is never drained.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = s.written.load(Ordering::Relaxed);
    assert!(written < 32 << 20, "{written} bytes were sent");
}

#[tokio::test]
async fn a_retry_after_beyond_the_ceiling_stops_at_once_with_the_time() {
    let s =
        Server::start(|_, _| answer("503 Service Unavailable", &[("retry-after", "999999")], ""))
            .await;
    let err = client(&s.url, quick())
        .get_json::<serde_json::Value>("/x")
        .await
        .expect_err("refused");
    let Error::TryLater {
        retry_at, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    let at = retry_at.as_deref().expect("the platform's time");
    assert!(message.contains(at), "{message}");
    assert_eq!(s.requests().len(), 1);
}

#[tokio::test]
async fn a_retry_after_date_is_waited_out() {
    let at = SystemTime::now() + Duration::from_secs(2);
    let t = time::OffsetDateTime::from(at);
    let date = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        &t.weekday().to_string()[..3],
        t.day(),
        &t.month().to_string()[..3],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let s = Server::start(move |i, _| match i {
        0 => answer("503 Service Unavailable", &[("retry-after", &date)], ""),
        _ => answer("200 OK", &[("content-type", "application/json")], "{}"),
    })
    .await;
    let start = Instant::now();
    client(&s.url, quick())
        .get_json::<serde_json::Value>("/x")
        .await
        .expect("second try");
    // The date has one-second resolution: at least a second, one retry.
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(s.requests().len(), 2);
}

#[tokio::test]
async fn a_platform_failing_for_good_is_given_up_on_within_the_budget() {
    let s = Server::start(|_, _| answer("503 Service Unavailable", &[], "")).await;
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w = waits.clone();
    let c = client(
        &s.url,
        RetryPolicy {
            max_retries: 1000,
            give_up_after: Duration::from_millis(400),
            ..quick()
        },
    )
    .on_wait(Arc::new(move |wait: &Wait<'_>| {
        w.lock().expect("lock").push(wait.give_up_at);
    }));
    let t = Instant::now();
    let err = c
        .get_json::<serde_json::Value>("/x")
        .await
        .expect_err("gave up");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(matches!(err, Error::TryLater { .. }), "{err:?}");
    assert!(err.to_string().contains("gave up"), "{err}");
    let waits = waits.lock().expect("lock");
    assert!(waits.len() > 2);
    // The same give-up time is shown on every wait.
    assert!(waits.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn a_cancelled_export_stops_waiting_at_once() {
    let s =
        Server::start(|_, _| answer("503 Service Unavailable", &[("retry-after", "60")], "")).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let c = client(&s.url, quick())
        .stop_when(Arc::new(move || flag.load(Ordering::SeqCst)))
        .on_wait(Arc::new(move |_: &Wait<'_>| {
            stop.store(true, Ordering::SeqCst)
        }));
    let t = Instant::now();
    let err = c
        .get_json::<serde_json::Value>("/x")
        .await
        .expect_err("stopped");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

// Issue 14: Ctrl-C waited for a stalled body until its pace window ran out.
#[tokio::test]
async fn a_cancelled_export_stops_a_request_in_flight() {
    let s = Server::start(|_, _| {
        Answer::Trickle(
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\ncontent-type: application/json\r\n\r\n"
                .into(),
            vec![b' '; 100],
            Duration::from_secs(5),
        )
    })
    .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let c = client(&s.url, quick()).stop_when(Arc::new(move || flag.load(Ordering::SeqCst)));
    let t = Instant::now();
    let request = tokio::spawn(async move { c.get_json::<serde_json::Value>("/x").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let err = request.await.expect("joined").expect_err("stopped");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn the_body_is_read_within_the_one_retry_loop() {
    // The first answer stalls midway, the second is whole.
    let s = Server::start(|i, _| match i {
        0 => Answer::Trickle(
            "HTTP/1.1 200 OK\r\ncontent-length: 40\r\ncontent-type: application/json\r\n\r\n"
                .into(),
            vec![b' '; 40],
            Duration::from_millis(300),
        ),
        _ => answer("200 OK", &[("content-type", "application/json")], "{}"),
    })
    .await;
    let c = client(&s.url, quick()).with_pace(Pace {
        window: Duration::from_millis(500),
        min_bytes: 10,
    });
    let t = Instant::now();
    c.get_json::<serde_json::Value>("/x")
        .await
        .expect("retried");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(s.requests().len(), 2);
}

#[tokio::test]
async fn a_trickling_body_fails_as_a_network_error() {
    let s = Server::start(|_, _| {
        Answer::Trickle(
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".into(),
            vec![b'x'; 100],
            Duration::from_millis(200),
        )
    })
    .await;
    let c = client(
        &s.url,
        RetryPolicy {
            max_retries: 0,
            ..quick()
        },
    )
    .with_pace(Pace {
        window: Duration::from_millis(500),
        min_bytes: 50,
    });
    let mut dl = c.download("/m", 0, Auth::Omit).await.expect("headers");
    let err = loop {
        match dl.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the whole body came"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.class(), Class::Retryable, "{err}");
    assert!(err.to_string().contains("too slowly"), "{err}");
}

// Issue 14: media downloads carried the bearer token.
#[tokio::test]
async fn media_without_credentials_carries_no_token_on_any_host() {
    let ok = |_: usize, _: &str| answer("200 OK", &[], "bytes");
    let platform = Server::start(ok).await;
    let other = Server::start(ok).await;
    // Another host (by name) on loopback, over plain http.
    let other_url = other.url.replace("127.0.0.1", "localhost");
    let c = client(&platform.url, quick());
    c.download(&format!("{}m/1?sig=x", platform.url), 0, Auth::Omit)
        .await
        .expect("same origin");
    c.download(&format!("{other_url}m/2?sig=x"), 0, Auth::Omit)
        .await
        .expect("other host");
    c.download("/m/3", 0, Auth::Token)
        .await
        .expect("with token");
    let heads = platform.requests();
    assert!(!authorized(&heads[0]), "{}", heads[0]);
    assert!(authorized(&heads[1]), "{}", heads[1]);
    assert!(other.requests().iter().all(|h| !authorized(h)));
    assert_eq!(other.requests().len(), 1);
}

#[tokio::test]
async fn a_401_without_the_token_is_no_sign_in_problem() {
    let s = Server::start(|_, _| answer("401 Unauthorized", &[], "")).await;
    let c = client(&s.url, quick());
    let err = c
        .download("/m?sig=x", 0, Auth::Omit)
        .await
        .err()
        .expect("refused");
    assert_eq!(err.class(), Class::Fatal, "{err}");
    assert_ne!(err.code(), "signed_out");
    let err = c
        .download("/m", 0, Auth::Token)
        .await
        .err()
        .expect("refused");
    assert_eq!(err.class(), Class::NeedsSignIn, "{err}");
}

#[test]
fn where_a_request_may_go_depends_on_whether_it_carries_the_token() {
    let c = client("https://platform.example/", quick());
    assert!(c.url_for("https://cdn.example/m?sig=1", Auth::Omit).is_ok());
    assert!(c.url_for("http://cdn.example/m", Auth::Omit).is_err());
    // A platform elsewhere cannot send Keepsake to this computer.
    for local in [
        "http://127.0.0.2:9/m",
        "http://localhost:9/m",
        "https://127.0.0.1:8443/m",
        "http://[::1]:9/m",
    ] {
        let refused = c.url_for(local, Auth::Omit).expect_err(local);
        assert!(
            refused.to_string().contains("not on this computer"),
            "{refused}"
        );
    }
    // A platform on this computer can (the embedded one, a test server).
    let here = client("http://127.0.0.1:9/", quick());
    assert!(here.url_for("http://127.0.0.2:9/m", Auth::Omit).is_ok());
    assert!(here.url_for("http://localhost:9/m", Auth::Omit).is_ok());
    assert!(here.url_for("https://cdn.example/m", Auth::Omit).is_ok());
    // The token goes nowhere but the platform's origin.
    assert!(c.url_for("https://cdn.example/m", Auth::Token).is_err());
    assert!(c.url_for("http://platform.example/m", Auth::Token).is_err());
    assert!(c.url_for("/api/v1/me", Auth::Token).is_ok());
}

// Issue 14: a token echoed in a problem detail reached stderr.
#[tokio::test]
async fn a_token_echoed_by_the_platform_is_redacted() {
    let body = format!(
        r#"{{"type":"x/forbidden","title":"no {TOKEN}","detail":"token {TOKEN} is not allowed"}}"#
    );
    let s = Server::start(move |_, _| {
        answer(
            "403 Forbidden",
            &[("content-type", "application/problem+json")],
            &body,
        )
    })
    .await;
    let err = client(&s.url, quick())
        .get_json::<serde_json::Value>("/x")
        .await
        .expect_err("403");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

// A revocation the platform refuses, echoing the token in a body that
// never ends: read up to the bound, shown without the token.
#[tokio::test]
async fn a_refused_revocation_is_read_to_a_bound_and_redacted() {
    let detail = format!("token {TOKEN} is not known ");
    let body = format!(
        r#"{{"type":"x/invalid","title":"no","detail":"{}"}}"#,
        detail.repeat(20_000)
    );
    let s = Server::start(move |_, _| {
        answer(
            "400 Bad Request",
            &[("content-type", "application/problem+json")],
            &body,
        )
    })
    .await;
    let err = crate::oauth::revoke(
        &s.url,
        &crate::connector::keepsake::OAUTH,
        &Secret::new(TOKEN),
    )
    .await
    .expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{}", &shown[..shown.len().min(300)]);
    assert!(
        shown.len() < 4 * MAX_ERROR_BODY,
        "{} bytes shown",
        shown.len()
    );
}

// A homeserver that echoes the password in its refusal: the sign-in error
// never shows it.
#[tokio::test]
async fn a_password_echoed_by_a_homeserver_is_redacted() {
    const PASSWORD: &str = "correct-horse-battery-staple";
    let body = format!(r#"{{"errcode":"M_FORBIDDEN","error":"wrong password {PASSWORD}"}}"#);
    let s = Server::start(move |_, _| {
        answer(
            "403 Forbidden",
            &[("content-type", "application/json")],
            &body,
        )
    })
    .await;
    let platform = PlatformUrl::parse(&s.url).expect("loopback URL");
    let err = crate::connector::matrix()
        .sign_in_password(&platform, "@alice:example.org", Secret::new(PASSWORD))
        .await
        .expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("did not accept"), "{shown}");
}
