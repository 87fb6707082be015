//! `keepsake login`, `logout` and `whoami`: which platform an address is,
//! the way of signing in it offers, and the sign-in kept in the keyring.

use std::io::{BufRead, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use keepsake_core::connector::{Connector, Flow};
use keepsake_core::text::{sanitize_for_terminal, sanitize_lines};
use keepsake_core::{Error, PlatformUrl, Result, Secret, audit, export, signin};
use serde_json::json;

use crate::args::{Global, LoginArgs};
use crate::{auth, client, print_result};

/// How long a browser sign-in waits for the user.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn login(g: &Global, a: LoginArgs) -> Result<ExitCode> {
    let platform = auth::platform(g)?;
    let store = auth::store(g)?;
    let connector = signin::detect(&platform, g.kind.as_deref()).await?;
    err!("{} at {}", connector.name(), platform.as_url());
    let (flow, page) = choose(&*connector, &platform, &a).await?;
    let creds = match flow {
        Flow::Token => {
            let token = read_secret("paste the access token and press Enter:", a.token_stdin)?;
            connector.sign_in_token(&platform, token)
        }
        Flow::Password => {
            let user = match &a.user {
                Some(u) => u.clone(),
                None => prompt_line("user name: ")?,
            };
            if let Some(page) = page.filter(|_| !a.password_stdin) {
                show_page(connector.name(), &page, a.no_browser);
            }
            let secret = read_secret(&format!("password for {user}: "), a.password_stdin)?;
            connector.sign_in_password(&platform, &user, secret).await?
        }
        Flow::Browser => {
            let no_browser = a.no_browser;
            connector
                .sign_in_browser(
                    &platform,
                    a.support,
                    Box::new(move |url| {
                        err!("Sign in in your browser. If it does not open, visit:\n\n  {url}\n");
                        if no_browser {
                            Ok(())
                        } else {
                            open_browser(url.as_str())
                        }
                    }),
                    BROWSER_TIMEOUT,
                )
                .await?
        }
    };
    let (me, checked) = signin::keep(
        store,
        &connector,
        &platform,
        creds,
        keepsake_core::client::RetryPolicy::interactive(),
    )
    .await?;
    auth::remember(&platform);
    // Outcome reports earlier exports could not deliver go now, briefly.
    if let Ok(log) = audit::AuditLog::default_dir().and_then(|d| audit::AuditLog::open(&d)) {
        export::send_kept_reports(
            &checked,
            &log,
            &export::CancelFlag::default(),
            &me.login,
            Some(me.id.clone()),
        )
        .await;
    }
    print_result(
        g,
        &json!({"signed_in": true, "login": me.login, "support": me.support, "platform": connector.name(), "kind": connector.kind()}),
        || {
            format!(
                "signed in to {} ({}) as {}{}",
                platform.as_url(),
                connector.name(),
                // Inside a line: the platform's line ends are escaped too.
                sanitize_for_terminal(&me.login),
                if me.support {
                    format!(
                        ", with support access ({}: may export other accounts)",
                        connector.support_means()
                    )
                } else {
                    String::new()
                }
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Where the platform makes the secret about to be asked for (WordPress's
/// approval page, which shows a new application password once): printed,
/// and opened in the browser when someone is at the terminal.
fn show_page(platform: &str, page: &str, no_browser: bool) {
    err!(
        "{platform} makes one on this page: approve Keepsake there, and it shows the new \
         password once; paste it below. If it does not open, visit:\n\n  {}\n",
        sanitize_for_terminal(page)
    );
    if !no_browser
        && std::io::stdin().is_terminal()
        && let Err(e) = open_browser(page)
    {
        err!("could not open the browser ({e}); open the address yourself");
    }
}

/// The way to sign in (what the flags ask for, else the platform's first
/// offer), with the page where the platform makes its secret, if it has
/// one.
async fn choose(
    connector: &dyn Connector,
    platform: &PlatformUrl,
    a: &LoginArgs,
) -> Result<(Flow, Option<String>)> {
    if a.token_stdin {
        return Ok((Flow::Token, None));
    }
    let offers = signin::offers(connector, platform).await?;
    if a.user.is_some() || a.password_stdin {
        let password = offers
            .iter()
            .find(|o| o.flow == Flow::Password)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{} does not offer signing in with a user name and password here; {}",
                    connector.name(),
                    alternatives(&offers)
                ))
            })?;
        return Ok((Flow::Password, password.page.clone()));
    }
    offers
        .iter()
        .find(|o| o.flow != Flow::Token)
        .map(|o| (o.flow, o.page.clone()))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} offers no way to sign in from here but a token; pass --token-stdin",
                connector.name()
            ))
        })
}

/// The other ways, as flags.
fn alternatives(offers: &[keepsake_core::connector::Offer]) -> String {
    let flags: Vec<&str> = offers
        .iter()
        .map(|o| match o.flow {
            Flow::Browser => "the browser (no flag)",
            Flow::Password => "--user NAME (and --password-stdin)",
            Flow::Token => "--token-stdin",
        })
        .collect();
    format!("sign in with {}", flags.join(", or "))
}

/// A line typed at the terminal (a user name).
fn prompt_line(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Invalid(
            "no terminal to ask for the user name: pass --user NAME".into(),
        ));
    }
    let line = stdin_line(prompt)?.trim().to_owned();
    if line.is_empty() {
        return Err(Error::Invalid(
            "no user name given; nothing was stored".into(),
        ));
    }
    Ok(line)
}

/// One line of standard input, after `prompt` on standard error.
fn stdin_line(prompt: &str) -> Result<String> {
    err!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(Error::io("read", "standard input"))?;
    Ok(line)
}

/// A secret: one line of standard input (`from_stdin`, or when standard
/// input is not a terminal), else typed at the terminal without echo.
/// Never an argument: those end up in shell history and process lists.
fn read_secret(prompt: &str, from_stdin: bool) -> Result<Secret> {
    let text = if from_stdin || !std::io::stdin().is_terminal() {
        stdin_line(prompt)?
    } else {
        rpassword::prompt_password(prompt).map_err(Error::io("read", "the terminal"))?
    };
    let secret = Secret::new(text.trim());
    if secret.expose().is_empty() {
        return Err(Error::Invalid(
            "nothing was given on standard input; nothing was stored".into(),
        ));
    }
    Ok(secret)
}

/// Opens the system browser; the URL carries no secret (only the PKCE
/// challenge and state, or the application's name).
fn open_browser(url: &str) -> std::io::Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

pub async fn logout(g: &Global) -> Result<ExitCode> {
    let platform = auth::platform(g)?;
    // Ended on the platform first: a forgotten but live token is still a
    // live token.
    let had = signin::sign_out(auth::store(g)?, &platform, true).await?;
    print_result(
        g,
        &json!({"signed_out": true, "was_signed_in": had}),
        || {
            if had {
                format!(
                    "signed out of {}; the sign-in is ended on the platform and forgotten here",
                    platform.as_url()
                )
            } else {
                format!("not signed in to {}; nothing to do", platform.as_url())
            }
        },
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(g: &Global) -> Result<ExitCode> {
    let connector = auth::connector(g, &auth::platform(g)?).await?;
    let me = connector.whoami(&client(g).await?).await?;
    let shown = json!({
        "id": me.id,
        "login": me.login,
        "display_name": me.display_name,
        "support": me.support,
        "platform": connector.name(),
        "kind": connector.kind(),
    });
    print_result(g, &shown, || {
        format!(
            "{} (id {}{}) on {}{}",
            sanitize_for_terminal(&me.login),
            sanitize_for_terminal(me.id.as_str()),
            me.display_name
                .as_deref()
                .map(|n| format!(", {}", sanitize_for_terminal(n)))
                .unwrap_or_default(),
            connector.name(),
            if me.support { ", support access" } else { "" }
        )
    });
    Ok(ExitCode::SUCCESS)
}
