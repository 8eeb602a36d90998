//! See `osprey_promql::fuzzing::promql` (the stable test command runs the same function
//! over `fuzz/seeds/promql`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_promql::fuzzing::promql(data));
