//! A disk that fills up while the export writes: the export stops with a
//! full-disk error, keeps what it fetched, and continues once there is room.
//! On a real (small) file system: a tmpfs mounted for the test, which needs
//! root (and a machine or container that lets root mount); elsewhere the
//! test says so and is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use keepsake_core::export::{self, CancelFlag, ExportEvent, ExportReport, Phase, Reporter};
use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::support::{self, Dest, ids, records, validate_externally};

/// A small tmpfs mounted on a folder, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts one of `bytes` on `at`; `None` (said why) where this machine
    /// does not let the test mount one.
    fn mount(at: &Path, bytes: u64) -> Option<Self> {
        fs_err::create_dir_all(at).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("tmpfs")
            .arg(at)
            .output();
        match mounted {
            Ok(o) if o.status.success() => Some(Self(at.to_owned())),
            Ok(o) => {
                // Only root may mount, and not in every container: then
                // this cannot run (it does on the project's machines).
                eprintln!(
                    "skipped: cannot mount a small file system here ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no mount command ({e})");
                None
            }
        }
    }
}

/// Bytes free on the file system of `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let o = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df's free bytes")
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the disk to `leave` free bytes as the fetch starts (after the
/// export checked the space it needs).
struct FillAtFetching {
    filler: PathBuf,
    leave: u64,
    disk: Arc<AtomicBool>,
}

impl Reporter for FillAtFetching {
    fn report(&self, e: ExportEvent) {
        if let ExportEvent::Phase {
            phase: Phase::Fetching,
        } = e
            && !self.disk.swap(true, Ordering::SeqCst)
        {
            let dir = self.filler.parent().expect("parent");
            let n = free_bytes(dir).saturating_sub(self.leave);
            fs_err::write(&self.filler, vec![0u8; n as usize]).expect("fill the disk");
        }
    }
}

/// Runs alice's export (split into parts of `split` bytes, if given) onto
/// a small disk that fills up as the fetch starts: the export stops with a
/// full-disk error, keeping what it fetched; once there is room, the same
/// export session continues to the end. Returns its report, with the
/// platform and the destination (which holds the mount until dropped).
async fn fills_up_then_continues(
    split: Option<u64>,
) -> Option<(ExportReport, Platform, Dest, SmallDisk)> {
    let p = support::unlimited(Preset::Demo).await;
    let token = p.token("alice", "export:self");
    let dest = Dest::new();
    // Room for the export's own check (its estimate and a 64 MiB margin).
    let disk = SmallDisk::mount(&dest.out(), 80 << 20)?;
    let filler = dest.out().join("filler");
    let client = support::client(&p, &token);
    let mut opts = support::options(&dest.out());
    opts.split_size = split;

    let fill = Arc::new(FillAtFetching {
        filler: filler.clone(),
        leave: 64 << 10,
        disk: Arc::default(),
    });
    let err = export::run(
        &client,
        &opts,
        fill,
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect_err("the disk filled up");
    assert!(err.is_disk_full(), "{err:?}");
    assert_eq!(err.code().as_str(), "disk_full");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(
        dest.archives().is_empty(),
        "no archive (and no part) from the stopped run"
    );
    let staging: Vec<String> = dest
        .names()
        .into_iter()
        .filter(|n| n.starts_with(".keepsake-"))
        .collect();
    assert_eq!(staging.len(), 1, "what was fetched is kept: {staging:?}");

    // Room again: the same export continues.
    fs_err::remove_file(&filler).expect("free the disk");
    let report = support::resume_to_completion(&p, &token, &dest, opts, "disk full").await;
    let log = dest.audit.list().expect("audit");
    assert_eq!(
        log[0].entry.export_id, log[1].entry.export_id,
        "one export session, continued"
    );
    Some((report, p, dest, disk))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_up_mid_export_keeps_what_was_fetched_and_the_export_continues() {
    let Some((report, p, _dest, disk)) = fills_up_then_continues(None).await else {
        return;
    };
    validate_externally(&report.archive);
    assert_eq!(
        ids(&records(&report.archive, "posts")),
        p.state.store().post_ids(p.user_id("alice")).expect("ids")
    );
    drop(disk);
}

/// The same for a split archive, whose spool segments (not the archive)
/// are what the disk fills up with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_export_on_a_disk_that_fills_up_continues_to_a_whole_set() {
    const LIMIT: u64 = 300_000;
    let Some((report, p, _dest, disk)) = fills_up_then_continues(Some(LIMIT)).await else {
        return;
    };
    let set = crate::split::check_set(&report, LIMIT);
    let posts: Vec<serde_json::Value> =
        serde_json::from_slice(&set.files["data/posts.json"]).expect("posts");
    assert_eq!(
        ids(&posts),
        p.state.store().post_ids(p.user_id("alice")).expect("ids")
    );
    let checked = keepsake_core::archive::verify_set(&report.parts[0].path).expect("verify");
    assert!(checked.ok, "{checked:?}");
    drop(disk);
}
