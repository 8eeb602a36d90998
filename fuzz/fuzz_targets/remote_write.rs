//! Prometheus remote_write 1.0 and 2.0 requests: decoded and turned into samples (with
//! their validation) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_ingest::remote_write::{WriteRequest, to_samples, v2, v2_to_samples};
use osprey_ingest::shapes::LabelLimits;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = WriteRequest::decode(data) {
        let _ = to_samples(r, &LabelLimits::default());
    }
    if let Ok(r) = v2::Request::decode(data) {
        let _ = v2_to_samples(r, &LabelLimits::default());
    }
});
