//! The `keepsake-platform` binary itself, end to end: `seed`, `token create`,
//! `delete-user` and `serve` with its `--fault-*` flags, run as processes
//! against a real database, spoken to over real HTTP on loopback.
//!
//! The rest of the platform's behaviour is tested through the library in
//! `tests/platform`; these tests pin the glue that only the binary has.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_keepsake-platform");

/// Runs the binary to completion.
fn platform(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run keepsake-platform")
}

/// Runs the binary and fails the test (with its stderr) unless it succeeds.
#[track_caller]
fn platform_ok(args: &[&str]) -> String {
    let out = platform(args);
    assert!(
        out.status.success(),
        "keepsake-platform {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A seeded database in a temporary folder.
struct Db {
    path: String,
    _dir: tempfile::TempDir,
}

impl Db {
    fn seeded(preset: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir
            .path()
            .join("platform.db")
            .to_str()
            .expect("a UTF-8 temp path")
            .to_owned();
        platform_ok(&["seed", "--db", &path, "--preset", preset, "--seed", "3"]);
        Self { path, _dir: dir }
    }

    fn arg(&self) -> &str {
        &self.path
    }

    fn path(&self) -> &Path {
        Path::new(&self.path)
    }

    /// A personal access token minted by `token create`.
    fn token(&self, login: &str) -> String {
        let out = platform_ok(&["token", "create", "--db", self.arg(), "--user", login]);
        out.trim().to_owned()
    }
}

/// `keepsake-platform serve` on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keepsake-platform serve");
        let stdout = child.stdout.take().expect("piped stdout");
        // The binary prints exactly this line once it listens.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve says where it listens within 30 s");
        let addr = line
            .trim()
            .strip_prefix("keepsake-platform listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    /// One HTTP/1.1 request on its own connection.
    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the platform");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .expect("send the request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the reply");
        Reply::parse(&raw)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn parse(raw: &[u8]) -> Self {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head");
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Self {
            status,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {self:?}");
        self
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

#[test]
fn every_fault_flag_sets_its_field_of_the_plan() {
    let db = Db::seeded("demo");
    let server = Server::start(
        db.path(),
        &[
            "--fault-seed",
            "42",
            "--fault-latency-ms",
            "3",
            "--fault-429",
            "0.01",
            "--fault-500",
            "0.02",
            "--fault-503",
            "0.03",
            "--fault-retry-after-secs",
            "4",
            "--fault-reset",
            "0.05",
            "--fault-truncate",
            "0.06",
            "--fault-slow",
            "0.07",
            "--fault-slow-delay-ms",
            "8",
            "--fault-repeat-cursor",
            "0.09",
            "--fault-duplicate",
            "0.1",
            "--fault-corrupt-media",
            "0.11",
            "--fault-token-ttl-secs",
            "12",
            "--fault-media-url-ttl-secs",
            "13",
        ],
    );
    let plan = server
        .request("GET", "/admin/faults", None, None)
        .expect(200);
    assert_eq!(
        plan.body,
        json!({
            "seed": 42,
            "latency_ms": 3,
            "rate_429": 0.01,
            "rate_500": 0.02,
            "rate_503": 0.03,
            "retry_after_secs": 4,
            "reset_mid_body": 0.05,
            "truncate_json": 0.06,
            "slow_body": 0.07,
            "slow_body_delay_ms": 8,
            "repeat_cursor": 0.09,
            "duplicate_record": 0.1,
            "corrupt_media": 0.11,
            "token_ttl_secs": 12,
            "media_url_ttl_secs": 13,
        })
    );
}

#[test]
fn a_fault_flag_is_applied_to_the_api() {
    let db = Db::seeded("demo");
    let token = db.token("alice");
    let server = Server::start(
        db.path(),
        &["--fault-429", "1", "--fault-retry-after-secs", "7"],
    );
    for _ in 0..3 {
        let r = server
            .request("GET", "/api/v1/me", Some(&token), None)
            .expect(429);
        assert_eq!(r.header("retry-after"), Some("7"), "{r:?}");
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{r:?}"
        );
    }
    // Service endpoints are never faulted.
    server.request("GET", "/healthz", None, None).expect(200);

    // Without the flag the same request goes through.
    drop(server);
    let plain = Server::start(db.path(), &[]);
    let me = plain
        .request("GET", "/api/v1/me", Some(&token), None)
        .expect(200);
    assert_eq!(me.body["login"], "alice");
}

#[test]
fn an_out_of_range_fault_flag_stops_serve_before_it_listens() {
    let db = Db::seeded("demo");
    let out = platform(&[
        "serve",
        "--db",
        db.arg(),
        "--addr",
        "127.0.0.1:0",
        "--fault-500",
        "1.5",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "it never listened");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rate_500 must be between 0 and 1"), "{err}");
}

#[test]
fn delete_user_makes_the_running_servers_exports_answer_410() {
    let db = Db::seeded("demo");
    let token = db.token("alice");
    let server = Server::start(db.path(), &[]);
    let me = server
        .request("GET", "/api/v1/me", Some(&token), None)
        .expect(200);
    let id = me.body["id"].as_i64().expect("an id");
    let open = server
        .request(
            "POST",
            &format!("/api/v1/users/{id}/exports"),
            Some(&token),
            Some(&json!({})),
        )
        .expect(201);
    let export = open.body["export_id"].as_str().expect("an export id");
    let posts = format!("/api/v1/users/{id}/exports/{export}/posts?limit=5");
    server
        .request("GET", &posts, Some(&token), None)
        .expect(200);

    // The command runs beside the server, on the same database file.
    let out = platform(&["delete-user", "--db", db.arg(), "--user", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("account alice is marked deleted"),
        "it says what it did"
    );

    let gone = server
        .request("GET", &posts, Some(&token), None)
        .expect(410);
    assert_eq!(
        gone.header("content-type"),
        Some("application/problem+json"),
        "{gone:?}"
    );
    server
        .request(
            "GET",
            &format!("/api/v1/users/{id}/exports/{export}/profile"),
            Some(&token),
            None,
        )
        .expect(410);
}

#[test]
fn delete_user_of_an_unknown_login_fails_and_says_so() {
    let db = Db::seeded("demo");
    let out = platform(&["delete-user", "--db", db.arg(), "--user", "nobody"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nobody"), "the message names the login: {err}");
}
