//! Access analysis against `check`, by brute force on random worlds (see `common`): for every
//! caller, key and analysed action, the symbolic answer allows a request exactly when the
//! reference evaluator does, for requests carrying random context and encryption contexts; an
//! answer called unconditional is allowed with no context at all; and `who-can` / `what-can`
//! list exactly the world principals with some access. Set PROPTEST_CASES to run more cases.

mod common;

use keyward::actions::{self, ActionId};
use keyward::analysis::{allows, analysed_actions, Analyzer};
use keyward::arn::Caller;
use keyward::{reference, Outcome, Request, World};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

/// Context a call carries: every key here describes the call, none the world.
fn environment() -> impl Strategy<Value = (Value, Value)> {
    let contexts = vec![
        ("kms:ViaService", json!("s3.us-west-2.amazonaws.com")),
        ("kms:ViaService", json!("ec2.us-west-2.amazonaws.com")),
        ("aws:SourceIp", json!("203.0.113.7")),
        ("aws:SourceIp", json!("10.1.2.3")),
        ("aws:SourceIp", json!("2001:db8::1")),
        ("aws:MultiFactorAuthPresent", json!(true)),
        ("aws:MultiFactorAuthPresent", json!("false")),
        ("aws:MultiFactorAuthAge", json!(120)),
        ("aws:CurrentTime", json!("2026-05-04T10:00:00Z")),
        ("aws:CurrentTime", json!("2026-07-01")),
        ("aws:SourceVpce", json!("vpce-1")),
        ("aws:SourceVpce", json!("vpce-2")),
        ("custom:blob", json!("aGVsbG8=")),
        ("kms:GrantOperations", json!(["Decrypt"])),
        ("kms:GrantOperations", json!(["Decrypt", "RetireGrant"])),
        ("kms:GrantConstraintType", json!("EncryptionContextSubset")),
        ("kms:GrantConstraintType", json!("EncryptionContextEquals")),
        ("aws:SourceArn", json!("arn:aws:s3:::bucket")),
        ("kms:GrantIsForAWSResource", json!("true")),
    ];
    let ecs = vec![
        json!({}),
        json!({"dept": "IT"}),
        json!({"Dept": "IT", "proj": "x"}),
        json!({"dept": "it"}),
        json!({"user": "alice", "note": "a*b"}),
        json!({"dept": "IT", "proj": "x"}),
    ];
    (prop::collection::vec(select(contexts), 0..4), select(ecs)).prop_map(|(ctx, ec)| {
        let mut context = Map::new();
        for (k, v) in ctx {
            context.insert(k.into(), v);
        }
        (Value::Object(context), ec)
    })
}

fn request(caller: &str, action: ActionId, key: &str, env: Option<&(Value, Value)>) -> Request {
    let mut r = json!({"principal": caller, "action": actions::full_name(action), "resource": key});
    if let Some((context, ec)) = env {
        r["context"] = context.clone();
        r["encryption_context"] = ec.clone();
    }
    Request::from_value(&r).expect("request parses").0
}

fn callers(world: &World) -> Vec<String> {
    let mut out: Vec<String> = common::CALLERS.iter().map(|s| s.to_string()).collect();
    out.push(format!("arn:aws:sts::{}:federated-user/fed", common::A));
    out.push(format!(
        "arn:aws:sts::{}:assumed-role/AWSServiceRoleForSupport/x",
        common::A
    ));
    out.extend(world.principals.iter().map(|p| p.arn.clone()));
    out
}

/// The cross-check on one world: every caller × key × picked action against `check`, the
/// summaries against the answers, and who-can against the answers.
fn check_world(
    world: Value,
    picked: &[ActionId],
    envs: &[(Value, Value)],
) -> Result<(), TestCaseError> {
    let mut world = world;
    // Twins of alice and of role Ops: same account, kind, policies and tags, so analysis
    // answers them together unless a policy names one of them.
    let principals = world["principals"].as_array_mut().unwrap();
    let mut carol = principals[1].clone();
    carol["arn"] = json!(format!("arn:aws:iam::{}:user/carol", common::A));
    let mut ops2 = principals[0].clone();
    ops2["arn"] = json!(format!("arn:aws:iam::{}:role/app/Ops2", common::A));
    principals.push(carol);
    principals.push(ops2);
    let w = World::from_value(&world, "generated").expect("generated world loads");
    let an = Analyzer::new(&w);
    for caller_arn in callers(&w) {
        let caller = Caller::parse(&caller_arn).expect("caller parses");
        for key in &w.keys {
            for &action in picked {
                let access = an.access(&caller, key, action);
                let bare = request(&caller_arn, action, &key.arn, None);
                let bare_allowed = reference::evaluate(&w, &bare).outcome == Outcome::Allow;
                if access.as_ref().is_some_and(|a| a.is_unconditional()) {
                    prop_assert!(
                        bare_allowed,
                        "unconditional but denied: {} {} {}\n{:?}\nworld {:#}",
                        caller_arn,
                        actions::full_name(action),
                        key.arn,
                        access,
                        world
                    );
                }
                for env in std::iter::once(None).chain(envs.iter().map(Some)) {
                    let req = request(&caller_arn, action, &key.arn, env);
                    let allowed = reference::evaluate(&w, &req).outcome == Outcome::Allow;
                    let predicted = access.as_ref().is_some_and(|a| allows(&w, &req, a));
                    prop_assert_eq!(
                        predicted,
                        allowed,
                        "{} {} {} env {:?}\nanswer {:#?}\nworld {:#}",
                        caller_arn,
                        actions::full_name(action),
                        key.arn,
                        env,
                        access,
                        world
                    );
                }
            }
        }
    }
    // The access report's summary agrees with the full answers, action by action.
    for caller_arn in callers(&w) {
        let caller = Caller::parse(&caller_arn).expect("caller parses");
        for key in &w.keys {
            let summary = an.summary(&caller, key, analysed_actions());
            for action in analysed_actions().iter() {
                let access = an.access(&caller, key, action);
                prop_assert_eq!(
                    summary.any.contains(action),
                    access.is_some(),
                    "summary {} {} {}\n{:?}\nworld {:#}",
                    caller_arn,
                    actions::full_name(action),
                    key.arn,
                    access,
                    world
                );
                prop_assert_eq!(
                    summary.unconditional.contains(action),
                    access.as_ref().is_some_and(|a| a.is_unconditional()),
                    "summary (unconditional) {} {} {}\n{:?}\nworld {:#}",
                    caller_arn,
                    actions::full_name(action),
                    key.arn,
                    access,
                    world
                );
            }
        }
    }
    // who-can lists exactly the world principals that access finds, for every analysed action.
    for key in &w.keys {
        let who = an.who_can(key, analysed_actions());
        for (action, entries) in &who.actions {
            for (i, p) in w.principals.iter().enumerate() {
                let listed = entries.iter().any(|e| !e.class && e.principal == p.arn);
                let expected = an.callers()[i]
                    .as_ref()
                    .is_some_and(|c| an.access(c, key, *action).is_some());
                prop_assert_eq!(
                    listed,
                    expected,
                    "who-can {} {} {}",
                    key.arn,
                    actions::full_name(*action),
                    p.arn
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn analysis_agrees_with_check(
        world in common::world(),
        picked in prop::collection::vec(select(analysed_actions().iter().collect::<Vec<_>>()), 6),
        envs in prop::collection::vec(environment(), 3),
    ) {
        check_world(world, &picked, &envs)?;
    }

    /// The same on organization worlds: service and resource control policies, a VPC endpoint
    /// with its policy, a session with session policies, AWS managed keys.
    #[test]
    fn analysis_agrees_with_check_under_guardrails(
        world in common::org_world(),
        picked in prop::collection::vec(select(analysed_actions().iter().collect::<Vec<_>>()), 4),
        envs in prop::collection::vec(environment(), 3),
    ) {
        check_world(world, &picked, &envs)?;
    }
}

#[test]
fn default_world_answers() {
    let w = World::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/default/world.json"
    ))
    .unwrap();
    let an = Analyzer::new(&w);
    let key = an
        .resolve_key("arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        .unwrap();
    let mut set = keyward::actions::ActionSet::EMPTY;
    set.insert(actions::by_name("PutKeyPolicy").unwrap());
    let who = an.who_can(key, set);
    let names: Vec<&str> = who.actions[0]
        .1
        .iter()
        .map(|e| e.principal.as_str())
        .collect();
    assert!(
        names.contains(&"arn:aws:iam::111122223333:role/KeyAdmin"),
        "{names:?}"
    );
    assert!(names.contains(&"account:111122223333"), "{names:?}");
}
