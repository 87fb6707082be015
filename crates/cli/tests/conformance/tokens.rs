//! No token in any file under the home, data, config or output folders,
//! after a finished export and after one killed part-way (its staging,
//! journal and unfinished archive left behind), compressed entries of an
//! archive included; nor in any request's address. The search itself is
//! shown to find a token.

use std::io::Write;
use std::time::{Duration, Instant};

use keepsake_tests::proxy::{Fault, FaultProxy, Trigger};

use crate::common::watch;
use crate::{Target, expect};

pub async fn no_file_holds_the_token(t: &Target) {
    let every = Trigger {
        path_contains: String::new(),
        skip: 0,
        times: usize::MAX,
    };
    let proxy = FaultProxy::start(&t.url, Fault::Delay(Duration::from_millis(100)), every).await;
    let home = crate::home(&proxy.url, t);
    // One export finished, one killed part-way in a second output folder.
    expect::completed(t, &home.export(&[], Duration::from_secs(120)));
    let out2 = home.path("out2");
    let mut child = home.spawn(&[
        "export",
        "--json",
        "--out",
        out2.to_str().expect("utf-8 path"),
    ]);
    let started = Instant::now();
    let asked = proxy.seen().len();
    // Killed once it has staged something and asked a few more pages (a
    // platform without sessions asks a few questions before it stages).
    let staged = || {
        fs_err::read_dir(&out2)
            .map(|d| d.flatten().next().is_some())
            .unwrap_or(false)
    };
    while !staged() || proxy.seen().len() < asked + 6 {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "ended before the kill"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never got under way"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill -9");
    watch(child, Duration::from_secs(10));
    let left: Vec<_> = fs_err::read_dir(&out2).expect("out2").flatten().collect();
    assert!(
        !left.is_empty(),
        "the killed export left its staging behind"
    );
    // The audit log, read and written.
    assert!(home.run(&["audit", "list"]).status.success());
    expect::no_token_in_files(&[&home.path("")], &t.token);
    // Nor in an address, which servers and proxies write to their logs.
    let in_url: Vec<String> = proxy
        .seen()
        .into_iter()
        .filter(|p| p.contains(&t.token))
        .collect();
    assert!(
        in_url.is_empty(),
        "the token in a request's address: {in_url:?}"
    );

    // The search finds a token in a plain file and in a deflated entry.
    let probe = tempfile::tempdir().expect("tmp");
    fs_err::write(probe.path().join("plain.txt"), format!("x{}y", t.token)).expect("write");
    assert!(finds(probe.path(), &t.token), "a token in a plain file");
    fs_err::remove_file(probe.path().join("plain.txt")).expect("rm");
    let mut zip =
        zip::ZipWriter::new(fs_err::File::create(probe.path().join("a.zip")).expect("zip"));
    zip.start_file("data/x.json", zip::write::SimpleFileOptions::default())
        .expect("entry");
    zip.write_all(format!("{{\"t\":\"{}\"}}", t.token).repeat(50).as_bytes())
        .expect("write");
    zip.finish().expect("finish");
    assert!(finds(probe.path(), &t.token), "a token in a deflated entry");
}

fn finds(dir: &std::path::Path, token: &str) -> bool {
    std::panic::catch_unwind(|| expect::no_token_in_files(&[dir], token)).is_err()
}
