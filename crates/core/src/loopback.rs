//! The loopback listener a browser sign-in comes back to (RFC 8252 §7.3),
//! for every connector's browser flow (OAuth's code, WordPress's
//! application password, Matrix's login token): it reads one bounded
//! request head per connection, takes the answer from `/callback`, and
//! answers the browser with a small page.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use url::Url;

use crate::{Error, Result};

/// The path of the loopback redirect URI.
const CALLBACK_PATH: &str = "/callback";

/// A request head larger than this is not a browser coming back from sign-in.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// How long one connection to the listener may take to send its request.
/// Browsers open speculative connections that never send anything; each
/// connection is served on its own so that those cannot hold up the real one.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener on `127.0.0.1`, on a port the system picks, waiting for one
/// browser to come back.
pub(crate) struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    /// Listens; the sign-in fails early when this machine refuses.
    pub(crate) async fn bind() -> Result<Self> {
        let refused = |e: std::io::Error| Error::SignIn {
            detail: format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
        };
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(refused)?;
        let port = listener.local_addr().map_err(refused)?.port();
        Ok(Self { listener, port })
    }

    /// Where the browser is sent back to. RFC 8252 §8.3: the IP literal,
    /// not `localhost`, which may resolve elsewhere.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// The first request for the callback path within `timeout`: the
    /// connection (to answer on) and the address it asked for, whose query
    /// holds the answer. Stops listening either way: one answer only.
    pub(crate) async fn wait(self, timeout: Duration) -> Option<(TcpStream, Url)> {
        tokio::time::timeout(timeout, wait_for_callback(&self.listener))
            .await
            .ok()
    }
}

/// Accepts connections until one asks for the callback path; everything else
/// gets a `404` (favicon) or `405`, and the connection is closed.
pub(crate) async fn wait_for_callback(listener: &TcpListener) -> (TcpStream, Url) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream));
                }
                Err(e) => {
                    // Out of file descriptors and the like: try again shortly.
                    tracing::debug!(error = %e, "accept on the sign-in listener failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Ok(Some(found)) = done {
                    // Dropping the set aborts every other connection.
                    return found;
                }
            }
        }
    }
}

/// Reads one request; hands back the connection if it is for the callback.
pub(crate) async fn serve_connection(mut stream: TcpStream) -> Option<(TcpStream, Url)> {
    let head = match tokio::time::timeout(CONNECTION_TIMEOUT, read_head(&mut stream)).await {
        Ok(Head::Complete(h)) => h,
        Ok(Head::TooLarge) => {
            respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                &page("Request too large", "This is Keepsake's sign-in listener."),
            )
            .await;
            return None;
        }
        Ok(Head::Closed) | Err(_) => return None,
    };
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let Some(target) = target.filter(|t| t.starts_with('/')) else {
        respond(&mut stream, "400 Bad Request", &page("Bad request", "")).await;
        return None;
    };
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        respond(&mut stream, "400 Bad Request", &page("Bad request", "")).await;
        return None;
    }
    let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
        respond(&mut stream, "400 Bad Request", &page("Bad request", "")).await;
        return None;
    };
    if url.path() != CALLBACK_PATH {
        respond(&mut stream, "404 Not Found", &page("Not found", "")).await;
        return None;
    }
    if method != Some("GET") {
        respond(
            &mut stream,
            "405 Method Not Allowed",
            &page("Method not allowed", ""),
        )
        .await;
        return None;
    }
    Some((stream, url))
}

enum Head {
    Complete(String),
    TooLarge,
    Closed,
}

/// Reads up to the blank line that ends a request head.
async fn read_head(stream: &mut TcpStream) -> Head {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Head::Closed,
            Ok(n) => n,
        };
        // Search only the new bytes (and the three before them).
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(from + end);
            return match String::from_utf8(buf) {
                Ok(s) => Head::Complete(s),
                Err(_) => Head::Closed,
            };
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Head::TooLarge;
        }
    }
}

/// Sends one HTML answer and closes the connection.
pub(crate) async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await
    };
    // A browser that went away is no reason to fail the sign-in.
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, write).await;
}

pub(crate) fn success_page() -> String {
    page(
        "Signed in to Keepsake — you can close this tab",
        "Keepsake has your sign-in. Return to Keepsake to continue.",
    )
}

pub(crate) fn error_page(message: &str) -> String {
    page(
        "Keepsake could not sign you in",
        &format!("{message}. You can close this tab and return to Keepsake."),
    )
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;line-height:1.5}}</style>\
         </head><body><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape_html(title),
        x = escape_html(text)
    )
}

/// Query parameters (an `error_description` a page could have planted) are
/// shown as text, never as markup.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Tells the browser how the sign-in ended (a short page), and closes the
/// connection.
pub(crate) async fn tell<T>(stream: &mut TcpStream, result: &Result<T>) {
    let (status, page) = match result {
        Ok(_) => ("200 OK", success_page()),
        Err(e) => ("400 Bad Request", error_page(&e.to_string())),
    };
    respond(stream, status, &page).await;
}

/// The first value of `name` in the query of `url`.
pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// "5 minutes", "1 minute", "90 seconds".
pub(crate) fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        60 => "1 minute".into(),
        s if s >= 60 && s % 60 == 0 => format!("{} minutes", s / 60),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
