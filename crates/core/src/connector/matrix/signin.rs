//! Signing in to a Matrix homeserver: its password login, its single
//! sign-on in the browser (back to a loopback address with a login token,
//! exchanged for an access token), or a pasted access token. A login makes
//! a device of Keepsake's own, with a name that says so; logging out ends
//! that device. A pasted token is the user's, and only forgotten.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::wire::{Flows, LoggedIn, client};
use crate::client::{ApiClient, Auth};
use crate::connector::{Flow, Offer, Opener, client_label, encode};
use crate::credentials::Credentials;
use crate::loopback::{self, Loopback, describe, param};
use crate::{Error, PlatformUrl, Result, Secret};

/// The login flows the homeserver offers, as Keepsake offers them.
pub(super) async fn offers(c: &ApiClient) -> Result<Vec<Offer>> {
    let flows: Flows = c
        .request::<Flows>(Method::GET, &client("/login"), None, Auth::Omit)
        .await?
        .0;
    let has = |t: &str| flows.flows.iter().any(|f| f.kind == t);
    let mut offers = Vec::new();
    if has("m.login.sso") {
        offers.push(Offer {
            flow: Flow::Browser,
            label: "Sign in with your browser (single sign-on)".into(),
            secret_label: None,
            user_label: None,
            page: None,
        });
    }
    if has("m.login.password") {
        offers.push(Offer {
            flow: Flow::Password,
            label: "Sign in with your Matrix password".into(),
            secret_label: Some("Password".into()),
            user_label: Some("Matrix ID or user name (@alice:example.org or alice)".into()),
            page: None,
        });
    }
    offers.push(Offer {
        flow: Flow::Token,
        label: "Use an access token".into(),
        secret_label: Some("Access token".into()),
        user_label: None,
        page: None,
    });
    Ok(offers)
}

/// A login of `kind` with `fields`, making a device named for Keepsake.
async fn login(platform: &PlatformUrl, mut body: Value) -> Result<Credentials> {
    body["initial_device_display_name"] = json!(client_label());
    // What goes as a secret is never shown back, whatever the homeserver
    // echoes in its error (the request carries no token to redact by).
    let sent: Vec<Secret> = ["password", "token"]
        .iter()
        .filter_map(|k| body[*k].as_str())
        .map(Secret::new)
        .collect();
    let c = crate::client::ApiClient::anonymous(platform)?;
    let (answer, _) = c
        .request::<LoggedIn>(Method::POST, &client("/login"), Some(&body), Auth::Omit)
        .await
        .map_err(|e| sent.iter().fold(e, crate::client::redact))
        .map_err(|e| match &e {
            Error::Status {
                status: 401 | 403, ..
            } => Error::SignIn {
                detail: format!(
                    "the homeserver did not accept the sign-in ({}); nothing was stored. Check \
                     the user name and password, or sign in again in the browser",
                    e.platform_said().unwrap_or("no reason given")
                ),
            },
            _ => e,
        })?;
    Ok(Credentials {
        handle: answer.device_id,
        ..Credentials::from_pat(platform, Secret::new(answer.access_token))
    })
}

/// The homeserver's password login (`m.login.password`).
pub(super) async fn password(
    platform: &PlatformUrl,
    user: &str,
    secret: Secret,
) -> Result<Credentials> {
    login(
        platform,
        json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": secret.expose(),
        }),
    )
    .await
}

/// Single sign-on in the browser: the homeserver sends the browser to its
/// identity provider and back to the loopback address with a login token.
pub(super) async fn sso(
    platform: &PlatformUrl,
    open: Opener,
    timeout: Duration,
) -> Result<Credentials> {
    let listener = Loopback::bind().await?;
    let base = crate::client::ApiClient::anonymous(platform)?;
    let url = base.url(&format!(
        "{}?redirectUrl={}",
        client("/login/sso/redirect"),
        encode(&listener.redirect_uri())
    ))?;
    open(&url).map_err(|e| Error::SignIn {
        detail: format!(
            "could not open the browser ({e}); open the address yourself, or sign in with your password"
        ),
    })?;
    let Some((mut stream, answer)) = listener.wait(timeout).await else {
        return Err(Error::SignIn {
            detail: format!(
                "no answer came from the browser within {}; sign in again, or with your password",
                describe(timeout)
            ),
        });
    };
    let result = match param(&answer, "loginToken").filter(|t| !t.is_empty()) {
        Some(token) => login(platform, json!({"type": "m.login.token", "token": token})).await,
        None => Err(Error::SignIn {
            detail: "the browser came back without a login token; sign in again".into(),
        }),
    };
    loopback::tell(&mut stream, &result).await;
    result
}

/// Logs the device Keepsake made out; a pasted token is left alone.
pub(super) async fn logout(c: &ApiClient, credentials: &Credentials) -> Result<()> {
    if credentials.handle.is_none() {
        return Ok(());
    }
    c.post_json::<Value>(&client("/logout"), &json!({}))
        .await
        .map(drop)
}
