//! `POST /api/v1/logs` bodies: arbitrary bytes become rows without a panic; a body with
//! a non-blank line gives at least one row and never more rows than non-blank lines;
//! events stay under the size cap and their times inside the accepted window.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_ingest::lines::{MAX_EVENT_BYTES, to_rows};

const NOW: i64 = 1_795_341_600_000_000_000;
const DAY: i64 = 86_400_000_000_000;

fuzz_target!(|data: &[u8]| {
    let (rows, outcome) = to_rows(data, "svc", NOW, 7 * DAY, osprey_ingest::lines::MAX_EVENT_BYTES);
    for r in &rows {
        assert!(
            r.body.len() <= MAX_EVENT_BYTES + 64,
            "an event longer than the cap"
        );
        assert!(
            r.timestamp_ns >= NOW - 7 * DAY && r.timestamp_ns <= NOW + DAY,
            "a time outside the window"
        );
    }
    let non_blank = data
        .split(|b| *b == b'\n')
        .filter(|l| !String::from_utf8_lossy(l).trim().is_empty())
        .count();
    assert!(rows.len() <= non_blank, "more rows than lines");
    assert_eq!(non_blank > 0, !rows.is_empty(), "a line lost or invented");
    assert_eq!(outcome.accepted, rows.len());
});
