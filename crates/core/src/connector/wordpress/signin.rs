//! Signing in to WordPress with an application password: the browser flow
//! WordPress offers native apps (its authorisation page, approved by the
//! user, sends the new password to Keepsake's loopback address), or one
//! the user created in their profile and pastes with their user name.
//! Logging out deletes the password Keepsake created; one the user pasted
//! is theirs, and only forgotten.

use std::time::Duration;

use reqwest::Method;

use super::wire::{AppPassword, Index, rest};
use crate::client::{ApiClient, Auth, StaticToken};
use crate::connector::{Flow, Offer, Opener, client_label};
use crate::credentials::Credentials;
use crate::loopback::{self, Loopback, describe, param};
use crate::{Error, PlatformUrl, Result, Secret};

/// The site's REST index, without credentials: only the namespaces and
/// the authentication it offers (the whole index lists every route).
pub(super) async fn index(client: &ApiClient) -> Result<Index> {
    let path = rest("/", &[("_fields", "namespaces,authentication".into())]);
    Ok(client
        .request::<Index>(Method::GET, &path, None, Auth::Omit)
        .await?
        .0)
}

/// The ways in: WordPress's authorisation page where the site offers
/// application passwords, and a pasted one always.
pub(super) async fn offers(client: &ApiClient) -> Result<Vec<Offer>> {
    let mut offers = Vec::new();
    if index(client).await?.authorize_url().is_some() {
        offers.push(Offer {
            flow: Flow::Browser,
            label: "Sign in with your browser (WordPress asks you to approve Keepsake)".into(),
            secret_label: None,
            user_label: None,
        });
    }
    offers.push(Offer {
        flow: Flow::Password,
        label: "Use an application password (Users → Profile → Application Passwords)".into(),
        secret_label: Some("Application password".into()),
        user_label: Some("User name".into()),
    });
    Ok(offers)
}

/// A pasted application password with its user name (checked by the
/// caller before it is kept).
pub(super) fn pasted(platform: &PlatformUrl, user: &str, secret: Secret) -> Credentials {
    // WordPress shows the password in groups of four; the spaces are not
    // part of it (it ignores them too).
    let compact: String = secret
        .expose()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Credentials {
        user: Some(user.to_owned()),
        ..Credentials::from_pat(platform, Secret::new(compact))
    }
}

/// WordPress's authorisation page for native apps, approved in the
/// browser, which comes back to the loopback listener with the new
/// application password.
pub(super) async fn browser(
    platform: &PlatformUrl,
    open: Opener,
    timeout: Duration,
) -> Result<Credentials> {
    let client = crate::client::ApiClient::anonymous(platform)?;
    let index = index(&client).await?;
    let authorize = index.authorize_url().ok_or_else(|| Error::SignIn {
        detail: "this WordPress site does not offer application passwords (they need WordPress \
                 5.6 or later, and the site may have turned them off); ask its administrator"
            .into(),
    })?;
    let mut url = url::Url::parse(authorize).map_err(|e| Error::Protocol {
        url: crate::error::display_url(client.base()),
        detail: format!("its authorisation page is not an address ({e})"),
    })?;
    // The password comes back to where the user approved it: that page
    // must be the site's own.
    if url.origin() != client.base().origin() {
        return Err(Error::Protocol {
            url: crate::error::display_url(&url),
            detail: "the site names an authorisation page on another host; Keepsake does not sign in there".into(),
        });
    }
    let listener = Loopback::bind().await?;
    let back = listener.redirect_uri();
    let app_id = uuid_v4();
    let name = format!(
        "{} ({})",
        client_label(),
        time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default()
    );
    url.query_pairs_mut()
        .append_pair("app_name", &name)
        .append_pair("app_id", &app_id)
        .append_pair("success_url", &back)
        .append_pair("reject_url", &format!("{back}?success=false"));
    open(&url).map_err(|e| Error::SignIn {
        detail: format!(
            "could not open the browser ({e}); open the address yourself, or create an application \
             password in your WordPress profile and sign in with it"
        ),
    })?;
    let Some((mut stream, answer)) = listener.wait(timeout).await else {
        return Err(Error::SignIn {
            detail: format!(
                "no answer came from the browser within {}. If WordPress said it cannot send the \
                 password to this computer's address, create an application password in your \
                 WordPress profile and sign in with it and your user name",
                describe(timeout)
            ),
        });
    };
    let result = approved(platform, &answer).await;
    loopback::tell(&mut stream, &result).await;
    result
}

/// The credentials in WordPress's answer, with the id of the password it
/// made (so that logging out deletes it).
async fn approved(platform: &PlatformUrl, answer: &url::Url) -> Result<Credentials> {
    if param(answer, "success").as_deref() == Some("false") {
        return Err(Error::SignIn {
            detail: "you did not approve Keepsake on the WordPress page; nothing was stored".into(),
        });
    }
    if let Some(error) = param(answer, "error") {
        return Err(Error::SignIn {
            detail: format!("WordPress refused to make an application password ({error})"),
        });
    }
    let (Some(user), Some(password)) = (param(answer, "user_login"), param(answer, "password"))
    else {
        return Err(Error::SignIn {
            detail: "WordPress came back without a user name and password; sign in again".into(),
        });
    };
    let mut creds = pasted(platform, &user, Secret::new(password));
    let client = ApiClient::new(
        platform,
        std::sync::Arc::new(StaticToken::of(&creds, platform)),
    )?;
    let mine: AppPassword = client
        .get_json(&rest(
            "/wp/v2/users/me/application-passwords/introspect",
            &[],
        ))
        .await
        .map_err(|e| match e {
            Error::Status { status: 401, .. } | Error::SignIn { .. } => Error::SignIn {
                detail: "WordPress made an application password but does not accept it over \
                         this connection (a site served over plain http accepts them only in a \
                         local environment); sign in over https"
                    .into(),
            },
            e => e,
        })?;
    creds.handle = Some(mine.uuid);
    Ok(creds)
}

/// Deletes the application password Keepsake created; a pasted one is
/// the user's, and only forgotten.
pub(super) async fn revoke(client: &ApiClient, credentials: &Credentials) -> Result<()> {
    let Some(uuid) = &credentials.handle else {
        return Ok(());
    };
    let route = format!(
        "/wp/v2/users/me/application-passwords/{}",
        crate::connector::encode(uuid)
    );
    client
        .request::<serde_json::Value>(Method::DELETE, &rest(&route, &[]), None, Auth::Token)
        .await
        .map(drop)
}

/// A random (version 4) UUID: the `app_id` WordPress records with the
/// password.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_password_loses_its_spaces() {
        let p = PlatformUrl::parse("https://blog.example").expect("url");
        let c = pasted(&p, "ana", Secret::new("abcd EFGH ijkl  mnop"));
        assert_eq!(c.access_token.expose(), "abcdEFGHijklmnop");
        assert_eq!((c.user.as_deref(), c.handle), (Some("ana"), None));
    }

    #[test]
    fn app_ids_are_uuids() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }
}
