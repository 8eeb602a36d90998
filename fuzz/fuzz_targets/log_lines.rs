//! See `osprey_ingest::fuzzing::log_lines` (the stable test command runs the same function
//! over `fuzz/seeds/log_lines`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_ingest::fuzzing::log_lines(data));
