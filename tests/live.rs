//! The live policy set: readers keep deciding while worlds are swapped in, each check sees one
//! whole world, and versions grow.

use keyward::{Engine, LiveEngine, Outcome, Request, World};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

fn engine(allow: bool) -> Engine {
    let effect = if allow { "Allow" } else { "Deny" };
    let w = serde_json::json!({"keys": [{"arn": "arn:aws:kms:us-east-1:111122223333:key/k", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": effect, "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}}]});
    Engine::compile(World::from_value(&w, "test").unwrap())
}

#[test]
fn readers_see_whole_worlds_while_swaps_happen() {
    let (req, _) = Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app/s", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:111122223333:key/k"}"#).unwrap();
    let allow = Arc::new(engine(true));
    let deny = Arc::new(engine(false));
    let live = LiveEngine::new(Arc::clone(&allow));
    assert_eq!(live.load().version, 1);
    let stop = AtomicBool::new(false);
    let (allowed, denied) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let snapshot = live.load();
                    // Odd versions allow, even versions deny: a check must agree with its snapshot.
                    let outcome = snapshot.engine.check(&req).outcome;
                    let expected = if snapshot.version % 2 == 1 {
                        Outcome::Allow
                    } else {
                        Outcome::ExplicitDeny
                    };
                    assert_eq!(outcome, expected, "version {}", snapshot.version);
                    let counter = if outcome == Outcome::Allow {
                        &allowed
                    } else {
                        &denied
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut last = 1;
        for i in 0..200 {
            let next = if i % 2 == 0 {
                Arc::clone(&deny)
            } else {
                Arc::clone(&allow)
            };
            let v = live.swap(next);
            assert_eq!(v, last + 1);
            last = v;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(allowed.load(Ordering::Relaxed) > 0 && denied.load(Ordering::Relaxed) > 0);
    assert_eq!(live.load().version, 201);
}
