//! The fuzz targets of ingest's decoders: one function per target, called by the
//! libFuzzer targets in `fuzz/` and by the stable run in the test command
//! (`fuzz/stable.rs`), so the two cannot drift. Each runs the server's own path for
//! its input and panics only on a broken invariant.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::limits::{self, Kind};
use crate::lines::{MAX_EVENT_BYTES, to_rows};
use crate::otlp::{logs, metrics, traces};
use crate::remote_write::{WriteRequest, decode_v1, to_samples, v2, v2_to_samples};
use crate::shapes::LabelLimits;

/// A fixed "now" (2026-11-22), so that runs repeat.
const NOW: i64 = 1_795_341_600_000_000_000;
const DAY: i64 = 86_400_000_000_000;

/// OTLP export requests; the first byte picks the signal and encoding. The wire scan
/// that bounds a request's cost runs first, as in the server.
pub fn otlp(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let w = crate::window::Window::now(Duration::from_secs(7 * 86_400));
    let kind = [Kind::Traces, Kind::Logs, Kind::Metrics][usize::from(which % 6) / 2];
    let json = which % 2 == 1;
    if json {
        if limits::check_json(body).is_err() {
            return;
        }
    } else if limits::check_protobuf(kind, body).is_err() {
        return;
    }
    fn decode<M: Message + Default + serde::de::DeserializeOwned>(
        body: &[u8],
        json: bool,
    ) -> Option<M> {
        if json {
            serde_json::from_slice(body).ok()
        } else {
            M::decode(body).ok()
        }
    }
    match kind {
        Kind::Traces => {
            if let Some(r) = decode::<ExportTraceServiceRequest>(body, json) {
                let _ = traces::convert(&r, &w);
            }
        }
        Kind::Logs => {
            if let Some(r) = decode::<ExportLogsServiceRequest>(body, json) {
                let _ = logs::convert(&r, &w);
            }
        }
        Kind::Metrics => {
            if let Some(r) = decode::<ExportMetricsServiceRequest>(body, json) {
                let _ = metrics::convert_with_exemplars(&r, json);
            }
        }
    }
}

/// Prometheus remote_write 1.0 and 2.0 bodies (uncompressed, and as snappy would send
/// them): scanned, decoded and turned into samples.
pub fn remote_write(data: &[u8]) {
    for body in [
        Some(data.to_vec()),
        crate::body::unsnappy(data, 1 << 20).ok(),
    ]
    .into_iter()
    .flatten()
    {
        if limits::check_remote_write(false, &body).is_ok()
            && let Ok(r) = WriteRequest::decode(body.as_slice())
        {
            let _ = to_samples(r, &LabelLimits::default());
        }
        if limits::check_remote_write(false, &body).is_ok() {
            wire_matches_itself(&body);
        }
        if limits::check_remote_write(true, &body).is_ok()
            && let Ok(r) = v2::Request::decode(body.as_slice())
        {
            let _ = v2_to_samples(r, &LabelLimits::default());
        }
    }
}

/// remote_write 1.0 decoded from the wire gives the same samples whether its series
/// are new (prost) or known to the index (read by id from the wire).
fn wire_matches_itself(body: &[u8]) {
    let index = osprey_storage::series::SeriesIndex::default();
    let limits = LabelLimits::default();
    let Ok(Some(first)) = decode_v1(body, "t", &index, &limits) else {
        return;
    };
    index.observe_series("t", first.series.clone(), false);
    let bits = |d: &crate::remote_write::Decoded| {
        d.samples
            .iter()
            .map(|s| (s.id, s.timestamp_ns, s.value.to_bits()))
            .collect::<Vec<_>>()
    };
    if let Ok(Some(again)) = decode_v1(body, "t", &index, &limits) {
        assert_eq!(bits(&first), bits(&again), "wire and prost samples differ");
    }
}

/// Loki push bodies, JSON and snappy protobuf (the same bytes compressed reach the
/// protobuf decoder too).
pub fn loki_push(data: &[u8]) {
    use crate::loki::decode_rows;
    let _ = decode_rows(data, true, 1 << 20, NOW, DAY);
    let _ = decode_rows(data, false, 1 << 20, NOW, DAY);
    if let Ok(packed) = snap::raw::Encoder::new().compress_vec(data) {
        let _ = decode_rows(&packed, false, 1 << 20, NOW, DAY);
    }
}

/// `POST /api/v1/logs` bodies: a non-blank line gives a row and no more rows than
/// non-blank lines; events stay under the cap and inside the accepted window.
pub fn log_lines(data: &[u8]) {
    let (rows, outcome) = to_rows(data, "svc", NOW, 7 * DAY, MAX_EVENT_BYTES);
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
}

/// Scraped expositions, Prometheus text 0.0.4 and OpenMetrics.
pub fn scrape_text(data: &[u8]) {
    use crate::scrape::parse::{Format, parse};
    let text = String::from_utf8_lossy(data);
    let _ = parse(&text, Format::Text);
    let _ = parse(&text, Format::OpenMetrics);
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_otlp() {
        super::stable::run("otlp", super::otlp);
    }

    #[test]
    fn fuzz_remote_write() {
        super::stable::run("remote_write", super::remote_write);
    }

    #[test]
    fn fuzz_loki_push() {
        super::stable::run("loki_push", super::loki_push);
    }

    #[test]
    fn fuzz_log_lines() {
        super::stable::run("log_lines", super::log_lines);
    }

    #[test]
    fn fuzz_scrape_text() {
        super::stable::run("scrape_text", super::scrape_text);
    }
}
