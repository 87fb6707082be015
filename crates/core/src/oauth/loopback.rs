//! The loopback listener a browser sign-in comes back to (RFC 8252 §7.3):
//! it reads one bounded request head per connection, takes the
//! authorization response from `/callback`, and answers with a small page.

use super::*;

/// What came back to `/callback`.
#[derive(Default)]
pub(super) struct Callback {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
}

impl Callback {
    pub(super) fn from_url(url: &Url) -> Self {
        let mut c = Callback::default();
        for (k, v) in url.query_pairs() {
            let slot = match k.as_ref() {
                "code" => &mut c.code,
                "state" => &mut c.state,
                "error" => &mut c.error,
                "error_description" => &mut c.error_description,
                _ => continue,
            };
            slot.get_or_insert_with(|| v.into_owned());
        }
        c
    }

    /// The answer is ours and carries a code; otherwise why not.
    pub(super) fn check(&self, sent: &CsrfToken) -> Result<()> {
        // Compared through hashes so that the time taken says nothing about
        // how much of a guessed state matched.
        let ours = Sha256::digest(sent.secret().as_bytes());
        let matches = self
            .state
            .as_ref()
            .is_some_and(|s| Sha256::digest(s.as_bytes()) == ours);
        if !matches {
            return Err(Error::SignIn {
                detail: "the answer that reached Keepsake was not for this sign-in (its state did not match), so it was refused and nothing was stored; run `keepsake login` again".into(),
            });
        }
        if let Some(error) = &self.error {
            let detail = if error == "access_denied" {
                "you declined the sign-in in the browser".to_owned()
            } else {
                format!(
                    "the platform refused the sign-in ({error}: {})",
                    self.error_description
                        .as_deref()
                        .unwrap_or("no details given")
                )
            };
            return Err(Error::SignIn { detail });
        }
        if self.code.as_deref().is_none_or(str::is_empty) {
            return Err(Error::SignIn {
                detail: "the browser came back without an authorization code; run `keepsake login` again".into(),
            });
        }
        Ok(())
    }
}

/// Accepts connections until one asks for the callback path; everything else
/// gets a `404` (favicon) or `405`, and the connection is closed.
pub(super) async fn wait_for_callback(listener: &TcpListener) -> (TcpStream, Callback) {
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
pub(super) async fn serve_connection(mut stream: TcpStream) -> Option<(TcpStream, Callback)> {
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
    Some((stream, Callback::from_url(&url)))
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
pub(super) async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
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

pub(super) fn success_page() -> String {
    page(
        "Signed in to Keepsake — you can close this tab",
        "Keepsake has your sign-in. Return to Keepsake to continue.",
    )
}

pub(super) fn error_page(message: &str) -> String {
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
