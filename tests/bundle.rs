//! World bundles end to end (docs/bundles.md): `keyward bundle build/verify/keygen`, and
//! `keyward serve --bundle` polling a bundle server started by the test: ETag hits, new
//! revisions, bad signatures, hostile archives, the server going down, readiness before the
//! first bundle, and a fleet of sidecars converging on a new revision.

mod serve_harness;

use serde_json::Value;
use serve_harness::{call, request, wait_until, world_allowing, Answer};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn keyward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("keyward runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds a bundle of `world` (written as `dir/world/world.json`) with `args` and returns its bytes.
fn build(dir: &Path, name: &str, world: &Value, args: &[&str]) -> Vec<u8> {
    let wdir = dir.join(format!("{name}-world"));
    std::fs::create_dir_all(&wdir).unwrap();
    std::fs::write(wdir.join("world.json"), world.to_string()).unwrap();
    let out_path = dir.join(format!("{name}.tar.gz"));
    let mut all = vec![
        "bundle",
        "build",
        wdir.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = keyward(&all);
    assert!(out.status.success(), "bundle build failed: {}", text(&out));
    std::fs::read(out_path).unwrap()
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let out = keyward(&["bundle", "keygen", "--out", private.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    (private.clone(), dir.join(format!("{name}.pem.pub")))
}

/// A tiny HTTP server for one bundle: answers `GET` with the bundle and its `ETag`, or `304`
/// when `If-None-Match` names it; remembers every `If-None-Match` it was sent.
struct BundleServer {
    url: String,
    state: Arc<Mutex<Served>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Served {
    /// The status, ETag and body served (`None`: 404).
    bundle: Option<(String, Vec<u8>)>,
    /// The If-None-Match header of each request, in order.
    seen: Vec<Option<String>>,
}

impl BundleServer {
    fn start() -> BundleServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!(
            "http://{}/bundles/world.tar.gz",
            listener.local_addr().unwrap()
        );
        let state = Arc::new(Mutex::new(Served::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, halt) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream, &st),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        BundleServer {
            url,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn publish(&self, etag: &str, bytes: Vec<u8>) {
        self.state.lock().unwrap().bundle = Some((format!("\"{etag}\""), bytes));
    }

    fn requests(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Stops answering: connections are refused from now on.
    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for BundleServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn answer(stream: std::net::TcpStream, state: &Mutex<Served>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_owned());
            }
        }
    }
    let mut st = state.lock().unwrap();
    st.seen.push(if_none_match.clone());
    let mut out = stream;
    let _ = match &st.bundle {
        None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Some((etag, _)) if if_none_match.as_deref() == Some(etag.as_str()) => out.write_all(
            format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Some((etag, body)) => out
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| out.write_all(body)),
    };
}

/// A running `keyward serve --bundle`.
struct Sidecar {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Sidecar {
    fn start(args: &[&str]) -> Sidecar {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--threads", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward starts");
        let log = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut sidecar = Sidecar {
            child,
            base: String::new(),
            log,
        };
        let started = wait_until(LONG, || sidecar.log().contains("listening on http://"));
        assert!(started, "keyward serve did not start:\n{}", sidecar.log());
        let log = sidecar.log();
        let at = log.find("listening on http://").unwrap() + "listening on ".len();
        sidecar.base = log[at..].lines().next().unwrap().trim().to_owned();
        sidecar
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn get(&self, path: &str) -> Answer {
        call("GET", &format!("{}{path}", self.base), "", None)
    }

    fn bundle(&self) -> Value {
        self.get("/health").json()["bundle"].clone()
    }

    fn revision(&self) -> Option<String> {
        self.bundle()["revision"].as_str().map(str::to_owned)
    }

    fn decide(&self, action: &str) -> String {
        let a = call(
            "POST",
            &format!("{}/v1/authorize", self.base),
            &request(action).to_string(),
            None,
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["decision"].as_str().unwrap().to_owned()
    }

    fn metric(&self, line_start: &str) -> Option<f64> {
        let text = self.get("/metrics").body;
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Waits until the last poll's result is `result` and returns the bundle status.
    fn wait_result(&self, result: &str) -> Value {
        let ok = wait_until(LONG, || self.bundle()["last_result"] == result);
        assert!(
            ok,
            "no poll ended {result}: {}\n{}",
            self.bundle(),
            self.log()
        );
        self.bundle()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn build_verify_and_keygen_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path(), "release");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&private).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the private key is readable by its owner only"
    );
    let bytes = build(
        dir.path(),
        "one",
        &world_allowing("kms:Encrypt"),
        &[
            "--revision",
            "2026-12-02.1",
            "--sign",
            private.to_str().unwrap(),
        ],
    );
    let file = dir.path().join("one.tar.gz");
    assert!(!bytes.is_empty());
    let out = keyward(&[
        "bundle",
        "verify",
        file.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["revision"], "2026-12-02.1");
    assert_eq!(v["signature"], "ed25519-verified");
    assert_eq!(v["keys"], 1);
    assert_eq!(v["files"][0]["name"], "world.json");
    // Another key's public half refuses it.
    let (_, other) = keygen(dir.path(), "other");
    let out = keyward(&[
        "bundle",
        "verify",
        file.to_str().unwrap(),
        "--public-key",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not match"), "{}", text(&out));
    // A world that does not load is refused with the loader's error, and nothing is written.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("w.json"), r#"{"keys": [{"arn": "nope"}]}"#).unwrap();
    let out_path = dir.path().join("bad.tar.gz");
    let out = keyward(&[
        "bundle",
        "build",
        bad.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("w.json"),
        "names the file: {}",
        text(&out)
    );
    assert!(!out_path.exists());
    // A key made by openssl signs as well, when openssl is installed.
    let ossl = dir.path().join("ossl.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&ossl)
        .output();
    if made.is_ok_and(|o| o.status.success()) {
        let pubout = Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&ossl)
            .output()
            .unwrap();
        let ossl_pub = dir.path().join("ossl.pub");
        std::fs::write(&ossl_pub, &pubout.stdout).unwrap();
        build(
            dir.path(),
            "two",
            &world_allowing("kms:Encrypt"),
            &["--sign", ossl.to_str().unwrap()],
        );
        let two = dir.path().join("two.tar.gz");
        let out = keyward(&[
            "bundle",
            "verify",
            two.to_str().unwrap(),
            "--public-key",
            ossl_pub.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// A `.tar.gz` of raw entries, as a hostile server could send.
fn hostile(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, kind, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(bytes.len() as u64);
        h.set_entry_type(*kind);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        tar.append(&h, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_sidecar_follows_its_bundle_and_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path(), "release");
    let (intruder, _) = keygen(dir.path(), "intruder");
    let sign = private.to_str().unwrap();
    let mut server = BundleServer::start();
    server.publish(
        "r1",
        build(
            dir.path(),
            "r1",
            &world_allowing("kms:Encrypt"),
            &["--revision", "r1", "--sign", sign],
        ),
    );
    let sidecar = Sidecar::start(&[
        "--bundle",
        &server.url,
        "--bundle-poll",
        "1s",
        "--bundle-public-key",
        public.to_str().unwrap(),
        "--bundle-max-bytes",
        "200000",
    ]);

    // The first bundle loads and serves.
    let ok = wait_until(LONG, || sidecar.revision().as_deref() == Some("r1"));
    assert!(
        ok,
        "r1 never loaded: {}\n{}",
        sidecar.bundle(),
        sidecar.log()
    );
    assert_eq!(sidecar.decide("kms:Encrypt"), "Allow");
    assert_eq!(sidecar.decide("kms:Decrypt"), "ImplicitDeny");
    let b = sidecar.bundle();
    assert_eq!(b["etag"], "\"r1\"");
    assert_eq!(b["signature"], "ed25519-verified");
    assert_eq!(sidecar.get("/ready").status, 200);
    let world = sidecar.get("/v1/world").json();
    assert_eq!(world["bundle"]["revision"], "r1");
    let version = world["version"].as_u64().unwrap();

    // ETag hit: the next polls send If-None-Match, get 304 and reload nothing.
    let polled = server.requests().len();
    let hit = wait_until(LONG, || server.requests().len() >= polled + 2);
    assert!(hit, "no further polls");
    assert!(server.requests()[polled..]
        .iter()
        .all(|inm| inm.as_deref() == Some("\"r1\"")));
    sidecar.wait_result("not_modified");
    assert_eq!(
        sidecar.get("/v1/world").json()["version"].as_u64(),
        Some(version)
    );
    assert!(
        sidecar
            .metric("keyward_bundle_polls_total{result=\"not_modified\"}")
            .unwrap()
            >= 1.0
    );

    // A new revision is swapped in.
    server.publish(
        "r2",
        build(
            dir.path(),
            "r2",
            &world_allowing("kms:Decrypt"),
            &["--revision", "r2", "--sign", sign],
        ),
    );
    let ok = wait_until(LONG, || sidecar.revision().as_deref() == Some("r2"));
    assert!(ok, "r2 never loaded: {}", sidecar.bundle());
    assert_eq!(sidecar.decide("kms:Decrypt"), "Allow");
    assert_eq!(sidecar.decide("kms:Encrypt"), "ImplicitDeny");
    assert_eq!(
        sidecar.get("/v1/world").json()["version"].as_u64(),
        Some(version + 1)
    );
    assert_eq!(
        sidecar.metric("keyward_bundle_info{revision=\"r2\",etag=\"\\\"r2\\\"\""),
        Some(1.0)
    );

    // A bundle signed by another key is refused; r2 keeps serving and the error is reported.
    server.publish(
        "r3",
        build(
            dir.path(),
            "r3",
            &world_allowing("kms:*"),
            &["--revision", "r3", "--sign", intruder.to_str().unwrap()],
        ),
    );
    // (The poll after a refusal is a 304 for the same bundle, so wait on the error itself.)
    let ok = wait_until(LONG, || {
        sidecar.bundle()["last_error"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("signature does not match"))
    });
    assert!(ok, "r3 not refused: {}", sidecar.bundle());
    let b = sidecar.bundle();
    assert!(
        ["rejected", "not_modified"].contains(&b["last_result"].as_str().unwrap()),
        "{b}"
    );
    assert_eq!(b["revision"], "r2");
    assert_eq!(b["failing"], true);
    assert_eq!(
        sidecar.decide("kms:Encrypt"),
        "ImplicitDeny",
        "the refused world never served"
    );
    assert_eq!(
        sidecar.get("/ready").status,
        200,
        "the last good bundle still serves"
    );
    // The refused bundle is not downloaded again: the next polls are 304s that stay failing.
    let b = sidecar.wait_result("not_modified");
    assert_eq!(b["failing"], true, "{b}");

    // Hostile and oversized archives are refused the same way.
    for (etag, bytes, expect) in [
        (
            "evil1",
            hostile(&[("../../etc/cron.d/x.json", tar::EntryType::Regular, b"{}")]),
            "no directories",
        ),
        (
            "evil2",
            hostile(&[("world.json", tar::EntryType::Symlink, b"")]),
            "symbolic link",
        ),
        ("big", vec![0x1f; 300_000], "over the limit"),
    ] {
        server.publish(etag, bytes);
        let ok = wait_until(LONG, || {
            let b = sidecar.bundle();
            b["last_error"]["error"]
                .as_str()
                .is_some_and(|e| e.contains(expect))
        });
        assert!(
            ok,
            "{etag} not refused with {expect:?}: {}",
            sidecar.bundle()
        );
        assert_eq!(sidecar.revision().as_deref(), Some("r2"));
    }
    assert!(
        sidecar
            .metric("keyward_bundle_polls_total{result=\"rejected\"}")
            .unwrap()
            >= 4.0
    );

    // The server goes down: r2 keeps serving, the failure is reported.
    server.shut_down();
    let b = sidecar.wait_result("unreachable");
    assert_eq!(b["revision"], "r2");
    assert!(
        b["last_error"]["error"]
            .as_str()
            .unwrap()
            .contains(&server.url),
        "{b}"
    );
    assert_eq!(sidecar.decide("kms:Decrypt"), "Allow");
    assert_eq!(sidecar.metric("keyward_bundle_failing"), Some(1.0));
    assert_eq!(sidecar.get("/ready").status, 200);
}

#[test]
fn without_a_world_the_sidecar_is_unready_until_its_first_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let server = BundleServer::start();
    let sidecar = Sidecar::start(&["--bundle", &server.url, "--bundle-poll", "1s"]);
    sidecar.wait_result("http_error");
    let ready = sidecar.get("/ready");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(
        ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("no bundle"),
        "{}",
        ready.body
    );
    assert_eq!(sidecar.get("/health").json()["status"], "degraded");
    assert_eq!(
        sidecar.decide("kms:Encrypt"),
        "ImplicitDeny",
        "an empty world allows nothing"
    );
    server.publish(
        "a",
        build(
            dir.path(),
            "a",
            &world_allowing("kms:Encrypt"),
            &["--digest"],
        ),
    );
    let ok = wait_until(LONG, || sidecar.get("/ready").status == 200);
    assert!(ok, "never ready: {}", sidecar.bundle());
    assert_eq!(sidecar.bundle()["signature"], "sha256-digest");
    assert_eq!(sidecar.decide("kms:Encrypt"), "Allow");
    assert_eq!(sidecar.metric("keyward_ready"), Some(1.0));
}

#[test]
fn a_fleet_of_three_converges_on_a_new_revision() {
    let dir = tempfile::tempdir().unwrap();
    let server = BundleServer::start();
    server.publish(
        "v1",
        build(
            dir.path(),
            "v1",
            &world_allowing("kms:Encrypt"),
            &["--revision", "v1"],
        ),
    );
    let fleet: Vec<Sidecar> = (0..3)
        .map(|_| Sidecar::start(&["--bundle", &server.url, "--bundle-poll", "1s"]))
        .collect();
    for s in &fleet {
        assert!(
            wait_until(LONG, || s.revision().as_deref() == Some("v1")),
            "{}",
            s.log()
        );
    }
    server.publish(
        "v2",
        build(
            dir.path(),
            "v2",
            &world_allowing("kms:Decrypt"),
            &["--revision", "v2"],
        ),
    );
    let published = Instant::now();
    for s in &fleet {
        assert!(
            wait_until(LONG, || s.revision().as_deref() == Some("v2")),
            "{}",
            s.log()
        );
    }
    // One poll interval is 1 s (± a tenth); the figure is printed, not asserted, since the
    // machine may be busy.
    eprintln!("fleet of 3 converged on v2 in {:?}", published.elapsed());
    for s in &fleet {
        assert_eq!(s.decide("kms:Decrypt"), "Allow");
    }
}

#[test]
fn bad_arguments_are_refused_before_serving() {
    let out = keyward(&["serve", "--bundle", "ftp://x/b.tar.gz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("http:// or https://"), "{}", text(&out));
    let out = keyward(&[
        "serve",
        "--bundle",
        "http://127.0.0.1:9/b",
        "--bundle-poll",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = keyward(&[
        "serve",
        "--bundle",
        "http://127.0.0.1:9/b",
        "--bundle-public-key",
        "/nonexistent.pem",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/nonexistent.pem"), "{}", text(&out));
    let out = keyward(&["serve"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--world or --bundle is required"
    );
}
