//! Policy documents: any bytes, read as a key policy and as an identity policy, never panic.
#![no_main]

use keyward::policy::{parse_policy, ParseOptions, PolicyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    for kind in [PolicyKind::Key, PolicyKind::Identity] {
        let _ = parse_policy(&doc, Some(text), kind, &ParseOptions::default());
    }
});
