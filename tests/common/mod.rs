//! Random worlds and requests for property tests, built from every feature of docs/semantics.md: principal
//! kinds (account, root, role, session, user, service, `*`, NotPrincipal), action and resource
//! wildcards, NotAction/NotResource, every condition family with present and absent keys, policy
//! variables, identity policies, groups, permissions boundaries, grants with constraints,
//! cross-account keys, aliases and key states.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

pub const A: &str = "111122223333";
pub const B: &str = "444455556666";
pub const K1: &str = "arn:aws:kms:us-west-2:111122223333:key/k1";
pub const K2: &str = "arn:aws:kms:us-west-2:111122223333:key/k2";
/// An id longer than the engine holds inline, so lookups take the string-table path.
pub const K3: &str =
    "arn:aws:kms:us-east-1:444455556666:key/k3-an-id-longer-than-the-38-bytes-held-inline";
/// A role name longer than the engine holds inline.
pub const LONG_ROLE: &str = "ops-role-with-a-name-longer-than-thirty-eight-bytes";
pub const ALIAS: &str = "arn:aws:kms:us-west-2:111122223333:alias/app";
pub const GRANT_IDS: &[&str] = &["g0", "g1", "g2"];

pub const CALLERS: &[&str] = &[
    "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:assumed-role/Ops/s1",
    "arn:aws:sts::111122223333:assumed-role/Ops/s2",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:iam::444455556666:root",
    "arn:aws:sts::444455556666:assumed-role/Dev/d1",
    "arn:aws:sts::111122223333:assumed-role/ops-role-with-a-name-longer-than-thirty-eight-bytes/s3",
    "s3.amazonaws.com",
];

fn principal_pool() -> Vec<Value> {
    vec![
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": A}),
        json!({"AWS": format!("arn:aws:iam::{A}:root")}),
        json!({"AWS": format!("arn:aws:iam::{A}:role/app/Ops")}),
        json!({"AWS": format!("arn:aws:sts::{A}:assumed-role/Ops/s1")}),
        json!({"AWS": format!("arn:aws:iam::{A}:user/alice")}),
        json!({"AWS": B}),
        json!({"AWS": format!("arn:aws:iam::{B}:role/Dev")}),
        json!({"AWS": format!("arn:aws:iam::{A}:role/{LONG_ROLE}")}),
        json!({"Service": "s3.amazonaws.com"}),
        json!({"AWS": [A, format!("arn:aws:iam::{B}:role/Dev")]}),
    ]
}

const ACTIONS: &[&str] = &[
    "kms:*",
    "*",
    "kms:Decrypt",
    "KMS:decrypt",
    "kms:Encrypt",
    "kms:Re*",
    "kms:Generate*",
    "kms:GenerateDataKey?",
    "kms:Describe*",
    "kms:CreateGrant",
    "kms:RetireGrant",
    "kms:ScheduleKeyDeletion",
    "kms:List*",
    "kms:CreateAlias",
    "kms:Get*",
    "kms:*Key*",
    "s3:GetObject",
];

const RESOURCES: &[&str] = &[
    "*",
    K1,
    K2,
    "arn:aws:kms:*:111122223333:key/*",
    "arn:aws:kms:us-east-1:*:key/*",
    ALIAS,
    "arn:aws:kms:us-west-2:111122223333:alias/*",
    "arn:aws:kms:us-east-1:111122223333:key/*",
    "arn:aws:kms:*:*:*",
    "arn:aws:kms:us-west-2:111122223333:key/${aws:PrincipalTag/key}",
    "arn:aws:kms:us-west-2:111122223333:key/K1",
];

fn condition_pool() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "StringEquals",
            "kms:ViaService",
            json!("s3.us-west-2.amazonaws.com"),
        ),
        ("StringNotEquals", "kms:CallerAccount", json!(A)),
        ("StringEquals", "kms:CallerAccount", json!([A, B])),
        ("StringLike", "kms:EncryptionContext:dept", json!("I*")),
        (
            "StringEqualsIgnoreCase",
            "kms:EncryptionContext:Dept",
            json!("it"),
        ),
        (
            "StringNotLike",
            "kms:EncryptionContext:dept",
            json!(["H?", "x*"]),
        ),
        (
            "ForAnyValue:StringEquals",
            "kms:EncryptionContextKeys",
            json!(["dept", "proj"]),
        ),
        (
            "ForAllValues:StringEquals",
            "kms:EncryptionContextKeys",
            json!(["dept"]),
        ),
        (
            "ForAnyValue:StringNotEquals",
            "kms:EncryptionContextKeys",
            json!("dept"),
        ),
        ("StringEquals", "kms:EncryptionContextKeys", json!("dept")),
        ("Bool", "aws:MultiFactorAuthPresent", json!(true)),
        ("BoolIfExists", "aws:MultiFactorAuthPresent", json!("false")),
        ("IpAddress", "aws:SourceIp", json!("203.0.113.0/24")),
        (
            "NotIpAddress",
            "aws:SourceIp",
            json!(["10.0.0.0/8", "2001:db8::/32"]),
        ),
        ("NumericLessThan", "aws:MultiFactorAuthAge", json!(3600)),
        (
            "NumericGreaterThanEqualsIfExists",
            "aws:MultiFactorAuthAge",
            json!("60.5"),
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            json!("2026-06-01T00:00:00Z"),
        ),
        ("DateGreaterThan", "aws:CurrentTime", json!("1767225600")),
        (
            "ArnLike",
            "aws:PrincipalArn",
            json!("arn:aws:iam::*:role/*"),
        ),
        (
            "ArnNotEquals",
            "aws:PrincipalArn",
            json!(format!("arn:aws:iam::{A}:user/alice")),
        ),
        ("Null", "kms:EncryptionContextKeys", json!("false")),
        ("Null", "aws:SourceVpce", json!(true)),
        ("StringEquals", "kms:RequestAlias", json!("alias/app")),
        (
            "ForAnyValue:StringLike",
            "kms:ResourceAliases",
            json!("alias/a*"),
        ),
        ("StringEquals", "aws:ResourceTag/team", json!("payments")),
        (
            "StringEquals",
            "kms:EncryptionContext:user",
            json!("${aws:username}"),
        ),
        ("StringLike", "kms:EncryptionContext:note", json!("a${*}b")),
        ("StringEqualsIfExists", "aws:SourceVpce", json!("vpce-1")),
        ("StringEquals", "aws:PrincipalTag/team", json!("payments")),
        (
            "StringEquals",
            "AWS:principaltag/TEAM",
            json!("${aws:PrincipalTag/team, 'none'}"),
        ),
        ("BinaryEquals", "custom:blob", json!("aGVsbG8=")),
        (
            "ForAllValues:StringLike",
            "kms:GrantOperations",
            json!(["Decrypt", "Encrypt*"]),
        ),
        ("Bool", "kms:GrantIsForAWSResource", json!("true")),
        ("StringEquals", "aws:PrincipalOrgID", json!("o-abc")),
    ]
}

fn one_or_many(pool: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        select(pool).prop_map(|s| json!(s)),
        prop::collection::vec(select(pool), 1..3).prop_map(|v| json!(v)),
    ]
}

fn conditions(identity: bool) -> impl Strategy<Value = Option<Value>> {
    let pool = condition_pool();
    let some = prop::collection::vec(select(pool), 1..3);
    prop_oneof![2 => Just(Vec::new()), 3 => some].prop_map(move |cs| {
        if cs.is_empty() {
            return None;
        }
        let mut block = Map::new();
        for (op, key, value) in cs {
            if !identity
                && op.starts_with("ForAllValues")
                && key.starts_with("kms:EncryptionContext:")
            {
                continue;
            }
            let entry = block.entry(op.to_string()).or_insert_with(|| json!({}));
            entry[key] = value;
        }
        Some(Value::Object(block))
    })
}

/// A random statement; key-policy statements name principals.
pub fn statement(key_policy: bool) -> impl Strategy<Value = Value> {
    (
        select(vec!["Allow", "Allow", "Allow", "Deny"]),
        select(principal_pool()),
        any::<bool>(),
        one_or_many(ACTIONS),
        any::<u8>(),
        one_or_many(RESOURCES),
        conditions(!key_policy),
        0u8..4,
    )
        .prop_map(
            move |(
                effect,
                principal,
                not_principal,
                action,
                negations,
                resource,
                condition,
                sid,
            )| {
                let mut st = Map::new();
                if sid > 0 {
                    st.insert("Sid".into(), json!(format!("S{sid}")));
                }
                st.insert("Effect".into(), json!(effect));
                if key_policy {
                    // NotPrincipal only with Deny, as AWS recommends; "*" is not listed under it.
                    let np = not_principal && effect == "Deny" && principal != json!("*");
                    st.insert(
                        if np { "NotPrincipal" } else { "Principal" }.into(),
                        principal,
                    );
                }
                st.insert(
                    if negations % 7 == 0 {
                        "NotAction"
                    } else {
                        "Action"
                    }
                    .into(),
                    action,
                );
                st.insert(
                    if negations % 11 == 0 {
                        "NotResource"
                    } else {
                        "Resource"
                    }
                    .into(),
                    resource,
                );
                if let Some(c) = condition {
                    st.insert("Condition".into(), c);
                }
                Value::Object(st)
            },
        )
}

pub fn policy(key_policy: bool, max: usize) -> impl Strategy<Value = Value> {
    (prop::collection::vec(statement(key_policy), 0..max), any::<bool>()).prop_map(|(statements, v2008)| {
        json!({"Version": if v2008 { "2008-10-17" } else { "2012-10-17" }, "Statement": statements})
    })
}

fn grant() -> impl Strategy<Value = Value> {
    let grantees = vec![
        format!("arn:aws:iam::{A}:role/app/Ops"),
        format!("arn:aws:sts::{A}:assumed-role/Ops/s2"),
        format!("arn:aws:iam::{A}:user/bob"),
        format!("arn:aws:iam::{A}:root"),
        format!("arn:aws:iam::{B}:role/Dev"),
        "s3.amazonaws.com".to_string(),
    ];
    let ops = vec![
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "DescribeKey",
        "CreateGrant",
        "RetireGrant",
        "ReEncryptFrom",
        "ReEncryptTo",
    ];
    (
        select(vec![K1, K2, K3]),
        select(grantees.clone()),
        prop::option::of(select(grantees)),
        prop::collection::vec(select(ops), 1..4),
        0u8..4,
        select(vec![A, B]),
    )
        .prop_map(|(key, grantee, retiring, mut ops, constraint, issuing)| {
            ops.sort();
            ops.dedup();
            let mut g = json!({"KeyId": key, "GranteePrincipal": grantee, "Operations": ops, "IssuingAccount": format!("arn:aws:iam::{issuing}:root")});
            if let Some(r) = retiring {
                g["RetiringPrincipal"] = json!(r);
            }
            match constraint {
                1 => g["Constraints"] = json!({"EncryptionContextSubset": {"Dept": "IT"}}),
                2 => g["Constraints"] = json!({"EncryptionContextEquals": {"dept": "IT", "proj": "x"}}),
                _ => {}
            }
            g
        })
}

/// A random world over three keys (two in account A, one in B), two roles, two users, a group
/// and up to four grants.
pub fn world() -> impl Strategy<Value = Value> {
    (
        (policy(true, 5), policy(true, 4), policy(true, 3)),
        (policy(false, 3), policy(false, 3), policy(false, 3), policy(false, 2)),
        prop::option::of(policy(false, 2)),
        prop::collection::vec(grant(), 0..4),
        select(vec!["Enabled", "Enabled", "Disabled", "PendingDeletion"]),
        prop::bool::weighted(0.7),
        prop::collection::vec(prop::bool::weighted(0.5), 3),
    )
        .prop_map(|((kp1, kp2, kp3), (ops, alice, dev, devs), boundary, grants, state, with_root, admins)| {
            let admin = json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"});
            let with_admin = |mut p: Value, yes: bool| {
                if yes {
                    p["Statement"].as_array_mut().unwrap().push(admin.clone());
                }
                p
            };
            let (ops, alice, dev) = (with_admin(ops, admins[0]), with_admin(alice, admins[1]), with_admin(dev, admins[2]));
            let root_stmt = json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"});
            let mut kp1 = kp1;
            if with_root {
                kp1["Statement"].as_array_mut().unwrap().insert(0, root_stmt);
            }
            let grants: Vec<Value> = grants
                .into_iter()
                .enumerate()
                .map(|(i, mut g)| {
                    g["GrantId"] = json!(GRANT_IDS.get(i).copied().unwrap_or("g3"));
                    g
                })
                .collect();
            let mut ops_role = json!({"arn": format!("arn:aws:iam::{A}:role/app/Ops"), "policies": [ops], "tags": {"team": "payments", "key": "k1"}});
            if let Some(b) = boundary {
                ops_role["permissions_boundary"] = b;
            }
            json!({
                "accounts": [{"id": A, "org_id": "o-abc", "org_paths": ["o-abc/r-1/ou-1/"]}, {"id": B}],
                "keys": [
                    {"arn": K1, "policy": kp1, "aliases": ["alias/app"], "tags": {"team": "payments"}},
                    {"arn": K2, "policy": kp2, "metadata": {"KeyState": state}},
                    {"arn": K3, "policy": kp3, "aliases": ["alias/shared"]},
                ],
                "principals": [
                    ops_role,
                    {"arn": format!("arn:aws:iam::{A}:user/alice"), "policies": [alice], "groups": [format!("arn:aws:iam::{A}:group/devs")]},
                    {"arn": format!("arn:aws:iam::{A}:role/{LONG_ROLE}"), "policies": [dev.clone()]},
                    {"arn": format!("arn:aws:iam::{B}:role/Dev"), "policies": [dev]},
                ],
                "groups": [{"arn": format!("arn:aws:iam::{A}:group/devs"), "policies": [devs]}],
                "grants": grants,
            })
        })
}

const REQUEST_ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:ListKeys",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:ReEncrypt",
    "kms:GetKeyPolicy",
    "kms:ReEncryptFrom",
];

/// A random request against the keys of [`world`].
pub fn request() -> impl Strategy<Value = Value> {
    let contexts = vec![
        ("kms:ViaService", json!("s3.us-west-2.amazonaws.com")),
        ("aws:SourceIp", json!("203.0.113.7")),
        ("aws:SourceIp", json!("10.1.2.3")),
        ("aws:SourceIp", json!("2001:db8::1")),
        ("aws:MultiFactorAuthPresent", json!(true)),
        ("aws:MultiFactorAuthPresent", json!("false")),
        ("aws:MultiFactorAuthAge", json!(120)),
        ("aws:CurrentTime", json!("2026-05-04T10:00:00Z")),
        ("aws:CurrentTime", json!("2026-07-01")),
        ("aws:SourceVpce", json!("vpce-1")),
        ("custom:blob", json!("aGVsbG8=")),
        ("kms:GrantOperations", json!(["Decrypt"])),
        ("kms:GrantOperations", json!(["Decrypt", "RetireGrant"])),
        ("kms:GrantConstraintType", json!("EncryptionContextSubset")),
        ("kms:GrantConstraintType", json!("EncryptionContextEquals")),
        ("aws:SourceArn", json!("arn:aws:s3:::bucket")),
    ];
    let ecs = vec![
        json!({}),
        json!({"dept": "IT"}),
        json!({"Dept": "IT", "proj": "x"}),
        json!({"dept": "it"}),
        json!({"user": "alice", "note": "a*b"}),
        json!({"dept": "IT", "proj": "x"}),
    ];
    (
        select(CALLERS),
        select(REQUEST_ACTIONS),
        select(vec![K1, K2, K3, ALIAS, "arn:aws:kms:us-east-1:444455556666:alias/shared"]),
        prop::collection::vec(select(contexts), 0..3),
        select(ecs),
        select(GRANT_IDS),
        select(vec![K1, K2, K3]),
    )
        .prop_map(|(principal, action, resource, ctx, ec, grant_id, other)| {
            let mut context = Map::new();
            for (k, v) in ctx {
                context.insert(k.into(), v);
            }
            let resource = match action {
                "kms:ListKeys" => "*",
                "kms:CreateAlias" | "kms:DeleteAlias" => ALIAS,
                _ => resource,
            };
            let mut r = json!({"principal": principal, "action": action, "resource": resource, "context": context,
                   "encryption_context": ec, "grant_id": grant_id, "destination": other, "target_key": other});
            if action == "kms:PutKeyPolicy" {
                // A new policy that keeps the account statement, or one that names only role Ops.
                let keeps_root = grant_id != "g0";
                let principal = if keeps_root { json!({"AWS": A}) } else { json!({"AWS": format!("arn:aws:iam::{A}:role/app/Ops")}) };
                r["policy"] = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"}]});
            }
            r
        })
}

/// The level ids of account A's organization path at `depth` OUs (root first), then A.
pub fn org_levels(depth: usize) -> Vec<String> {
    let mut v = vec!["r-1".to_string()];
    for i in 1..=depth {
        v.push(format!("ou-1-{i}"));
    }
    v.push(A.to_string());
    v
}

/// An organization world: [`world`] with account A (and sometimes B) in an organization of 1–3
/// OU levels, FullAWSAccess attached at every level but maybe one, random SCPs and RCPs at random
/// levels, a VPC endpoint with a random policy, a session with session policies, and sometimes
/// an AWS managed key.
pub fn org_world() -> impl Strategy<Value = Value> {
    (
        world(),
        1usize..4,
        prop::option::of(0usize..5),
        prop::collection::vec((policy(false, 3), 0usize..5), 0..4),
        prop::collection::vec((statement(true), 0usize..5), 0..3),
        prop::option::of(policy(true, 3)),
        prop::option::of(prop::collection::vec(policy(false, 2), 1..3)),
        (select(vec!["none", "other", "A"]), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(mut w, depth, detach, scps, rcps, endpoint, session, (mgmt, b_in, aws_key))| {
                let levels = org_levels(depth);
                let path = format!("o-abc/{}/", levels[..levels.len() - 1].join("/"));
                let mut accounts = vec![json!({"id": A, "org_id": "o-abc", "org_paths": [path]})];
                let mut all_levels = levels.clone();
                if b_in {
                    accounts.push(json!({"id": B, "org_id": "o-abc", "org_paths": ["o-abc/r-1/ou-b/"]}));
                    all_levels.push("ou-b".into());
                    all_levels.push(B.into());
                } else {
                    accounts.push(json!({"id": B}));
                }
                w["accounts"] = json!(accounts);
                let management = match mgmt {
                    "A" => json!(A),
                    "other" => json!("999999999999"),
                    _ => Value::Null,
                };
                let mut org = json!({"id": "o-abc", "root": "r-1"});
                if !management.is_null() {
                    org["management_account"] = management;
                }
                w["organizations"] = json!([org]);
                let pick = |i: usize| all_levels[i % all_levels.len()].clone();
                let full_targets: Vec<String> = all_levels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != detach)
                    .map(|(_, l)| l.clone())
                    .collect();
                let mut policies = vec![json!({"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY",
                    "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                    "Targets": full_targets})];
                for (i, (p, at)) in scps.into_iter().enumerate() {
                    policies.push(json!({"Id": format!("p-scp{i}"), "Type": "SERVICE_CONTROL_POLICY", "Content": p, "Targets": [pick(at)]}));
                }
                for (i, (mut st, at)) in rcps.into_iter().enumerate() {
                    st["Effect"] = json!("Deny");
                    if let Some(np) = st.as_object_mut().unwrap().remove("NotPrincipal") {
                        st["Principal"] = np;
                    }
                    policies.push(json!({"Id": format!("p-rcp{i}"), "Type": "RESOURCE_CONTROL_POLICY",
                        "Content": {"Version": "2012-10-17", "Statement": [st]}, "Targets": [pick(at)]}));
                }
                w["organization_policies"] = json!(policies);
                let mut e = json!({"VpcEndpointId": "vpce-1", "VpcId": "vpc-1", "ServiceName": "com.amazonaws.us-west-2.kms"});
                if let Some(p) = endpoint {
                    e["PolicyDocument"] = p;
                }
                w["vpc_endpoints"] = json!([e]);
                if let Some(list) = session {
                    w["sessions"] = json!([{"arn": format!("arn:aws:sts::{A}:assumed-role/Ops/s1"), "policies": list}]);
                }
                if aws_key {
                    w["keys"][1]["metadata"]["KeyManager"] = json!("AWS");
                }
                w
            },
        )
}

/// A request for [`org_world`]: [`request`], sometimes from a federated user or a service-linked
/// role session, through the known or an unknown endpoint, with session policies.
pub fn org_request() -> impl Strategy<Value = Value> {
    (
        request(),
        select(vec![
            "",
            "",
            "",
            "arn:aws:sts::111122223333:federated-user/fed",
            "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForSupport/x",
        ]),
        select(vec!["", "", "vpce-1", "vpce-2"]),
        prop::option::of(prop::collection::vec(policy(false, 2), 1..3)),
    )
        .prop_map(|(mut r, principal, vpce, session)| {
            if !principal.is_empty() {
                r["principal"] = json!(principal);
            }
            if !vpce.is_empty() {
                r["context"]["aws:SourceVpce"] = json!(vpce);
            }
            if let Some(s) = session {
                r["session_policies"] = json!(s);
            }
            r
        })
}
