//! See `osprey_ingest::fuzzing::scrape_text` (the stable test command runs the same function
//! over `fuzz/seeds/scrape_text`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| osprey_ingest::fuzzing::scrape_text(data));
