//! The sign-in and consent page of `/oauth/authorize`, and its error page.
//! Every value placed in the page is HTML-escaped.

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
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

/// The Content-Security-Policy of these pages: no script at all; the form
/// may post to the platform and be redirected to a loopback client.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    form-action 'self' http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'; base-uri 'none'";

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  :root {{ color-scheme: light dark; font-family: system-ui, sans-serif; }}
  body {{ max-width: 28rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }}
  label {{ display: block; margin-top: .75rem; font-weight: 600; }}
  input[type=text], input[type=password] {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
  .actions {{ margin-top: 1.25rem; display: flex; gap: .75rem; }}
  button {{ padding: .5rem 1rem; font-size: 1rem; }}
  .error {{ border: 2px solid #b00020; padding: .5rem .75rem; border-radius: .25rem; }}
  .demo {{ border: 1px dashed currentColor; padding: .5rem .75rem; margin-top: 1.5rem; }}
  code {{ font-size: .95em; }}
</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"#,
        title = esc(title)
    )
}

/// What the consent form carries through.
pub(crate) struct Consent<'a> {
    pub hidden: &'a [(&'static str, String)],
    pub scopes: &'a [String],
    pub error: Option<&'a str>,
    pub login: &'a str,
    pub demo_accounts: &'a [(String, String)],
}

pub(crate) fn consent_page(c: &Consent<'_>) -> String {
    let mut body = String::from("<h1>Sign in to export your data</h1>\n");
    body.push_str("<p><strong>Keepsake</strong> asks to:</p>\n<ul>\n");
    for s in c.scopes {
        let what = match s.as_str() {
            crate::SCOPE_ANY => {
                "export the data of any account (support staff; every export is audited with its reason)"
            }
            _ => "export a copy of your own data",
        };
        let _ = writeln!(body, "<li>{} (<code>{}</code>)</li>", esc(what), esc(s));
    }
    body.push_str("</ul>\n");
    if let Some(err) = c.error {
        let _ = writeln!(body, r#"<p class="error" role="alert">{}</p>"#, esc(err));
    }
    body.push_str("<form method=\"post\" action=\"/oauth/authorize\">\n");
    for (k, v) in c.hidden {
        let _ = writeln!(
            body,
            r#"<input type="hidden" name="{k}" value="{}">"#,
            esc(v)
        );
    }
    let _ = writeln!(
        body,
        r#"<label for="login">Login</label>
<input id="login" name="login" type="text" autocomplete="username" required value="{}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions">
<button type="submit" name="decision" value="approve">Allow and sign in</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>"#,
        esc(c.login)
    );
    if !c.demo_accounts.is_empty() {
        body.push_str("<section class=\"demo\" aria-labelledby=\"demo-h\">\n<h2 id=\"demo-h\">Demo accounts</h2>\n<ul>\n");
        for (login, password) in c.demo_accounts {
            let _ = writeln!(
                body,
                "<li><code>{}</code> / <code>{}</code></li>",
                esc(login),
                esc(password)
            );
        }
        body.push_str("</ul>\n<p>This is the Keepsake reference platform running in demo mode.</p>\n</section>\n");
    }
    page("Sign in — Keepsake reference platform", &body)
}

pub(crate) fn error_page(message: &str) -> String {
    page(
        "Sign-in request refused",
        &format!(
            "<h1>This sign-in request cannot be used</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n\
             <p>Close this tab and start the sign-in again from the Keepsake app.</p>",
            esc(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            esc(r#"<img src=x onerror="a">'&"#),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&#39;&amp;"
        );
    }
}
