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
    assert!(stdout.contains("1 file checked: 1 error,"), "{stdout}");
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

const ROOT_DECRYPT: &str = r#"{"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#;

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn test_on_a_mixed_directory_skips_what_is_not_a_test_file() {
    // corpus/ holds worlds, request streams and CloudTrail beside the conformance cases.
    let out = keyward(&["test", "corpus"], None);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: skipped"), "{stderr}");
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");
    // Shared worlds the cases load with world_file are no surprise: no warning for them.
    assert!(!stderr.contains("conformance/worlds"), "{stderr}");
}

#[test]
fn test_with_no_case_fails_clearly() {
    let out = keyward(&["test", "corpus/cloudtrail"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no test cases found in corpus/cloudtrail"));
    let out = keyward(
        &[
            "test",
            "corpus/conformance",
            "--filter",
            "no such case at all",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("matching --filter"));
}

#[test]
fn test_names_a_bad_file_once_when_given_explicitly() {
    let out = keyward(&["test", "corpus/default/requests.jsonl"], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.matches("corpus/default/requests.jsonl").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("not a test-case file"), "{stderr}");
}

#[test]
fn test_filters_and_reports_for_ci() {
    let out = keyward(
        &[
            "test",
            "corpus/conformance",
            "--filter",
            "lockout",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(
        !cases.is_empty() && cases.len() < 100,
        "{} cases",
        cases.len()
    );
    assert_eq!(report["passed"], cases.len());
    assert!(cases.iter().all(|c| {
        let hay = format!("{} {}", c["name"], c["origin"]).to_lowercase();
        hay.contains("lockout")
    }));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.jsonl");
    let world = r#"{"keys": [{"arn": "arn:aws:kms:us-west-2:111122223333:key/k1", "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]}}]}"#;
    let request = r#"{"principal": "arn:aws:iam::111122223333:user/bob", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-west-2:111122223333:key/k1"}"#;
    std::fs::write(
        &file,
        format!(
            "{{\"name\": \"bob <needs> IAM & more\", \"world\": {world}, \"request\": {request}, \"expect\": \"Allow\"}}\n\
             {{\"name\": \"bob denied\", \"world\": {world}, \"request\": {request}, \"expect\": \"ImplicitDeny\"}}\n"
        ),
    )
    .unwrap();
    let out = keyward(&["test", file.to_str().unwrap(), "--format", "junit"], None);
    let xml = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("name=\"bob &lt;needs&gt; IAM &amp; more\">"),
        "{xml}"
    );
    assert!(xml.contains("<failure message="), "{xml}");
    assert!(
        xml.contains("<testcase classname=") && xml.contains("name=\"bob denied\"/>"),
        "{xml}"
    );
}

#[test]
fn counts_read_in_the_right_number() {
    let out = keyward(&["validate", "corpus/default/world.json"], None);
    assert!(text(&out.stdout).contains("1 file checked: 0 errors, 0 warnings"));
    // Piped output is never coloured.
    assert!(!text(&out.stdout).contains('\x1b'));
    let out = keyward(&["test", "corpus/conformance", "--filter", "E69"], None);
    assert!(!text(&out.stdout).contains('\x1b'));
}

#[test]
fn validate_reads_what_import_and_worlds_read() {
    let out = keyward(&["validate", "corpus/import"], None);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(" 0 errors"),
        "{}",
        text(&out.stdout)
    );
    // The policy inside get-key-policy's output is checked as a key policy.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key-policy.json");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]}"#;
    let output = serde_json::json!({"Policy": doc, "PolicyName": "default"});
    std::fs::write(&file, output.to_string()).unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("Policy: Statement[0] field Condition.IpAddress.aws:SourceIp"),
        "{}",
        text(&out.stdout)
    );
    // And so is a policy given as a JSON string, as a world's key `policy` may be.
    std::fs::write(&file, serde_json::Value::from(doc).to_string()).unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("aws:SourceIp"));
}

#[test]
fn check_answers_every_line_in_place() {
    let world = "corpus/default/world.json";
    let input = format!(
        "{}\nnot json\n{ROOT_DECRYPT}\n",
        ROOT_DECRYPT.replacen('{', "{\"id\": \"first\", ", 1)
    );
    let out = keyward(&["check", "--world", world], Some(&input));
    assert_eq!(out.status.code(), Some(2), "a bad line exits 2 at the end");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "one output line per input line");
    assert_eq!(lines[0]["id"], "first");
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(lines[2]["decision"], "Allow");
    assert!(lines[2].get("id").is_none());

    // A JSON array and the HTTP batch body decide the same requests, ids echoed.
    let bad = r#"{"id": 7, "principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrpyt", "resource": "*"}"#;
    for body in [
        format!("[{ROOT_DECRYPT}, {bad}]"),
        format!("{{\"requests\": [{ROOT_DECRYPT}, {bad}]}}"),
    ] {
        let out = keyward(&["check", "--world", world], Some(&body));
        assert_eq!(out.status.code(), Some(2));
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 2, "{body}");
        assert_eq!(lines[0]["decision"], "Allow");
        assert_eq!(lines[1]["id"], 7);
        assert!(lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("did you mean \"kms:Decrypt\"?"));
    }
}

#[test]
fn check_flag_form_asks_every_action_on_every_resource() {
    let key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let args = [
        "check",
        "--world",
        "corpus/default/world.json",
        "--principal",
        "arn:aws:iam::111122223333:user/bob",
        "--action",
        "kms:Decrypt",
        "--action",
        "kms:DescribeKey",
        "--resource",
        key,
        "--resource",
        "arn:aws:kms:us-west-2:111122223333:alias/app-data",
    ];
    let out = keyward(&args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 5, "a header and 2 × 2 rows: {table}");
    assert!(
        rows[0].starts_with("#") && rows[0].contains("decision"),
        "{table}"
    );
    assert!(
        rows[1].contains("kms:Decrypt") && rows[1].contains("ImplicitDeny"),
        "{table}"
    );
    assert!(
        rows[4].contains("kms:DescribeKey") && rows[4].contains("alias/app-data"),
        "{table}"
    );

    let mut json_args = args.to_vec();
    json_args.extend([
        "--output",
        "json",
        "--fail-on-deny",
        "--context",
        "kms:ViaService=s3.us-west-2.amazonaws.com",
    ]);
    let out = keyward(&json_args, None);
    assert_eq!(out.status.code(), Some(1), "bob is denied");
    assert_eq!(json_lines(&out).len(), 4);

    let out = keyward(
        &[
            "check",
            "--world",
            "corpus/default/world.json",
            "--output",
            "text",
        ],
        Some(ROOT_DECRYPT),
    );
    let line = text(&out.stdout);
    assert!(
        line.starts_with("Allow arn:aws:iam::111122223333:root kms:Decrypt on "),
        "{line}"
    );
    assert!(line.contains("key-policy #0"), "{line}");
}

#[test]
fn typos_get_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    let policy = |condition: &str| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "111122223333"}}, "Action": "kms:Decrpyt", "Resource": "*", "Condition": {condition}}}]}}"#
        )
    };
    std::fs::write(
        &file,
        policy(r#"{"StringEqualz": {"kms:ViaService": "x"}}"#),
    )
    .unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("did you mean \"StringEquals\"?"),
        "{stdout}"
    );

    std::fs::write(
        &file,
        policy(r#"{"StringEquals": {"kms:ViaServce": "x"}, "DateLessThan": {"aws:CurrentTime": "20260101"}}"#),
    )
    .unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "warnings alone exit 0: {stdout}");
    assert!(
        stdout.contains("did you mean \"kms:ViaService\"?"),
        "{stdout}"
    );
    assert!(stdout.contains("write 2026-01-01"), "{stdout}");
    assert!(stdout.contains("did you mean \"kms:Decrypt\"?"), "{stdout}");

    std::fs::write(
        &file,
        policy(r#"{"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00+99:99"}}"#),
    )
    .unwrap();
    let out = keyward(&["validate", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

#[test]
fn completions_and_man_page_generate() {
    for shell in ["bash", "zsh", "fish"] {
        let out = keyward(&["completions", shell], None);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("keyward") && script.contains("validate"),
            "{shell}"
        );
    }
    let out = keyward(&["man"], None);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH keyward"),
        "{page}"
    );
}

#[test]
fn help_points_to_docs_not_to_outside_files() {
    for command in [
        "check", "test", "validate", "replay", "import", "serve", "bench", "gen",
    ] {
        let out = keyward(&[command, "--help"], None);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{command}");
        for outside in [
            "SPEC", "Part A", "B.1", "B.2", "B.3", "B.4", "B.5", "B.6", "§",
        ] {
            assert!(
                !help.contains(outside),
                "{command} --help cites {outside}: {help}"
            );
        }
    }
}

/// The `keyward ...` commands of the README's shell blocks that read the repository's corpus run
/// as written from the repository root: no missing file, no usage error.
#[test]
fn readme_commands_run_as_written() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let line = line.split(" # ").next().unwrap_or(line).trim();
        pending.push_str(line.trim_end_matches('\\'));
        pending.push(' ');
        if !line.ends_with('\\') {
            let command = std::mem::take(&mut pending);
            if command.starts_with("keyward ")
                && command.contains("corpus/")
                && !command.contains('|')
            {
                commands.push(command);
            }
        }
    }
    assert!(
        commands
            .iter()
            .filter(|c| c.starts_with("keyward replay"))
            .count()
            >= 2,
        "{commands:?}"
    );
    for command in &commands {
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let out = keyward(&args, None);
        let stderr = text(&out.stderr);
        assert_ne!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(!stderr.contains("No such file"), "{command}: {stderr}");
    }
}
