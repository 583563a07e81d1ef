//! `keyward import` on AWS Organizations and EC2 outputs (`corpus/import/organization/`): the
//! organization, its accounts' paths, its SCPs and RCPs and the KMS VPC endpoint land in the
//! world, and decisions meet them.

use keyward::engine::Engine;
use keyward::{Outcome, Request, World};
use serde_json::json;
use std::process::Command;

const K1: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn import(dir: &std::path::Path) -> World {
    let out = dir.join("world.json");
    let o = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["import", "corpus/import", "--out", out.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("com.amazonaws.us-east-1.s3"), "{stderr}");
    World::load(&out).unwrap()
}

fn decide(engine: &Engine, principal: &str, action: &str, context: serde_json::Value) -> Outcome {
    let (r, _) = Request::from_value(
        &json!({"principal": principal, "action": action, "resource": K1, "context": context}),
    )
    .unwrap();
    let d = engine.decide(&r);
    assert_eq!(d, keyward::reference::evaluate(engine.world(), &r));
    d.outcome
}

#[test]
fn organization_outputs_become_guardrails() {
    let dir = tempfile::tempdir().unwrap();
    let world = import(dir.path());
    assert_eq!(world.organizations.len(), 1);
    assert_eq!(
        world.organizations[0].management_account.as_deref(),
        Some("999988887777")
    );
    assert_eq!(
        world.accounts["111122223333"].org_paths,
        ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"]
    );
    assert_eq!(
        world.accounts["444455556666"].org_paths,
        ["o-a1b2c3d4e5/r-ab12/"]
    );
    assert_eq!(world.org_policies.len(), 3);
    assert_eq!(world.vpc_endpoints.len(), 1, "the S3 endpoint is left out");
    let chain = world.chain("111122223333").unwrap();
    let levels: Vec<&str> = chain.scp_levels.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(levels, ["r-ab12", "ou-ab12-11111111", "111122223333"]);

    let engine = Engine::compile(world);
    let alice = "arn:aws:iam::111122223333:user/Alice";
    let dev = "arn:aws:sts::444455556666:assumed-role/Dev/d";
    assert_eq!(
        decide(&engine, alice, "kms:DescribeKey", json!({})),
        Outcome::Allow
    );
    // The production OU's SCP denies importing key material, whatever IAM allows.
    let intern = "arn:aws:iam::111122223333:root";
    assert_eq!(
        decide(&engine, intern, "kms:ImportKeyMaterial", json!({})),
        Outcome::ExplicitDeny
    );
    // The root-level RCP keeps keys enabled.
    assert_eq!(
        decide(&engine, intern, "kms:DisableKey", json!({})),
        Outcome::ExplicitDeny
    );
    assert_eq!(
        decide(&engine, intern, "kms:EnableKey", json!({})),
        Outcome::Allow
    );
    // Through the KMS endpoint (a CloudTrail record's vpcEndpointId becomes aws:SourceVpce):
    // organization members pass, key deletion does not.
    let vpce = json!({"aws:SourceVpce": "vpce-0e1f2a3b4c5d6e7f8"});
    assert_eq!(
        decide(&engine, dev, "kms:Encrypt", vpce.clone()),
        Outcome::Allow
    );
    assert_eq!(
        decide(&engine, intern, "kms:ScheduleKeyDeletion", vpce),
        Outcome::ExplicitDeny
    );
    assert_eq!(
        decide(&engine, intern, "kms:ScheduleKeyDeletion", json!({})),
        Outcome::Allow
    );
}

#[test]
fn a_list_for_parent_without_its_parent_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    std::fs::write(&file, r#"{"Accounts": [{"Id": "111122223333"}]}"#).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["import", file.to_str().unwrap(), "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PARENT=FILE"));
}
