//! Shared server state: the store, the settings, and the live fault plan.

use std::sync::{Arc, RwLock};

use crate::{Config, FaultPlan, Store, StoreError, faults::FaultDice, ratelimit::RateLimiter};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct PlatformState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub config: Config,
    pub faults: RwLock<FaultPlan>,
    pub dice: FaultDice,
    pub rate: RateLimiter,
    pub media_key: Vec<u8>,
    pub requests: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl PlatformState {
    /// Opens the database at `db` and prepares a server with `config`.
    pub fn open(db: impl AsRef<std::path::Path>, config: Config) -> Result<Self, StoreError> {
        Self::new(Store::open(db)?, config)
    }

    /// Wraps an open store.
    pub fn new(store: Store, config: Config) -> Result<Self, StoreError> {
        let media_key = store.media_key()?;
        Ok(Self {
            inner: Arc::new(Inner {
                faults: RwLock::new(config.faults.clone()),
                dice: FaultDice::default(),
                rate: RateLimiter::new(config.rate_limit_per_min),
                store,
                config,
                media_key,
                requests: Default::default(),
            }),
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings this server started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The fault plan in force now.
    pub fn faults(&self) -> FaultPlan {
        self.inner
            .faults
            .read()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// How many times each request was served so far, keyed by
    /// `METHOD path?query` (media signatures left out). Tests use it to prove
    /// that a resumed export fetches nothing twice.
    pub fn requests(&self) -> std::collections::HashMap<String, u64> {
        self.inner
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Forgets the request counts.
    pub fn reset_requests(&self) {
        if let Ok(mut r) = self.inner.requests.lock() {
            r.clear();
        }
    }

    /// Replaces the fault plan (and restarts its deterministic sequence).
    pub fn set_faults(&self, plan: FaultPlan) {
        if let Ok(mut f) = self.inner.faults.write() {
            *f = plan;
        }
        self.inner.dice.reset();
    }
}
