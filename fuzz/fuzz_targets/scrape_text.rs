//! Scraped expositions, Prometheus text 0.0.4 and OpenMetrics: parsed or refused with
//! an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_ingest::scrape::parse::{Format, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse(text, Format::Text);
    let _ = parse(text, Format::OpenMetrics);
});
