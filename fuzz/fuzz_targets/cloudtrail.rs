//! CloudTrail records: any bytes either fail to parse as a record or map to a request (or a
//! reason it cannot be replayed) without panicking.
#![no_main]

use keyward::replay::map::map_record;
use keyward::replay::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(record) = serde_json::from_str::<Record>(text) {
        let _ = map_record(&record);
    }
});
