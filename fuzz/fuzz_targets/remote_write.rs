//! See `osprey_ingest::fuzzing::remote_write` (the stable test command runs the same function
//! over `fuzz/seeds/remote_write`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_ingest::fuzzing::remote_write(data));
