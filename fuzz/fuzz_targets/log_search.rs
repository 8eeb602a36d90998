//! See `osprey_logql::fuzzing::log_search` (the stable test command runs the same function
//! over `fuzz/seeds/log_search`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_logql::fuzzing::log_search(data));
