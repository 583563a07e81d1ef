//! Regression tests for requests and inputs crafted to get an Allow AWS would never give, or to
//! stall keyward: one test per class, each through the command line as a user drives it.

use std::io::Write;
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
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/k";

/// A world whose key policy allows the account and denies everything outside one endpoint.
fn endpoint_world(dir: &tempfile::TempDir) -> String {
    let world = serde_json::json!({"keys": [{"arn": KEY, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"},
                       "NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}}]});
    let path = dir.path().join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn check(world: &str, context: serde_json::Value) -> Output {
    let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:root",
        "action": "kms:Decrypt", "resource": KEY, "context": context});
    keyward(&["check", "--world", world, "-"], Some(&req.to_string()))
}

#[test]
fn wrongly_shaped_context_keys_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let world = endpoint_world(&dir);
    for (context, key) in [
        (
            serde_json::json!({"aws:SourceVpce": ["vpce-other"]}),
            "aws:SourceVpce",
        ),
        (serde_json::json!({"aws:SourceVpce": []}), "aws:SourceVpce"),
        (
            serde_json::json!({"aws:SourceIp": "10.0.0.1 "}),
            "aws:SourceIp",
        ),
        (
            serde_json::json!({"aws:SourceIp": "10.0.0.0/8"}),
            "aws:SourceIp",
        ),
        (
            serde_json::json!({"kms:ViaService": ["x"]}),
            "kms:ViaService",
        ),
        (
            serde_json::json!({"aws:MultiFactorAuthAge": 1e20}),
            "aws:MultiFactorAuthAge",
        ),
        (
            serde_json::json!({"aws:CurrentTime": 1.5}),
            "aws:CurrentTime",
        ),
        (
            serde_json::json!({"aws:SecureTransport": 0}),
            "aws:SecureTransport",
        ),
        (
            serde_json::json!({"aws:SourceVpce": "vpce-1", "AWS:SOURCEVPCE": "vpce-2"}),
            "SOURCEVPCE",
        ),
        (
            serde_json::json!({"kms:EncryptionContext:tenant": "blue"}),
            "kms:EncryptionContext:tenant",
        ),
    ] {
        let out = check(&world, context.clone());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{context}: {}",
            text(&out.stdout)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.contains("\"error\""), "{context}: {stdout}");
        assert!(stdout.contains(key), "{context} names {key}: {stdout}");
        assert!(!stdout.contains("Allow"), "{context}: {stdout}");
    }
    // The same keys well formed are decided: the Deny holds outside the endpoint.
    let out = check(&world, serde_json::json!({"aws:SourceVpce": "vpce-other"}));
    assert!(
        text(&out.stdout).contains("ExplicitDeny"),
        "{}",
        text(&out.stdout)
    );
    let out = check(
        &world,
        serde_json::json!({"aws:SourceIp": "::ffff:10.0.0.1"}),
    );
    assert!(
        text(&out.stdout).contains("ExplicitDeny"),
        "{}",
        text(&out.stdout)
    );
    let out = check(&world, serde_json::json!({"aws:SourceVpce": "vpce-1"}));
    assert!(
        text(&out.stdout).contains("\"Allow\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_claimed_principal_arn_that_disagrees_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let world = serde_json::json!({"keys": [{"arn": KEY, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"}}}]}}]});
    let path = dir.path().join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:user/mallory",
        "action": "kms:Decrypt", "resource": KEY,
        "context": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"}});
    let out = keyward(
        &["check", "--world", path.to_str().unwrap(), "--explain", "-"],
        Some(&req.to_string()),
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ImplicitDeny"), "{stdout}");
    assert!(stdout.contains("may not override"), "{stdout}");
}

#[test]
fn long_values_against_many_stars_are_decided() {
    // Backtracking matching took seconds on a value like this; the linear matcher takes
    // milliseconds. The decision itself is checked: the value does not match, so no Allow.
    let dir = tempfile::tempdir().unwrap();
    let pattern = format!("*{}b", "a*".repeat(60));
    let world = serde_json::json!({"keys": [{"arn": KEY, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:Decrypt",
         "Resource": "*", "Condition": {"StringLike": {"kms:EncryptionContext:doc": pattern}}}]}}]});
    let path = dir.path().join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    let value = "a".repeat(8000);
    let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:root",
        "action": "kms:Decrypt", "resource": KEY, "encryption_context": {"doc": value}});
    let out = keyward(
        &["check", "--world", path.to_str().unwrap(), "-"],
        Some(&req.to_string()),
    );
    assert!(
        text(&out.stdout).contains("ImplicitDeny"),
        "{}",
        text(&out.stdout)
    );
    // Longer than keyward accepts: refused, naming the field.
    let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:root",
        "action": "kms:Decrypt", "resource": KEY, "encryption_context": {"doc": "a".repeat(9000)}});
    let out = keyward(
        &["check", "--world", path.to_str().unwrap(), "-"],
        Some(&req.to_string()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("encryption_context.doc"));
}

fn write_world(dir: &tempfile::TempDir, world: &serde_json::Value) -> String {
    let path = dir.path().join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn check_one(world: &str, req: serde_json::Value) -> (Option<i32>, String) {
    let out = keyward(
        &["check", "--world", world, "--explain", "-"],
        Some(&req.to_string()),
    );
    (out.status.code(), text(&out.stdout) + &text(&out.stderr))
}

fn open_key(arn: &str) -> serde_json::Value {
    serde_json::json!({"arn": arn, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}})
}

#[test]
fn partitions_are_never_crossed() {
    let dir = tempfile::tempdir().unwrap();
    let world = write_world(&dir, &serde_json::json!({"keys": [open_key(KEY)]}));
    let req = |principal: &str| serde_json::json!({"principal": principal, "action": "kms:Decrypt", "resource": KEY});
    let (_, out) = check_one(&world, req("arn:aws:iam::111122223333:user/alice"));
    assert!(out.contains("\"Allow\""), "{out}");
    let (_, out) = check_one(&world, req("arn:aws-cn:iam::111122223333:user/alice"));
    assert!(
        out.contains("ImplicitDeny") && out.contains("partition"),
        "{out}"
    );
    // A key policy naming a principal of another partition does not load.
    let cn_key = "arn:aws-cn:kms:cn-north-1:111122223333:key/k";
    let bad = serde_json::json!({"keys": [{"arn": cn_key, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}}]});
    let bad = write_world(&dir, &bad);
    let out = keyward(&["validate", &bad], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        (text(&out.stdout) + &text(&out.stderr)).contains("partition"),
        "{}",
        text(&out.stderr)
    );
    // STS ARNs have no Region, and session names no '/' or ':'.
    for p in [
        "arn:aws:sts:us-east-1:111122223333:assumed-role/r/s",
        "arn:aws:sts::111122223333:assumed-role/r/s/x",
        "arn:aws:sts::111122223333:assumed-role/r/s:x",
    ] {
        let (code, out) = check_one(&world, req(p));
        assert_eq!(code, Some(2), "{p}: {out}");
        assert!(!out.contains("Allow"), "{p}: {out}");
    }
}

#[test]
fn alias_operations_stay_in_the_callers_account() {
    let dir = tempfile::tempdir().unwrap();
    let other = "arn:aws:kms:us-west-2:444455556666:key/o";
    let world = write_world(
        &dir,
        &serde_json::json!({"keys": [
            {"arn": KEY, "aliases": ["alias/app"], "policy": open_key(KEY)["policy"]},
            {"arn": other, "policy": open_key(other)["policy"]}],
          "principals": [{"arn": "arn:aws:iam::111122223333:user/alice", "policies": [
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]},
            {"arn": "arn:aws:iam::444455556666:user/mallory", "policies": [
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]}]}),
    );
    let req = |principal: &str, alias: &str, target: &str| {
        serde_json::json!({"principal": principal, "action": "kms:CreateAlias",
            "resource": alias, "target_key": target})
    };
    let alice = "arn:aws:iam::111122223333:user/alice";
    let (_, out) = check_one(
        &world,
        req(alice, "arn:aws:kms:us-west-2:111122223333:alias/new", KEY),
    );
    assert!(out.contains("\"Allow\""), "{out}");
    // An alias in another account.
    let (_, out) = check_one(
        &world,
        req(
            "arn:aws:iam::444455556666:user/mallory",
            "arn:aws:kms:us-west-2:111122223333:alias/new",
            KEY,
        ),
    );
    assert!(
        out.contains("ImplicitDeny") && out.contains("cross accounts"),
        "{out}"
    );
    // A target named by an alias ARN.
    let (_, out) = check_one(
        &world,
        req(
            alice,
            "arn:aws:kms:us-west-2:111122223333:alias/new",
            "arn:aws:kms:us-west-2:111122223333:alias/app",
        ),
    );
    assert!(
        out.contains("ImplicitDeny") && out.contains("key ARN"),
        "{out}"
    );
    // UpdateAlias to a key of another account.
    let up = serde_json::json!({"principal": alice, "action": "kms:UpdateAlias",
        "resource": "arn:aws:kms:us-west-2:111122223333:alias/app", "target_key": other});
    let (_, out) = check_one(&world, up);
    assert!(out.contains("ImplicitDeny"), "{out}");
}

#[test]
fn odd_key_arns_are_load_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for arn in [
        format!(
            "arn:aws:kms:us-west-2:111122223333:key/{}",
            "k".repeat(70_000)
        ),
        format!("arn:aws:kms:{}:111122223333:key/k", "é".repeat(40_000)),
        "arn:aws:kms:us-west-2:111122223333:key/é".to_owned(),
    ] {
        let world = write_world(&dir, &serde_json::json!({"keys": [open_key(&arn)]}));
        let out = keyward(&["validate", &world], None);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("field arn"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn every_json_entry_of_a_world_directory_must_be_readable() {
    let good = serde_json::json!({"keys": [open_key(KEY)]}).to_string();
    type Make = Box<dyn Fn(&std::path::Path)>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "dangling",
            Box::new(|d| std::os::unix::fs::symlink(d.join("gone.txt"), d.join("b.json")).unwrap()),
        ),
        (
            "directory",
            Box::new(|d| std::fs::create_dir(d.join("b.json")).unwrap()),
        ),
        (
            "FIFO",
            Box::new(|d| {
                let p = std::ffi::CString::new(d.join("b.json").to_str().unwrap()).unwrap();
                assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o600) }, 0);
            }),
        ),
    ];
    for (what, make) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), &good).unwrap();
        make(dir.path());
        // A FIFO would block a reader forever: the command must return, with an error.
        let out = keyward(&["validate", dir.path().to_str().unwrap()], None);
        let all = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {all}");
        assert!(all.contains("b.json"), "{what}: {all}");
        // A FIFO given directly is refused the same way.
        if what == "FIFO" {
            let out = keyward(
                &["validate", dir.path().join("b.json").to_str().unwrap()],
                None,
            );
            assert_eq!(out.status.code(), Some(2));
        }
    }
}

#[test]
fn byte_order_marks_are_accepted_and_bad_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(
        serde_json::json!({"keys": [open_key(KEY)]})
            .to_string()
            .as_bytes(),
    );
    std::fs::write(&path, &bytes).unwrap();
    let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:root",
        "action": "kms:Decrypt", "resource": KEY});
    let (code, out) = check_one(path.to_str().unwrap(), req);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\"Allow\""), "{out}");
    std::fs::write(&path, b"{\"keys\": [\n  \"\xff\"]}").unwrap();
    let out = keyward(&["validate", path.to_str().unwrap()], None);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("line 2, column 4"), "{all}");
}

#[test]
fn replay_bounds_what_it_holds_by_bytes() {
    use std::io::Write as _;
    // A line of 5 MiB compresses to a few kilobytes: replay skips it as too large, reports it,
    // and reads the next record.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.jsonl.gz");
    let big = serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
        "padding": "y".repeat(5 << 20)});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    writeln!(gz, "{big}").unwrap();
    writeln!(gz, "{{\"eventSource\": \"kms.amazonaws.com\"}}").unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let out = keyward(
        &[
            "replay",
            "--world",
            "corpus/cloudtrail/example/world.json",
            "--json",
            path.to_str().unwrap(),
        ],
        None,
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["bad_by_kind"]["too-large"], 1, "{summary:#}");
    assert_eq!(summary["totals"]["records"], 2, "{summary:#}");
}

#[test]
fn likely_mistakes_in_a_world_are_warned() {
    let dir = tempfile::tempdir().unwrap();
    let world = serde_json::json!({"keys": [open_key(KEY)],
        "principals": [{"arn": "arn:aws:iam::111122223333:user/alice",
            "groups": ["arn:aws:iam::111122223333:group/missing"],
            "policies": [{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "kms:Decrypt\u{0007}", "Resource": "*"},
                {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                 "Condition": {"StringEquals": {"kms:ViaServce": "x"}}}]}]}]});
    let world = write_world(&dir, &world);
    let out = keyward(&["validate", &world], None);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("group/missing is not in the world"),
        "{stdout}"
    );
    assert!(stdout.contains("control character"), "{stdout}");
    assert!(
        stdout.contains("did you mean \"kms:ViaService\""),
        "{stdout}"
    );
}
