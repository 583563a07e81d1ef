//! `keyward replay` as a user runs it: the worked example of the README (a replay with one
//! disagreement and a diff with two changes), broken inputs (truncated gzip, invalid JSON, a record
//! missing fields, an unknown identity type) that are each reported and counted while the rest
//! of the replay completes, standard input, `--emit-requests`, and exit codes.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn keyward(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.unwrap_or_default());
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const WORLD: &str = "corpus/cloudtrail/example/world.json";
const TIGHT: &str = "corpus/cloudtrail/example/world-tightened.json";
const LOGS: &str = "corpus/cloudtrail/example/logs";

fn example_records() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LOGS).join(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/05/04/111122223333_CloudTrail_us-east-1_20260504T0915Z_ExampleReplay0001.json",
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["Records"].as_array().unwrap().clone()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn worked_example_replay_reports_the_disagreement_with_its_reason() {
    let out = keyward(&["replay", "--world", WORLD, LOGS], None);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a disagreement exits 1: {stdout}"
    );
    assert!(
        stdout.contains("replayed 11 records from 2 inputs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("agreement with AWS: 7 agree, 1 disagree"),
        "{stdout}"
    );
    assert!(stdout.contains("record 6 (eventID e0e0e0e0-0000-4000-8000-000000000007): AWS allowed, keyward ImplicitDeny"), "{stdout}");
    assert!(
        stdout.contains("missing: no-identity-policy-allow"),
        "{stdout}"
    );

    let out = keyward(&["replay", "--world", WORLD, "--json", LOGS], None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["records"], 11);
    assert_eq!(v["totals"]["kms_records"], 10);
    assert_eq!(v["totals"]["skipped_non_kms"], 1);
    assert_eq!(v["totals"]["skipped_not_authorization"], 1);
    assert_eq!(v["totals"]["evaluated"], 9);
    assert_eq!(
        v["decisions"],
        serde_json::json!({"Allow": 6, "ExplicitDeny": 1, "ImplicitDeny": 2})
    );
    assert_eq!(
        v["recorded"]["other_error_codes"]["KMSInvalidStateException"],
        1
    );
    assert_eq!(v["comparison"]["not_compared"], 1);
    let d = &v["disagreements"][0];
    assert_eq!(d["source"]["record"], 6);
    assert_eq!(d["recorded"], "allowed");
    assert_eq!(d["request"]["action"], "kms:ScheduleKeyDeletion");
    assert_eq!(
        d["decision"]["explanation"]["missing"],
        "no-identity-policy-allow"
    );
    assert_eq!(
        v["top_denied"]["principals"][0]["principal"],
        "arn:aws:iam::111122223333:user/Alice"
    );
}

#[test]
fn worked_example_diff_lists_the_two_changed_records() {
    let out = keyward(
        &[
            "replay",
            "--world",
            WORLD,
            "--against",
            TIGHT,
            "--json",
            LOGS,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "changes exit 1");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff = &v["diff"];
    assert_eq!(diff["changed"], 2);
    assert_eq!(diff["allow_to_deny"], 2);
    let groups = diff["groups"].as_array().unwrap();
    let records: Vec<(u64, &str)> = groups
        .iter()
        .map(|g| {
            (
                g["records"][0]["record"].as_u64().unwrap(),
                g["before"]["reasons"].as_array().unwrap().last().unwrap()["sid"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(records, [(3, "UsePayrollKey"), (1, "AppThroughS3")]);
    let text_out = text(
        &keyward(
            &["replay", "--world", WORLD, "--against", TIGHT, LOGS],
            None,
        )
        .stdout,
    );
    assert!(
        text_out.contains(
            "decisions that change with the second world: 2 (2 allow → deny, 0 deny → allow)"
        ),
        "{text_out}"
    );
    assert!(
        text_out.contains("after : ImplicitDeny (no-identity-policy-allow)"),
        "{text_out}"
    );
}

/// A folder of logs, some broken in every way the issue names.
fn broken_logs(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let records = example_records();
    let doc = |rs: &[Value]| serde_json::json!({"Records": rs}).to_string();
    // A whole, good file.
    std::fs::write(logs.join("a-good.json"), doc(&records[..3])).unwrap();
    // A gzip cut in half: the records before the cut still count.
    let mut many = Vec::new();
    for i in 0..400 {
        let mut r = records[0].clone();
        r["eventID"] = format!("gz-{i}").into();
        many.push(r);
    }
    let gz = gzip(doc(&many).as_bytes());
    std::fs::write(logs.join("b-truncated.json.gz"), &gz[..gz.len() / 2]).unwrap();
    // Invalid JSON: a record with a broken value, then text that is not JSON at all.
    let good = records[0].to_string();
    std::fs::write(
        logs.join("c-invalid.json"),
        format!("{{\"Records\": [{good}, {{\"eventName\": \"Decrypt\", \"eventTime\": }}]}}"),
    )
    .unwrap();
    std::fs::write(logs.join("d-garbage.json"), "this is not a log").unwrap();
    // A record missing eventName and one with an unknown identity type, beside a good one.
    let mut missing = records[1].clone();
    missing.as_object_mut().unwrap().remove("eventName");
    let mut unknown = records[0].clone();
    unknown["userIdentity"] =
        serde_json::json!({"type": "SAMLUser", "principalId": "SAML:bob", "userName": "bob"});
    std::fs::write(
        logs.join("e-fields.json"),
        doc(&[missing, unknown, records[2].clone()]),
    )
    .unwrap();
    // JSON Lines with a wrong-typed field on line 2.
    let mut wrong = records[0].clone();
    wrong["eventTime"] = 5.into();
    std::fs::write(
        logs.join("f-lines.jsonl"),
        format!("{}\n{}\n{}\n", records[0], wrong, records[1]),
    )
    .unwrap();
    logs
}

#[test]
fn broken_inputs_are_reported_counted_and_the_replay_completes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = broken_logs(dir.path());
    let logs = logs.to_str().unwrap();
    let out = keyward(&["replay", "--world", WORLD, "--json", logs], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad records exit 1: {}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds = &v["bad_by_kind"];
    assert_eq!(kinds["truncated-gzip"], 1, "{kinds}");
    assert_eq!(kinds["invalid-json"], 2, "{kinds}");
    assert_eq!(kinds["missing-field"], 1, "{kinds}");
    assert_eq!(kinds["unknown-identity-type"], 1, "{kinds}");
    assert_eq!(kinds["invalid-field"], 1, "{kinds}");
    assert_eq!(v["totals"]["bad_records"], 6);
    let bad: Vec<(String, u64, String, String)> = v["bad_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let file = b["source"]["file"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            (
                file,
                b["source"]["record"].as_u64().unwrap(),
                b["kind"].as_str().unwrap().to_owned(),
                b["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let where_: Vec<(&str, u64, &str)> = bad
        .iter()
        .map(|(f, r, k, _)| (f.as_str(), *r, k.as_str()))
        .collect();
    let truncated_at = where_[0].1;
    assert_eq!(
        where_,
        [
            ("b-truncated.json.gz", truncated_at, "truncated-gzip"),
            ("c-invalid.json", 1, "invalid-json"),
            ("d-garbage.json", 1, "invalid-json"),
            ("e-fields.json", 0, "missing-field"),
            ("e-fields.json", 1, "unknown-identity-type"),
            ("f-lines.jsonl", 2, "invalid-field"),
        ]
    );
    assert!(
        truncated_at > 10 && truncated_at < 400,
        "records before the cut are read: {truncated_at}"
    );
    assert!(
        bad[0].3.contains("gzip")
            && bad[0]
                .3
                .contains(&format!("records from {truncated_at} on are lost")),
        "{}",
        bad[0].3
    );
    assert!(bad[3].3.contains("eventName"), "{}", bad[3].3);
    assert!(bad[4].3.contains("SAMLUser"), "{}", bad[4].3);
    assert!(bad[5].3.starts_with("line 2:"), "{}", bad[5].3);
    // Everything else was decided: the good file, the records before the cut, the record before
    // the broken one, the good record beside the bad ones, and the two good lines.
    let evaluated = v["totals"]["evaluated"].as_u64().unwrap();
    assert_eq!(evaluated, 3 + truncated_at + 1 + 1 + 2);
    assert_eq!(v["totals"]["records"].as_u64().unwrap(), evaluated + 6);

    let out = keyward(&["replay", "--world", WORLD, logs], None);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("bad records                       6"),
        "{stdout}"
    );
    assert!(
        stdout.contains("e-fields.json record 1: userIdentity.type \"SAMLUser\""),
        "{stdout}"
    );
}

#[test]
fn standard_input_json_lines_and_an_agreeing_replay_exit_0() {
    let records = example_records();
    let lines: String = records[..3].iter().map(|r| format!("{r}\n")).collect();
    let out = keyward(&["replay", "--world", WORLD, "-"], Some(lines.as_bytes()));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("agreement with AWS: 3 agree, 0 disagree"),
        "{stdout}"
    );
    // Gzip on standard input is recognized by its magic bytes.
    let out = keyward(
        &["replay", "--world", WORLD, "--json", "-"],
        Some(&gzip(lines.as_bytes())),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["comparison"]["agreements"], 3);
}

#[test]
fn emit_requests_needs_no_world() {
    let out = keyward(&["replay", "--emit-requests", LOGS], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        10,
        "one line per KMS record; the S3 record prints nothing"
    );
    let first = &lines[0];
    assert_eq!(
        first["principal"],
        "arn:aws:sts::111122223333:assumed-role/AppRole/app-session"
    );
    assert_eq!(first["action"], "kms:Decrypt");
    assert_eq!(
        first["context"]["kms:ViaService"],
        "s3.us-east-1.amazonaws.com"
    );
    assert_eq!(first["source"]["record"], 0);
    assert_eq!(
        first["source"]["eventID"],
        "e0e0e0e0-0000-4000-8000-000000000001"
    );
    assert!(lines.iter().any(|l| l["skipped"]
        .as_str()
        .is_some_and(|s| s.contains("AwsServiceEvent"))));
    // The requests are the request format (docs/formats.md) requests that `keyward check` decides.
    let requests: String = lines
        .iter()
        .filter(|l| l.get("action").is_some())
        .map(|l| format!("{l}\n"))
        .collect();
    let out = keyward(&["check", "--world", WORLD, "-"], Some(requests.as_bytes()));
    assert_eq!(text(&out.stdout).lines().count(), 9);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        keyward(&["replay", LOGS], None).status.code(),
        Some(2),
        "no world"
    );
    assert_eq!(
        keyward(&["replay", "--world", WORLD, "no/such/logs"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        keyward(&["replay", "--world", "no/such/world.json", LOGS], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        keyward(&["replay", "--world", WORLD, "--threads", "0", LOGS], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        keyward(&["replay", "--world", WORLD, "-", "-"], None)
            .status
            .code(),
        Some(2)
    );
}
