//! The Matrix client-server API (and Synapse's admin API) as Keepsake uses
//! it: addresses, the few fields it reads, the categories of an account
//! and of each room, and the files events name. Events are archived as
//! the homeserver sent them.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::super::{
    Category, CategoryKind, Column, Container, FileRef, Marker, Order, View, col, encode,
};
use crate::client::Auth;

/// Events per page: the most `/messages` gives.
pub(super) const PER_PAGE: u32 = 1000;

/// A client API path.
pub(super) fn client(path: &str) -> String {
    format!("/_matrix/client/v3{path}")
}

/// A Synapse admin API path.
pub(super) fn admin(path: &str) -> String {
    format!("/_synapse/admin{path}")
}

/// `/_matrix/client/versions`.
#[derive(Deserialize)]
pub(super) struct Versions {
    #[serde(default)]
    pub(super) versions: Vec<String>,
}

/// `/login`'s flows.
#[derive(Deserialize)]
pub(super) struct Flows {
    #[serde(default)]
    pub(super) flows: Vec<Flow>,
}

#[derive(Deserialize)]
pub(super) struct Flow {
    #[serde(rename = "type")]
    pub(super) kind: String,
}

/// What a login answers.
#[derive(Deserialize)]
pub(super) struct LoggedIn {
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) device_id: Option<String>,
}

/// `/account/whoami`.
#[derive(Deserialize)]
pub(super) struct WhoAmI {
    pub(super) user_id: String,
}

/// A page of a room's history.
#[derive(Deserialize)]
pub(super) struct Messages {
    #[serde(default)]
    pub(super) chunk: Vec<Box<RawValue>>,
    /// The next page's token; absent on the last.
    #[serde(default)]
    pub(super) end: Option<String>,
}

/// The localpart of `@alice:example.org`.
pub(super) fn localpart(user_id: &str) -> &str {
    user_id
        .strip_prefix('@')
        .and_then(|u| u.split(':').next())
        .unwrap_or(user_id)
}

/// The server part of `@alice:example.org`.
pub(super) fn server_of(user_id: &str) -> Option<&str> {
    user_id.split_once(':').map(|(_, s)| s)
}

/// The account's own categories, in the order to show them.
pub(super) fn categories() -> Vec<Category> {
    vec![
        single("profile", "Profile", "profile"),
        single("account_data", "Account data", "records"),
        Category {
            name: Cow::Borrowed("media"),
            label: Cow::Borrowed("Uploads"),
            kind: CategoryKind::Files,
            key: Cow::Borrowed("/media_id"),
            order: Order::Unordered,
            csv: Cow::Borrowed(UPLOAD_CSV),
            view: View {
                title: Some(Cow::Borrowed("/upload_name")),
                date: Some(Cow::Borrowed("/created_ts")),
                ..View::style("files")
            },
            names_files: true,
            strip: Cow::Borrowed(&[]),
            marker: None,
            container: None,
        },
    ]
}

fn single(name: &'static str, label: &'static str, style: &'static str) -> Category {
    Category {
        name: Cow::Borrowed(name),
        label: Cow::Borrowed(label),
        kind: CategoryKind::Single,
        key: Cow::Borrowed("/user_id"),
        order: Order::Unordered,
        csv: Cow::Borrowed(&[]),
        view: View::style(style),
        names_files: true,
        strip: Cow::Borrowed(&[]),
        marker: None,
        container: None,
    }
}

/// The categories of room `room`: its state and its history.
pub(super) fn room_categories(room: &Container) -> [Category; 2] {
    let state = Category {
        name: Cow::Owned(format!("{}_state", room.name)),
        label: Cow::Borrowed("State"),
        kind: CategoryKind::Records,
        key: Cow::Borrowed("/event_id"),
        order: Order::Unordered,
        csv: Cow::Borrowed(STATE_CSV),
        view: View {
            title: Some(Cow::Borrowed("/type")),
            who: Some(Cow::Borrowed("/sender")),
            date: Some(Cow::Borrowed("/origin_server_ts")),
            ..View::style("records")
        },
        names_files: true,
        strip: Cow::Borrowed(&[]),
        marker: None,
        container: Some(room.name.clone()),
    };
    let events = Category {
        name: Cow::Owned(format!("{}_events", room.name)),
        label: Cow::Borrowed("Messages"),
        kind: CategoryKind::Records,
        key: Cow::Borrowed("/event_id"),
        // Walked back in time from where the room stood as the export
        // began.
        order: Order::Descending,
        csv: Cow::Borrowed(EVENT_CSV),
        view: View {
            text: Some(Cow::Borrowed("/content/body")),
            html: Some(Cow::Borrowed("/content/formatted_body")),
            who: Some(Cow::Borrowed("/sender")),
            date: Some(Cow::Borrowed("/origin_server_ts")),
            tag: Some(Cow::Borrowed("/type")),
            ..View::style("chat")
        },
        names_files: true,
        strip: Cow::Borrowed(&[]),
        marker: Some(Marker {
            pointer: Cow::Borrowed("/type"),
            equals: Cow::Borrowed("m.room.encrypted"),
            says: Cow::Borrowed(
                "encrypted, kept as the homeserver holds them: they cannot be read without \
                 the room's keys (which a Matrix client keeps, not the homeserver)",
            ),
        }),
        container: Some(room.name.clone()),
    };
    [state, events]
}

const STATE_CSV: &[Column] = &[
    col("event_id", "/event_id"),
    col("origin_server_ts", "/origin_server_ts"),
    col("type", "/type"),
    col("state_key", "/state_key"),
    col("sender", "/sender"),
];

const EVENT_CSV: &[Column] = &[
    col("event_id", "/event_id"),
    col("origin_server_ts", "/origin_server_ts"),
    col("sender", "/sender"),
    col("type", "/type"),
    col("msgtype", "/content/msgtype"),
    col("body", "/content/body"),
    col("relation", "/content/m.relates_to/rel_type"),
    col("relates_to", "/content/m.relates_to/event_id"),
    col(
        "in_reply_to",
        "/content/m.relates_to/m.in_reply_to/event_id",
    ),
    col("redacted_by", "/unsigned/redacted_by"),
];

const UPLOAD_CSV: &[Column] = &[
    col("media_id", "/media_id"),
    col("upload_name", "/upload_name"),
    col("media_type", "/media_type"),
    col("media_length", "/media_length"),
    col("created_ts", "/created_ts"),
];

/// `mxc://server/media-id`, checked: a server name and a media id of the
/// characters the spec allows, so that both can be path segments.
pub(super) fn mxc(uri: &str) -> Option<(&str, &str)> {
    let (server, id) = uri.strip_prefix("mxc://")?.split_once('/')?;
    let server_ok = !server.is_empty()
        && server.len() <= 255
        && server
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let id_ok = !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (server_ok && id_ok).then_some((server, id))
}

/// A file at `uri`, as the authenticated media API serves it, of the
/// size the event declares, if it does (the sending client's word: a file
/// that arrives otherwise is fetched again, and kept as sent, with a
/// warning, when the homeserver sends the same bytes again).
pub(super) fn file(
    uri: &str,
    name: &str,
    content_type: &str,
    size: Option<u64>,
    sha256: Option<String>,
) -> Option<FileRef> {
    let (server, id) = mxc(uri)?;
    Some(FileRef {
        key: format!("{server}/{id}"),
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        size,
        sha256,
        url: format!(
            "/_matrix/client/v1/media/download/{}/{}",
            encode(server),
            encode(id)
        ),
        auth: Auth::Token,
    })
}

/// The files an event names: an attachment (plain or encrypted), a
/// sticker, a room's avatar, a profile's avatar.
pub(super) fn files_of(event: &Value) -> Vec<FileRef> {
    let content = event.get("content").unwrap_or(event);
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = text(content, "/filename")
        .or_else(|| text(content, "/body"))
        .unwrap_or_default();
    let mime = text(content, "/info/mimetype")
        .or_else(|| text(content, "/file/mimetype"))
        .unwrap_or_default();
    // (An encrypted attachment's ciphertext is as long as its plain text:
    // AES-CTR.)
    let size = content.pointer("/info/size").and_then(Value::as_u64);
    let mut out = Vec::new();
    if let Some(url) = text(content, "/url") {
        out.extend(file(&url, &name, &mime, size, None));
    }
    // An encrypted attachment: the homeserver holds the ciphertext, whose
    // SHA-256 the event carries (unpadded base64).
    if let Some(url) = text(content, "/file/url") {
        let sha = text(content, "/file/hashes/sha256").and_then(|b| unpadded_base64_hex(&b));
        out.extend(file(&url, &name, "application/octet-stream", size, sha));
    }
    if let Some(url) = text(event, "/avatar_url") {
        out.extend(file(&url, "avatar", "", None, None));
    }
    out
}

/// Unpadded base64 (standard alphabet, as Matrix writes hashes) as hex.
fn unpadded_base64_hex(b64: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_mxc_uris_become_files() {
        assert_eq!(
            mxc("mxc://localhost/AbC_1-x"),
            Some(("localhost", "AbC_1-x"))
        );
        assert_eq!(mxc("mxc://[::1]:8448/a"), Some(("[::1]:8448", "a")));
        for bad in [
            "https://x/y",
            "mxc://host/../../etc",
            "mxc://host/a/b",
            "mxc:///a",
            "mxc://host/",
            "mxc://ho st/a",
        ] {
            assert_eq!(mxc(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_event_names_its_attachment_and_the_homeserver_is_asked_for_it() {
        let e = json!({"type": "m.room.message", "content": {
            "msgtype": "m.file", "body": "../../etc/passwd", "url": "mxc://localhost/Xy",
            "info": {"mimetype": "text/plain", "size": 5}}});
        let f = files_of(&e);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].key, "localhost/Xy");
        assert_eq!(
            f[0].name, "../../etc/passwd",
            "sanitised where it names a file"
        );
        assert_eq!(f[0].url, "/_matrix/client/v1/media/download/localhost/Xy");
        assert_eq!((f[0].size, f[0].auth), (Some(5), Auth::Token));
        // An encrypted one carries the ciphertext's hash.
        let sha =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, [7u8; 32]);
        let enc = json!({"content": {"body": "x.bin", "file": {"url": "mxc://h/e1", "hashes": {"sha256": sha}}}});
        assert_eq!(
            files_of(&enc)[0].sha256.as_deref(),
            Some(&*hex::encode([7u8; 32]))
        );
        // A redacted event names nothing.
        assert!(files_of(&json!({"content": {}})).is_empty());
        assert_eq!(localpart("@alice:example.org"), "alice");
        assert_eq!(server_of("@alice:example.org"), Some("example.org"));
    }
}
