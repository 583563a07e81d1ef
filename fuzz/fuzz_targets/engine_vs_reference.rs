//! The compiled engine against the reference evaluator on structured random worlds: a few keys,
//! principals and grants drawn from small alphabets so that names collide and conditions match.
#![no_main]

use arbitrary::Arbitrary;
use keyward::engine::Engine;
use keyward::{reference, Request, World};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const PARTITIONS: [&str; 2] = ["aws", "aws-cn"];
const ACTIONS: [&str; 7] = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:*",
    "kms:Re*",
    "kms:CreateGrant",
    "kms:DescribeKey",
    "kms:Get?eyPolicy",
];
const KEYS: [&str; 4] = ["vpce-1", "tenant", "aws:SourceVpce", "kms:EncryptionContext:tenant"];
const VALUES: [&str; 4] = ["blue", "b*", "vpce-1", "*"];
const OPS: [&str; 6] = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLikeIfExists",
    "ForAnyValue:StringEquals",
    "Null",
];
const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Arbitrary, Debug)]
struct Stmt {
    deny: bool,
    principal: u8,
    action: u8,
    condition: Option<(u8, u8, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    key_partition: bool,
    key_account: bool,
    key_policy: Vec<Stmt>,
    identity: Vec<Stmt>,
    grant: Option<(u8, u8)>,
    caller_partition: bool,
    caller_account: bool,
    caller: u8,
    action: u8,
    context: Vec<(u8, u8)>,
    ec: Option<u8>,
}

fn arn_of(partition: &str, account: &str, user: &str) -> String {
    format!("arn:{partition}:iam::{account}:user/{user}")
}

fn statement(s: &Stmt, key_policy: bool, partition: &str, account: &str) -> Value {
    let mut v = json!({
        "Effect": if s.deny { "Deny" } else { "Allow" },
        "Action": ACTIONS[s.action as usize % ACTIONS.len()],
        "Resource": "*",
    });
    if key_policy {
        let p = match s.principal % 5 {
            0 => json!("*"),
            1 => json!({"AWS": format!("arn:{partition}:iam::{account}:root")}),
            n => json!({"AWS": arn_of(partition, account, USERS[n as usize % 3])}),
        };
        v["Principal"] = p;
    }
    if let Some((op, k, val)) = s.condition {
        let op = OPS[op as usize % OPS.len()];
        let key = KEYS[k as usize % KEYS.len()];
        let value = if op == "Null" { "true" } else { VALUES[val as usize % VALUES.len()] };
        v["Condition"] = json!({op: {key: value}});
    }
    v
}

fuzz_target!(|input: Input| {
    let partition = PARTITIONS[input.key_partition as usize];
    let account = ACCOUNTS[input.key_account as usize];
    let region = if partition == "aws" { "us-west-2" } else { "cn-north-1" };
    let key = format!("arn:{partition}:kms:{region}:{account}:key/k");
    let kp: Vec<Value> = input
        .key_policy
        .iter()
        .take(4)
        .map(|s| statement(s, true, partition, account))
        .collect();
    let cp = PARTITIONS[input.caller_partition as usize];
    let ca = ACCOUNTS[input.caller_account as usize];
    let caller = arn_of(cp, ca, USERS[input.caller as usize % 3]);
    let idp: Vec<Value> = input
        .identity
        .iter()
        .take(3)
        .map(|s| statement(s, false, cp, ca))
        .collect();
    let mut world = json!({
        "keys": [{"arn": key, "aliases": ["alias/app"],
                  "policy": {"Version": "2012-10-17", "Statement": kp}}],
        "principals": [{"arn": caller, "policies": if idp.is_empty() { json!([]) } else {
            json!([{"Version": "2012-10-17", "Statement": idp}]) }}],
    });
    if let Some((user, op)) = input.grant {
        world["grants"] = json!([{"KeyId": key, "GrantId": "g1",
            "GranteePrincipal": arn_of(partition, account, USERS[user as usize % 3]),
            "Operations": [(["Decrypt", "Encrypt", "DescribeKey"][op as usize % 3])]}]);
    }
    let Ok(world) = World::from_value(&world, "fuzz") else {
        return;
    };
    let mut context = serde_json::Map::new();
    for (k, v) in input.context.iter().take(3) {
        let k = KEYS[*k as usize % KEYS.len()];
        context.insert(k.into(), json!(VALUES[*v as usize % VALUES.len()]));
    }
    let mut req = json!({"principal": caller,
        "action": (["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:CreateGrant"][input.action as usize % 4]),
        "resource": key, "context": context});
    if let Some(e) = input.ec {
        req["encryption_context"] = json!({"tenant": VALUES[e as usize % VALUES.len()]});
    }
    let Ok((req, _)) = Request::from_value(&req) else {
        return;
    };
    let engine = Engine::compile(world);
    assert_eq!(engine.decide(&req), reference::evaluate(engine.world(), &req));
});
