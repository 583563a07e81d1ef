//! Generated traffic through CloudTrail and back: a world and a stream of requests of every kind
//! are decided, written as gzipped logs in the S3 layout with the decisions as recorded outcomes,
//! and replayed — through the library and through the `keyward` binary. The replay must
//! reproduce every recorded outcome, and a diff against a tightened copy of the world must list
//! exactly the records whose decision the tightening changes.

use keyward::engine::Engine;
use keyward::replay::map::Recorded;
use keyward::replay::read;
use keyward::replay::run::{self, Options};
use keyward::replay::synth::{event_id, write_logs, LogOptions};
use keyward::replay::time::format_time;
use keyward::{Outcome, Request, World};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const A: &str = "111122223333";
const B: &str = "444455556666";
const START: i64 = 1_777_885_200; // 2026-05-04T09:00:00Z

fn key(i: usize) -> String {
    let region = if i % 2 == 0 { "us-east-1" } else { "us-west-2" };
    let account = if i == 6 { B } else { A };
    format!("arn:aws:kms:{region}:{account}:key/0000000{i}-aaaa-bbbb-cccc-ddddeeeeffff")
}

fn root(account: &str) -> Value {
    json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"})
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A world with a condition on every context key replay supplies.
fn world_json() -> Value {
    let app = format!("arn:aws:iam::{A}:role/service/app");
    json!({
        "accounts": [{"id": A, "org_id": "o-a1b2c3d4e5"}, {"id": B, "org_id": "o-a1b2c3d4e5"}],
        "keys": [
            {"arn": key(0), "aliases": ["alias/app-data"], "policy": policy(vec![root(A),
                json!({"Sid": "AppViaS3", "Effect": "Allow", "Principal": {"AWS": app}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                       "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}})])},
            {"arn": key(1), "aliases": ["alias/payroll"], "policy": policy(vec![root(A),
                json!({"Sid": "OnlyThroughVpce", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                       "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60789"}}})])},
            {"arn": key(2), "policy": policy(vec![root(A),
                json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": B}, "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})])},
            {"arn": key(3), "policy": policy(vec![root(A),
                json!({"Sid": "Trail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
                       "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": format!("arn:aws:cloudtrail:*:{A}:trail/*")}}})])},
            {"arn": key(4), "policy": policy(vec![
                json!({"Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:user/alice")}, "Action": "kms:*", "Resource": "*"}),
                json!({"Sid": "MfaForDeletion", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
                       "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})])},
            {"arn": key(5), "policy": policy(vec![root(A),
                json!({"Sid": "Office", "Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
                       "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {"kms:CallerAccount": A}}}),
                json!({"Sid": "Business hours", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
                       "Condition": {"DateGreaterThan": {"aws:CurrentTime": format_time(START + 1500)}}})])},
            {"arn": key(6), "policy": policy(vec![root(B),
                json!({"Sid": "AppFromA", "Effect": "Allow", "Principal": {"AWS": app}, "Action": "kms:Decrypt", "Resource": "*"})])}
        ],
        "principals": [
            {"arn": format!("arn:aws:iam::{A}:user/alice"), "policies": [policy(vec![
                json!({"Sid": "AllKeysInEast", "Effect": "Allow", "Action": "kms:*", "Resource": format!("arn:aws:kms:us-east-1:{A}:*")}),
                json!({"Sid": "List", "Effect": "Allow", "Action": ["kms:ListAliases", "kms:CreateKey", "kms:GenerateRandom"], "Resource": "*"})])]},
            {"arn": format!("arn:aws:iam::{A}:user/bob"), "policies": [policy(vec![
                json!({"Sid": "Read", "Effect": "Allow", "Action": ["kms:Describe*", "kms:List*"], "Resource": "*"})])]},
            {"arn": format!("arn:aws:iam::{A}:role/service/app"), "policies": [policy(vec![
                json!({"Sid": "Use", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"], "Resource": "*"})])]},
            {"arn": format!("arn:aws:iam::{A}:role/ops"), "policies": [policy(vec![
                json!({"Sid": "Grants", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
                       "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}),
                json!({"Sid": "Aliases", "Effect": "Allow", "Action": ["kms:CreateAlias", "kms:ScheduleKeyDeletion", "kms:RetireGrant"], "Resource": "*"})])]},
            {"arn": format!("arn:aws:iam::{B}:role/dev"), "policies": [policy(vec![
                json!({"Sid": "PartnerKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key(2)})])]}
        ],
        "grants": [
            {"KeyId": key(3), "GrantId": "grant-tenant-acme", "GranteePrincipal": format!("arn:aws:iam::{A}:role/service/app"),
             "RetiringPrincipal": format!("arn:aws:iam::{A}:role/ops"), "Operations": ["Decrypt", "RetireGrant"],
             "Constraints": {"EncryptionContextSubset": {"tenant": "acme"}}}
        ]
    })
}

/// The world with four tightenings: no GenerateDataKey through S3 on key 0, no Encrypt from the
/// office on key 5, alice only describes keys in us-east-1, and she may no longer schedule
/// deletions.
fn tightened(mut w: Value) -> Value {
    w["keys"][0]["policy"]["Statement"][1]["Action"] = json!(["kms:Decrypt"]);
    w["keys"][5]["policy"]["Statement"][1]["Action"] = json!(["kms:Decrypt"]);
    w["principals"][0]["policies"][0]["Statement"][0]["Action"] =
        json!(["kms:Describe*", "kms:Decrypt"]);
    w["principals"][0]["policies"][0]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "NoDeletion", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}));
    w
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `n` requests of every kind, each with the context CloudTrail carries.
fn requests(n: usize) -> Vec<Request> {
    let mut rng = Rng(7);
    let callers = [
        format!("arn:aws:iam::{A}:user/alice"),
        format!("arn:aws:iam::{A}:user/bob"),
        format!("arn:aws:sts::{A}:assumed-role/app/i-0abc"),
        format!("arn:aws:sts::{A}:assumed-role/app/i-0def"),
        format!("arn:aws:sts::{A}:assumed-role/ops/console"),
        format!("arn:aws:iam::{A}:root"),
        format!("arn:aws:sts::{B}:assumed-role/dev/d1"),
        "cloudtrail.amazonaws.com".to_owned(),
    ];
    let actions = [
        "kms:Decrypt",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "kms:CreateGrant",
        "kms:ScheduleKeyDeletion",
        "kms:ListAliases",
        "kms:ReEncrypt",
        "kms:CreateAlias",
        "kms:RetireGrant",
        "kms:CreateKey",
        "kms:GenerateRandom",
        "kms:Sign",
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let caller = rng.pick(&callers).clone();
        let service = !caller.starts_with("arn:");
        let action = *rng.pick(&actions);
        let k = rng.next() as usize % 7;
        let region = if k % 2 == 0 { "us-east-1" } else { "us-west-2" };
        let mut resource = key(k);
        if k == 0 && rng.chance(30) {
            resource = format!("arn:aws:kms:us-east-1:{A}:alias/app-data");
        }
        let t = START + i as i64;
        let mut ctx = json!({"aws:RequestedRegion": region, "aws:CurrentTime": format_time(t), "aws:EpochTime": t.to_string()});
        if !service {
            if rng.chance(30) {
                ctx["kms:ViaService"] = json!(format!(
                    "{}.{region}.amazonaws.com",
                    rng.pick(&["s3", "ec2", "secretsmanager"])
                ));
            } else if rng.chance(30) {
                ctx["aws:SourceVpce"] = json!("vpce-0a1b2c3d4e5f60789");
            } else {
                ctx["aws:SourceIp"] =
                    json!(rng.pick(&["203.0.113.9", "198.51.100.20", "2001:db8::7"]));
            }
            if caller.contains("assumed-role") {
                ctx["aws:MultiFactorAuthPresent"] = json!(rng.pick(&["true", "false"]));
                ctx["aws:TokenIssueTime"] = json!(format_time(t - 600));
            }
            if rng.chance(50) {
                ctx["aws:UserAgent"] = json!("aws-cli/2.15.0");
            }
        }
        let mut req =
            json!({"principal": caller, "action": action, "resource": resource, "context": ctx});
        if rng.chance(50) {
            req["encryption_context"] = json!({"tenant": rng.pick(&["acme", "globex"])});
        }
        if service {
            req["encryption_context"] = json!({"aws:cloudtrail:arn": format!("arn:aws:cloudtrail:{region}:{A}:trail/main")});
        }
        match action {
            "kms:ReEncrypt" => {
                req["resource"] = json!(key(k));
                req["destination"] = json!(key((k + 1) % 7));
                req["destination_encryption_context"] = json!({"tenant": "acme"});
            }
            "kms:CreateAlias" => {
                req["resource"] = json!(format!("arn:aws:kms:{region}:{A}:alias/new-{}", i % 5));
                req["target_key"] = json!(key(k));
            }
            "kms:CreateGrant" => {
                req["context"]["kms:GranteePrincipal"] =
                    json!(format!("arn:aws:iam::{A}:role/service/app"));
                req["context"]["kms:GrantOperations"] = json!(["Decrypt", "Encrypt"]);
                req["context"]["kms:GrantConstraintType"] = json!("EncryptionContextSubset");
                req["encryption_context"] = json!({"tenant": "acme"});
            }
            "kms:RetireGrant" => req["grant_id"] = json!("grant-tenant-acme"),
            "kms:ListAliases" | "kms:CreateKey" | "kms:GenerateRandom" => {
                req["resource"] = json!("*")
            }
            "kms:Sign" => {
                req["context"]["kms:SigningAlgorithm"] = json!("RSASSA_PSS_SHA_256");
                req["context"]["kms:MessageType"] = json!("RAW");
                req.as_object_mut().unwrap().remove("encryption_context");
            }
            _ => {}
        }
        if action == "kms:CreateKey" {
            req["context"]["kms:KeySpec"] = json!("RSA_2048");
            req["context"]["kms:CustomerMasterKeySpec"] = json!("RSA_2048");
            req["context"]["aws:RequestTag/team"] = json!("payments");
            req["context"]["aws:TagKeys"] = json!(["team"]);
        }
        if !matches!(
            action,
            "kms:Decrypt"
                | "kms:Encrypt"
                | "kms:GenerateDataKey"
                | "kms:ReEncrypt"
                | "kms:CreateGrant"
        ) {
            req.as_object_mut().unwrap().remove("encryption_context");
        }
        let (r, warnings) = Request::from_value(&req).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        out.push(r);
    }
    out
}

fn recorded(outcome: Outcome) -> Recorded {
    if outcome == Outcome::Allow {
        Recorded::Allowed
    } else {
        Recorded::Denied
    }
}

/// Writes the world, the tightened world and the logs of `n` generated requests into `dir`.
/// Returns the requests with their decisions under both worlds.
fn generate(dir: &Path, n: usize, per_file: usize) -> Vec<(Outcome, Outcome)> {
    let world_value = world_json();
    let tight_value = tightened(world_value.clone());
    std::fs::write(dir.join("world.json"), world_value.to_string()).unwrap();
    std::fs::write(dir.join("tightened.json"), tight_value.to_string()).unwrap();
    let world = World::from_value(&world_value, "world").unwrap();
    let engine = Engine::compile(world.clone());
    let tight = Engine::compile(World::from_value(&tight_value, "tightened").unwrap());
    let requests = requests(n);
    let outcomes: Vec<(Outcome, Outcome)> = requests
        .iter()
        .map(|r| (engine.decide(r).outcome, tight.decide(r).outcome))
        .collect();
    let options = LogOptions {
        records_per_file: per_file,
        ..LogOptions::default()
    };
    let stream = requests
        .into_iter()
        .zip(&outcomes)
        .map(|(r, (o, _))| (r, recorded(*o)));
    let written = write_logs(&world, &dir.join("logs"), stream, &options).unwrap();
    assert!(
        written.skipped.is_empty(),
        "every generated request can be logged: {:?}",
        &written.skipped[..written.skipped.len().min(5)]
    );
    assert_eq!(written.records, n as u64);
    assert!(written.files.len() >= n / per_file);
    for f in &written.files {
        let rel = f
            .strip_prefix(dir.join("logs"))
            .unwrap()
            .display()
            .to_string();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[2], "CloudTrail");
        assert!(
            parts[7].starts_with(&format!("{}_CloudTrail_{}_", parts[1], parts[3]))
                && parts[7].ends_with(".json.gz"),
            "{rel}"
        );
    }
    outcomes
}

/// The eventIDs of the requests whose allowed-ness differs between the two worlds.
fn expected_changes(outcomes: &[(Outcome, Outcome)]) -> BTreeSet<String> {
    outcomes
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| (*a == Outcome::Allow) != (*b == Outcome::Allow))
        .map(|(i, _)| event_id(i as u64))
        .collect()
}

#[test]
fn replay_reproduces_recorded_outcomes_and_diff_lists_exactly_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let outcomes = generate(dir.path(), n, 100);
    let allowed = outcomes
        .iter()
        .filter(|(a, _)| *a == Outcome::Allow)
        .count();
    assert!(
        allowed > n / 5 && allowed < n * 4 / 5,
        "a mix of allows and denies: {allowed}"
    );

    let world = Engine::compile(World::load(dir.path().join("world.json")).unwrap());
    let tight = Engine::compile(World::load(dir.path().join("tightened.json")).unwrap());
    let inputs = read::inputs(&[dir.path().join("logs").display().to_string()]).unwrap();
    let options = Options { limit: 0 };
    let s = run::replay(&inputs, &world, Some(&tight), options, &|_| {});
    assert_eq!(s.records, n as u64);
    assert_eq!(s.evaluated, n as u64);
    assert_eq!(s.bad_records(), 0, "{:?}", s.bad);
    assert_eq!(s.disagreements, 0, "{:#?}", s.disagreement_list.first());
    assert_eq!(s.agreements, n as u64);
    assert_eq!(s.decisions[0], allowed as u64);
    assert_eq!(s.recorded_allowed, allowed as u64);

    let changes = s.changes.as_ref().unwrap();
    let listed: BTreeSet<String> = changes
        .list
        .iter()
        .map(|c| c.event_id.clone().unwrap())
        .collect();
    let expected = expected_changes(&outcomes);
    assert!(
        expected.len() > 20 && expected.len() < n / 2,
        "the tightening affects some records: {}",
        expected.len()
    );
    assert_eq!(listed, expected);
    assert_eq!(changes.changed(), expected.len() as u64);
    assert_eq!(
        changes.deny_to_allow, 0,
        "a tightening only takes access away"
    );
    // Each group is one principal, resource and action, with reasons on the allowing side.
    let groups = changes.groups();
    assert_eq!(
        groups.iter().map(|g| g.changes.len()).sum::<usize>(),
        expected.len()
    );
    for g in &groups {
        assert_eq!(g.direction(), "allow-to-deny");
        for c in &g.changes {
            assert_eq!(
                (c.request.caller.arn.as_str(), c.request.resource.as_str()),
                (g.principal, g.resource)
            );
            assert!(!c.before.reasons.is_empty());
        }
    }
    // The other way round, the same records are deny → allow.
    let back = run::replay(&inputs, &tight, Some(&world), options, &|_| {});
    let back_changes = back.changes.unwrap();
    assert_eq!(back_changes.deny_to_allow, expected.len() as u64);
    assert_eq!(
        back_changes
            .list
            .iter()
            .map(|c| c.event_id.clone().unwrap())
            .collect::<BTreeSet<_>>(),
        expected
    );
    // Against the tightened world the replay disagrees with AWS exactly where decisions changed.
    assert_eq!(back.disagreements, expected.len() as u64);
}

fn keyward(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_binary_replays_and_diffs_generated_logs() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1200;
    let outcomes = generate(dir.path(), n, 64);
    let world = dir.path().join("world.json").display().to_string();
    let tight = dir.path().join("tightened.json").display().to_string();
    let logs = dir.path().join("logs").display().to_string();

    let (code, stdout, stderr) = keyward(&["replay", "--world", &world, "--json", &logs]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["totals"]["records"], n);
    assert_eq!(v["totals"]["evaluated"], n);
    assert_eq!(v["comparison"]["agreements"], n);
    assert_eq!(v["comparison"]["disagreements"], 0);

    let (code, stdout, stderr) = keyward(&[
        "replay",
        "--world",
        &world,
        "--against",
        &tight,
        "--json",
        "--limit",
        "0",
        "--threads",
        "2",
        &logs,
    ]);
    assert_eq!(code, 1, "changed decisions exit 1: {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let expected = expected_changes(&outcomes);
    assert_eq!(v["diff"]["changed"], expected.len());
    let mut listed = BTreeSet::new();
    for g in v["diff"]["groups"].as_array().unwrap() {
        assert_eq!(g["change"], "allow-to-deny");
        assert_eq!(g["before"]["decision"], "Allow");
        assert!(!g["before"]["reasons"].as_array().unwrap().is_empty());
        assert_ne!(g["after"]["decision"], "Allow");
        for r in g["records"].as_array().unwrap() {
            assert!(r["file"].as_str().unwrap().ends_with(".json.gz"));
            assert!(
                listed.insert(r["eventID"].as_str().unwrap().to_owned()),
                "listed once"
            );
        }
    }
    assert_eq!(listed, expected);

    // The same world on both sides changes nothing: exit 0.
    let (code, stdout, _) = keyward(&["replay", "--world", &world, "--against", &world, &logs]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("decisions that change with the second world: 0"),
        "{stdout}"
    );
}

#[test]
fn requests_a_record_cannot_carry_are_not_written() {
    let world = World::from_value(&world_json(), "world").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (fine, _) = Request::from_json(&format!(r#"{{"principal": "arn:aws:iam::{A}:user/bob", "action": "kms:DescribeKey", "resource": "{}"}}"#, key(0))).unwrap();
    let (source_arn, _) = Request::from_json(&format!(
        r#"{{"principal": "arn:aws:iam::{A}:user/bob", "action": "kms:DescribeKey", "resource": "{}", "context": {{"aws:SourceArn": "arn:aws:s3:::b"}}}}"#,
        key(0)
    ))
    .unwrap();
    let (via_mismatch, _) = Request::from_json(&format!(
        r#"{{"principal": "arn:aws:iam::{A}:user/bob", "action": "kms:Decrypt", "resource": "{}", "context": {{"kms:ViaService": "s3.eu-west-1.amazonaws.com", "aws:RequestedRegion": "us-east-1"}}}}"#,
        key(0)
    ))
    .unwrap();
    let stream = vec![
        (fine, Recorded::Allowed),
        (source_arn, Recorded::Denied),
        (via_mismatch, Recorded::Allowed),
    ];
    let written = write_logs(
        &world,
        dir.path(),
        stream,
        &LogOptions {
            gzip: false,
            ..LogOptions::default()
        },
    )
    .unwrap();
    assert_eq!(written.records, 1);
    assert_eq!(written.skipped.len(), 2);
    assert_eq!(written.skipped[0].0, 1);
    assert!(
        written.skipped[0].1.contains("aws:sourcearn"),
        "{:?}",
        written.skipped
    );
    assert!(
        written.skipped[1].1.contains("kms:ViaService"),
        "{:?}",
        written.skipped
    );
    assert!(written.files[0].display().to_string().ends_with(".json"));
}

/// The generator's own world and request stream (`keyward gen`), written as logs with the
/// engine's decisions as recorded outcomes: every request can be logged, and the replay agrees
/// with every one.
#[test]
fn logs_of_the_generated_world_replay_exactly() {
    let generated = keyward::gen::world(keyward::gen::Shape {
        keys: 300,
        principals: 150,
        seed: 5,
    });
    let world = World::from_value(&generated.world, "generated").unwrap();
    let engine = Engine::compile(world.clone());
    let n = 20_000;
    let requests: Vec<Request> = generated
        .requests(n, 5)
        .iter()
        .map(|v| Request::from_value(v).unwrap().0)
        .collect();
    let outcomes: Vec<Outcome> = requests.iter().map(|r| engine.decide(r).outcome).collect();
    let dir = tempfile::tempdir().unwrap();
    let stream = requests
        .into_iter()
        .zip(&outcomes)
        .map(|(r, o)| (r, recorded(*o)));
    let written = write_logs(&world, dir.path(), stream, &LogOptions::default()).unwrap();
    assert!(written.skipped.is_empty(), "{:?}", written.skipped.first());
    let inputs = read::inputs(&[dir.path().display().to_string()]).unwrap();
    let s = run::replay(&inputs, &engine, None, Options::default(), &|_| {});
    assert_eq!(
        (s.evaluated, s.agreements, s.disagreements, s.bad_records()),
        (n as u64, n as u64, 0, 0)
    );
    let allowed = outcomes.iter().filter(|o| **o == Outcome::Allow).count() as u64;
    assert_eq!((s.decisions[0], s.recorded_allowed), (allowed, allowed));
}
