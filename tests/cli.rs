//! The command line as a user drives it: the conformance corpus through `keyward test`, decisions
//! through `keyward check`, malformed input through every reader, and exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn keyward(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keyward runs");
    let mut input = child.stdin.take().unwrap();
    // keyward may exit before reading its input (a bad world): a broken pipe is fine.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn conformance_corpus_passes_through_keyward_test() {
    let out = keyward(&["test", "corpus/conformance"], None);
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    let (passed, failed) = last
        .split_once(" passed, ")
        .expect("closing line N passed, M failed");
    let passed: usize = passed.parse().unwrap();
    assert!(passed >= 250, "only {passed} conformance cases");
    assert_eq!(failed, "0 failed", "{stdout}");
    assert!(out.status.success());
}

#[test]
fn failing_case_is_reported_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let case = r#"{"cases": [{"name": "wrong on purpose", "why": "checks the runner",
        "world": {"keys": [{"arn": "arn:aws:kms:us-west-2:111122223333:key/k1",
          "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]}}]},
        "request": {"principal": "arn:aws:iam::111122223333:user/bob", "action": "kms:Decrypt",
          "resource": "arn:aws:kms:us-west-2:111122223333:key/k1"},
        "expect": "Allow"}]}"#;
    let file = dir.path().join("cases.json");
    std::fs::write(&file, case).unwrap();
    let out = keyward(&["test", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("FAIL  wrong on purpose"), "{stdout}");
    assert!(stdout.contains("expected: Allow"), "{stdout}");
    assert!(
        stdout.contains("no identity policy"),
        "explanation names the missing layer: {stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("0 passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn check_decides_one_request_and_json_lines() {
    let world = r#"{"keys": [{"arn": "arn:aws:kms:us-west-2:111122223333:key/k1",
        "policy": {"Version": "2012-10-17", "Statement": [{"Sid": "Root", "Effect": "Allow",
          "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]}}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let wpath = dir.path().join("world.json");
    std::fs::write(&wpath, world).unwrap();
    let w = wpath.to_str().unwrap();
    let root = r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-west-2:111122223333:key/k1"}"#;
    let bob = r#"{"principal": "arn:aws:iam::111122223333:user/bob", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-west-2:111122223333:key/k1"}"#;

    let out = keyward(&["check", "--world", w], Some(root));
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(d["decision"], "Allow");
    assert_eq!(d["reasons"][0]["source"], "key-policy");
    assert_eq!(d["reasons"][0]["sid"], "Root");

    let out = keyward(
        &["check", "--world", w, "--explain", "--fail-on-deny", "-"],
        Some(&format!("{root}\n{bob}\n")),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a deny with --fail-on-deny exits 1"
    );
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(lines[1]["decision"], "ImplicitDeny");
    assert_eq!(
        lines[1]["explanation"]["missing"],
        "no-identity-policy-allow"
    );

    let out = keyward(
        &["check", "--world", w],
        Some(
            r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Nope", "resource": "*"}"#,
        ),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("request field action"),
        "{}",
        text(&out.stderr)
    );
}

/// Every file under corpus/invalid is a malformed world: loading it exits 2 and names the place.
#[test]
fn malformed_worlds_exit_2_naming_the_place() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("corpus/invalid"))
        .expect("corpus/invalid exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "expected a malformed world of each kind");
    for file in files {
        let f = file.to_str().unwrap();
        let out = keyward(&["check", "--world", f], Some("{}"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{f}: {stderr}");
        assert!(
            stderr.contains(f),
            "{f}: the message names the file: {stderr}"
        );
        if !file.ends_with("bad-json.json") {
            assert!(
                stderr.contains("field") || stderr.contains("duplicate key"),
                "{f}: the message names the field: {stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{f}: {stderr}");
        let out = keyward(&["validate", f], None);
        assert_eq!(out.status.code(), Some(2), "validate {f}");
    }
}

#[test]
fn validate_reports_statement_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(
        &file,
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}]}"#,
    )
    .unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("Statement[0] (Sid \"A\") field Condition.IpAddress.aws:SourceIp"),
        "{stdout}"
    );
    assert!(stdout.contains("1 files checked: 1 errors"), "{stdout}");
}

#[test]
fn readme_main_command_runs_on_the_default_corpus() {
    let out = keyward(
        &[
            "check",
            "--world",
            "corpus/default/world.json",
            "--explain",
            "corpus/default/requests.jsonl",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let decisions: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(decisions.len() >= 10);
    for outcome in ["Allow", "ExplicitDeny", "ImplicitDeny"] {
        assert!(
            decisions.iter().any(|d| d["decision"] == outcome),
            "the demo shows an {outcome}"
        );
    }
}

#[test]
fn no_input_panics() {
    let inputs = [
        "",
        "null",
        "[]",
        "{\"principal\": null}",
        "{\"principal\": \"*\", \"action\": \"kms:Decrypt\", \"resource\": \"x\"}",
        "\u{0}\u{1}",
    ];
    let world = repo("corpus/default/world.json");
    for input in inputs {
        let out = keyward(&["check", "--world", world.to_str().unwrap()], Some(input));
        assert!(!text(&out.stderr).contains("panicked"), "{input:?}");
    }
}

#[test]
fn gen_then_bench_with_a_baseline_gate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let gen = keyward(
        &[
            "gen",
            "--keys",
            "50",
            "--principals",
            "30",
            "--seed",
            "3",
            "--requests",
            "500",
            "--out",
            out,
        ],
        None,
    );
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let again = tempfile::tempdir().unwrap();
    keyward(
        &[
            "gen",
            "--keys",
            "50",
            "--principals",
            "30",
            "--seed",
            "3",
            "--requests",
            "500",
            "--out",
            again.path().to_str().unwrap(),
        ],
        None,
    );
    for f in ["world.json", "requests.jsonl"] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(again.path().join(f)).unwrap(),
            "{f} is deterministic per seed"
        );
    }
    let world = dir.path().join("world.json");
    let requests = dir.path().join("requests.jsonl");
    let baseline = dir.path().join("baseline.json");
    let (w, r, b) = (
        world.to_str().unwrap(),
        requests.to_str().unwrap(),
        baseline.to_str().unwrap(),
    );
    let run = keyward(
        &[
            "bench",
            "--world",
            w,
            "--requests",
            r,
            "--seconds",
            "0.05",
            "--threads",
            "2",
            "--json",
            "--save-baseline",
            b,
        ],
        None,
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value = serde_json::from_str(text(&run.stdout).trim()).unwrap();
    for field in [
        "/single_thread/checks_per_sec",
        "/multi_thread/checks_per_sec",
        "/compile_ms",
    ] {
        assert!(
            report
                .pointer(field)
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|v| v > 0.0),
            "{field} in {report}"
        );
    }
    assert_eq!(report["multi_thread"]["threads"], 2);
    assert!(report["world_bytes"].is_u64());
    // A baseline a thousand times faster than this machine is a regression: exit 1.
    let mut fast = report.clone();
    for p in ["single_thread", "multi_thread"] {
        fast[p]["checks_per_sec"] =
            serde_json::json!(report[p]["checks_per_sec"].as_f64().unwrap() * 1000.0);
    }
    std::fs::write(&baseline, fast.to_string()).unwrap();
    let gate = keyward(
        &[
            "bench",
            "--world",
            w,
            "--requests",
            r,
            "--seconds",
            "0.05",
            "--baseline",
            b,
        ],
        None,
    );
    assert_eq!(gate.status.code(), Some(1), "{}", text(&gate.stderr));
    assert!(text(&gate.stderr).contains("regression"));
    // Against a baseline a thousand times slower, the gate passes.
    for p in ["single_thread", "multi_thread"] {
        fast[p]["checks_per_sec"] =
            serde_json::json!(report[p]["checks_per_sec"].as_f64().unwrap() / 1000.0);
    }
    fast["single_thread"]["resolved_checks_per_sec"] = serde_json::json!(1.0);
    std::fs::write(&baseline, fast.to_string()).unwrap();
    let gate = keyward(
        &[
            "bench",
            "--world",
            w,
            "--requests",
            r,
            "--seconds",
            "0.05",
            "--baseline",
            b,
        ],
        None,
    );
    assert!(gate.status.success(), "{}", text(&gate.stderr));
}

/// `keyward gen --cloudtrail N` writes logs that `keyward replay` reproduces exactly.
#[test]
fn generated_cloudtrail_replays_with_full_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let gen = keyward(
        &[
            "gen",
            "--keys",
            "80",
            "--principals",
            "60",
            "--seed",
            "5",
            "--requests",
            "10",
            "--cloudtrail",
            "3000",
            "--records-per-file",
            "700",
            "--out",
            out,
        ],
        None,
    );
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let logs = dir.path().join("cloudtrail");
    assert!(logs.join("AWSLogs").is_dir(), "S3 layout");
    let world = dir.path().join("world.json");
    let run = keyward(
        &[
            "replay",
            "--json",
            "--world",
            world.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        None,
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&run.stdout)).unwrap();
    assert_eq!(report["comparison"]["agreements"], 3000, "{report}");
    assert_eq!(report["comparison"]["disagreements"], 0);
}
