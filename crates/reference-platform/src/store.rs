//! The SQLite database behind the platform: schema, a small connection pool,
//! and the account and content operations that the CLI and tests use
//! directly (creating tokens, deleting accounts, writing posts mid-export).
//!
//! Every content row carries `created_rev` and `deleted_rev`, values of one
//! platform-wide revision counter. An export session remembers the revision
//! at its `as_of`; its pages show exactly the rows alive at that revision, so
//! writes and deletions during an export neither shift nor duplicate pages.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::clock;

/// A database failure, naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A lookup by name found nothing.
    #[error("no account with login '{0}'")]
    NoSuchUser(String),
    /// A request the data model refuses.
    #[error("{0}")]
    Invalid(String),
    /// The blocking worker died.
    #[error("database worker failed: {0}")]
    Worker(String),
}

/// Results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT '',
    location TEXT,
    website TEXT,
    role TEXT NOT NULL CHECK (role IN ('user', 'support')),
    password_hash TEXT,
    avatar_media_id INTEGER,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    visibility TEXT NOT NULL,
    reply_to INTEGER,
    created_at INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    deleted_rev INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS posts_by_author ON posts (author_id, id);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    deleted_rev INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS comments_by_author ON comments (author_id, id);
CREATE TABLE IF NOT EXISTS likes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    deleted_rev INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS likes_by_user ON likes (user_id, id);
CREATE TABLE IF NOT EXISTS connections (
    id INTEGER PRIMARY KEY,
    follower_id INTEGER NOT NULL,
    followee_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    deleted_rev INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS connections_by_follower ON connections (follower_id, id);
CREATE INDEX IF NOT EXISTS connections_by_followee ON connections (followee_id, id);
CREATE TABLE IF NOT EXISTS media (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL,
    post_id INTEGER,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    alt_text TEXT,
    created_at INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    deleted_rev INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS media_by_owner ON media (owner_id, id);
CREATE INDEX IF NOT EXISTS media_by_post ON media (post_id);
CREATE TABLE IF NOT EXISTS media_blobs (media_id INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'pat')),
    user_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    family TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS tokens_by_family ON tokens (family);
CREATE TABLE IF NOT EXISTS auth_codes (
    hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS exports (
    id TEXT PRIMARY KEY,
    subject_id INTEGER NOT NULL,
    actor_id INTEGER NOT NULL,
    reason TEXT,
    status TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    snapshot_rev INTEGER NOT NULL,
    since INTEGER,
    until INTEGER,
    categories TEXT NOT NULL,
    estimates TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS exports_by_subject ON exports (subject_id, created_at);
INSERT OR IGNORE INTO meta (key, value) VALUES ('rev', '1');
"#;

/// The platform database: one file, a handful of pooled connections.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A pooled connection, returned to the pool on drop.
pub struct Conn<'a> {
    conn: Option<Connection>,
    store: &'a StoreInner,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut idle)) = (self.conn.take(), self.store.idle.lock()) {
            idle.push(c);
        }
    }
}

/// SHA-256 of a secret, hex encoded: how tokens and codes are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret with a readable prefix (`ksp_…`, `ksa_…`).
pub fn new_secret(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random generator is available");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Store {
    /// Opens (creating if needed) the database at `path` and its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let store = Self {
            inner: Arc::new(StoreInner {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        };
        {
            let conn = store.conn()?;
            conn.execute_batch(SCHEMA).map_err(|e| store.err(e))?;
            if store.meta(&conn, "media_key")?.is_none() {
                let key = new_secret("");
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('media_key', ?1)",
                    [key],
                )
                .map_err(|e| store.err(e))?;
            }
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.inner.path.clone(),
            source,
        }
    }

    /// A connection from the pool (or a new one).
    pub fn conn(&self) -> Result<Conn<'_>> {
        let pooled = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.inner.path).map_err(|e| self.err(e))?;
                c.execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .map_err(|e| self.err(e))?;
                c
            }
        };
        Ok(Conn {
            conn: Some(conn),
            store: &self.inner,
        })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.conn()?;
            f(&conn).map_err(|e| store.err(e))
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    pub(crate) fn meta(&self, conn: &Connection, key: &str) -> Result<Option<String>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The key that signs media URLs (random per database).
    pub fn media_key(&self) -> Result<Vec<u8>> {
        let conn = self.conn()?;
        Ok(self
            .meta(&conn, "media_key")?
            .unwrap_or_default()
            .into_bytes())
    }

    /// Demo accounts (login, password) recorded by the demo preset.
    pub fn demo_credentials(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn()?;
        let raw = self
            .meta(&conn, "demo_credentials")?
            .unwrap_or_else(|| "[]".into());
        Ok(serde_json::from_str(&raw).unwrap_or_default())
    }

    /// The id of the account with this login.
    pub fn user_id(&self, login: &str) -> Result<i64> {
        let conn = self.conn()?;
        conn.query_row("SELECT id FROM users WHERE login = ?1", [login], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| self.err(e))?
        .ok_or_else(|| StoreError::NoSuchUser(login.to_owned()))
    }

    /// Creates an account; returns its id. `password` is hashed with argon2.
    pub fn create_user(
        &self,
        login: &str,
        display_name: &str,
        role: &str,
        password: Option<&str>,
    ) -> Result<i64> {
        if !matches!(role, "user" | "support") {
            return Err(StoreError::Invalid(format!(
                "unknown role '{role}' (use user or support)"
            )));
        }
        let hash = password.map(hash_password).transpose()?;
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO users (login, email, display_name, role, password_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                login,
                format!("{login}@example.invalid"),
                display_name,
                role,
                hash,
                clock::now()
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Mints a personal access token for `login` with `scope`; returns the
    /// token, which is shown once and stored only as a hash.
    pub fn create_pat(&self, login: &str, scope: &str, ttl_secs: Option<u64>) -> Result<String> {
        let user_id = self.user_id(login)?;
        let conn = self.conn()?;
        let role: String = conn
            .query_row("SELECT role FROM users WHERE id = ?1", [user_id], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        check_scope_for_role(scope, &role)?;
        let token = new_secret("ksp_");
        let now = clock::now();
        conn.execute(
            "INSERT INTO tokens (hash, kind, user_id, scope, created_at, expires_at) VALUES (?1, 'pat', ?2, ?3, ?4, ?5)",
            params![hash_secret(&token), user_id, normalize_scope(scope), now, ttl_secs.map(|t| now + t as i64)],
        )
        .map_err(|e| self.err(e))?;
        Ok(token)
    }

    /// Marks an account deleted; exports in flight then answer `410`.
    pub fn delete_user(&self, login: &str) -> Result<()> {
        let id = self.user_id(login)?;
        let conn = self.conn()?;
        conn.execute(
            "UPDATE users SET deleted_at = ?1 WHERE id = ?2 AND deleted_at IS NULL",
            params![clock::now(), id],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Writes a new post now (a live write, at a new revision).
    pub fn create_post(&self, author_id: i64, body: &str) -> Result<i64> {
        let conn = self.conn()?;
        let rev = next_rev(&conn).map_err(|e| self.err(e))?;
        conn.execute(
            "INSERT INTO posts (author_id, body, visibility, created_at, created_rev) VALUES (?1, ?2, 'public', ?3, ?4)",
            params![author_id, body, clock::now(), rev],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Deletes a post now (a live write, at a new revision); exports opened
    /// before still see it, exports opened after do not.
    pub fn delete_post(&self, post_id: i64) -> Result<()> {
        let conn = self.conn()?;
        let rev = next_rev(&conn).map_err(|e| self.err(e))?;
        conn.execute(
            "UPDATE posts SET deleted_rev = ?1 WHERE id = ?2 AND deleted_rev IS NULL",
            params![rev, post_id],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Ids of the live posts of an account, oldest first.
    pub fn post_ids(&self, author_id: i64) -> Result<Vec<i64>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id FROM posts WHERE author_id = ?1 AND deleted_rev IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map([author_id], |r| r.get(0))
            .and_then(|rows| rows.collect());
        ids.map_err(|e| self.err(e))
    }

    /// How many export sessions exist for an account (tests use it to check
    /// that refused requests opened nothing).
    pub fn export_count(&self, subject_id: i64) -> Result<i64> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT COUNT(*) FROM exports WHERE subject_id = ?1",
            [subject_id],
            |r| r.get(0),
        )
        .map_err(|e| self.err(e))
    }
}

/// Advances the platform-wide revision and returns the new value.
pub(crate) fn next_rev(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rev' RETURNING CAST(value AS INTEGER)",
        [],
        |r| r.get(0),
    )
}

/// The current revision (the snapshot an export opened now sees).
pub(crate) fn current_rev(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'rev'",
        [],
        |r| r.get(0),
    )
}

pub(crate) fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).expect("the OS random generator is available");
    let salt = SaltString::encode_b64(&raw)
        .map_err(|e| StoreError::Invalid(format!("could not make a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("could not hash the password: {e}")))
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Sorted, de-duplicated, space-separated scope list.
pub(crate) fn normalize_scope(scope: &str) -> String {
    let mut parts: Vec<&str> = scope.split_whitespace().collect();
    parts.sort_unstable();
    parts.dedup();
    parts.join(" ")
}

/// Refuses unknown scopes, and `export:any` for anyone but support staff.
pub(crate) fn check_scope_for_role(scope: &str, role: &str) -> Result<()> {
    let parts: Vec<&str> = scope.split_whitespace().collect();
    if parts.is_empty() {
        return Err(StoreError::Invalid(
            "no scope given (use export:self and/or export:any)".into(),
        ));
    }
    for s in parts {
        match s {
            crate::SCOPE_SELF => {}
            crate::SCOPE_ANY if role == "support" => {}
            crate::SCOPE_ANY => {
                return Err(StoreError::Invalid(
                    "export:any is only for support staff accounts".into(),
                ));
            }
            other => {
                return Err(StoreError::Invalid(format!(
                    "unknown scope '{other}' (use export:self or export:any)"
                )));
            }
        }
    }
    Ok(())
}
