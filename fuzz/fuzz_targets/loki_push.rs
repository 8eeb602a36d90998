//! See `osprey_ingest::fuzzing::loki_push` (the stable test command runs the same function
//! over `fuzz/seeds/loki_push`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_ingest::fuzzing::loki_push(data));
