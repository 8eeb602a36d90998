//! See `osprey_alerting::fuzzing::rule_file` (the stable test command runs the same function
//! over `fuzz/seeds/rule_file`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_alerting::fuzzing::rule_file(data));
