//! The plain-text token file, for machines with no usable keyring and only
//! when the user asks for it (`--insecure-token-file`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CredentialStore, Credentials, TokenKind};
use crate::{Error, Result, Secret};

/// A sign-in as the token file holds it.
#[derive(Serialize, Deserialize)]
struct FileEntry {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    kind: TokenKind,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_with: Option<super::RefreshWith>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handle: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    warning: String,
    #[serde(default)]
    platforms: BTreeMap<String, FileEntry>,
}

const FILE_WARNING: &str = "This file holds Keepsake sign-in tokens IN PLAIN TEXT. Anyone who can \
                            read it can read and export your data. Delete it when you no longer \
                            need it (keepsake logout).";

/// **Tokens in a plain-text file.** Anyone who can read the file (another
/// user with access to the directory, a backup, a synced folder, malware
/// running as you) can use the tokens to read and export the account.
///
/// Only for machines with no usable keyring, and only when the user asks for
/// it (`--insecure-token-file PATH`). The file is JSON, created with mode
/// `0600` on Unix (on Windows it inherits the folder's ACL), and replaced
/// atomically (temporary file, fsync, rename) on every change. Concurrent
/// writers in one process are serialised; separate processes writing the
/// same file at once may lose one another's update.
#[derive(Debug)]
pub struct InsecureFileStore {
    path: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl InsecureFileStore {
    /// A store in `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: std::sync::Mutex::new(()),
        }
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<TokenFile> {
        let text = match fs_err::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokenFile {
                    warning: FILE_WARNING.into(),
                    platforms: BTreeMap::new(),
                });
            }
            Err(e) => return Err(Error::io("read", &self.path)(e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a Keepsake token file ({e}); delete it and sign in again",
                self.path.display()
            ))
        })
    }

    fn write(&self, file: &TokenFile) -> Result<()> {
        if file.platforms.is_empty() {
            // No sign-in left: leave no file of secrets behind.
            return match fs_err::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("remove", &self.path)(e))
                }
                _ => Ok(()),
            };
        }
        let text = serde_json::to_vec_pretty(file)
            .map_err(|e| Error::Invalid(format!("cannot encode the token file: {e}")))?;
        let dir = crate::fsx::parent_of(&self.path);
        fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokens".into());
        // Named for this process: two at once never write one temporary file.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        crate::fsx::replace_private(&self.path, &tmp, &text)
    }
}

impl CredentialStore for InsecureFileStore {
    fn load(&self, platform: &str) -> Result<Option<Credentials>> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        Ok(file.platforms.remove(platform).map(|e| Credentials {
            platform: platform.to_owned(),
            access_token: Secret::new(e.access_token),
            refresh_token: e.refresh_token.map(Secret::new),
            expires_at: e.expires_at,
            kind: e.kind,
            scope: e.scope,
            connector: e.connector,
            user: e.user,
            refresh_with: e.refresh_with,
            handle: e.handle,
        }))
    }

    fn save(&self, c: &Credentials) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        file.warning = FILE_WARNING.into();
        file.platforms.insert(
            c.platform.clone(),
            FileEntry {
                access_token: c.access_token.expose().to_owned(),
                refresh_token: c.refresh_token.as_ref().map(|r| r.expose().to_owned()),
                expires_at: c.expires_at,
                kind: c.kind,
                scope: c.scope.clone(),
                connector: c.connector.clone(),
                user: c.user.clone(),
                refresh_with: c.refresh_with.clone(),
                handle: c.handle.clone(),
            },
        );
        self.write(&file)
    }

    fn delete(&self, platform: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        if file.platforms.remove(platform).is_some() || file.platforms.is_empty() {
            self.write(&file)?;
        }
        Ok(())
    }
}
