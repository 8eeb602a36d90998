//! See `osprey_logql::fuzzing::logql` (the stable test command runs the same function
//! over `fuzz/seeds/logql`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_logql::fuzzing::logql(data));
