//! Log search queries: parsed or refused with a reason, never a panic; a parsed query
//! checks a record, and the language's words agree with themselves on any text.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use osprey_logql::search::{Record, Scratch, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    match parse(q) {
        Ok(e) => {
            let none = HashMap::new();
            let r = Record {
                body: q,
                service: "s",
                severity_number: 9,
                trace_id: "",
                span_id: "",
                attributes: &none,
                resource: &none,
            };
            let _ = e.matches(&r, &mut Scratch::default());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = osprey_logql::tokens(q);
});
