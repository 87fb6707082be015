//! Tests of `credentials`.

use std::collections::HashMap;
use std::sync::Mutex;

use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

use super::*;

fn oauth(platform: &str, access: &str, refresh: Option<&str>) -> Credentials {
    Credentials {
        platform: platform.into(),
        access_token: Secret::new(access),
        refresh_token: refresh.map(Secret::new),
        expires_at: Some(1_900_000_000),
        kind: TokenKind::OAuth,
        scope: Some("export:self".into()),
        connector: None,
        user: None,
        refresh_with: None,
        handle: None,
    }
}

#[test]
fn platforms_are_normalised() {
    for (input, want) in [
        ("https://Platform.Example/", "https://platform.example"),
        ("https://platform.example:443", "https://platform.example"),
        (
            "https://platform.example:8443/base/",
            "https://platform.example:8443/base",
        ),
        ("http://127.0.0.1:8080/?x=1#y", "http://127.0.0.1:8080"),
        ("http://[::1]:9/", "http://[::1]:9"),
    ] {
        let url = PlatformUrl::parse(input).expect("valid");
        assert_eq!(normalise_platform(&url), want, "{input}");
    }
}

#[test]
fn debug_never_shows_tokens() {
    let c = oauth(
        "https://p.example",
        "ksa_secret-access",
        Some("ksr_secret-refresh"),
    );
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("secret-access") && !shown.contains("secret-refresh"),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"));
}

#[test]
fn a_backend_that_only_keeps_memory_is_refused() {
    // keyring's mock keeps a secret only inside its Entry object: a store
    // over it would lose every sign-in. It must never be used silently.
    let err = KeyringStore::with_builder(keyring::mock::default_credential_builder())
        .expect_err("mock refused");
    assert!(matches!(err, Error::Keyring { .. }), "{err}");
    assert!(err.to_string().contains("in memory only"), "{err}");
}

/// A keyring backend that persists across entries in a shared map, so
/// that the entry layout of `KeyringStore` can be tested without an OS
/// keyring (keyring's own mock forgets a secret with its entry).
#[derive(Default, Clone)]
struct MapKeyring(Arc<Mutex<HashMap<String, String>>>);

#[derive(Debug)]
struct MapCredential {
    key: String,
    map: Arc<Mutex<HashMap<String, String>>>,
}

impl CredentialApi for MapCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        let text = String::from_utf8(secret.to_vec())
            .map_err(|e| keyring::Error::BadEncoding(e.into_bytes()))?;
        self.map.lock().expect("map").insert(self.key.clone(), text);
        Ok(())
    }
    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.map
            .lock()
            .expect("map")
            .get(&self.key)
            .map(|s| s.clone().into_bytes())
            .ok_or(keyring::Error::NoEntry)
    }
    fn delete_credential(&self) -> keyring::Result<()> {
        self.map
            .lock()
            .expect("map")
            .remove(&self.key)
            .map(|_| ())
            .ok_or(keyring::Error::NoEntry)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialBuilderApi for MapKeyring {
    fn build(
        &self,
        _target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(MapCredential {
            key: format!("{service}/{user}"),
            map: Arc::clone(&self.0),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn keyring_store_keeps_tokens_in_separate_entries() -> Result<()> {
    let backend = MapKeyring::default();
    let store = KeyringStore::with_builder(Box::new(backend.clone()))?;
    let p = "https://p.example";
    assert_eq!(store.load(p)?, None);

    let c = oauth(p, "ksa_one", Some("ksr_one"));
    store.save(&c)?;
    assert_eq!(store.load(p)?, Some(c));
    {
        let map = backend.0.lock().expect("map");
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "keepsake/https://p.example#access",
                "keepsake/https://p.example#meta",
                "keepsake/https://p.example#refresh"
            ]
        );
        assert_eq!(map["keepsake/https://p.example#access"], "ksa_one");
        assert!(
            !map["keepsake/https://p.example#meta"].contains("ks"),
            "meta holds no token"
        );
    }

    // A PAT replaces the OAuth sign-in, and its stale refresh token goes.
    let pat = Credentials::from_pat(&PlatformUrl::parse(p).expect("url"), Secret::new("ksp_x"));
    store.save(&pat)?;
    assert_eq!(store.load(p)?, Some(pat));
    assert!(
        !backend
            .0
            .lock()
            .expect("map")
            .contains_key("keepsake/https://p.example#refresh")
    );

    // Another platform is another sign-in.
    assert_eq!(store.load("https://q.example")?, None);

    store.delete(p)?;
    assert_eq!(store.load(p)?, None);
    assert!(backend.0.lock().expect("map").is_empty());
    store.delete(p)?;
    Ok(())
}

#[test]
fn a_half_written_sign_in_reads_as_none() -> Result<()> {
    let backend = MapKeyring::default();
    let store = KeyringStore::with_builder(Box::new(backend.clone()))?;
    // The process died after the tokens but before the metadata.
    backend
        .0
        .lock()
        .expect("map")
        .insert("keepsake/https://p.example#access".into(), "ksa_x".into());
    assert_eq!(store.load("https://p.example")?, None);
    // And a damaged metadata entry is an error that says what to do.
    backend
        .0
        .lock()
        .expect("map")
        .insert("keepsake/https://p.example#meta".into(), "{".into());
    let err = store.load("https://p.example").expect_err("damaged");
    assert!(
        err.to_string().contains("sign out of it and sign in again"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("keepsake "),
        "no command in it: {err}"
    );
    Ok(())
}

#[test]
fn insecure_file_round_trip_is_private_and_atomic() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/tokens.json");
    let store = InsecureFileStore::new(&path);
    assert_eq!(store.load("https://p.example")?, None);

    let a = oauth("https://p.example", "ksa_a", Some("ksr_a"));
    let b = oauth("https://q.example", "ksa_b", None);
    store.save(&a)?;
    store.save(&b)?;
    assert_eq!(store.load("https://p.example")?, Some(a.clone()));
    assert_eq!(store.load("https://q.example")?, Some(b));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs_err::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = fs_err::read_to_string(&path).expect("read");
    assert!(text.contains("PLAIN TEXT"), "{text}");
    // No temporary file left next to it.
    let names: Vec<_> = fs_err::read_dir(path.parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("tokens.json")]);

    store.delete("https://q.example")?;
    assert_eq!(store.load("https://q.example")?, None);
    assert_eq!(store.load("https://p.example")?, Some(a));
    store.delete("https://p.example")?;
    assert!(
        !path.exists(),
        "no token file is left once every sign-in is gone"
    );
    Ok(())
}

/// A store in memory, for the refresh logic.
#[derive(Default)]
struct MemoryStore(Mutex<HashMap<String, Credentials>>);

impl CredentialStore for MemoryStore {
    fn load(&self, platform: &str) -> Result<Option<Credentials>> {
        Ok(self.0.lock().expect("map").get(platform).cloned())
    }
    fn save(&self, c: &Credentials) -> Result<()> {
        self.0
            .lock()
            .expect("map")
            .insert(c.platform.clone(), c.clone());
        Ok(())
    }
    fn delete(&self, platform: &str) -> Result<()> {
        self.0.lock().expect("map").remove(platform);
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_pat_asks_for_a_new_one() -> Result<()> {
    let store = Arc::new(MemoryStore::default());
    let pat = Credentials::from_pat(
        &PlatformUrl::parse("https://p.example").expect("url"),
        Secret::new("ksp_x"),
    );
    store.save(&pat)?;
    let source = TokenSource::load(store, "https://p.example").await?;
    let token = source.access_token().await?;
    let err = source
        .refresh_after_401(&token)
        .await
        .expect_err("no refresh for a PAT");
    // What to do, in words every front end can show (no CLI flags).
    assert!(err.to_string().contains("sign in again"), "{err}");
    assert!(!err.to_string().contains("keepsake login"), "{err}");
    assert_eq!(err.class(), crate::Class::NeedsSignIn);
    Ok(())
}

#[tokio::test]
async fn a_token_already_replaced_is_not_refreshed_again() -> Result<()> {
    // The refresh token points nowhere: any refresh attempt would fail.
    let store = Arc::new(MemoryStore::default());
    let p = "http://127.0.0.1:9";
    store.save(&oauth(p, "ksa_new", Some("ksr_new")))?;
    let source = TokenSource::new(store.clone(), oauth(p, "ksa_new", Some("ksr_new")));
    // Another task already refreshed: the rejected token is an old one.
    assert_eq!(
        source.refresh_after_401(&Secret::new("ksa_old")).await?,
        Secret::new("ksa_new")
    );

    // Another process refreshed: the store holds a newer token than we do.
    store.save(&oauth(p, "ksa_other_process", Some("ksr_other_process")))?;
    assert_eq!(
        source.refresh_after_401(&Secret::new("ksa_new")).await?,
        Secret::new("ksa_other_process")
    );
    assert_eq!(
        source.credentials().await.refresh_token,
        Some(Secret::new("ksr_other_process"))
    );

    // Signed out elsewhere meanwhile.
    store.delete(p)?;
    let err = source
        .refresh_after_401(&Secret::new("ksa_other_process"))
        .await
        .expect_err("signed out");
    assert!(matches!(err, Error::NotSignedIn { .. }), "{err}");
    Ok(())
}

#[tokio::test]
async fn loading_without_a_sign_in_says_so() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::default());
    let err = TokenSource::load(store, "https://p.example")
        .await
        .expect_err("none");
    assert!(matches!(err, Error::NotSignedIn { .. }), "{err}");
}

/// The real OS keyring. In CI this runs inside `dbus-run-session` with an
/// unlocked gnome-keyring (`cargo xtask test` sets that up); it is skipped
/// only when there is no session bus at all, and fails when there is one
/// but the keyring does not work.
#[test]
fn keyring_round_trip() -> Result<()> {
    if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        println!("skipped: no session bus");
        return Ok(());
    }
    let store = KeyringStore::new()?;
    let nonce: u64 = rand_u64();
    let p = format!("https://keyring-test-{nonce:016x}.invalid");
    // Long tokens, as platforms with JWTs issue them.
    let c = Credentials {
        platform: p.clone(),
        access_token: Secret::new(format!("ksa_{}", "a".repeat(1000))),
        refresh_token: Some(Secret::new(format!("ksr_{}", "r".repeat(1000)))),
        expires_at: Some(1_900_000_000),
        kind: TokenKind::OAuth,
        scope: Some("export:self export:any".into()),
        // The platform's kind is kept with the tokens, and what its
        // connector needs of the sign-in.
        connector: Some("keepsake-export-api".into()),
        user: Some("ali ce".into()),
        refresh_with: Some(RefreshWith {
            token_path: "oauth/token".into(),
            client_id: "keepsake".into(),
        }),
        handle: Some("a5f0-device".into()),
    };
    let result = (|| -> Result<()> {
        store.save(&c)?;
        // A fresh store reads what another one wrote: it is persistent.
        let other = KeyringStore::new()?;
        assert_eq!(other.load(&p)?, Some(c.clone()));
        let rotated = oauth(&p, "ksa_rotated", Some("ksr_rotated"));
        other.save(&rotated)?;
        assert_eq!(store.load(&p)?, Some(rotated));
        Ok(())
    })();
    let deleted = store.delete(&p);
    result?;
    deleted?;
    assert_eq!(store.load(&p)?, None);
    Ok(())
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    u64::from_le_bytes(bytes)
}
