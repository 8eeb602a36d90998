//! See `osprey_ingest::fuzzing::otlp` (the stable test command runs the same function
//! over `fuzz/seeds/otlp`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_ingest::fuzzing::otlp(data));
