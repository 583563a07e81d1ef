//! The compiled engine against the reference evaluator: the same decision, reasons and key-state
//! error on random worlds and requests built from every feature of docs/semantics.md (see `common`), and on
//! every conformance case. Set PROPTEST_CASES to run more cases.

mod common;

use keyward::engine::Engine;
use keyward::testcase::{load_cases, Evaluator, Runner};
use keyward::{reference, Request, World};
use proptest::prelude::*;
use std::path::Path;

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

#[test]
fn conformance_corpus_passes_through_both_evaluators() {
    let cases = load_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/conformance"))
        .unwrap()
        .cases;
    assert!(cases.len() >= 250);
    for evaluator in [Evaluator::Compiled, Evaluator::Reference] {
        let mut runner = Runner::new(evaluator);
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|c| {
                let r = runner.run(c);
                (!r.passed).then(|| format!("{} ({}):\n{}", c.name, c.origin, r.report))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{evaluator:?}: {} failures\n{}",
            failures.len(),
            failures.join("\n")
        );
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
