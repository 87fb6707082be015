//! The WordPress connector against a real WordPress 6.1 on MariaDB, started
//! from the seeded snapshot (`tests/servers/wordpress`).
//!
//! What the site holds is read from its database (what an author may read
//! through the REST API: their posts of every status but trash, their
//! published pages, their comments of every state, their uploads, the
//! revisions of their posts, the terms their posts use) and from its
//! uploads folder;
//! application passwords are made and deleted, and posts written and
//! trashed, through the REST API as the site's administrator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use keepsake_tests::wordpress::WordPress;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    Features, Fut, HeldFile, Holdings, Server, Target, archives, credentials, faults, full,
    http_axes, resume, tokens, walk,
};

/// The account every check exports.
const LOGIN: &str = "author";

struct Site {
    wp: WordPress,
    /// The author's id.
    id: i64,
    /// The administrator's application password.
    admin: String,
    /// The ids of the application passwords made here, by password.
    made: Mutex<BTreeMap<String, String>>,
}

impl Site {
    /// A request to the REST API as the administrator.
    fn admin(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        keepsake_tests::client()
            .request(method, format!("{}/?rest_route={route}", self.wp.url))
            .basic_auth("admin", Some(&self.admin))
    }

    /// Rows of `query`, as text.
    fn rows(&self, query: &str) -> Vec<Vec<String>> {
        self.wp.sql(query)
    }

    /// The author's records of one kind as the archive keeps them: each
    /// record's id and the fields named.
    fn records(&self, query: &str, fields: &[&str]) -> Value {
        let rows = self.rows(query);
        Value::Array(
            rows.into_iter()
                .map(|row| {
                    let mut r = serde_json::Map::new();
                    for (f, v) in fields.iter().zip(row) {
                        let v = match v.parse::<i64>() {
                            Ok(n) if *f == "id" || *f == "post" || *f == "parent" => json!(n),
                            _ => json!(v),
                        };
                        r.insert((*f).to_owned(), v);
                    }
                    Value::Object(r)
                })
                .collect(),
        )
    }
}

/// The date as WordPress's REST API writes it.
const DATE: &str = "DATE_FORMAT({}, '%Y-%m-%dT%H:%i:%s')";

fn date(column: &str) -> String {
    DATE.replace("{}", column)
}

/// The statuses `status=any` stands for (trash is not among them).
const ANY: &str = "('publish','future','draft','pending','private')";

impl Server for Site {
    fn holdings(&self) -> Fut<'_, Holdings> {
        Box::pin(async move {
            let id = self.id;
            let mut held = Holdings::default();
            held.entries.insert(
                "data/profile.json".into(),
                json!({"id": id, "username": LOGIN}),
            );
            // Newest first, as the walk goes.
            held.entries.insert(
                "data/posts.json".into(),
                self.records(
                    &format!(
                        "SELECT ID, {}, post_status FROM wp_posts WHERE post_author={id} \
                         AND post_type='post' AND post_status IN {ANY} ORDER BY post_date DESC, ID DESC",
                        date("post_date")
                    ),
                    &["id", "date", "status"],
                ),
            );
            // An author reads the published pages only (they may not edit
            // pages, so WordPress shows no others).
            held.entries.insert(
                "data/pages.json".into(),
                self.records(
                    &format!(
                        "SELECT ID, {} FROM wp_posts WHERE post_author={id} \
                         AND post_type='page' AND post_status='publish'",
                        date("post_date")
                    ),
                    &["id", "date"],
                ),
            );
            held.entries.insert(
                "data/comments.json".into(),
                self.records(
                    &format!(
                        "SELECT comment_ID, comment_post_ID, {}, \
                         IF(comment_approved='1','approved','hold') FROM wp_comments \
                         WHERE user_id={id} AND comment_approved IN ('0','1')",
                        date("comment_date")
                    ),
                    &["id", "post", "date", "status"],
                ),
            );
            held.entries.insert(
                "data/media.json".into(),
                self.records(
                    &format!(
                        "SELECT ID, post_mime_type FROM wp_posts WHERE post_author={id} \
                         AND post_type='attachment'"
                    ),
                    &["id", "mime_type"],
                ),
            );
            held.entries.insert(
                "data/revisions.json".into(),
                self.records(
                    &format!(
                        "SELECT r.ID, r.post_parent FROM wp_posts r JOIN wp_posts p ON r.post_parent=p.ID \
                         WHERE r.post_type='revision' AND p.post_author={id} AND p.post_type='post' \
                         AND p.post_status IN {ANY}"
                    ),
                    &["id", "parent"],
                ),
            );
            for (entry, taxonomy) in [("tags", "post_tag"), ("categories", "category")] {
                held.entries.insert(
                    format!("data/{entry}.json"),
                    self.records(
                        &format!(
                            "SELECT DISTINCT t.term_id, t.slug FROM wp_terms t \
                             JOIN wp_term_taxonomy x ON x.term_id=t.term_id \
                             JOIN wp_term_relationships r ON r.term_taxonomy_id=x.term_taxonomy_id \
                             JOIN wp_posts p ON p.ID=r.object_id \
                             WHERE x.taxonomy='{taxonomy}' AND p.post_author={id} \
                             AND p.post_type='post' AND p.post_status IN {ANY}"
                        ),
                        &["id", "slug"],
                    ),
                );
            }
            // The original of each upload, from the site's uploads folder.
            let uploads = self.wp.dir().join("wp-content/uploads");
            for m in self.wp.seed["media"].as_array().expect("media") {
                if m["author"] != LOGIN {
                    continue;
                }
                let file = m["file"].as_str().expect("file");
                let path = match m["original_image"].as_str() {
                    Some(original) => {
                        let dir = std::path::Path::new(file).parent().expect("a folder");
                        uploads.join(dir).join(original)
                    }
                    None => uploads.join(file),
                };
                let bytes = fs_err::read(&path).expect("the upload");
                held.files.push(HeldFile {
                    key: m["id"].to_string(),
                    size: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                });
            }
            held
        })
    }

    fn fresh_token(&self) -> Fut<'_, String> {
        Box::pin(async move {
            let n = self.made.lock().expect("made").len();
            let route = format!("/wp/v2/users/{}/application-passwords", self.id);
            let made: Value = self
                .admin(reqwest::Method::POST, &route)
                .json(&json!({"name": format!("conformance {n}")}))
                .send()
                .await
                .expect("make an application password")
                .json()
                .await
                .expect("its answer");
            let password = made["password"].as_str().expect("a password").to_owned();
            let uuid = made["uuid"].as_str().expect("a uuid").to_owned();
            self.made
                .lock()
                .expect("made")
                .insert(password.clone(), uuid);
            password
        })
    }

    fn expired_token(&self) -> Fut<'_, Option<String>> {
        // Application passwords do not expire.
        Box::pin(async { None })
    }

    fn revoke(&self, token: String) -> Fut<'_, ()> {
        Box::pin(async move {
            let uuid = self
                .made
                .lock()
                .expect("made")
                .get(&token)
                .cloned()
                .expect("a password made here");
            let route = format!("/wp/v2/users/{}/application-passwords/{uuid}", self.id);
            let r = self
                .admin(reqwest::Method::DELETE, &route)
                .send()
                .await
                .expect("delete the application password");
            assert!(r.status().is_success(), "revoke: {}", r.status());
        })
    }

    fn write(&self) -> Fut<'_, String> {
        Box::pin(async move {
            let post: Value = self
                .admin(reqwest::Method::POST, "/wp/v2/posts")
                .json(&json!({
                    "title": "written while the export walks",
                    "content": "<p>new</p>",
                    "status": "publish",
                    "author": self.id,
                }))
                .send()
                .await
                .expect("write a post")
                .json()
                .await
                .expect("its answer");
            post["id"].as_i64().expect("an id").to_string()
        })
    }

    fn delete(&self, key: String) -> Fut<'_, ()> {
        Box::pin(async move {
            // To the trash, as a person deletes a post.
            let r = self
                .admin(reqwest::Method::DELETE, &format!("/wp/v2/posts/{key}"))
                .send()
                .await
                .expect("trash a post");
            assert!(r.status().is_success(), "trash {key}: {}", r.status());
        })
    }
}

fn record_key(r: &Value) -> Option<String> {
    r.get("id").and_then(Value::as_i64).map(|i| i.to_string())
}

/// A page of a walk (its query is its cursor) or an upload; other
/// requests (who am I, the counts as the export opens) may repeat.
///
/// One page of revisions is many requests (a page of posts' dates, then
/// each post's revisions), journaled once the last is in: a kill between
/// them rightly asks them all again, however long ago the first was
/// answered. So they are left out here; the archive still has to hold
/// every revision exactly once.
fn fetch_key(method: &str, path: &str) -> Option<String> {
    if method != "GET" {
        return None;
    }
    if path.starts_with("/wp-content/uploads/") {
        return Some(path.to_owned());
    }
    let revisions = path.contains("_links") || path.contains("/revisions&");
    (path.contains("rest_route=") && path.contains("per_page=100") && !revisions)
        .then(|| path.to_owned())
}

/// A fresh site, and the author's account as a target; `None` where
/// WordPress is not installed (and not required).
async fn target() -> Option<Target> {
    let wp = tokio::task::spawn_blocking(WordPress::start)
        .await
        .expect("start")?;
    let id = wp.user(LOGIN)["id"].as_i64().expect("the author's id");
    let token = wp.app_password(LOGIN);
    let admin = wp.app_password("admin");
    let site = Site {
        wp,
        id,
        admin,
        made: Mutex::default(),
    };
    Some(Target {
        url: site.wp.url.clone(),
        token,
        env: vec![
            ("KEEPSAKE_KIND", "wordpress".into()),
            ("KEEPSAKE_USER", LOGIN.into()),
        ],
        // The posts' own walk (the revisions' walk of the posts asks for
        // `_fields` after `context`).
        page_path: "/wp/v2/posts&author=2&status=any&context=edit&orderby",
        file_path: "/wp-content/uploads/",
        record_key,
        fetch_key,
        features: Features {
            snapshot: false,
            writes: Some("data/posts.json"),
            exact_counts: false,
            unsized_files: true,
        },
        server: Arc::new(site),
    })
}

macro_rules! check {
    ($name:ident, $module:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(t) = target().await else { return };
            $module::$name(&t).await;
        }
    };
}

check!(a_full_export_holds_exactly_what_the_server_holds, full);
check!(every_archive_passes_every_validator, archives);
check!(a_kill_9_then_a_resume_fetches_nothing_twice, resume);
check!(
    records_written_and_deleted_during_the_walk_are_neither_lost_nor_doubled,
    walk
);
check!(a_connection_reset_mid_body_is_retried, faults);
check!(a_cut_body_is_detected_and_retried, faults);
check!(a_stalled_body_is_given_up_and_retried, faults);
check!(a_request_never_answered_is_given_up_and_retried, faults);
check!(
    a_wrong_expired_or_revoked_token_says_sign_in_again,
    credentials
);
check!(
    a_token_revoked_during_the_walk_leaves_no_finished_archive,
    credentials
);
check!(no_file_holds_the_token, tokens);
check!(a_huge_error_body_is_capped_and_retried, http_axes);
check!(a_trickling_body_is_given_up_and_retried, http_axes);
check!(a_retry_after_past_the_ceiling_stops_at_once, http_axes);
