//! Loki push bodies, JSON and snappy protobuf: refused with an error or decoded, never
//! a panic; the same bytes snappy-compressed reach the protobuf decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_ingest::loki::decode_rows;

const NOW: i64 = 1_795_341_600_000_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = decode_rows(data, true, 1 << 20, NOW, 86_400_000_000_000);
    let _ = decode_rows(data, false, 1 << 20, NOW, 86_400_000_000_000);
    if let Ok(packed) = snap::raw::Encoder::new().compress_vec(data) {
        let _ = decode_rows(&packed, false, 1 << 20, NOW, 86_400_000_000_000);
    }
});
