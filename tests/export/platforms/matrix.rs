//! The Matrix connector against a real Synapse: an account as the viewer
//! fixture (rooms, a room left, encrypted events), a homeserver
//! administrator's export, messages sent and redacted during the walk, a
//! rate limit, a room refused, the bench room.

use std::sync::Arc;

use keepsake_core::connector;
use keepsake_core::export::Outcome;
use serde_json::Value;

use keepsake_tests::synapse::Preset;

use super::{client, completed, every_text, export, manifest, options, synapse};
use crate::support::{self, Dest};
use crate::viewer::{Fixture, publish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_account_becomes_a_viewer_fixture() {
    let Some(mx) = synapse(Preset::Default).await else {
        return;
    };
    let c = client(&mx.url, None, &mx.token("alice"));
    let dest = Dest::new();
    let report = completed(&c, &options(connector::matrix(), &dest.out()), &dest).await;
    let m = manifest(&report.archive);
    let rooms = m["containers"].as_array().expect("rooms");
    // Joined and left rooms; not the one alice is only invited to.
    let invite = mx.room("invite")["room_id"].as_str().expect("id");
    assert!(rooms.iter().all(|r| r["id"] != invite));
    for key in [
        "dm_bob",
        "dm_carol",
        "group",
        "public",
        "left",
        "unicode",
        "encrypted",
    ] {
        let room = mx.room(key);
        let id = room["room_id"].as_str().expect("id");
        let listed = rooms
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{key} is listed"));
        let name = listed["name"].as_str().expect("name");
        let events = support::records(&report.archive, &format!("{name}_events"));
        assert_eq!(
            events.len() as u64,
            room["visible_to_alice"]["total"].as_u64().expect("total"),
            "{key}: every event alice sees, once"
        );
        if key == "encrypted" {
            let encrypted = events
                .iter()
                .filter(|e| e["type"] == "m.room.encrypted")
                .count();
            assert!(encrypted > 0);
            assert_eq!(m["marked"][format!("{name}_events")]["records"], encrypted);
            let said = format!("{encrypted} records encrypted, kept as the homeserver holds them");
            assert!(
                report.warnings.iter().any(|w| w.contains(&said)),
                "the report says how many cannot be read: {:?}",
                report.warnings
            );
            assert_eq!(listed["facts"]["encrypted"], true);
        }
        if key == "left" {
            assert_eq!(listed["facts"]["membership"], "leave");
        }
    }
    // What alice may not see is nowhere in the archive.
    let hidden = mx.seed["hidden_marker"].as_str().expect("marker");
    for (name, text) in every_text(&report.archive) {
        assert!(!text.contains(hidden), "{name} holds what alice cannot see");
    }
    assert_eq!(m["files"]["missing"], 0, "{:?}", report.shortfalls);
    publish(
        &report.archive,
        &Fixture {
            name: "matrix",
            login: "alice",
            search: "sample",
            hostile: true,
            measure: false,
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_administrator_exports_an_account_through_the_admin_api() {
    let Some(mx) = synapse(Preset::Default).await else {
        return;
    };
    let matrix = connector::matrix();
    let admin = client(&mx.url, None, &mx.token("admin"));
    let me = matrix.whoami(&admin).await.expect("who");
    assert!(me.support, "the seed's admin is a server admin");
    let alice = matrix
        .find_account(&admin, "alice")
        .await
        .expect("look-up")
        .expect("alice");
    let dest = Dest::new();
    let mut opts = options(matrix.clone(), &dest.out());
    opts.subject_id = Some(alice.id.clone());
    let refused = export(&admin, &opts, &dest).await.expect_err("no reason");
    assert!(refused.to_string().contains("needs a reason"), "{refused}");

    opts.reason = Some("data request #9".into());
    let report = completed(&admin, &opts, &dest).await;
    let m = manifest(&report.archive);
    assert_eq!(m["reason"], "data request #9");
    assert_eq!(m["subject"]["id"], alice.id.as_str());
    assert_eq!(m["actor"]["login"], "admin");
    // Her uploads, through the admin API.
    let uploads = support::records(&report.archive, "media");
    assert!(!uploads.is_empty(), "alice's uploads are listed");
    assert!(uploads.iter().all(|u| u["archive_path"].is_string()));
    // An upload her messages show is one file, downloaded and archived once,
    // where both the upload and the messages say it is.
    let index = support::records(&report.archive, "files");
    for u in &uploads {
        let key = format!("localhost/{}", u["media_id"].as_str().unwrap_or(""));
        let indexed: Vec<&Value> = index.iter().filter(|f| f["key"] == key.as_str()).collect();
        assert_eq!(indexed.len(), 1, "{key} is in files.json once: {indexed:?}");
        assert_eq!(
            indexed[0]["archive_path"], u["archive_path"],
            "the upload record says where the one copy is"
        );
    }
    let zip =
        zip::ZipArchive::new(fs_err::File::open(&report.archive).expect("open")).expect("a zip");
    let archived: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("data/media/"))
        .map(|n| n.into_owned())
        .collect();
    assert_eq!(
        archived.len(),
        index
            .iter()
            .filter(|f| f["archive_path"].is_string())
            .count(),
        "no file is archived twice: {archived:?}"
    );
    let in_messages = m["descriptors"]
        .as_array()
        .expect("descriptors")
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_owned))
        .filter(|c| c.ends_with("_events"))
        .flat_map(|c| support::records(&report.archive, &c))
        .filter_map(|e| {
            e.pointer("/content/url")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        uploads.iter().any(|u| in_messages.contains(&format!(
            "mxc://localhost/{}",
            u["media_id"].as_str().unwrap_or("")
        ))),
        "some upload is shown in a message too, so the check above means something"
    );

    // Someone who is not a server admin is refused, and told why.
    let bob = client(&mx.url, None, &mx.token("bob"));
    let dest = Dest::new();
    let mut opts = options(matrix, &dest.out());
    opts.subject_id = Some(alice.id);
    opts.reason = Some("curious".into());
    let err = export(&bob, &opts, &dest).await.expect_err("refused");
    assert!(err.to_string().contains("not a server admin"), "{err}");
    assert!(dest.archives().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_during_the_export_are_not_in_it_and_a_redaction_breaks_nothing() {
    let Some(mx) = synapse(Preset::Bench).await else {
        return;
    };
    let room = mx.seed["bench_room"]
        .as_str()
        .expect("the bench room")
        .to_owned();
    let room_path = format!("/rooms/{}/messages", connector::encode(&room));
    let sent: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let redacted: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    // Before the room's second page: bob (in the room) sends a message, and
    // alice (who made the room, and may redact in it) redacts one of its
    // messages her export has not fetched yet.
    let hook: keepsake_tests::proxy::Hook = {
        let (url, bob, alice, sent, redacted) = (
            mx.url.clone(),
            mx.token("bob"),
            mx.token("alice"),
            sent.clone(),
            redacted.clone(),
        );
        let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let room = room.clone();
        let room_path = room_path.clone();
        Arc::new(move |method: &str, path: &str| {
            let second = method == "GET"
                && path.contains(&room_path)
                && pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1;
            let (url, bob, alice, sent, redacted, room) = (
                url.clone(),
                bob.clone(),
                alice.clone(),
                sent.clone(),
                redacted.clone(),
                room.clone(),
            );
            Box::pin(async move {
                if !second {
                    return;
                }
                let http = keepsake_tests::client();
                let base = format!("{url}/_matrix/client/v3/rooms/{}", connector::encode(&room));
                let r: Value = http
                    .put(format!("{base}/send/m.room.message/live-1"))
                    .bearer_auth(&bob)
                    .json(
                        &serde_json::json!({"msgtype": "m.text", "body": "sent during the export"}),
                    )
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("sent");
                sent.lock()
                    .expect("sent")
                    .push(r["event_id"].as_str().expect("id").to_owned());
                // The oldest message of the room, far ahead of the walk
                // (which goes backwards from the newest).
                let only_messages = connector::encode(r#"{"types":["m.room.message"]}"#);
                let oldest: Value = http
                    .get(format!(
                        "{base}/messages?dir=f&limit=5&filter={only_messages}"
                    ))
                    .bearer_auth(&bob)
                    .send()
                    .await
                    .expect("read")
                    .json()
                    .await
                    .expect("page");
                if let Some(e) = oldest["chunk"]
                    .as_array()
                    .and_then(|c| c.iter().find(|e| e["type"] == "m.room.message"))
                {
                    let id = e["event_id"].as_str().expect("id");
                    let r = http
                        .put(format!("{base}/redact/{}/live-r1", connector::encode(id)))
                        .bearer_auth(&alice)
                        .json(&serde_json::json!({"reason": "during the export"}))
                        .send()
                        .await
                        .expect("redact");
                    assert!(r.status().is_success(), "redact: {}", r.status());
                    redacted.lock().expect("redacted").push(id.to_owned());
                }
            })
        })
    };
    let every = keepsake_tests::proxy::Trigger {
        path_contains: String::new(),
        skip: 0,
        times: 0,
    };
    let proxy = keepsake_tests::proxy::FaultProxy::start_hooked(
        &mx.url,
        keepsake_tests::proxy::Fault::None,
        every,
        Some(hook),
    )
    .await;
    let c = client(&proxy.url, None, &mx.token("alice"));
    let dest = Dest::new();
    let mut opts = options(connector::matrix(), &dest.out());
    opts.categories = Some(vec!["events".into()]);
    let report = completed(&c, &opts, &dest).await;
    let sent = sent.lock().expect("sent").clone();
    assert_eq!(sent.len(), 1, "the hook sent a message");
    let m = manifest(&report.archive);
    let name = m["containers"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == room.as_str()))
        .and_then(|r| r["name"].as_str())
        .expect("the bench room is listed")
        .to_owned();
    let events = support::records(&report.archive, &format!("{name}_events"));
    assert!(events.len() > 10_000, "the whole room: {}", events.len());
    assert!(
        events.iter().all(|e| e["event_id"] != sent[0].as_str()),
        "a message sent after the export began is not in it"
    );
    let mut ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "no event twice");
    // The message redacted ahead of the walk is there once, as the
    // homeserver holds it now: without its content.
    let redacted = redacted.lock().expect("redacted").clone();
    assert_eq!(redacted.len(), 1, "the hook redacted a message");
    let gone: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_id"] == redacted[0].as_str())
        .collect();
    assert_eq!(gone.len(), 1, "the redacted message is kept once");
    assert!(
        gone[0]["content"].as_object().is_some_and(|c| c.is_empty()),
        "its content is gone: {}",
        gone[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeservers_rate_limit_is_waited_out_and_shown() {
    let Some(mx) = synapse(Preset::Default).await else {
        return;
    };
    // What Synapse answers a client over its limit: 429 M_LIMIT_EXCEEDED
    // with retry_after_ms, twice, on a room's history.
    let proxy = keepsake_tests::proxy::FaultProxy::start(
        &mx.url,
        keepsake_tests::proxy::Fault::Refuse {
            status: 429,
            body: r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1200}"#,
        },
        keepsake_tests::proxy::Trigger {
            path_contains: "/messages".into(),
            skip: 0,
            times: 2,
        },
    )
    .await;
    let waits: Arc<std::sync::Mutex<Vec<(std::time::Duration, String)>>> = Arc::default();
    let seen = waits.clone();
    let c = client(&proxy.url, None, &mx.token("alice")).on_wait(Arc::new(move |w| {
        seen.lock()
            .expect("waits")
            .push((w.delay, w.error.code().as_str().to_owned()));
    }));
    let dest = Dest::new();
    completed(&c, &options(connector::matrix(), &dest.out()), &dest).await;
    assert_eq!(proxy.spoiled(), 2);
    let waits = waits.lock().expect("waits");
    assert_eq!(waits.len(), 2, "{waits:?}");
    for (delay, code) in waits.iter() {
        assert_eq!(code, "rate_limited");
        assert!(
            *delay >= std::time::Duration::from_millis(1200),
            "the homeserver's wait is honoured: {delay:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_the_homeserver_refuses_is_a_shortfall_named_by_the_room_not_a_failed_export() {
    let Some(mx) = synapse(Preset::Default).await else {
        return;
    };
    // What Synapse answers for a room whose history it will not show
    // (a room left long ago whose visibility changed, say): M_FORBIDDEN,
    // here on the room alice left.
    let left = mx.seed["rooms"]["left"]["room_id"]
        .as_str()
        .expect("the left room")
        .to_owned();
    let proxy = keepsake_tests::proxy::FaultProxy::start(
        &mx.url,
        keepsake_tests::proxy::Fault::Refuse {
            status: 403,
            body: r#"{"errcode":"M_FORBIDDEN","error":"User @alice:localhost not in room"}"#,
        },
        keepsake_tests::proxy::Trigger {
            path_contains: format!("/rooms/{}/messages", connector::encode(&left)),
            skip: 0,
            times: usize::MAX,
        },
    )
    .await;
    let c = client(&proxy.url, None, &mx.token("alice"));
    let dest = Dest::new();
    let report = export(&c, &options(connector::matrix(), &dest.out()), &dest)
        .await
        .expect("an archive, not a failed export");
    assert_eq!(report.outcome, Outcome::Incomplete);
    assert!(proxy.spoiled() >= 1);
    let named = report
        .shortfalls
        .iter()
        .filter(|s| s.contains("Old project (archived)"))
        .collect::<Vec<_>>();
    assert_eq!(named.len(), 1, "{:?}", report.shortfalls);
    assert!(
        named[0].contains("not in room"),
        "the homeserver's words: {named:?}"
    );
    // The manifest says so too, and every other room's history is there.
    let m = manifest(&report.archive);
    assert_eq!(m["status"], "incomplete");
    let refused = m["containers"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["id"] == left.as_str())
        .and_then(|r| r["name"].as_str())
        .expect("the left room is listed");
    for (name, count) in m["counts"].as_object().expect("counts") {
        if name.ends_with("_events") && !name.starts_with(refused) {
            assert!(
                count["retrieved"].as_u64().is_some_and(|n| n > 0),
                "{name}: {count}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_room_becomes_the_big_matrix_viewer_fixture() {
    let Some(mx) = synapse(Preset::Bench).await else {
        return;
    };
    let c = client(&mx.url, None, &mx.token("alice"));
    let dest = Dest::new();
    let report = completed(&c, &options(connector::matrix(), &dest.out()), &dest).await;
    publish(
        &report.archive,
        &Fixture {
            name: "matrix-bench",
            login: "alice",
            search: "sample",
            hostile: false,
            measure: true,
        },
    );
}
