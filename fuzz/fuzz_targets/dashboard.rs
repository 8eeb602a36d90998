//! See `osprey_query::fuzzing::dashboard` (the stable test command runs the same
//! function over `fuzz/seeds/dashboard`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_query::fuzzing::dashboard(data));
