//! Signing in and out, the same for every front end: find which platform
//! an address is (its connector), offer its ways of signing in, check new
//! credentials with the platform before they are kept (a mistyped secret
//! must not be stored, and WordPress takes a wrong application password
//! for an anonymous visitor rather than refusing it), keep them in the
//! credential store with the platform's kind, and end a sign-in on the
//! platform before forgetting it.

use std::sync::Arc;

use crate::client::{ApiClient, RetryPolicy, StaticToken, TokenProvider};
use crate::connector::{self, Account, Connector, Offer};
use crate::credentials::{CredentialStore, Credentials, TokenSource, normalise_platform};
use crate::{Error, PlatformUrl, Result};

/// The connector of the platform at `platform`: the one of `kind` when it
/// is given, else the first whose API the platform answers to.
pub async fn detect(platform: &PlatformUrl, kind: Option<&str>) -> Result<Arc<dyn Connector>> {
    match kind {
        Some(kind) => connector::of_kind(kind),
        None => connector::detect(&ApiClient::anonymous(platform)?).await,
    }
}

/// What a platform found by [`detect`] is, and how one signs in to it. A
/// page an offer names (where the user types their password to make a
/// secret) is kept only when it is an address on the platform itself:
/// whatever a connector read from the platform, no front end sends the user
/// to another host to sign in.
pub async fn offers(connector: &dyn Connector, platform: &PlatformUrl) -> Result<Vec<Offer>> {
    let mut offers = connector.offers(&ApiClient::anonymous(platform)?).await?;
    for offer in &mut offers {
        offer.page = offer.page.take().and_then(|page| own_page(platform, &page));
    }
    Ok(offers)
}

/// `page`, parsed, when it is on `platform`'s origin.
fn own_page(platform: &PlatformUrl, page: &str) -> Option<String> {
    let url = url::Url::parse(page).ok()?;
    if url.origin() != platform.as_url().origin() {
        tracing::warn!("a sign-in page on another host was left out");
        return None;
    }
    Some(url.into())
}

/// The connector of a stored sign-in: the kind found when signing in;
/// sign-ins of versions before connectors all spoke the Keepsake Export
/// API.
pub fn connector_of(credentials: &Credentials) -> Result<Arc<dyn Connector>> {
    match &credentials.connector {
        Some(kind) => connector::of_kind(kind),
        None => Ok(connector::keepsake()),
    }
}

/// Checks `credentials` against the platform (who is signed in with them),
/// then keeps them in `store`, with `connector`'s kind. Nothing is stored
/// when the platform does not accept them. `retry` is the policy of the
/// check (someone is waiting).
pub async fn keep(
    store: Arc<dyn CredentialStore>,
    connector: &Arc<dyn Connector>,
    platform: &PlatformUrl,
    credentials: Credentials,
    retry: RetryPolicy,
) -> Result<(Account, ApiClient)> {
    let credentials = Credentials {
        connector: Some(connector.kind().to_owned()),
        ..credentials
    };
    let checking = ApiClient::new(platform, Arc::new(StaticToken::of(&credentials, platform)))?
        .with_retry(retry);
    let account = connector.whoami(&checking).await.map_err(|e| match e {
        // Not "signed out": this sign-in was never accepted.
        Error::Status { status: 401, .. } | Error::SignIn { .. } => Error::SignIn {
            detail: format!(
                "{} did not accept this sign-in (the token or password may be mistyped, \
                 expired or revoked); check it and try again. Nothing was stored.",
                platform.as_url()
            ),
        },
        e => e,
    })?;
    let kept = credentials.clone();
    tokio::task::spawn_blocking(move || store.save(&kept))
        .await
        .map_err(|e| Error::Keyring {
            detail: format!("the keyring call did not finish: {e}"),
        })??;
    Ok((account, checking))
}

/// The stored sign-in for `platform`, as a token source.
pub async fn stored(
    store: Arc<dyn CredentialStore>,
    platform: &PlatformUrl,
) -> Result<TokenSource> {
    TokenSource::load(store, &normalise_platform(platform)).await
}

/// Ends the sign-in for `platform` on the platform (revokes its token,
/// application password or device), then forgets it. With `strict`, a
/// platform that refuses or cannot be reached keeps the sign-in (a
/// forgotten but live token is still a live token) and says so; without,
/// it is forgotten anyway (a window that cannot reach the platform must
/// not keep the user signed in). Whether there was a sign-in.
pub async fn sign_out(
    store: Arc<dyn CredentialStore>,
    platform: &PlatformUrl,
    strict: bool,
) -> Result<bool> {
    let key = normalise_platform(platform);
    let load = Arc::clone(&store);
    let k = key.clone();
    let found = tokio::task::spawn_blocking(move || load.load(&k))
        .await
        .map_err(|e| Error::Keyring {
            detail: format!("the keyring call did not finish: {e}"),
        })??;
    let Some(credentials) = found else {
        return Ok(false);
    };
    let ended = async {
        let connector = connector_of(&credentials)?;
        let tokens: Arc<dyn TokenProvider> = Arc::new(StaticToken::of(&credentials, platform));
        let client = ApiClient::new(platform, tokens)?;
        connector.sign_out(&client, &credentials).await
    }
    .await;
    match ended {
        // Already ended on the platform: nothing left to revoke.
        Err(e) if e.class() == crate::Class::NeedsSignIn => {}
        Err(e) if strict => return Err(e),
        Err(e) => tracing::warn!(error = %e, "could not end the sign-in on the platform"),
        Ok(()) => {}
    }
    tokio::task::spawn_blocking(move || store.delete(&key))
        .await
        .map_err(|e| Error::Keyring {
            detail: format!("the keyring call did not finish: {e}"),
        })??;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_page_is_offered_only_on_the_platform_itself() {
        let site = PlatformUrl::parse("https://blog.example.org/").expect("url");
        let own = "https://blog.example.org/wp-admin/authorize-application.php?app_name=K";
        assert_eq!(own_page(&site, own).as_deref(), Some(own));
        for other in [
            "https://evil.example.net/wp-admin/authorize-application.php",
            "http://blog.example.org/wp-admin/authorize-application.php",
            "https://blog.example.org:8443/wp-admin/",
            "javascript:alert(1)",
            "not an address",
        ] {
            assert_eq!(own_page(&site, other), None, "{other}");
        }
    }
}
