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

#[test]
fn the_parent_and_the_policy_can_be_named_on_the_command_line() {
    // The organization's outputs under names that carry no id.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/import");
    let org = root.join("organization");
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["import".into()];
    for f in [
        "describe-organization.json",
        "describe-vpc-endpoints.json",
        "list-policies-rcp.json",
        "list-policies-scp.json",
        "list-roots.json",
    ] {
        args.push(org.join(f).to_str().unwrap().into());
    }
    let mut n = 0;
    let mut copy = |from: std::path::PathBuf| {
        n += 1;
        let to = dir.path().join(format!("output-{n}.json"));
        std::fs::copy(from, &to).unwrap();
        to.to_str().unwrap().to_owned()
    };
    for parent in ["r-ab12", "ou-ab12-11111111"] {
        let p = org.join("parents").join(parent);
        args.push("--list-ous-for-parent".into());
        args.push(format!(
            "{parent}={}",
            copy(p.join("organizational-units.json"))
        ));
        args.push("--list-accounts-for-parent".into());
        args.push(format!("{parent}={}", copy(p.join("accounts.json"))));
    }
    for policy in ["p-FullAWSAccess", "p-examplenodisable", "p-examplenoimport"] {
        let p = org.join("policies").join(policy);
        args.push(copy(p.join("describe-policy.json")));
        args.push("--list-targets-for-policy".into());
        args.push(format!("{policy}={}", copy(p.join("targets.json"))));
    }
    for account in ["111122223333", "444455556666"] {
        args.push(root.join(account).to_str().unwrap().into());
    }
    let out = dir.path().join("world.json");
    args.extend(["--out".into(), out.to_str().unwrap().into()]);
    let o = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let named = World::load(&out).unwrap();

    // The same world as from the tree whose folder names carry the ids.
    let from_tree = import(dir.path());
    assert_eq!(named.accounts, from_tree.accounts);
    assert_eq!(named.organizations, from_tree.organizations);
    let targets = |w: &World| {
        let mut t: Vec<(String, Vec<String>)> = w
            .org_policies
            .iter()
            .map(|p| {
                let mut t = p.targets.clone();
                t.sort();
                (p.id.clone(), t)
            })
            .collect();
        t.sort();
        t
    };
    assert_eq!(targets(&named), targets(&from_tree));
    assert_eq!(targets(&named).len(), 3);
    let chain = named.chain("111122223333").unwrap();
    let levels: Vec<&str> = chain.scp_levels.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(levels, ["r-ab12", "ou-ab12-11111111", "111122223333"]);
    let engine = Engine::compile(named);
    let intern = "arn:aws:iam::111122223333:root";
    assert_eq!(
        decide(&engine, intern, "kms:ImportKeyMaterial", json!({})),
        Outcome::ExplicitDeny
    );

    // Without the option, the same file is an error that says how to name it.
    let lone = copy(org.join("policies/p-FullAWSAccess/targets.json"));
    let o = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["import", &lone, "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--list-targets-for-policy POLICY=FILE"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
