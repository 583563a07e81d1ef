//! Invariants of KMS authorization that must hold for every world and request, checked on random
//! worlds and requests (see `common`). PROPTEST_CASES raises the number of cases.

mod common;

use keyward::reference::evaluate;
use keyward::{Outcome, Request, World};
use proptest::prelude::*;
use serde_json::{json, Value};

fn load(world: &Value) -> World {
    World::from_value(world, "generated")
        .unwrap_or_else(|e| panic!("generated world must load: {e}\n{world:#}"))
}

fn decide(world: &Value, request: &Value) -> keyward::Decision {
    let (req, _) = Request::from_value(request).expect("generated request must parse");
    evaluate(&load(world), &req)
}

/// Adds `statement` to the policy of key `index`.
fn with_key_statement(world: &Value, index: usize, statement: Value) -> Value {
    let mut w = world.clone();
    w["keys"][index]["policy"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(statement);
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Adding a Deny statement anywhere never turns a decision into Allow.
    #[test]
    fn adding_a_deny_never_adds_an_allow(world in common::world(), request in common::request(), extra in common::statement(true), key in 0usize..3) {
        let mut extra = extra;
        extra["Effect"] = json!("Deny");
        let before = decide(&world, &request);
        let after = decide(&with_key_statement(&world, key, extra.clone()), &request);
        if after.outcome == Outcome::Allow {
            prop_assert_eq!(before.outcome, Outcome::Allow);
        }
        // And in an identity policy too.
        let mut w = world.clone();
        extra.as_object_mut().unwrap().remove("Principal");
        extra.as_object_mut().unwrap().remove("NotPrincipal");
        w["principals"][0]["policies"].as_array_mut().unwrap().push(json!({"Version": "2012-10-17", "Statement": [extra]}));
        if decide(&w, &request).outcome == Outcome::Allow {
            prop_assert_eq!(before.outcome, Outcome::Allow);
        }
    }

    /// Adding an Allow statement never takes an Allow away.
    #[test]
    fn adding_an_allow_never_removes_an_allow(world in common::world(), request in common::request(), extra in common::statement(true), key in 0usize..3) {
        let mut extra = extra;
        extra["Effect"] = json!("Allow");
        let before = decide(&world, &request);
        let after = decide(&with_key_statement(&world, key, extra), &request);
        if before.outcome == Outcome::Allow {
            prop_assert_eq!(after.outcome, Outcome::Allow);
        }
    }

    /// Without the account-principal statement, IAM policies cannot give an IAM principal of the
    /// key's account anything: removing it never adds an Allow, and a caller allowed afterwards
    /// is allowed by the key policy or a grant, never by an identity policy alone.
    #[test]
    fn removing_the_root_statement_never_adds_an_allow(world in common::world(), request in common::request()) {
        let before = decide(&world, &request);
        let mut w = world.clone();
        let statements = w["keys"][0]["policy"]["Statement"].as_array_mut().unwrap();
        statements.retain(|s| s.get("Sid") != Some(&json!("Enable IAM User Permissions")));
        let after = decide(&w, &request);
        if after.outcome == Outcome::Allow {
            prop_assert_eq!(before.outcome, Outcome::Allow);
        }
    }

    /// Action names match case-insensitively: re-casing every action in every policy changes
    /// nothing.
    #[test]
    fn action_matching_is_case_insensitive(world in common::world(), request in common::request()) {
        fn recase(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m.iter_mut() {
                        if k == "Action" || k == "NotAction" {
                            match x {
                                Value::String(s) => *s = s.to_uppercase(),
                                Value::Array(items) => items.iter_mut().for_each(|i| if let Value::String(s) = i { *s = s.to_lowercase() }),
                                _ => {}
                            }
                        } else {
                            recase(x);
                        }
                    }
                }
                Value::Array(items) => items.iter_mut().for_each(recase),
                _ => {}
            }
        }
        let mut w = world.clone();
        recase(&mut w);
        prop_assert_eq!(decide(&world, &request), decide(&w, &request));
    }

    /// Every Allow and ExplicitDeny names what decided it, and an ExplicitDeny names a Deny
    /// statement.
    #[test]
    fn decisions_carry_their_reasons(world in common::world(), request in common::request()) {
        let d = decide(&world, &request);
        match d.outcome {
            Outcome::Allow => prop_assert!(!d.reasons.is_empty()),
            Outcome::ExplicitDeny => {
                prop_assert_eq!(d.reasons.len(), 1);
                prop_assert!(d.reasons[0].statement.is_some());
            }
            Outcome::ImplicitDeny => prop_assert!(d.reasons.is_empty()),
        }
    }

    /// A caller in another account is never allowed an action that cannot cross accounts.
    #[test]
    fn non_cross_account_actions_stay_home(world in common::world(), request in common::request()) {
        let (req, _) = Request::from_value(&request).unwrap();
        let w = load(&world);
        let d = evaluate(&w, &req);
        if let keyward::request::RequestAction::One(action) = req.action {
            let info = keyward::actions::info(action);
            let key_account = req.resource.split(':').nth(4).unwrap_or("");
            if info.resource == keyward::actions::ResourceKind::Key && !info.cross_account
                && !req.caller.is_service() && req.caller.account != key_account {
                prop_assert_ne!(d.outcome, Outcome::Allow);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Attaching another SCP or RCP anywhere never turns a decision into Allow.
    #[test]
    fn adding_an_scp_or_rcp_never_adds_an_allow(world in common::org_world(), request in common::org_request(), extra in common::statement(true), at in 0usize..5, rcp in any::<bool>()) {
        let before = decide(&world, &request);
        let mut extra = extra;
        let o = extra.as_object_mut().unwrap();
        if rcp {
            o.insert("Effect".into(), json!("Deny"));
            if let Some(np) = o.remove("NotPrincipal") {
                o.insert("Principal".into(), np);
            }
        } else {
            o.remove("Principal");
            o.remove("NotPrincipal");
        }
        let levels = common::org_levels(3);
        let mut w = world.clone();
        w["organization_policies"].as_array_mut().unwrap().push(json!({
            "Id": "p-extra",
            "Type": if rcp { "RESOURCE_CONTROL_POLICY" } else { "SERVICE_CONTROL_POLICY" },
            "Content": {"Version": "2012-10-17", "Statement": [extra]},
            "Targets": [levels[at % 2]],
        }));
        if decide(&w, &request).outcome == Outcome::Allow {
            prop_assert_eq!(before.outcome, Outcome::Allow);
        }
    }

    /// Detaching FullAWSAccess from any level never turns a decision into Allow.
    #[test]
    fn detaching_full_aws_access_never_adds_an_allow(world in common::org_world(), request in common::org_request(), level in 0usize..6) {
        let before = decide(&world, &request);
        let mut w = world.clone();
        let targets = w["organization_policies"][0]["Targets"].as_array_mut().unwrap();
        if !targets.is_empty() {
            let i = level % targets.len();
            targets.remove(i);
        }
        if decide(&w, &request).outcome == Outcome::Allow {
            prop_assert_eq!(before.outcome, Outcome::Allow);
        }
    }
}
