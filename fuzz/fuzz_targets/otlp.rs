//! OTLP export requests, protobuf and JSON, for all three signals: decoded and converted
//! to rows (with their validation) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_ingest::otlp::{logs, metrics, traces};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let w = osprey_ingest::window::Window::now(std::time::Duration::from_secs(7 * 86_400));
    match which % 6 {
        0 => {
            if let Ok(r) = ExportTraceServiceRequest::decode(body) {
                let _ = traces::convert(&r, &w);
            }
        }
        1 => {
            if let Ok(r) = serde_json::from_slice::<ExportTraceServiceRequest>(body) {
                let _ = traces::convert(&r, &w);
            }
        }
        2 => {
            if let Ok(r) = ExportLogsServiceRequest::decode(body) {
                let _ = logs::convert(&r, &w);
            }
        }
        3 => {
            if let Ok(r) = serde_json::from_slice::<ExportLogsServiceRequest>(body) {
                let _ = logs::convert(&r, &w);
            }
        }
        4 => {
            if let Ok(r) = ExportMetricsServiceRequest::decode(body) {
                let _ = metrics::convert(&r, true);
            }
        }
        _ => {
            if let Ok(r) = serde_json::from_slice::<ExportMetricsServiceRequest>(body) {
                let _ = metrics::convert(&r, true);
            }
        }
    }
});
