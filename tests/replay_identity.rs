//! The mapping rules for each `userIdentity.type` (docs/semantics.md §8.2, §8.3), on the synthetic records of
//! `corpus/cloudtrail/identities.json` (one record per type and per rule), and the context keys
//! that depend on how the call arrived.

use keyward::engine::Engine;
use keyward::replay::map::{map_record, Mapping, Recorded};
use keyward::replay::read::{self, Visit};
use keyward::replay::record::Record;
use keyward::replay::{At, Bad};
use keyward::{Outcome, World};
use serde_json::Value;

struct Collect;

impl Visit for Collect {
    type Acc = Vec<Mapping>;
    fn start(&self) -> Self::Acc {
        Vec::new()
    }
    fn record(&self, acc: &mut Self::Acc, _at: At, rec: &Record<'_>) {
        acc.push(map_record(rec));
    }
    fn bad(&self, _acc: &mut Self::Acc, at: At, bad: Bad) {
        panic!("the fixture reads cleanly: {at:?} {bad}");
    }
    fn merge(&self, mut a: Self::Acc, b: Self::Acc) -> Self::Acc {
        a.extend(b);
        a
    }
}

fn fixture() -> Vec<Mapping> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/cloudtrail/identities.json"
    );
    let inputs = read::inputs(&[path.to_owned()]).unwrap();
    read::visit_all(&inputs, &Collect, &|_| {})
}

/// The request of record `i` as the request format (docs/formats.md) JSON, with its notes.
fn request(all: &[Mapping], i: usize) -> (Value, Vec<String>) {
    match &all[i] {
        Mapping::Request(m) => (m.request.to_value(), m.notes.clone()),
        other => panic!("record {i}: expected a request, got {other:?}"),
    }
}

fn ctx<'v>(r: &'v Value, key: &str) -> Option<&'v str> {
    r["context"].get(key).and_then(Value::as_str)
}

const KEY: &str = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn root_is_the_account_root_with_session_attributes() {
    let all = fixture();
    let (r, _) = request(&all, 0);
    assert_eq!(r["principal"], "arn:aws:iam::111122223333:root");
    assert_eq!(r["resource"], KEY);
    assert_eq!(ctx(&r, "aws:MultiFactorAuthPresent"), Some("true"));
    assert_eq!(ctx(&r, "aws:TokenIssueTime"), Some("2026-05-04T09:59:00Z"));
    // The engine derives these from the caller; the record adds nothing.
    assert_eq!(ctx(&r, "kms:CallerAccount"), None);
    assert_eq!(ctx(&r, "aws:userid"), None);
}

#[test]
fn iam_user_keeps_its_path_and_long_term_keys_have_no_mfa_key() {
    let all = fixture();
    let (r, notes) = request(&all, 1);
    assert_eq!(
        r["principal"],
        "arn:aws:iam::111122223333:user/division/alice"
    );
    assert_eq!(ctx(&r, "aws:userid"), Some("AIDAEXAMPLEUSER00001"));
    assert_eq!(
        ctx(&r, "aws:SourceIp"),
        Some("2001:db8::42"),
        "an IPv6 literal is an IP"
    );
    assert_eq!(
        ctx(&r, "aws:MultiFactorAuthPresent"),
        None,
        "absent for long-term access keys"
    );
    assert_eq!(ctx(&r, "aws:ViaAWSService"), Some("false"));
    assert_eq!(ctx(&r, "aws:CurrentTime"), Some("2026-05-04T10:00:01Z"));
    assert_eq!(ctx(&r, "aws:EpochTime"), Some("1777888801"));
    assert_eq!(ctx(&r, "aws:UserAgent"), Some("aws-sdk-go-v2/1.30.0"));
    assert!(notes.is_empty());
}

#[test]
fn assumed_role_is_the_session_with_the_role_arn_from_its_issuer() {
    let all = fixture();
    let (r, _) = request(&all, 2);
    assert_eq!(
        r["principal"],
        "arn:aws:sts::111122223333:assumed-role/deployer/build-42"
    );
    assert_eq!(
        ctx(&r, "aws:PrincipalArn"),
        Some("arn:aws:iam::111122223333:role/ci/deployer"),
        "the role path comes from sessionIssuer"
    );
    assert_eq!(ctx(&r, "aws:userid"), Some("AROAEXAMPLEROLE00001:build-42"));
    assert_eq!(ctx(&r, "aws:SourceIdentity"), Some("alice@example.com"));
    assert_eq!(
        ctx(&r, "aws:FederatedProvider"),
        Some("arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com")
    );
    assert_eq!(ctx(&r, "aws:MultiFactorAuthPresent"), Some("false"));
    assert_eq!(ctx(&r, "aws:TokenIssueTime"), Some("2026-05-04T09:30:00Z"));
}

#[test]
fn role_and_federated_user_and_fas_through_s3() {
    let all = fixture();
    let (r, _) = request(&all, 3);
    assert_eq!(r["principal"], "arn:aws:iam::111122223333:role/batch");
    let (r, _) = request(&all, 4);
    assert_eq!(
        r["principal"],
        "arn:aws:sts::111122223333:federated-user/carol"
    );
    assert_eq!(
        ctx(&r, "kms:ViaService"),
        Some("s3.us-east-2.amazonaws.com"),
        "invokedBy + awsRegion"
    );
    assert_eq!(ctx(&r, "aws:ViaAWSService"), Some("true"));
    assert_eq!(
        ctx(&r, "aws:SourceIp"),
        None,
        "s3.amazonaws.com is not an IP"
    );
    assert_eq!(
        ctx(&r, "aws:PrincipalArn"),
        None,
        "a federated user's aws:PrincipalArn is its own ARN"
    );
    assert_eq!(
        ctx(&r, "aws:userid"),
        None,
        "derived by the engine as account:name"
    );
}

#[test]
fn aws_account_is_decided_as_the_account_root_with_a_note() {
    let all = fixture();
    let (r, notes) = request(&all, 5);
    assert_eq!(r["principal"], "arn:aws:iam::444455556666:root");
    assert!(notes.iter().any(|n| n.contains("AWSAccount")), "{notes:?}");
    let Mapping::Request(m) = &all[5] else {
        unreachable!()
    };
    assert_eq!(m.recorded, Recorded::Denied);
}

#[test]
fn aws_service_is_the_invoking_service_principal() {
    let all = fixture();
    let (r, _) = request(&all, 6);
    assert_eq!(r["principal"], "cloudtrail.amazonaws.com");
    assert_eq!(r["action"], "kms:GenerateDataKey");
    assert_eq!(
        r["resource"], KEY,
        "resources[] names the key behind the alias"
    );
    assert_eq!(
        ctx(&r, "kms:RequestAlias"),
        Some("alias/trail-logs"),
        "the alias name, not its ARN"
    );
    assert_eq!(
        ctx(&r, "aws:ViaAWSService"),
        None,
        "not a forward access session"
    );
    assert_eq!(ctx(&r, "aws:SourceIp"), None);
    assert_eq!(
        r["encryption_context"]["aws:cloudtrail:arn"],
        "arn:aws:cloudtrail:us-east-2:111122223333:trail/main"
    );
}

#[test]
fn unknown_types_are_bad_and_missing_callers_are_skipped() {
    let all = fixture();
    for i in [7, 8] {
        match &all[i] {
            Mapping::Bad(b) => {
                assert_eq!(b.kind.code(), "unknown-identity-type");
                assert!(b.message.contains(if i == 7 {
                    "SAMLUser"
                } else {
                    "IdentityCenterUser"
                }));
            }
            other => panic!("record {i}: {other:?}"),
        }
    }
    assert!(
        matches!(&all[9], Mapping::Skipped(why) if why.starts_with("no caller") && why.contains("AWS Internal"))
    );
    let (r, notes) = request(&all, 10);
    assert_eq!(r["principal"], "arn:aws:iam::111122223333:user/legacy");
    assert!(notes[0].contains("type is missing"));
    assert!(
        matches!(&all[11], Mapping::Bad(b) if b.kind.code() == "missing-field" && b.message.contains("userIdentity.arn"))
    );
}

#[test]
fn vpc_endpoint_calls_have_no_source_ip() {
    let all = fixture();
    let (r, _) = request(&all, 12);
    assert_eq!(ctx(&r, "aws:SourceVpce"), Some("vpce-0a1b2c3d4e5f60789"));
    assert_eq!(ctx(&r, "aws:SourceIp"), None);
}

#[test]
fn create_grant_through_ebs() {
    let all = fixture();
    let (r, _) = request(&all, 13);
    assert_eq!(r["action"], "kms:CreateGrant");
    assert_eq!(
        ctx(&r, "kms:ViaService"),
        Some("ec2.us-east-2.amazonaws.com")
    );
    assert_eq!(
        ctx(&r, "kms:GrantConstraintType"),
        Some("EncryptionContextEquals")
    );
    assert_eq!(
        ctx(&r, "kms:RetiringPrincipal"),
        Some("ec2.us-east-2.amazonaws.com")
    );
    assert_eq!(
        r["context"]["kms:GrantOperations"],
        serde_json::json!(["Decrypt"])
    );
    assert_eq!(
        r["encryption_context"]["aws:ebs:id"],
        "vol-0abc1234def567890"
    );
}

/// The mapped context decides as AWS would: the role path, the account root of an AWSAccount
/// record, the service principal, the grant constraint type.
#[test]
fn mapped_requests_decide_with_the_engine() {
    let world = World::from_json(
        r#"{"keys": [{"arn": "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
          "aliases": ["alias/trail-logs"],
          "policy": {"Version": "2012-10-17", "Statement": [
            {"Sid": "CiRoles", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci/*"}}},
            {"Sid": "PartnerAccount", "Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "Trail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
             "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"}}},
            {"Sid": "EbsGrants", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Ops"}, "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}, "StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals"}}}
          ]}}],
          "principals": [{"arn": "arn:aws:iam::111122223333:role/ci/deployer"}]}"#,
        "test",
    )
    .unwrap();
    let engine = Engine::compile(world);
    let all = fixture();
    let decide = |i: usize| match &all[i] {
        Mapping::Request(m) => engine.decide(&m.request).outcome,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        decide(2),
        Outcome::Allow,
        "role path from sessionIssuer matches ArnLike role/ci/*"
    );
    assert_eq!(
        decide(5),
        Outcome::Allow,
        "the partner account's key-policy side allows"
    );
    assert_eq!(
        decide(6),
        Outcome::Allow,
        "the trail's service principal with its encryption context"
    );
    assert_eq!(
        decide(13),
        Outcome::Allow,
        "a grant for an AWS resource, through EC2"
    );
    assert_eq!(decide(1), Outcome::ImplicitDeny);
}

/// PutKeyPolicy records carry the new policy: a call that keyward's lockout safety check refuses
/// agrees with a recorded MalformedPolicyDocumentException and disagrees with a recorded success.
#[test]
fn put_key_policy_is_checked_for_lockout() {
    use keyward::replay::run::{self, Options};
    let world = World::from_json(
        r#"{"keys": [{"arn": "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
          "policy": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/ops"}, "Action": "kms:PutKeyPolicy", "Resource": "*"}]}}]}"#,
        "test",
    )
    .unwrap();
    let engine = Engine::compile(world);
    // The new policy names only the account: ops, who has no IAM policy, would be locked out.
    let new_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    let record = |i: u32, bypass: bool, error: Option<&str>| {
        let mut r = serde_json::json!({
            "eventTime": format!("2026-05-04T11:00:0{i}Z"), "eventSource": "kms.amazonaws.com", "eventName": "PutKeyPolicy",
            "awsRegion": "us-east-2", "sourceIPAddress": "203.0.113.5", "eventID": format!("put-{i}"), "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops", "accountId": "111122223333"},
            "requestParameters": {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "policyName": "default", "policy": new_policy,
                                  "bypassPolicyLockoutSafetyCheck": bypass},
            "resources": [{"ARN": KEY}], "recipientAccountId": "111122223333"});
        if let Some(e) = error {
            r["errorCode"] = e.into();
        }
        r.to_string()
    };
    let lines = [
        record(0, false, Some("MalformedPolicyDocumentException")),
        record(1, false, None),
        record(2, true, None),
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("put.jsonl");
    std::fs::write(&path, lines).unwrap();
    let inputs = read::inputs(&[path.display().to_string()]).unwrap();
    let s = run::replay(&inputs, &engine, None, Options::default(), &|_| {});
    assert_eq!(s.evaluated, 3);
    assert_eq!((s.agreements, s.disagreements, s.not_compared), (2, 1, 0));
    let d = &s.disagreement_list[0];
    assert_eq!(d.event_id.as_deref(), Some("put-1"));
    assert_eq!(
        d.decision.operation_error.as_deref(),
        Some("MalformedPolicyDocumentException")
    );
}
