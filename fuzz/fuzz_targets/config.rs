//! See `osprey_config::fuzzing::config` (the stable test command runs the same function
//! over `fuzz/seeds/config`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_config::fuzzing::config(data));
