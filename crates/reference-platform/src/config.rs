//! Server settings that a run chooses: limits, lifetimes, demo mode, faults.

use std::time::Duration;

use url::Url;

use crate::faults::FaultPlan;

/// How one run of the reference platform behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests per 60 s window per token (or per client address); 0 disables.
    pub rate_limit_per_min: u32,
    /// Exports a subject may start per quota window.
    pub quota_per_window: u32,
    /// The quota window.
    pub quota_window: Duration,
    /// Lifetime of OAuth access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// Lifetime of signed media URLs.
    pub media_url_ttl: Duration,
    /// A running export with no request for this long is marked failed.
    pub abandon_after: Duration,
    /// Show the demo accounts on the sign-in page.
    pub demo: bool,
    /// Base URL used in absolute links (media URLs); defaults to `http://{Host}`.
    pub public_url: Option<Url>,
    /// Fault injection, off by default.
    pub faults: FaultPlan,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate_limit_per_min: 6000,
            quota_per_window: 1,
            quota_window: Duration::from_secs(3600),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            media_url_ttl: Duration::from_secs(900),
            abandon_after: Duration::from_secs(24 * 3600),
            demo: false,
            public_url: None,
            faults: FaultPlan::default(),
        }
    }
}
