//! Signing in to WordPress with an application password, made on
//! WordPress's own authorisation page for apps, which the user approves in
//! the browser:
//! - for a site on this computer (plain `http`, which Keepsake allows only
//!   on loopback), the page sends the new password straight back to
//!   Keepsake's loopback listener. WordPress sends passwords to an `http`
//!   address only from a site in its `local` environment, and accepts
//!   application passwords over `http` only there too, so every such site
//!   that can sign in at all can do it this way;
//! - for any other site (`https`), WordPress refuses to send a password to
//!   an `http` address, so Keepsake opens the same page without one:
//!   WordPress then shows the new password once, and the user pastes it
//!   with their user name. (WordPress's own apps come back through a custom
//!   URL scheme instead; a desktop app registers one only when installed,
//!   and the CLI has none.)
//!
//! A password the user made by hand in their profile works the same way.
//! Logging out deletes a password made on Keepsake's behalf (WordPress
//! records it with Keepsake's app id); one the user made is theirs, and
//! only forgotten.

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

/// Keepsake's `app_id`: WordPress records it with every password made on
/// its authorisation page for Keepsake, which is how a pasted password is
/// known to be one Keepsake may delete when it signs out.
const APP_ID: &str = "4c1f8e2a-6b3d-4f57-9a0e-7d2b5c8e1f36";

/// The ways in: WordPress's authorisation page where the site offers
/// application passwords (coming back by itself on a site on this
/// computer), and a pasted password always.
pub(super) async fn offers(client: &ApiClient) -> Result<Vec<Offer>> {
    let index = index(client).await?;
    let page = index
        .authorize_url()
        .and_then(|a| approval_page(client.base(), a, None).ok());
    Ok(ways_in(client.base(), page))
}

/// The offers for a site at `base`, given its approval page (without a
/// way back), if it has one.
fn ways_in(base: &url::Url, page: Option<url::Url>) -> Vec<Offer> {
    let mut offers = Vec::new();
    if page.is_some() && base.scheme() == "http" {
        offers.push(Offer {
            flow: Flow::Browser,
            label: "Sign in with your browser (WordPress asks you to approve Keepsake)".into(),
            secret_label: None,
            user_label: None,
            page: None,
        });
    }
    let label = match &page {
        Some(_) => {
            "Use an application password (approve Keepsake in your browser, and WordPress shows one)"
        }
        None => "Use an application password (Users → Profile → Application Passwords)",
    };
    offers.push(Offer {
        flow: Flow::Password,
        label: label.into(),
        secret_label: Some("Application password".into()),
        user_label: Some("User name".into()),
        page: page.map(String::from),
    });
    offers
}

/// WordPress's authorisation page `authorize` for Keepsake, with `back` as
/// the address the password goes to, or none (WordPress then shows it).
/// The page must be the site's own: the user types their password there.
fn approval_page(base: &url::Url, authorize: &str, back: Option<&str>) -> Result<url::Url> {
    let mut url = url::Url::parse(authorize).map_err(|e| Error::Protocol {
        url: crate::error::display_url(base),
        detail: format!("its authorisation page is not an address ({e})"),
    })?;
    if url.origin() != base.origin() {
        return Err(Error::Protocol {
            url: crate::error::display_url(&url),
            detail: "the site names an authorisation page on another host; Keepsake does not sign in there".into(),
        });
    }
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
        .append_pair("app_id", APP_ID);
    if let Some(back) = back {
        url.query_pairs_mut()
            .append_pair("success_url", back)
            .append_pair("reject_url", &format!("{back}?success=false"));
    }
    Ok(url)
}

/// A pasted application password with its user name (checked by the
/// caller before it is kept), with the id WordPress gave it when it was
/// made on Keepsake's behalf, so that signing out deletes it.
pub(super) async fn password(
    platform: &PlatformUrl,
    user: &str,
    secret: Secret,
) -> Result<Credentials> {
    let mut creds = pasted(platform, user, secret);
    let client = ApiClient::new(
        platform,
        std::sync::Arc::new(StaticToken::of(&creds, platform)),
    )?
    .with_retry(crate::client::RetryPolicy::interactive());
    // Best effort: a password WordPress does not take is refused by the
    // check that follows, in words about the password, not this request.
    if let Ok(mine) = introspect(&client).await
        && mine.app_id.as_deref() == Some(APP_ID)
    {
        creds.handle = Some(mine.uuid);
    }
    Ok(creds)
}

/// The application password the client signs with, as WordPress records
/// it.
async fn introspect(client: &ApiClient) -> Result<AppPassword> {
    client
        .get_json(&rest(
            "/wp/v2/users/me/application-passwords/introspect",
            &[],
        ))
        .await
}

fn pasted(platform: &PlatformUrl, user: &str, secret: Secret) -> Credentials {
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
    let listener = Loopback::bind().await?;
    let url = approval_page(client.base(), authorize, Some(&listener.redirect_uri()))?;
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
    let mine = introspect(&client).await.map_err(|e| match e {
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

/// Deletes the application password made for Keepsake; one the user made
/// is theirs, and only forgotten.
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

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn a_site_on_https_gets_the_approval_page_to_paste_from_not_a_loopback_return() {
        let base = url("https://blog.example/");
        let page = approval_page(
            &base,
            "https://blog.example/wp-admin/authorize-application.php",
            None,
        )
        .expect("page");
        let offers = ways_in(&base, Some(page.clone()));
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].flow, Flow::Password);
        assert_eq!(offers[0].page.as_deref(), Some(page.as_str()));
        let asks: Vec<(String, String)> = page.query_pairs().into_owned().collect();
        assert!(asks.contains(&("app_id".into(), APP_ID.into())), "{asks:?}");
        assert!(
            asks.iter()
                .all(|(k, _)| k != "success_url" && k != "reject_url"),
            "{asks:?}"
        );
    }

    #[test]
    fn a_site_on_this_computer_comes_back_by_itself_first() {
        let base = url("http://127.0.0.1:8080/");
        let page = approval_page(
            &base,
            "http://127.0.0.1:8080/wp-admin/authorize-application.php",
            None,
        )
        .ok();
        let flows: Vec<Flow> = ways_in(&base, page).iter().map(|o| o.flow).collect();
        assert_eq!(flows, [Flow::Browser, Flow::Password]);
        let back = approval_page(
            &base,
            "http://127.0.0.1:8080/wp-admin/authorize-application.php",
            Some("http://127.0.0.1:5000/callback"),
        )
        .expect("page");
        let asks: Vec<(String, String)> = back.query_pairs().into_owned().collect();
        assert!(asks.contains(&(
            "success_url".into(),
            "http://127.0.0.1:5000/callback".into()
        )));
        assert!(asks.contains(&(
            "reject_url".into(),
            "http://127.0.0.1:5000/callback?success=false".into()
        )));
    }

    #[test]
    fn without_application_passwords_only_a_made_one_is_offered() {
        let offers = ways_in(&url("https://blog.example/"), None);
        assert_eq!(offers.len(), 1);
        assert_eq!(
            (offers[0].flow, offers[0].page.as_deref()),
            (Flow::Password, None)
        );
        assert!(
            offers[0].label.contains("Users → Profile"),
            "{}",
            offers[0].label
        );
    }

    #[test]
    fn an_approval_page_on_another_host_is_refused() {
        let e = approval_page(
            &url("https://blog.example/"),
            "https://evil.example/authorize",
            None,
        )
        .expect_err("another host");
        assert!(e.to_string().contains("another host"), "{e}");
    }
}
