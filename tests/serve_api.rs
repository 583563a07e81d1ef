//! `keyward serve` as a sidecar user drives it: every route of docs/http-api.md on the real binary over
//! loopback, the admin token, body limits, malformed input, reloads that are rejected or
//! accepted (PUT, SIGHUP, file and directory watching), the unix socket, the decision log and
//! graceful shutdown.

mod serve_harness;

use keyward::engine::Engine;
use serde_json::{json, Value};
use serve_harness::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A temporary directory holding `world.json` = `world`.
fn world_file(world: &Value) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    (dir, path)
}

fn demo_requests() -> Vec<Value> {
    std::fs::read_to_string(repo("corpus/default/requests.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn authorize_and_batch_answer_exactly_what_the_engine_decides() {
    let world_path = repo("corpus/default/world.json");
    let engine = Engine::compile(keyward::World::load(&world_path).unwrap());
    let server = Server::start(&world_path, &["--no-watch"]);
    let requests = demo_requests();
    assert!(requests.len() >= 5);
    let mut expected = Vec::new();
    for r in &requests {
        let (request, _) = keyward::Request::from_value(r).unwrap();
        let want = engine.decide(&request).to_value(None);
        let a = server.post("/v1/authorize", r);
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json(), want, "request {r}");
        assert_eq!(a.version, Some(1));
        assert_eq!(a.content_type.as_deref(), Some("application/json"));
        expected.push(want);
    }
    let outcomes: std::collections::HashSet<String> = expected
        .iter()
        .map(|d| d["decision"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        outcomes.len() >= 2,
        "the demo requests should not all decide alike"
    );

    let batch = server.post("/v1/authorize/batch", &json!({ "requests": requests }));
    assert_eq!(batch.status, 200, "{}", batch.body);
    assert_eq!(batch.json()["decisions"], Value::Array(expected.clone()));
    let empty = server.post("/v1/authorize/batch", &json!({"requests": []}));
    assert_eq!(empty.json(), json!({"decisions": []}));

    // ?explain adds the explanation.
    let explained = server.post("/v1/authorize?explain", &requests[0]);
    assert!(
        explained.json()["explanation"].is_object(),
        "{}",
        explained.body
    );

    // Unknown fields are ignored with a warning, never silently.
    let mut extra = requests[0].clone();
    extra["colour"] = "blue".into();
    let warned = server.post("/v1/authorize", &extra).json();
    assert_eq!(warned["decision"], expected[0]["decision"]);
    assert!(
        warned["warnings"][0].as_str().unwrap().contains("colour"),
        "{warned}"
    );

    // The metrics counted every decision, by outcome.
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.unwrap().starts_with("text/plain"));
    let allows = expected.iter().filter(|d| d["decision"] == "Allow").count();
    // Each request was decided three times (single, batch, and the explain or warning rounds
    // for the first one only), so count from the single and batch rounds.
    let mut allow_total = 2 * allows;
    if expected[0]["decision"] == "Allow" {
        allow_total += 2;
    }
    let line = format!("keyward_checks_total{{decision=\"Allow\"}} {allow_total}\n");
    assert!(
        metrics.body.contains(&line),
        "want {line} in\n{}",
        metrics.body
    );
    assert!(metrics
        .body
        .contains("keyward_request_duration_seconds_count{route=\"batch\"} 2\n"));
    assert!(metrics.body.contains("keyward_world_version 1\n"));
}

#[test]
fn world_health_and_metrics_describe_the_serving_world() {
    let world_path = repo("corpus/default/world.json");
    let world = keyward::World::load(&world_path).unwrap();
    let server = Server::start(&world_path, &["--no-watch"]);
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let info = server.get("/v1/world").json();
    assert_eq!(info["version"], 1);
    assert_eq!(info["counts"]["keys"], world.keys.len());
    assert_eq!(info["counts"]["principals"], world.principals.len());
    assert_eq!(info["counts"]["grants"], world.grants.len());
    assert_eq!(info["trigger"], "start");
    assert!(info["loaded_at"].as_str().unwrap().ends_with('Z'), "{info}");
    let metrics = server.get("/metrics").body;
    let keys = format!(
        "keyward_world_objects{{kind=\"keys\"}} {}\n",
        world.keys.len()
    );
    assert!(metrics.contains(&keys), "{metrics}");
    assert_eq!(server.get("/no/such/route").status, 404);
}

#[test]
fn admin_token_guards_world_replacement() {
    let (dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "  let-me-in\n").unwrap();
    let server = Server::start(
        &path,
        &[
            "--no-watch",
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let new_world = world_allowing("kms:Encrypt").to_string();
    let url = server.url("/v1/world");
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer let-me-i"),
        Some("let-me-in"),
        Some("Basic let-me-in"),
    ] {
        let a = call("PUT", &url, &new_world, auth);
        assert_eq!(a.status, 401, "{auth:?}: {}", a.body);
        assert!(a.json()["error"].as_str().unwrap().contains("Bearer"));
    }
    assert_eq!(server.version(), 1);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    let a = call("PUT", &url, &new_world, Some("Bearer let-me-in"));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["version"], 2);
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    // Checks never need the token.
    assert_eq!(server.decide(&request("kms:Encrypt")), "Allow");
    assert!(server
        .get("/metrics")
        .body
        .contains("keyward_errors_total{kind=\"unauthorized\"} 5\n"));
}

#[test]
fn bodies_over_the_limit_get_413_and_a_deny() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(
        &path,
        &[
            "--no-watch",
            "--max-body-bytes",
            "2000",
            "--max-world-bytes",
            "3000",
        ],
    );
    let mut big = request("kms:Decrypt");
    big["encryption_context"] = json!({"pad": "x".repeat(5000)});
    for route in ["/v1/authorize", "/v1/authorize/batch"] {
        let body = if route.ends_with("batch") {
            json!({"requests": [big.clone()]})
        } else {
            big.clone()
        };
        let a = server.post(route, &body);
        assert_eq!(a.status, 413, "{route}: {}", a.body);
        assert_eq!(a.json()["decision"], "ImplicitDeny");
    }
    // Under the limit, the same request is decided.
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    // Worlds have their own limit.
    let mut world = world_allowing("kms:Encrypt");
    world["keys"][0]["tags"] = json!({"pad": "y".repeat(4000)});
    let a = call("PUT", &server.url("/v1/world"), &world.to_string(), None);
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(server.version(), 1);
    assert!(server
        .get("/metrics")
        .body
        .contains("keyward_errors_total{kind=\"too_large\"} 3\n"));
}

#[test]
fn malformed_input_gets_400_naming_the_field() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    let url = server.url("/v1/authorize");
    let cases: &[(&str, &str)] = &[
        ("{\"principal\": ", "(request)"),
        ("not json", "(request)"),
        ("[1, 2]", "(request)"),
        (
            r#"{"principal": 5, "action": "kms:Decrypt", "resource": "*"}"#,
            "principal",
        ),
        (
            r#"{"principal": "arn:aws:iam::111122223333:root", "resource": "*"}"#,
            "action",
        ),
        (
            r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Fly", "resource": "*"}"#,
            "action",
        ),
        (
            r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt", "resource": "*", "context": []}"#,
            "context",
        ),
        (
            r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt", "action": "kms:Encrypt", "resource": "*"}"#,
            "(request)",
        ),
    ];
    for (body, field) in cases {
        let a = call("POST", &url, body, None);
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        let v = a.json();
        assert_eq!(v["field"], *field, "{body}: {v}");
        assert_eq!(v["decision"], "ImplicitDeny", "{body}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let dup = call("POST", &url, cases[7].0, None).json();
    assert!(
        dup["error"].as_str().unwrap().contains("duplicate key"),
        "{dup}"
    );

    let batch = server.url("/v1/authorize/batch");
    let batch_cases: Vec<(String, &str)> = vec![
        (json!({"requests": {}}).to_string(), "requests"),
        (json!({"reqs": []}).to_string(), "requests"),
        ("{".to_owned(), "(body)"),
    ];
    for (body, field) in &batch_cases {
        let a = call("POST", &batch, body, None);
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(a.json()["field"], *field, "{body}");
        assert_eq!(a.json()["decision"], "ImplicitDeny");
    }
    // The server is still up and deciding.
    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
}

#[test]
fn rejected_reload_keeps_the_old_world_and_a_good_one_changes_decisions() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    let url = server.url("/v1/world");
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");

    let mut bad = world_allowing("kms:Encrypt");
    bad["keys"][0]["arn"] = json!(5);
    bad["principals"][0]["policies"][0]["Statement"][0]["Effect"] = json!("Perhaps");
    for body in [bad.to_string(), "{not json".to_owned(), "[]".to_owned()] {
        let a = call("PUT", &url, &body, None);
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        let v = a.json();
        assert_eq!(v["version"], 1);
        assert!(!v["errors"].as_array().unwrap().is_empty(), "{v}");
    }
    let v = call("PUT", &url, &bad.to_string(), None).json();
    let places: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["place"].as_str().unwrap())
        .collect();
    assert!(places.iter().any(|p| p.contains("keys[0]")), "{places:?}");
    assert!(
        places
            .iter()
            .any(|p| p.contains("Effect") || p.contains("principals[0]")),
        "{places:?}"
    );
    assert_eq!(server.version(), 1);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    assert_eq!(server.decide(&request("kms:Encrypt")), "ImplicitDeny");
    assert!(server
        .get("/metrics")
        .body
        .contains("keyward_reloads_total{trigger=\"put\",result=\"failed\"} 4\n"));

    let a = call(
        "PUT",
        &url,
        &world_allowing("kms:Encrypt").to_string(),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["version"], 2);
    assert_eq!(a.json()["counts"]["keys"], 1);
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    assert_eq!(server.decide(&request("kms:Encrypt")), "Allow");
    let answer = server.post("/v1/authorize", &request("kms:Encrypt"));
    assert_eq!(answer.version, Some(2));
    let info = server.get("/v1/world").json();
    assert_eq!(
        (info["version"].as_u64(), info["trigger"].as_str()),
        (Some(2), Some("put"))
    );
}

#[test]
fn sighup_reloads_the_world_file_and_keeps_the_old_world_when_it_is_broken() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");

    replace_file(&path, "{\"keys\": [");
    server.signal("HUP");
    assert!(
        server.wait_for_log("rejected world", Duration::from_secs(20)),
        "{}",
        server.log()
    );
    assert_eq!(server.version(), 1);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");

    replace_file(&path, &world_allowing("kms:Encrypt").to_string());
    // --no-watch: nothing changes until SIGHUP.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.version(), 1);
    server.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(20), || server.version() == 2),
        "{}",
        server.log()
    );
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    assert_eq!(server.decide(&request("kms:Encrypt")), "Allow");
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("keyward_reloads_total{trigger=\"sighup\",result=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyward_reloads_total{trigger=\"sighup\",result=\"failed\"} 1\n"),
        "{metrics}"
    );
}

#[test]
fn a_changed_world_file_is_reloaded_without_a_signal() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--watch-debounce-ms", "50"]);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    replace_file(&path, &world_allowing("kms:Encrypt").to_string());
    assert!(
        wait_until(Duration::from_secs(20), || server.version() >= 2),
        "{}",
        server.log()
    );
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    // Written in place (truncate and write) works too.
    let before = server.version();
    std::fs::write(&path, world_allowing("kms:Sign").to_string()).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || server.version() > before),
        "{}",
        server.log()
    );
    assert_eq!(server.decide(&request("kms:Sign")), "Allow");
}

#[test]
fn a_world_directory_is_watched_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_allowing("kms:Decrypt");
    std::fs::write(
        dir.path().join("keys.json"),
        json!({"keys": world["keys"]}).to_string(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--watch-debounce-ms", "50"]);
    // No principal yet: the role has no identity policy.
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    replace_file(
        &dir.path().join("principals.json"),
        &json!({"principals": world["principals"]}).to_string(),
    );
    assert!(
        wait_until(Duration::from_secs(20), || server.version() >= 2),
        "{}",
        server.log()
    );
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    assert_eq!(server.get("/v1/world").json()["counts"]["principals"], 1);
}

#[test]
fn unix_socket_serves_the_same_api() {
    let (dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let socket = dir.path().join("keyward.sock");
    let mut server = Server::start(&path, &["--no-watch", "--unix", socket.to_str().unwrap()]);
    let (status, body) = call_unix(&socket, "GET", "/health", "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = call_unix(
        &socket,
        "POST",
        "/v1/authorize",
        &request("kms:Decrypt").to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["decision"],
        "Allow"
    );
    let (status, _) = call_unix(
        &socket,
        "PUT",
        "/v1/world",
        &world_allowing("kms:Encrypt").to_string(),
    );
    assert_eq!(status, 200);
    let (_, body) = call_unix(
        &socket,
        "POST",
        "/v1/authorize",
        &request("kms:Decrypt").to_string(),
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["decision"],
        "ImplicitDeny"
    );
    // Shutdown removes the socket.
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{}", server.log());
    assert!(!socket.exists());
}

#[test]
fn decision_log_records_every_decision_and_shutdown_is_clean() {
    let (dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let log_path = dir.path().join("decisions.jsonl");
    let mut server = Server::start(
        &path,
        &["--no-watch", "--decision-log", log_path.to_str().unwrap()],
    );
    let mut with_context = request("kms:Decrypt");
    with_context["encryption_context"] = json!({"tenant": "acme-secret"});
    let first = server.post("/v1/authorize", &with_context);
    assert_eq!(first.json()["decision"], "Allow");
    let second = server.post("/v1/authorize", &request("kms:Encrypt"));
    assert_eq!(second.json()["decision"], "ImplicitDeny");
    let batch = server.post(
        "/v1/authorize/batch",
        &json!({"requests": [request("kms:Decrypt"), request("kms:Sign")]}),
    );
    assert_eq!(batch.status, 200);
    let ids: Vec<String> = [&first, &second, &batch]
        .iter()
        .map(|a| a.decision_id.clone().expect("a decision id header"))
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    // A malformed request is answered but not logged as a decision.
    assert_eq!(
        call("POST", &server.url("/v1/authorize"), "{", None).status,
        400
    );
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{}", server.log());
    assert!(server.log().contains("draining"), "{}", server.log());
    assert!(!server.log().contains("did not finish"), "{}", server.log());
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    let decisions: Vec<&str> = lines
        .iter()
        .map(|l| l["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["Allow", "ImplicitDeny", "Allow", "ImplicitDeny"]
    );
    let logged: Vec<&str> = lines
        .iter()
        .map(|l| l["decision_id"].as_str().unwrap())
        .collect();
    let batch_items = [format!("{}.0", ids[2]), format!("{}.1", ids[2])];
    assert_eq!(
        logged,
        [&ids[0], &ids[1], &batch_items[0], &batch_items[1]],
        "{text}"
    );
    // Encryption-context values are hashed by default.
    assert!(!text.contains("acme-secret"), "{text}");
    let masked = lines[0]["request"]["encryption_context"]["tenant"]
        .as_str()
        .unwrap();
    assert!(masked.starts_with("sha256:"), "{masked}");
    for l in &lines {
        assert_eq!(l["world_version"], 1);
        assert!(l["latency_us"].is_u64());
        assert!(l["reasons"].is_array());
        assert_eq!(
            l["request"]["principal"],
            "arn:aws:sts::111122223333:assumed-role/app/s1"
        );
    }
}

#[test]
fn a_world_that_does_not_load_stops_startup_with_exit_2() {
    let (_dir, path) = world_file(&json!({"keys": [{"arn": 1}]}));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["serve", "--listen", "127.0.0.1:0", "--world"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keys[0]"));
}

#[test]
fn batches_decided_on_all_cores_answer_the_same_in_order() {
    let world_path = repo("corpus/default/world.json");
    let engine = Engine::compile(keyward::World::load(&world_path).unwrap());
    let server = Server::start(&world_path, &["--no-watch", "--parallel-batch-min", "2"]);
    // Enough requests for several rayon chunks.
    let requests: Vec<Value> = demo_requests().into_iter().cycle().take(150).collect();
    let expected: Vec<Value> = requests
        .iter()
        .map(|r| {
            engine
                .decide(&keyward::Request::from_value(r).unwrap().0)
                .to_value(None)
        })
        .collect();
    let batch = server.post("/v1/authorize/batch", &json!({ "requests": requests }));
    assert_eq!(batch.status, 200, "{}", batch.body);
    assert_eq!(batch.json()["decisions"], Value::Array(expected.clone()));
    // Malformed requests get an error in their place, named by their position in the batch
    // whichever chunk they fell in; every other request is decided.
    let mut bad = requests.clone();
    bad[70]["action"] = json!(1);
    bad[140]["resource"] = json!(2);
    let a = server.post("/v1/authorize/batch", &json!({ "requests": bad }));
    assert_eq!(a.status, 200, "{}", a.body);
    let decisions = a.json()["decisions"].as_array().unwrap().clone();
    assert_eq!(decisions.len(), 150);
    assert_eq!(decisions[70]["field"], "requests[70].action");
    assert_eq!(decisions[140]["field"], "requests[140].resource");
    for (i, d) in decisions.iter().enumerate() {
        if i == 70 || i == 140 {
            assert_eq!(d["decision"], "ImplicitDeny");
            assert!(d["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("requests[{i}].")));
        } else {
            assert_eq!(*d, expected[i], "request {i}");
        }
    }
}

#[test]
fn shutdown_drains_a_request_in_flight() {
    use std::io::{Read, Write};
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let mut server = Server::start(&path, &["--no-watch"]);
    let body = request("kms:Decrypt").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Half a request, then SIGTERM, then the rest: the answer must still come.
    write!(
        stream,
        "POST /v1/authorize HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    assert!(
        server.wait_for_log("draining", Duration::from_secs(10)),
        "{}",
        server.log()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.wait_exit(Duration::from_millis(1)).is_none(),
        "exited with a request in flight"
    );
    stream.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"decision\":\"Allow\""), "{answer}");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("exits once drained");
    assert!(status.success());
    // New connections are refused once it is gone.
    assert!(std::net::TcpStream::connect(&address).is_err());
}

#[test]
fn a_world_behind_swapped_symlinks_is_followed() {
    // The layout Kubernetes gives a mounted ConfigMap: world.json -> ..data/world.json, and an
    // update writes a new directory and renames a new ..data symlink over the old one.
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("..v1")).unwrap();
    std::fs::write(
        d.join("..v1/world.json"),
        world_allowing("kms:Decrypt").to_string(),
    )
    .unwrap();
    symlink("..v1", d.join("..data")).unwrap();
    symlink("..data/world.json", d.join("world.json")).unwrap();
    let server = Server::start(&d.join("world.json"), &["--watch-debounce-ms", "50"]);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");

    // Two updates: the second must be seen although the first removed the directory the world
    // was first read from.
    let update = |old: &str, new: &str, action: &str| {
        std::fs::create_dir(d.join(new)).unwrap();
        std::fs::write(
            d.join(new).join("world.json"),
            world_allowing(action).to_string(),
        )
        .unwrap();
        symlink(new, d.join("..data_tmp")).unwrap();
        std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
        std::fs::remove_dir_all(d.join(old)).unwrap();
    };
    let allowed = |action: &str| {
        wait_until(Duration::from_secs(20), || {
            server.decide(&request(action)) == "Allow"
        })
    };
    update("..v1", "..v2", "kms:Encrypt");
    assert!(allowed("kms:Encrypt"), "{}", server.log());
    assert_eq!(server.decide(&request("kms:Decrypt")), "ImplicitDeny");
    update("..v2", "..v3", "kms:Sign");
    assert!(allowed("kms:Sign"), "{}", server.log());
    assert_eq!(server.decide(&request("kms:Encrypt")), "ImplicitDeny");
}

#[test]
fn a_bad_item_in_a_batch_gets_an_error_in_place_and_the_others_are_decided() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    let bad = json!({"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt", "resource": 7});
    let a = server.post(
        "/v1/authorize/batch",
        &json!({"requests": [request("kms:Decrypt"), bad, request("kms:Encrypt")]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let d = a.json()["decisions"].clone();
    assert_eq!(d.as_array().unwrap().len(), 3, "{d}");
    assert_eq!(d[0]["decision"], "Allow");
    assert_eq!(d[1]["decision"], "ImplicitDeny");
    assert_eq!(d[1]["field"], "requests[1].resource");
    assert!(
        d[1]["error"]
            .as_str()
            .unwrap()
            .contains("requests[1].resource"),
        "{d}"
    );
    assert_eq!(d[1]["reasons"], json!([]));
    assert_eq!(d[2]["decision"], "ImplicitDeny");
    assert!(d[2].get("error").is_none(), "{d}");
    assert!(server
        .get("/metrics")
        .body
        .contains("keyward_errors_total{kind=\"bad_request\"} 1\n"));
}

#[test]
fn a_broken_world_file_makes_the_server_unready_and_health_says_why() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--watch-debounce-ms", "50"]);
    let health = server.get("/health").json();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["ready"], true);
    assert_eq!(health["last_reload_error"], Value::Null);
    assert!(health["world_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(server.get("/ready").status, 200);

    replace_file(&path, "{\"keys\": [");
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/ready").status
            == 503),
        "{}",
        server.log()
    );
    let health = server.get("/health");
    assert_eq!(
        health.status, 200,
        "liveness holds while the old world serves"
    );
    let health = health.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["ready"], false);
    assert_eq!(health["world_version"], 1);
    let error = &health["last_reload_error"];
    assert_eq!(error["trigger"], "watch", "{health}");
    assert_eq!(error["outcome"], "rejected");
    assert_eq!(error["source"], path.display().to_string());
    assert!(
        error["error"].as_str().unwrap().contains("invalid JSON"),
        "{health}"
    );
    assert!(error["time"].as_str().unwrap().ends_with('Z'));
    let ready = server.get("/ready").json();
    assert!(
        ready["reason"].as_str().unwrap().contains("failed"),
        "{ready}"
    );
    let world = server.get("/v1/world").json();
    assert_eq!(world["last_reload_error"], *error);
    assert_eq!(world["ready"], false);
    // The old world keeps deciding.
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");

    // A good world makes it ready again; the error stays on record.
    replace_file(&path, &world_allowing("kms:Encrypt").to_string());
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/ready").status
            == 200),
        "{}",
        server.log()
    );
    let health = server.get("/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["world_version"], 2);
    assert_eq!(health["last_reload"]["outcome"], "applied");
    assert_eq!(health["last_reload_error"]["outcome"], "rejected");
}

#[test]
fn a_grace_keeps_the_server_ready_through_a_failed_reload() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch", "--ready-grace-secs", "3600"]);
    replace_file(&path, "{");
    server.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/health").json()
            ["last_reload_error"]
            .is_object()),
        "{}",
        server.log()
    );
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn a_put_world_pins_until_the_file_changes_content() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--watch-debounce-ms", "50"]);
    let put = call(
        "PUT",
        &server.url("/v1/world"),
        &world_allowing("kms:Encrypt").to_string(),
        None,
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["outcome"], "applied");
    let world = server.get("/v1/world").json();
    assert_eq!(world["pinned"], true, "{world}");
    assert_eq!(world["source"], "PUT /v1/world");
    assert_eq!(world["version"], 2);

    // The file rewritten with the same content: the PUT world stays.
    let same = std::fs::read_to_string(&path).unwrap();
    replace_file(&path, &same);
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/v1/world").json()
            ["last_reload"]["outcome"]
            == "pinned"),
        "{}",
        server.log()
    );
    assert_eq!(server.version(), 2);
    assert_eq!(server.decide(&request("kms:Encrypt")), "Allow");

    // New content in the file wins and unpins.
    replace_file(&path, &world_allowing("kms:Sign").to_string());
    assert!(
        wait_until(Duration::from_secs(20), || server.version() == 3),
        "{}",
        server.log()
    );
    let world = server.get("/v1/world").json();
    assert_eq!(world["pinned"], false, "{world}");
    assert_eq!(world["source"], path.display().to_string());
    assert_eq!(server.decide(&request("kms:Sign")), "Allow");
    assert_eq!(server.decide(&request("kms:Encrypt")), "ImplicitDeny");
}

#[test]
fn identical_content_keeps_the_version() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    let hash = server.get("/v1/world").json()["hash"].clone();
    server.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/v1/world").json()
            ["last_reload"]["outcome"]
            == "unchanged"),
        "{}",
        server.log()
    );
    let world = server.get("/v1/world").json();
    assert_eq!(
        (world["version"].clone(), world["hash"].clone()),
        (json!(1), hash.clone())
    );
    // The same bytes by PUT change nothing either.
    let same = std::fs::read_to_string(&path).unwrap();
    let put = call("PUT", &server.url("/v1/world"), &same, None).json();
    assert_eq!(put["outcome"], "unchanged", "{put}");
    assert_eq!(put["version"], 1);
    assert_eq!(put["hash"], hash);
    // Answers of one shape: warnings are a list and milliseconds are rounded.
    assert!(
        put["warnings"].is_array() && world["warnings"].is_array(),
        "{world}"
    );
    let ms = world["compile_ms"].as_f64().unwrap();
    assert_eq!((ms * 100.0).round() / 100.0, ms, "{world}");
}

#[test]
fn a_file_vanishing_from_a_watched_directory_keeps_the_old_world() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_allowing("kms:Decrypt");
    std::fs::write(
        dir.path().join("keys.json"),
        json!({"keys": world["keys"]}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("principals.json"),
        json!({"principals": world["principals"]}).to_string(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--watch-debounce-ms", "50"]);
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    // A deploy deletes, then (later) writes: in between the smaller world must not serve.
    std::fs::remove_file(dir.path().join("principals.json")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/ready").status
            == 503),
        "{}",
        server.log()
    );
    assert_eq!(server.version(), 1);
    let error = server.get("/health").json()["last_reload_error"]["error"].clone();
    assert!(error.as_str().unwrap().contains("vanished"), "{error}");
    std::fs::write(
        dir.path().join("principals.json"),
        json!({"principals": world["principals"]}).to_string(),
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || server.get("/ready").status
            == 200),
        "{}",
        server.log()
    );
    assert_eq!(server.version(), 1, "the same content again");
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
}

#[test]
fn the_decision_log_is_reopened_after_rotation_and_on_sigusr1() {
    let (dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let log_path = dir.path().join("decisions.jsonl");
    let mut server = Server::start(
        &path,
        &[
            "--no-watch",
            "--decision-log",
            log_path.to_str().unwrap(),
            "--decision-log-mask",
            "drop",
        ],
    );
    let lines = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut with_context = request("kms:Decrypt");
    with_context["encryption_context"] = json!({"tenant": "acme"});
    assert_eq!(server.decide(&with_context), "Allow");
    assert!(wait_until(Duration::from_secs(10), || lines(&log_path)
        .len()
        == 1));
    assert!(lines(&log_path)[0]["request"]
        .get("encryption_context")
        .is_none());

    // Rename rotation: the writer notices the path names a new file and reopens it.
    let rotated = dir.path().join("decisions.jsonl.1");
    std::fs::rename(&log_path, &rotated).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            server.decide(&request("kms:Decrypt"));
            std::thread::sleep(Duration::from_millis(50));
            !lines(&log_path).is_empty()
        }),
        "{}",
        server.log()
    );
    // Lines decided before the writer noticed went to the renamed file, whole.
    let before = lines(&rotated);
    assert!(!before.is_empty());
    assert!(before[0]["request"].get("encryption_context").is_none());

    // SIGUSR1 reopens at once (logrotate's postrotate).
    let second = dir.path().join("decisions.jsonl.2");
    std::fs::rename(&log_path, &second).unwrap();
    server.signal("USR1");
    assert!(server.wait_for_log("reopening", Duration::from_secs(10)));
    let id = server
        .post("/v1/authorize", &request("kms:Encrypt"))
        .decision_id
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || lines(&log_path)
            .iter()
            .any(|l| l["decision_id"] == id.as_str())),
        "{}",
        server.log()
    );
    // An external truncate: the next line still starts at a line boundary.
    std::fs::File::create(&log_path).unwrap();
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(20)).unwrap().success());
    for l in std::fs::read_to_string(&log_path).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
        assert!(v["decision_id"].is_string());
    }
}

#[test]
fn lost_decision_log_lines_are_counted() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let metric = |server: &Server| -> u64 {
        let text = server.get("/metrics").body;
        let line = text
            .lines()
            .find(|l| l.starts_with("keyward_decision_log_dropped_total "))
            .unwrap()
            .to_owned();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    // A full disk (/dev/full answers every write with ENOSPC): every line is counted.
    let server = Server::start(&path, &["--no-watch", "--decision-log", "/dev/full"]);
    for _ in 0..3 {
        assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    }
    assert!(
        wait_until(Duration::from_secs(10), || metric(&server) == 3),
        "{}",
        server.log()
    );
    assert!(server.wait_for_log("cannot write the decision log", Duration::from_secs(10)));
    drop(server);
    // A queue bound smaller than one entry: every entry is dropped at once, none is queued.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("d.jsonl");
    let server = Server::start(
        &path,
        &[
            "--no-watch",
            "--decision-log",
            log.to_str().unwrap(),
            "--decision-log-queue-bytes",
            "100",
        ],
    );
    server.post(
        "/v1/authorize/batch",
        &json!({"requests": [request("kms:Decrypt"), request("kms:Sign")]}),
    );
    assert_eq!(metric(&server), 2);
}

#[test]
fn json_logs_and_process_and_reload_age_metrics() {
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch", "--log-format", "json"]);
    server.signal("HUP");
    assert!(
        server.wait_for_log("unchanged", Duration::from_secs(20)),
        "{}",
        server.log()
    );
    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["message"].is_string()));
    let reload = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap().contains("unchanged"))
        .unwrap();
    assert_eq!(reload["outcome"], "unchanged", "{reload}");
    assert_eq!(reload["trigger"], "sighup");
    let metrics = server.get("/metrics").body;
    for needle in [
        "\nprocess_resident_memory_bytes ",
        "\nprocess_open_fds ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_start_time_seconds ",
        "\nkeyward_build_info{version=\"",
        "\nkeyward_world_reload_age_seconds ",
        "\nkeyward_ready 1\n",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }
}

/// Opens a TCP connection to the server with a 10 s read timeout.
fn raw_connection(server: &Server) -> std::net::TcpStream {
    let address = server.base.trim_start_matches("http://");
    let stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; `None` when it is still open after the read
/// timeout.
fn read_until_closed(stream: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&all).into_owned()),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&all).into_owned())
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn a_huge_declared_body_gets_413_without_waiting_for_it() {
    use std::io::Write;
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    for route in ["/v1/authorize", "/v1/authorize/batch", "/v1/world"] {
        let method = if route == "/v1/world" { "PUT" } else { "POST" };
        let mut stream = raw_connection(&server);
        write!(
            stream,
            "{method} {route} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
        )
        .unwrap();
        let answer = read_until_closed(&mut stream).expect("answered without the body");
        assert!(answer.starts_with("HTTP/1.1 413"), "{route}: {answer}");
        if method == "POST" {
            assert!(answer.contains("\"decision\":\"ImplicitDeny\""), "{answer}");
        }
    }
    assert_eq!(server.version(), 1);
}

#[test]
fn slow_or_idle_connections_are_closed() {
    use std::io::Write;
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(
        &path,
        &[
            "--no-watch",
            "--header-timeout-secs",
            "1",
            "--request-timeout-secs",
            "1",
        ],
    );
    // Nothing sent at all, and a head that never ends: both closed by the header timeout.
    let mut idle = raw_connection(&server);
    let mut slow_head = raw_connection(&server);
    slow_head
        .write_all(b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        read_until_closed(&mut idle).is_some(),
        "idle connection left open"
    );
    assert!(
        read_until_closed(&mut slow_head).is_some(),
        "slow head left open"
    );
    // A body that never completes: 408 with a deny.
    let mut slow_body = raw_connection(&server);
    slow_body
        .write_all(b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pri")
        .unwrap();
    let answer = read_until_closed(&mut slow_body).expect("answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"decision\":\"ImplicitDeny\""), "{answer}");
    // The server still answers.
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
}

#[test]
fn connections_over_the_limit_are_closed_and_counted() {
    use std::io::Write;
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch", "--max-connections", "2"]);
    // Two connections hold the two slots (each with a request, so both are surely accepted).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = raw_connection(&server);
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = std::io::Read::read(&mut s, &mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // A third is closed at once, without an answer.
    let mut third = raw_connection(&server);
    let _ = third.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(read_until_closed(&mut third).as_deref(), Some(""));
    // Once a slot is free, the server answers again and has counted the refusal.
    drop(held.pop());
    assert!(wait_until(Duration::from_secs(20), || {
        let mut s = raw_connection(&server);
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        read_until_closed(&mut s).is_some_and(|a| {
            a.starts_with("HTTP/1.1 200") && !a.contains("keyward_connections_rejected_total 0\n")
        })
    }));
}

#[test]
fn a_wrongly_typed_known_context_key_gets_400_naming_the_key() {
    // The key policy denies every call that does not come through endpoint vpce-1: a context
    // value of the wrong shape must not turn that Deny off.
    let mut world = world_allowing("kms:Decrypt");
    world["keys"][0]["policy"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"Sid": "OnlyViaEndpoint", "Effect": "Deny", "Principal": "*",
            "Action": "kms:*", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}),
        );
    let (_dir, path) = world_file(&world);
    let server = Server::start(&path, &["--no-watch"]);
    let with = |context: Value| {
        let mut r = request("kms:Decrypt");
        r["context"] = context;
        r
    };
    for (context, key) in [
        (json!({"aws:SourceVpce": ["vpce-x"]}), "aws:SourceVpce"),
        (json!({"aws:SourceVpce": []}), "aws:SourceVpce"),
        (
            json!({"aws:SourceVpce": "vpce-1", "aws:SourceIp": "10.0.0.1 "}),
            "aws:SourceIp",
        ),
        (
            json!({"aws:SourceVpce": "vpce-1", "aws:SecureTransport": 0}),
            "aws:SecureTransport",
        ),
    ] {
        let a = server.post("/v1/authorize", &with(context.clone()));
        assert_eq!(a.status, 400, "{context}: {}", a.body);
        let v = a.json();
        assert_eq!(v["field"], format!("context.{key}"), "{context}: {v}");
        assert!(v["error"].as_str().unwrap().contains(key), "{v}");
        assert_eq!(v["decision"], "ImplicitDeny", "{v}");
    }
    // Well formed, the same keys are decided: the Deny holds outside the endpoint.
    assert_eq!(
        server.decide(&with(json!({"aws:SourceVpce": "vpce-x"}))),
        "ExplicitDeny"
    );
    assert_eq!(
        server.decide(&with(
            json!({"aws:SourceVpce": "vpce-1", "aws:SourceIp": "::ffff:10.0.0.1"})
        )),
        "Allow"
    );
    // In a batch the bad item gets the error in place; the others are decided.
    let a = server.post(
        "/v1/authorize/batch",
        &json!({"requests": [
            with(json!({"aws:SourceVpce": "vpce-1"})),
            with(json!({"aws:SourceVpce": ["vpce-x"]})),
            with(json!({"aws:SourceVpce": "vpce-x"})),
        ]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let d = a.json()["decisions"].clone();
    assert_eq!(d[0]["decision"], "Allow", "{d}");
    assert_eq!(d[1]["decision"], "ImplicitDeny", "{d}");
    assert_eq!(d[1]["field"], "requests[1].context.aws:SourceVpce", "{d}");
    assert!(
        d[1]["error"].as_str().unwrap().contains("single-valued"),
        "{d}"
    );
    assert_eq!(d[2]["decision"], "ExplicitDeny", "{d}");
}

/// The value of an unlabelled metric in `/metrics`.
fn metric_value(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics").body;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn open_connections_are_gauged() {
    use std::io::{Read, Write};
    let (_dir, path) = world_file(&world_allowing("kms:Decrypt"));
    let server = Server::start(&path, &["--no-watch"]);
    // Only the connection asking counts (the harness closes each of its connections).
    assert!(wait_until(Duration::from_secs(10), || metric_value(
        &server,
        "keyward_open_connections"
    ) == 1.0));
    // Three keep-alive connections, each answered once so each is surely accepted.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = raw_connection(&server);
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    assert!(wait_until(Duration::from_secs(10), || metric_value(
        &server,
        "keyward_open_connections"
    ) == 4.0));
    // Closed by the client: the gauge falls back.
    held.clear();
    assert!(wait_until(Duration::from_secs(10), || metric_value(
        &server,
        "keyward_open_connections"
    ) == 1.0));
}
