//! `keyward serve` with guardrails: `GET /v1/world` and `/metrics` count the organizations,
//! organization policies, VPC endpoints and sessions of the serving world, a reload updates the
//! counts, and the decisions follow the guardrails.

mod serve_harness;

use serde_json::{json, Value};
use serve_harness::*;

/// The harness world with an organization (FullAWSAccess at every level, and an SCP denying
/// `deny_action` at the OU), two endpoints and one session.
fn org_world(deny_action: &str, scps: usize) -> Value {
    let mut w = world_allowing("kms:*");
    w["accounts"] = json!([{"id": "111122223333", "org_id": "o-a1b2c3d4e5",
        "org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"]}]);
    w["organizations"] =
        json!([{"id": "o-a1b2c3d4e5", "management_account": "999988887777", "root": "r-ab12"}]);
    let mut policies = vec![
        json!({"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            "Targets": ["r-ab12", "ou-ab12-11111111", "111122223333"]}),
        json!({"Id": "p-perimeter", "Name": "Perimeter", "Type": "RESOURCE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [{"Sid": "Org", "Effect": "Deny", "Principal": "*",
                "Action": "kms:*", "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]},
            "Targets": ["r-ab12"]}),
    ];
    for n in 0..scps {
        policies.push(
            json!({"Id": format!("p-deny{n}"), "Type": "SERVICE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [
                {"Sid": "NoThis", "Effect": "Deny", "Action": deny_action, "Resource": "*"}]},
            "Targets": ["ou-ab12-11111111"]}),
        );
    }
    w["organization_policies"] = json!(policies);
    w["vpc_endpoints"] = json!([
        {"VpcEndpointId": "vpce-1a2b3c4d", "VpcId": "vpc-11aa22bb"},
        {"VpcEndpointId": "vpce-5e6f7a8b", "VpcId": "vpc-11aa22bb",
         "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}}
    ]);
    w["sessions"] = json!([{"arn": "arn:aws:sts::111122223333:assumed-role/app/s2",
        "policies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}]}]);
    w
}

fn count(info: &Value, what: &str) -> u64 {
    info["counts"][what]
        .as_u64()
        .unwrap_or_else(|| panic!("no count of {what}: {info}"))
}

#[test]
fn world_info_counts_the_guardrails_and_a_reload_updates_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::write(&path, org_world("kms:Encrypt", 1).to_string()).unwrap();
    let server = Server::start(&path, &["--no-watch"]);

    let info = server.get("/v1/world").json();
    assert_eq!(count(&info, "organizations"), 1);
    assert_eq!(count(&info, "organization_policies"), 3);
    assert_eq!(count(&info, "vpc_endpoints"), 2);
    assert_eq!(count(&info, "sessions"), 1);
    assert_eq!(count(&info, "accounts"), 1);
    let metrics = server.get("/metrics").body;
    for line in [
        "keyward_world_objects{kind=\"organizations\"} 1\n",
        "keyward_world_objects{kind=\"organization_policies\"} 3\n",
        "keyward_world_objects{kind=\"vpc_endpoints\"} 2\n",
        "keyward_world_objects{kind=\"sessions\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }

    // The decisions follow the guardrails of the served world.
    assert_eq!(server.decide(&request("kms:Encrypt")), "ExplicitDeny");
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
    let mut through = request("kms:Encrypt");
    through["action"] = json!("kms:GenerateDataKey");
    through["context"] = json!({"aws:SourceVpce": "vpce-5e6f7a8b"});
    assert_eq!(
        server.decide(&through),
        "ImplicitDeny",
        "the endpoint policy"
    );
    let mut session = request("kms:GenerateDataKey");
    session["principal"] = json!("arn:aws:sts::111122223333:assumed-role/app/s2");
    assert_eq!(
        server.decide(&session),
        "ImplicitDeny",
        "the session policy"
    );
    let explained = server
        .post("/v1/authorize?explain", &request("kms:Encrypt"))
        .json();
    assert_eq!(explained["reasons"][0]["source"], "scp", "{explained}");
    assert_eq!(
        explained["reasons"][0]["policy_id"], "p-deny0",
        "{explained}"
    );

    // A reload with other guardrails: the counts and the decisions change with it.
    let mut next = org_world("kms:Decrypt", 3);
    next["sessions"] = json!([]);
    next["vpc_endpoints"] = json!([]);
    let a = call("PUT", &server.url("/v1/world"), &next.to_string(), None);
    assert_eq!(a.status, 200, "{}", a.body);
    let info = server.get("/v1/world").json();
    assert_eq!(info["version"], 2, "{info}");
    assert_eq!(count(&info, "organizations"), 1);
    assert_eq!(count(&info, "organization_policies"), 5);
    assert_eq!(count(&info, "vpc_endpoints"), 0);
    assert_eq!(count(&info, "sessions"), 0);
    assert_eq!(server.decide(&request("kms:Encrypt")), "Allow");
    assert_eq!(server.decide(&request("kms:Decrypt")), "ExplicitDeny");

    // A world without guardrails counts none.
    let plain = world_allowing("kms:*");
    let a = call("PUT", &server.url("/v1/world"), &plain.to_string(), None);
    assert_eq!(a.status, 200, "{}", a.body);
    let info = server.get("/v1/world").json();
    for what in [
        "organizations",
        "organization_policies",
        "vpc_endpoints",
        "sessions",
    ] {
        assert_eq!(count(&info, what), 0, "{what}: {info}");
    }
    assert_eq!(server.decide(&request("kms:Decrypt")), "Allow");
}
