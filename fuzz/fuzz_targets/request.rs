//! Requests: any bytes either read as a request or give an error naming a field; a request that
//! reads writes back to JSON that reads as the same request.
#![no_main]

use keyward::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Request::from_json(text) {
        Ok((req, _)) => {
            if req.policy.is_none() {
                let (again, _) = Request::from_value(&req.to_value()).expect("round trip reads");
                assert_eq!(again, req);
            }
        }
        Err(e) => assert!(!e.field.is_empty()),
    }
});
