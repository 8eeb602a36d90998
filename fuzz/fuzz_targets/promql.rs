//! PromQL queries: parsed (with the 2.42 function set's checks) or refused with an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = osprey_promql::parse(q);
    }
});
