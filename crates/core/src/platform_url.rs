//! Which platform URLs Keepsake will talk to.
//!
//! Personal data and bearer tokens cross this connection, so plain `http://`
//! is accepted only when the host is a loopback address (the embedded
//! reference platform, a developer's own server). Everything else must be
//! `https://`.

use std::net::IpAddr;

use url::{Host, Url};

/// A platform base URL that passed the transport policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUrl(Url);

/// Why a platform URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformUrlError {
    /// The text is not a URL at all.
    #[error(
        "'{input}' is not a valid URL ({reason}); enter the platform address, e.g. https://platform.example"
    )]
    Invalid {
        /// What the user typed.
        input: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A scheme other than http or https.
    #[error(
        "'{input}' uses the scheme '{scheme}'; only https:// (or http:// to this computer) is supported"
    )]
    Scheme {
        /// What the user typed.
        input: String,
        /// The refused scheme.
        scheme: String,
    },
    /// `http://` to a host that is not this machine.
    #[error(
        "refusing plain http:// to '{host}': your data and sign-in would cross the network unencrypted; use https://{host} instead (http:// is allowed only for 127.0.0.1, [::1] and localhost)"
    )]
    InsecureRemote {
        /// The non-loopback host.
        host: String,
    },
    /// Credentials embedded in the URL would end up in logs and history.
    #[error(
        "the platform URL must not contain a user name or password; sign in with Keepsake instead"
    )]
    EmbeddedCredentials,
}

impl PlatformUrl {
    /// Parses and checks a platform base URL.
    pub fn parse(input: &str) -> Result<Self, PlatformUrlError> {
        let url = Url::parse(input.trim()).map_err(|e| PlatformUrlError::Invalid {
            input: input.to_owned(),
            reason: e.to_string(),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PlatformUrlError::EmbeddedCredentials);
        }
        match url.scheme() {
            "https" => Ok(Self(url)),
            "http" if is_loopback(&url) => Ok(Self(url)),
            "http" => Err(PlatformUrlError::InsecureRemote {
                host: url.host_str().unwrap_or_default().to_owned(),
            }),
            other => Err(PlatformUrlError::Scheme {
                input: input.to_owned(),
                scheme: other.to_owned(),
            }),
        }
    }

    /// The checked URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The canonical form, used as the key of its sign-in:
    /// `scheme://host[:port]` plus the path without a trailing slash; no
    /// query, no fragment, default ports dropped, host in lower case.
    pub fn normalised(&self) -> String {
        let u = &self.0;
        let mut out = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
        if let Some(port) = u.port() {
            out.push(':');
            out.push_str(&port.to_string());
        }
        out.push_str(u.path().trim_end_matches('/'));
        out
    }
}

/// Whether `url`'s host is this machine (127.0.0.0/8, `::1`, `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_is_accepted() {
        assert!(PlatformUrl::parse("https://platform.example/").is_ok());
    }

    #[test]
    fn http_is_accepted_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9/",
            "http://[::1]:9/",
            "http://localhost:1",
        ] {
            assert!(PlatformUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://platform.example",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.example",
            "http://[::2]/",
        ] {
            assert!(
                matches!(
                    PlatformUrl::parse(bad),
                    Err(PlatformUrlError::InsecureRemote { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_schemes_and_credentials_are_refused() {
        assert!(matches!(
            PlatformUrl::parse("ftp://127.0.0.1"),
            Err(PlatformUrlError::Scheme { .. })
        ));
        assert_eq!(
            PlatformUrl::parse("https://u:p@platform.example"),
            Err(PlatformUrlError::EmbeddedCredentials)
        );
        assert!(matches!(
            PlatformUrl::parse("not a url"),
            Err(PlatformUrlError::Invalid { .. })
        ));
    }
}
