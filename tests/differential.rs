//! The compiled engine against the reference evaluator: the same decision, reasons and key-state
//! error on random worlds and requests built from every feature of docs/semantics.md (see `common`); the
//! conformance cases through both are a unit test of `src/testcase.rs`. Set PROPTEST_CASES to run more cases.

mod common;

use keyward::engine::Engine;
use keyward::{reference, Request, World};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_reference(world in common::world(), requests in prop::collection::vec(common::request(), 1..8)) {
        let w = World::from_value(&world, "generated").expect("generated world loads");
        let engine = Engine::compile(w);
        for request in &requests {
            let (req, _) = Request::from_value(request).expect("generated request parses");
            let expected = reference::evaluate(engine.world(), &req);
            let actual = engine.decide(&req);
            prop_assert_eq!(&actual, &expected, "request {}\nworld {:#}", request, world);
            // Resolving once and checking again gives the same verdict.
            let resolved = engine.resolve(&req);
            prop_assert_eq!(engine.check_resolved(&req, &resolved), engine.check(&req));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The same, on worlds with an organization (SCPs, RCPs, FullAWSAccess detached somewhere),
    /// a VPC endpoint and session policies.
    #[test]
    fn engine_equals_reference_with_guardrails(world in common::org_world(), requests in prop::collection::vec(common::org_request(), 1..8)) {
        let w = World::from_value(&world, "generated").unwrap_or_else(|e| panic!("generated world loads: {e}\n{world:#}"));
        let engine = Engine::compile(w);
        for request in &requests {
            let (req, _) = Request::from_value(request).expect("generated request parses");
            let expected = reference::evaluate(engine.world(), &req);
            let actual = engine.decide(&req);
            prop_assert_eq!(&actual, &expected, "request {}\nworld {:#}", request, world);
        }
    }
}
