//! The peer engines (Cedar, regorus) give keyward's outcome on every request of generated
//! streams; `benches/peers.rs` relies on it. Run with `cargo test --features peers --test peers`.

use keyward::engine::Engine;
use keyward::gen::{world, Shape};
use keyward::peers::cedar::CedarPeer;
use keyward::peers::disagreements;
use keyward::peers::rego::RegoPeer;
use keyward::{Outcome, Request, World};

fn stream(keys: usize, principals: usize, seed: u64, n: usize) -> (World, Vec<Request>) {
    let g = world(Shape {
        keys,
        principals,
        seed,
    });
    let requests = g
        .requests(n, seed)
        .iter()
        .map(|r| Request::from_value(r).expect("generated requests parse").0)
        .collect();
    (
        World::from_value(&g.world, "generated").expect("generated world loads"),
        requests,
    )
}

fn check(keys: usize, principals: usize, seed: u64, n: usize) {
    let (world, requests) = stream(keys, principals, seed, n);
    let engine = Engine::compile(world.clone());
    let expected: Vec<Outcome> = requests.iter().map(|r| engine.check(r).outcome).collect();
    for o in [Outcome::Allow, Outcome::ExplicitDeny, Outcome::ImplicitDeny] {
        assert!(expected.contains(&o), "the stream has no {o}");
    }

    let cedar = CedarPeer::new(&world).expect("the world translates to Cedar");
    let bad = disagreements(&requests, &expected, |r| cedar.decide(&world, r));
    assert!(
        bad.is_empty(),
        "Cedar disagrees with keyward on {} requests, first: {}",
        bad.len(),
        bad[0]
    );
    let prepared: Vec<_> = requests
        .iter()
        .map(|r| cedar.prepare(&world, r).expect("Cedar inputs build"))
        .collect();
    for (i, (p, &e)) in prepared.iter().zip(&expected).enumerate() {
        assert_eq!(
            cedar.decide_prepared(p.as_ref()),
            Ok(e),
            "Cedar (prebuilt inputs), request {i}"
        );
    }

    let rego = RegoPeer::new(&world).expect("the world translates to Rego");
    let mut vm = rego.vm().expect("the RVM loads");
    let bad = disagreements(&requests, &expected, |r| rego.decide(&mut vm, &world, r));
    assert!(
        bad.is_empty(),
        "regorus disagrees with keyward on {} requests, first: {}",
        bad.len(),
        bad[0]
    );
}

#[test]
fn peers_agree_with_keyward_on_a_small_world() {
    check(60, 40, 7, 3_000);
}

/// The bench times regorus's RVM; its tree-walking interpreter must decide the same.
#[test]
fn regorus_rvm_and_interpreter_agree() {
    let (world, requests) = stream(60, 40, 11, 1_000);
    let rego = RegoPeer::new(&world).expect("the world translates to Rego");
    let mut vm = rego.vm().expect("the RVM loads");
    let mut interpreter = rego.interpreter().expect("the interpreter loads");
    for (i, r) in requests.iter().enumerate() {
        let input = rego.input(&world, r).expect("Rego input builds");
        interpreter.set_input(input.clone());
        let by_interpreter = interpreter
            .eval_rule("data.kms.outcome".into())
            .expect("the interpreter evaluates")
            .to_string();
        let by_rvm = rego
            .decide_input(&mut vm, input)
            .expect("the RVM evaluates");
        assert_eq!(by_interpreter, format!("\"{by_rvm}\""), "request {i}");
    }
}

#[test]
fn peers_agree_with_keyward_on_the_bench_world() {
    check(1_000, 500, 1, 5_000);
}
