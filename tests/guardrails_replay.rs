//! The deploy gate for a new SCP: `keyward replay --against` on the example trail lists the
//! recorded decisions that attaching an SCP would change, each naming the SCP.

use serde_json::{json, Value};
use std::process::Command;

const LOGS: &str = "corpus/cloudtrail/example/logs";

fn org_world(extra_scp: Option<Value>) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/cloudtrail/example/world.json"
    );
    let mut w: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    w["accounts"] = json!([
        {"id": "111122223333", "org_id": "o-a1b2c3d4e5", "org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"]},
        {"id": "444455556666", "org_id": "o-a1b2c3d4e5", "org_paths": ["o-a1b2c3d4e5/r-ab12/"]}
    ]);
    w["organizations"] = json!([{"id": "o-a1b2c3d4e5", "root": "r-ab12"}]);
    let mut policies = vec![
        json!({"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY",
        "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        "Targets": ["r-ab12", "ou-ab12-11111111", "111122223333", "444455556666"]}),
    ];
    policies.extend(extra_scp);
    w["organization_policies"] = json!(policies);
    w
}

#[test]
fn replay_against_lists_what_a_new_scp_would_deny() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.json");
    let after = dir.path().join("after.json");
    std::fs::write(&before, org_world(None).to_string()).unwrap();
    let scp = json!({"Id": "p-noencrypt", "Name": "NoDirectEncrypt", "Type": "SERVICE_CONTROL_POLICY",
        "Content": {"Version": "2012-10-17", "Statement": [{"Sid": "OnlyThroughServices", "Effect": "Deny",
            "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
            "Condition": {"Null": {"kms:ViaService": "true"}}}]},
        "Targets": ["ou-ab12-11111111"]});
    std::fs::write(&after, org_world(Some(scp)).to_string()).unwrap();
    let run = |world: &std::path::Path, against: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args([
                "replay",
                "--json",
                "--world",
                world.to_str().unwrap(),
                "--against",
                against.to_str().unwrap(),
                LOGS,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    // The organization with FullAWSAccess everywhere decides as the world without it.
    let plain = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/cloudtrail/example/world.json");
    let same = run(&plain, &before);
    let v: Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(v["diff"]["changed"], 0, "{v:#}");

    let out = run(&before, &after);
    assert_eq!(out.status.code(), Some(1), "changes exit 1");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff = &v["diff"];
    let changed = diff["changed"].as_u64().unwrap();
    assert!(changed >= 1, "{diff:#}");
    assert_eq!(diff["allow_to_deny"].as_u64(), Some(changed));
    for g in diff["groups"].as_array().unwrap() {
        let reason = &g["after"]["reasons"][0];
        assert_eq!(reason["source"], "scp", "{g:#}");
        assert_eq!(reason["policy_id"], "p-noencrypt");
        assert_eq!(reason["sid"], "OnlyThroughServices");
    }
}
