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

/// A CloudTrail record of Alice's call on the payroll key through the VPC endpoint
/// `vpce-1234abcdf5678c90a` (`vpce` `None`: not through an endpoint), in the shape CloudTrail
/// writes; `denied` records the AccessDenied error.
fn alice_record(n: u32, event: &str, vpce: Option<&str>, denied: bool) -> Value {
    let mut r = json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001",
            "arn": "arn:aws:iam::111122223333:user/Alice", "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEKEYID0001", "userName": "Alice"},
        "eventTime": format!("2026-05-04T09:2{n}:00Z"),
        "eventSource": "kms.amazonaws.com",
        "eventName": event,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.12.34",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5",
        "requestParameters": {"keyId": "alias/payroll"},
        "responseElements": null,
        "requestID": format!("0a1b2c3d-0000-4000-8000-0000000001{n:02}"),
        "eventID": format!("e1e1e1e1-0000-4000-8000-0000000001{n:02}"),
        "readOnly": true,
        "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key",
            "ARN": "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    });
    if event == "GenerateDataKey" {
        r["requestParameters"]["keySpec"] = json!("AES_256");
    }
    if let Some(v) = vpce {
        r["vpcEndpointId"] = json!(v);
    }
    if denied {
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:GenerateDataKey with an explicit deny in a VPC endpoint policy");
    }
    r
}

#[test]
fn a_record_through_a_vpc_endpoint_meets_that_endpoints_policy() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/cloudtrail/example/world.json"
    );
    let mut w: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // The endpoint the payroll key's policy requires for Decrypt: its policy allows decrypting
    // and denies new data keys.
    w["vpc_endpoints"] = json!([{"VpcEndpointId": "vpce-1234abcdf5678c90a", "VpcId": "vpc-0a1b2c3d",
        "OwnerId": "111122223333", "ServiceName": "com.amazonaws.us-east-1.kms", "VpcEndpointType": "Interface",
        "PolicyDocument": json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "DecryptOnly", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "NoDataKeys", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey*", "Resource": "*"}]}).to_string()}]);
    let through = Some("vpce-1234abcdf5678c90a");
    let records = json!({"Records": [
        // 0: AWS allowed a data key through the endpoint; its policy denies: a disagreement.
        alice_record(0, "GenerateDataKey", through, false),
        // 1: the same call, denied by AWS: agreement.
        alice_record(1, "GenerateDataKey", through, true),
        // 2: Decrypt, which the endpoint policy allows: agreement.
        alice_record(2, "Decrypt", through, false),
        // 3: DescribeKey, which Alice's policy allows and the endpoint policy does not: denied.
        alice_record(3, "DescribeKey", through, true),
        // 4: a data key not through the endpoint: its policy plays no part.
        alice_record(4, "GenerateDataKey", None, false),
    ]});
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world.json");
    std::fs::write(&world, w.to_string()).unwrap();
    let trail = dir.path().join("trail.json");
    std::fs::write(&trail, records.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["replay", "--json", "--world"])
        .arg(&world)
        .arg(&trail)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a disagreement exits 1");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["evaluated"], 5, "{v:#}");
    assert_eq!(
        v["decisions"],
        json!({"Allow": 2, "ExplicitDeny": 2, "ImplicitDeny": 1}),
        "{v:#}"
    );
    assert_eq!(v["comparison"]["agreements"], 4, "{v:#}");
    let d = v["disagreements"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["source"]["record"], 0);
    assert_eq!(d[0]["recorded"], "allowed");
    assert_eq!(
        d[0]["request"]["context"]["aws:SourceVpce"], "vpce-1234abcdf5678c90a",
        "{:#}",
        d[0]
    );
    let reason = &d[0]["decision"]["reasons"][0];
    assert_eq!(reason["source"], "vpc-endpoint-policy", "{:#}", d[0]);
    assert_eq!(reason["endpoint"], "vpce-1234abcdf5678c90a");
    assert_eq!(reason["sid"], "NoDataKeys");

    // Without the endpoint in the world, the same records are decided without its policy.
    w["vpc_endpoints"] = json!([]);
    std::fs::write(&world, w.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["replay", "--json", "--world"])
        .arg(&world)
        .arg(&trail)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decisions"]["Allow"], 5, "{v:#}");
}
