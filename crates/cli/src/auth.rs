//! Which platform, and which credentials, a command uses.

use std::path::PathBuf;
use std::sync::Arc;

use keepsake_core::connector::{self, Connector};
use keepsake_core::credentials::{
    CredentialStore, InsecureFileStore, KeyringStore, TokenSource, normalise_platform,
};
use keepsake_core::{Error, PlatformUrl, Result};
use serde::{Deserialize, Serialize};

use crate::args::Global;

/// Non-secret settings remembered between runs.
#[derive(Default, Serialize, Deserialize)]
struct Settings {
    platform: Option<String>,
}

fn settings_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("keepsake").join("settings.json"))
}

/// The platform to talk to: `--platform`, `KEEPSAKE_PLATFORM`, or the last login.
pub fn platform(global: &Global) -> Result<PlatformUrl> {
    let from_settings = || -> Option<String> {
        let raw = fs_err::read(settings_path()?).ok()?;
        serde_json::from_slice::<Settings>(&raw).ok()?.platform
    };
    match global.platform.clone().or_else(from_settings) {
        Some(url) => Ok(PlatformUrl::parse(&url)?),
        None => Err(Error::Invalid("which platform? pass --platform URL (or set KEEPSAKE_PLATFORM); it is remembered after `keepsake login`".into())),
    }
}

/// Remembers the platform of a successful login.
pub fn remember(platform: &PlatformUrl) {
    if let Some(path) = settings_path() {
        let settings = Settings {
            platform: Some(platform.as_url().to_string()),
        };
        if let (Some(dir), Ok(bytes)) = (path.parent(), serde_json::to_vec_pretty(&settings)) {
            let _ = fs_err::create_dir_all(dir);
            let _ = fs_err::write(&path, bytes);
        }
    }
}

/// The keyring, or the plain file the user explicitly chose.
pub fn store(global: &Global) -> Result<Arc<dyn CredentialStore>> {
    Ok(match &global.insecure_token_file {
        Some(path) => Arc::new(InsecureFileStore::new(path.clone())),
        None => Arc::new(KeyringStore::new()?),
    })
}

/// Tokens for the platform: `KEEPSAKE_TOKEN` (automation, never stored;
/// with `KEEPSAKE_USER`, the user name it goes with, as a WordPress
/// application password does), or the stored sign-in.
pub async fn tokens(
    global: &Global,
    platform: &PlatformUrl,
) -> Result<Arc<dyn keepsake_core::client::TokenProvider>> {
    if let Ok(token) = std::env::var("KEEPSAKE_TOKEN")
        && !token.trim().is_empty()
    {
        let token = keepsake_core::Secret::new(token.trim());
        // A WordPress application password goes with its user name.
        return Ok(Arc::new(match std::env::var("KEEPSAKE_USER") {
            Ok(user) if !user.trim().is_empty() => {
                keepsake_core::client::StaticToken::basic(user.trim(), token, platform)
            }
            _ => keepsake_core::client::StaticToken::new(token, platform),
        }));
    }
    let source = TokenSource::load(store(global)?, &normalise_platform(platform)).await?;
    Ok(Arc::new(source))
}

/// The platform's connector: `--kind`; else, with `KEEPSAKE_TOKEN`, the
/// one the platform answers to (asked without the token); else the kind the
/// stored sign-in found (sign-ins of older versions: the Keepsake Export
/// API).
pub async fn connector(global: &Global, platform: &PlatformUrl) -> Result<Arc<dyn Connector>> {
    if let Some(kind) = &global.kind {
        return connector::of_kind(kind);
    }
    if std::env::var("KEEPSAKE_TOKEN").is_ok_and(|t| !t.trim().is_empty()) {
        return keepsake_core::signin::detect(platform, None).await;
    }
    match store(global)?.load(&normalise_platform(platform))? {
        Some(c) => keepsake_core::signin::connector_of(&c),
        None => Ok(connector::keepsake()),
    }
}
