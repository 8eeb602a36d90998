//! See `osprey_alerting::fuzzing::alertmanager` (the stable test command runs the same function
//! over `fuzz/seeds/alertmanager`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_alerting::fuzzing::alertmanager(data));
