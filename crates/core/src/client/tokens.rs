//! Who the client is: the tokens it sends and how they are renewed after a
//! `401` (a bearer token, or a secret sent with a user name as HTTP Basic).

use futures_util::future::BoxFuture;

use crate::{Error, PlatformUrl, Result, Secret};

/// Hands out bearer tokens and renews them after a `401`.
pub trait TokenProvider: Send + Sync {
    /// The token to use now.
    fn current(&self) -> BoxFuture<'_, Result<Secret>>;
    /// `rejected` got a `401`: return a renewed token (refreshing at most
    /// once across concurrent callers) or a sign-in error.
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>>;
    /// The account name the token goes with, where the platform wants HTTP
    /// Basic (a WordPress application password); `None` for a bearer token.
    fn user(&self) -> Option<&str> {
        None
    }
}

/// A token that cannot be renewed (a personal access token, or a sign-in
/// being checked before it is kept).
pub struct StaticToken {
    token: Secret,
    platform: String,
    user: Option<String>,
}

impl StaticToken {
    /// Wraps a bearer token for `platform`.
    pub fn new(token: Secret, platform: &PlatformUrl) -> Self {
        Self {
            token,
            platform: platform.as_url().to_string(),
            user: None,
        }
    }

    /// Wraps a secret that goes with `user` (HTTP Basic).
    pub fn basic(user: &str, secret: Secret, platform: &PlatformUrl) -> Self {
        Self {
            user: Some(user.to_owned()),
            ..Self::new(secret, platform)
        }
    }

    /// Wraps `credentials` as they are, without renewing them.
    pub fn of(credentials: &crate::credentials::Credentials, platform: &PlatformUrl) -> Self {
        Self {
            user: credentials.user.clone(),
            ..Self::new(credentials.access_token.clone(), platform)
        }
    }

    /// No credentials at all: what a detection or a sign-in page asks with.
    pub fn anonymous(platform: &PlatformUrl) -> Self {
        Self::new(Secret::new(""), platform)
    }
}

impl TokenProvider for StaticToken {
    fn current(&self) -> BoxFuture<'_, Result<Secret>> {
        Box::pin(async move { Ok(self.token.clone()) })
    }
    fn renew<'a>(&'a self, _rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>> {
        // Not "signed out": this token was never accepted, or no longer is,
        // and nothing can renew it. Say so, and what to do.
        Box::pin(async move {
            Err(Error::SignIn {
                detail: format!(
                    "{} did not accept the access token (it may be mistyped, expired or revoked); \
                     check it, or get a new one and sign in with it",
                    self.platform
                ),
            })
        })
    }
    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

impl TokenProvider for crate::credentials::TokenSource {
    fn current(&self) -> BoxFuture<'_, Result<Secret>> {
        Box::pin(self.access_token())
    }
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(self.refresh_after_401(rejected))
    }
    fn user(&self) -> Option<&str> {
        crate::credentials::TokenSource::user(self)
    }
}
