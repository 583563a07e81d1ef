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
