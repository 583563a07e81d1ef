//! Worlds: any bytes either load or give load errors; a world that loads compiles, and the
//! engine decides a fixed request on it as the reference does.
#![no_main]

use keyward::engine::Engine;
use keyward::{reference, Request, World};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(world) = World::from_json(text, "fuzz") else {
        return;
    };
    let engine = Engine::compile(world);
    let keys: Vec<String> = engine.world().keys.iter().map(|k| k.arn.clone()).take(4).collect();
    for key in keys {
        let req = serde_json::json!({"principal": "arn:aws:iam::111122223333:user/alice",
            "action": "kms:Decrypt", "resource": key});
        if let Ok((req, _)) = Request::from_value(&req) {
            assert_eq!(engine.decide(&req), reference::evaluate(engine.world(), &req));
        }
    }
});
