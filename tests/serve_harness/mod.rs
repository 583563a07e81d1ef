//! Starting the real `keyward serve` binary for integration tests, and talking to it over TCP
//! (ureq) or a unix socket (plain HTTP/1.1 by hand). Every wait is bounded, and a server is
//! killed when its handle is dropped, so a failing test never leaves a process behind.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The key every test world defines.
pub const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

/// A world whose role `app` may call `action` on [`KEY`] (the key policy delegates to the
/// account, the role's identity policy allows `action`).
pub fn world_allowing(action: &str) -> Value {
    json!({
        "keys": [{
            "arn": KEY,
            "policy": {"Version": "2012-10-17", "Statement": [{
                "Sid": "Root", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*", "Resource": "*"}]}
        }],
        "principals": [{
            "arn": "arn:aws:iam::111122223333:role/app",
            "policies": [{"Version": "2012-10-17", "Statement": [{
                "Sid": "Use", "Effect": "Allow", "Action": action, "Resource": "*"}]}]
        }]
    })
}

/// A request by a session of role `app` for `action` on [`KEY`].
pub fn request(action: &str) -> Value {
    json!({
        "principal": "arn:aws:sts::111122223333:assumed-role/app/s1",
        "action": action,
        "resource": KEY,
    })
}

/// A running `keyward serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` (empty when serving only on a unix socket).
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `keyward serve --world WORLD ARGS...` on a free loopback port (unless `args`
    /// give `--unix` alone) and waits until it listens.
    pub fn start(world: &Path, args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
        cmd.arg("serve").arg("--world").arg(world).args(args);
        let unix_only = args.contains(&"--unix") && !args.contains(&"--listen");
        if !unix_only && !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .args(["--threads", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            stderr,
        };
        let ready = if unix_only {
            "listening on unix:"
        } else {
            "listening on http://"
        };
        if !server.wait_for_log(ready, Duration::from_secs(60)) {
            panic!("keyward serve did not start:\n{}", server.log());
        }
        if !unix_only {
            let log = server.log();
            let at = log.find("listening on http://").unwrap() + "listening on ".len();
            // The address ends the line (text logs) or the message string (JSON logs).
            let rest = log[at..].lines().next().unwrap();
            server.base = rest.split('"').next().unwrap().trim().to_owned();
        }
        server
    }

    /// Everything the server has written to stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `limit` for `needle` to appear on stderr.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.log().contains(needle))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the server to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        call("POST", &self.url(path), &body.to_string(), None)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Answer {
        call("GET", &self.url(path), "", None)
    }

    /// The serving world's version, from `GET /v1/world`.
    pub fn version(&self) -> u64 {
        self.get("/v1/world").json()["version"].as_u64().unwrap()
    }

    /// The decision on `request` (`Allow`, `ExplicitDeny`, `ImplicitDeny`).
    pub fn decide(&self, request: &Value) -> String {
        let a = self.post("/v1/authorize", request);
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["decision"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The `x-keyward-world-version` header.
    pub version: Option<u64>,
    pub content_type: Option<String>,
    /// The `x-keyward-decision-id` header.
    pub decision_id: Option<String>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP call with any status accepted; `token` adds a bearer token.
pub fn call(method: &str, url: &str, body: &str, auth: Option<&str>) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent.request(method, url);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    let result = if method == "GET" {
        req.call()
    } else {
        req.send_string(body)
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let version = response
        .header("x-keyward-world-version")
        .and_then(|v| v.parse().ok());
    let content_type = response.header("content-type").map(str::to_owned);
    let decision_id = response.header("x-keyward-decision-id").map(str::to_owned);
    let body = response.into_string().unwrap_or_default();
    Answer {
        status,
        body,
        version,
        content_type,
        decision_id,
    }
}

/// One HTTP/1.1 exchange over a unix socket: returns the status and the body.
pub fn call_unix(socket: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream =
        std::os::unix::net::UnixStream::connect(socket).expect("connect to the socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes a file atomically (write to a temporary name, then rename), as deploy tools do.
pub fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
