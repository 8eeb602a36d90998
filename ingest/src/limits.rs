//! What one request may decode to. A body's size alone does not bound its memory: a
//! 4 MB OTLP request of 2,000,000 empty log records decodes to over a GiB of structures
//! and rows, and a resource's attributes are copied into every record's row. So before
//! a request is decoded, its records are counted and its decoded size estimated from
//! the encoded message (protobuf: walking the wire format, no allocation; JSON: its
//! objects), and a request over either limit is refused as too large (413 /
//! INVALID_ARGUMENT, never retried) naming the limit.
//!
//! The estimate is deliberately simple: a histogram point counts as one record though
//! it becomes a row per bucket, and values nested inside attributes are counted by
//! their bytes only. Those stay bounded by `server.max_body_size` times a small factor.

use prost::Message;

use crate::IngestError;

/// Most records (log records, spans, metric data points, log lines) in one request.
/// OTel SDKs send 512 a batch and the Collector's batch processor 8192 by default.
pub const MAX_RECORDS: u64 = 200_000;

/// Most memory one request may take decoded and converted to rows (an estimate).
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// What one record costs decoded and converted, beyond its own bytes: its protocol
/// struct, its row and its share of the Arrow batch.
const RECORD_BYTES: u64 = 640;

/// What one length-delimited field of a record (an attribute, event, link, string)
/// costs decoded, beyond its bytes.
const FIELD_BYTES: u64 = 96;

/// What one JSON object costs decoded (the largest OTLP message struct, about).
const JSON_OBJECT_BYTES: u64 = 256;

/// The three OTLP request types, by how their records nest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Traces,
    Logs,
    Metrics,
}

impl Kind {
    fn records(self) -> &'static str {
        match self {
            Kind::Traces => "spans",
            Kind::Logs => "log records",
            Kind::Metrics => "metric data points",
        }
    }
}

/// Records and estimated decoded bytes of a request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub records: u64,
    pub decoded: u64,
}

impl Cost {
    /// Refuses a request over [`MAX_RECORDS`] or [`MAX_DECODED_BYTES`].
    pub fn check(self, what: &'static str) -> Result<(), IngestError> {
        if self.records > MAX_RECORDS {
            return Err(IngestError::TooManyRecords {
                count: self.records,
                limit: MAX_RECORDS,
                what,
            });
        }
        if self.decoded > MAX_DECODED_BYTES {
            return Err(IngestError::DecodedTooLarge {
                estimate: self.decoded,
                limit: MAX_DECODED_BYTES,
            });
        }
        Ok(())
    }
}

use crate::wire::{each, fields, varint};

/// A record's cost: its struct and row, its bytes, and each of its length-delimited
/// fields; `shared` is what its row copies from its resource and scope.
fn record_cost(record: &[u8], shared: u64) -> u64 {
    let fields = fields(record)
        .map_while(Result::ok)
        .filter(|f| f.bytes().is_some())
        .count() as u64;
    RECORD_BYTES + 2 * record.len() as u64 + fields * FIELD_BYTES + shared
}

/// The records of an OTLP request, found by walking its wire format: every request
/// type nests `resource_* (1) → scope_* (2) → records (2)`, metrics one more level,
/// `metric → gauge|sum|histogram|exponential_histogram|summary → data_points (1)`.
pub fn scan_protobuf(kind: Kind, msg: &[u8]) -> Cost {
    let mut cost = Cost {
        records: 0,
        decoded: msg.len() as u64,
    };
    for resource_group in each(msg, 1) {
        let resource: u64 = each(resource_group, 1).map(|r| r.len() as u64).sum();
        for scope_group in each(resource_group, 2) {
            let scope: u64 = each(scope_group, 1).map(|s| s.len() as u64).sum();
            let shared = resource + scope;
            for record in each(scope_group, 2) {
                if kind != Kind::Metrics {
                    cost.records += 1;
                    cost.decoded += record_cost(record, shared);
                    continue;
                }
                // A metric: its data points are the records, each with the metric's
                // name, description and unit.
                let header: u64 = [1, 2, 3]
                    .into_iter()
                    .flat_map(|n| each(record, n))
                    .map(|f| f.len() as u64)
                    .sum();
                for data in [5, 7, 9, 10, 11].into_iter().flat_map(|n| each(record, n)) {
                    for point in each(data, 1) {
                        cost.records += 1;
                        cost.decoded += record_cost(point, shared + header);
                    }
                }
            }
        }
    }
    cost
}

/// Refuses a protobuf OTLP request over the limits, before it is decoded.
pub fn check_protobuf(kind: Kind, msg: &[u8]) -> Result<(), IngestError> {
    scan_protobuf(kind, msg).check(kind.records())
}

/// JSON objects in a body (outside strings): each decodes to a struct, so this bounds
/// what decoding costs before it is done.
fn json_objects(body: &[u8]) -> u64 {
    json_containers(body).0
}

/// JSON objects and arrays in a body, outside strings.
fn json_containers(body: &[u8]) -> (u64, u64) {
    let (mut objects, mut arrays, mut in_string, mut escaped) = (0u64, 0u64, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'{' {
            objects += 1;
        } else if b == b'[' {
            arrays += 1;
        }
    }
    (objects, arrays)
}

/// Refuses an OTLP/JSON body whose objects alone would decode past the limit.
pub fn check_json(body: &[u8]) -> Result<(), IngestError> {
    let decoded = json_objects(body)
        .saturating_mul(JSON_OBJECT_BYTES)
        .saturating_add(body.len() as u64);
    Cost {
        records: 0,
        decoded,
    }
    .check("records")
}

/// Refuses a decoded OTLP/JSON request over the limits, before it is converted (its
/// protobuf encoding is scanned as a protobuf request's would be).
pub fn check_decoded<M: Message>(kind: Kind, msg: &M) -> Result<(), IngestError> {
    check_protobuf(kind, &msg.encode_to_vec())
}

/// The samples (and exemplars and histograms) of a remote_write request, found by
/// walking its wire format, each costing its row and a copy of its series' labels.
/// 1.0: `timeseries (1) → labels (1), samples (2), exemplars (3), histograms (4)`;
/// 2.0: `symbols (4)`, `timeseries (5) → labels_refs (1, packed), samples (2),
/// histograms (3), exemplars (4)`.
pub fn scan_remote_write(v2: bool, msg: &[u8]) -> Cost {
    let mut cost = Cost {
        records: 0,
        decoded: msg.len() as u64,
    };
    let symbols: Vec<u64> = if v2 {
        each(msg, 4).map(|s| s.len() as u64).collect()
    } else {
        Vec::new()
    };
    for series in each(msg, if v2 { 5 } else { 1 }) {
        let labels: u64 = if v2 {
            each(series, 1)
                .flat_map(packed_varints)
                .map(|i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| symbols.get(i))
                        .copied()
                        .unwrap_or(0)
                        + FIELD_BYTES
                })
                .sum()
        } else {
            each(series, 1).map(|l| l.len() as u64 + FIELD_BYTES).sum()
        };
        let points = [2, 3, 4].into_iter().flat_map(|n| each(series, n)).count() as u64;
        // A series without samples still decodes to a struct.
        cost.records += points;
        cost.decoded += RECORD_BYTES + 2 * labels + points * (RECORD_BYTES + 2 * labels);
    }
    cost
}

/// The varints of a packed repeated field.
fn packed_varints(mut buf: &[u8]) -> impl Iterator<Item = u64> {
    std::iter::from_fn(move || varint(&mut buf))
}

/// Refuses a remote_write request over the limits, before it is decoded.
pub fn check_remote_write(v2: bool, msg: &[u8]) -> Result<(), IngestError> {
    scan_remote_write(v2, msg).check("samples")
}

/// The entries of a Loki push (protobuf): `streams (1) → labels (1), entries (2)`,
/// each entry's row copying its stream's labels.
pub fn scan_loki(msg: &[u8]) -> Cost {
    let mut cost = Cost {
        records: 0,
        decoded: msg.len() as u64,
    };
    for stream in each(msg, 1) {
        let labels: u64 = each(stream, 1).map(|l| l.len() as u64).sum();
        cost.decoded += RECORD_BYTES + labels;
        for entry in each(stream, 2) {
            cost.records += 1;
            cost.decoded += record_cost(entry, 2 * labels);
        }
    }
    cost
}

/// Refuses a Loki push (protobuf) over the limits, before it is decoded.
pub fn check_loki(msg: &[u8]) -> Result<(), IngestError> {
    scan_loki(msg).check("entries")
}

/// Refuses a Loki push (JSON) whose arrays (each entry is one) or objects would
/// decode past the limits.
pub fn check_loki_json(body: &[u8]) -> Result<(), IngestError> {
    let (objects, arrays) = json_containers(body);
    Cost {
        records: arrays,
        decoded: (objects + arrays)
            .saturating_mul(JSON_OBJECT_BYTES)
            .saturating_add(body.len() as u64),
    }
    .check("entries")
}

/// Refuses a body of more than [`MAX_RECORDS`] non-blank lines.
pub fn check_lines(body: &[u8]) -> Result<(), IngestError> {
    let lines = body
        .split(|b| *b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count() as u64;
    Cost {
        records: lines,
        decoded: 0,
    }
    .check("lines")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn logs(n: usize, resource_attrs: usize) -> ExportLogsServiceRequest {
        let attrs = (0..resource_attrs)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(AnyValue {
                    value: Some(Value::StringValue("v".repeat(100))),
                }),
                ..Default::default()
            })
            .collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn records_are_counted_on_the_wire() {
        let small = logs(3, 1).encode_to_vec();
        let c = scan_protobuf(Kind::Logs, &small);
        assert_eq!(c.records, 3);
        assert!(check_protobuf(Kind::Logs, &small).is_ok());
        // The probe: 2,000,000 empty records in 4 MB.
        let many = logs(2_000_000, 0).encode_to_vec();
        assert!(many.len() <= 4_000_100);
        let Err(e) = check_protobuf(Kind::Logs, &many) else {
            panic!("accepted");
        };
        assert_eq!(e.http_status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.grpc_status().code(), tonic::Code::InvalidArgument);
        assert!(
            e.to_string()
                .contains("2000000 log records; at most 200000"),
            "{e}"
        );
        // A big resource copied into every row: refused by the decoded size.
        let copied = logs(100_000, 30).encode_to_vec();
        let Err(e) = check_protobuf(Kind::Logs, &copied) else {
            panic!("accepted");
        };
        assert!(e.to_string().contains("bytes of memory decoded"), "{e}");
        // Broken wire format: no panic, prost reports it.
        let _ = scan_protobuf(Kind::Logs, &many[..many.len() / 3]);
        let _ = scan_protobuf(Kind::Logs, &[0xff; 64]);
    }

    #[test]
    fn metric_data_points_are_the_records() {
        let point = NumberDataPoint::default();
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "a".into(),
                            data: Some(Data::Gauge(Gauge {
                                data_points: vec![point.clone(); 4],
                            })),
                            ..Default::default()
                        };
                        2
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(
            scan_protobuf(Kind::Metrics, &req.encode_to_vec()).records,
            8
        );
    }

    #[test]
    fn remote_write_and_loki_are_counted_on_the_wire() {
        use crate::remote_write::{Label, Sample, TimeSeries, WriteRequest};
        // 3,000,000 empty series: ~6 MB on the wire, GBs decoded.
        let empty = [0x0a, 0x00].repeat(3_000_000);
        let e = check_remote_write(false, &empty).unwrap_err();
        assert!(matches!(e, IngestError::DecodedTooLarge { .. }), "{e}");
        let series = |n: usize| TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "m".into(),
            }],
            samples: vec![Sample::default(); n],
            ..Default::default()
        };
        let ok = WriteRequest {
            timeseries: vec![series(1000); 10],
            metadata: vec![],
        };
        let c = scan_remote_write(false, &ok.encode_to_vec());
        assert_eq!(c.records, 10_000);
        assert!(check_remote_write(false, &ok.encode_to_vec()).is_ok());
        let many = WriteRequest {
            timeseries: vec![series(MAX_RECORDS as usize + 1)],
            metadata: vec![],
        };
        let e = check_remote_write(false, &many.encode_to_vec()).unwrap_err();
        assert!(
            matches!(
                e,
                IngestError::TooManyRecords {
                    what: "samples",
                    ..
                }
            ),
            "{e}"
        );
        // Loki: 300,000 entries of one stream, protobuf and JSON.
        let entry = [0x12, 0x00]; // an empty EntryAdapter
        let stream: Vec<u8> = entry.repeat(300_000);
        let mut msg = vec![0x0a];
        let mut len = stream.len();
        while len >= 0x80 {
            msg.push((len as u8) | 0x80);
            len >>= 7;
        }
        msg.push(len as u8);
        msg.extend_from_slice(&stream);
        assert_eq!(scan_loki(&msg).records, 300_000);
        assert!(check_loki(&msg).is_err());
        let json = format!(
            "{{\"streams\":[{{\"stream\":{{}},\"values\":[{}]}}]}}",
            vec!["[\"1\",\"\"]"; 300_000].join(",")
        );
        assert!(check_loki_json(json.as_bytes()).is_err());
        assert!(
            check_loki_json(br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}"#).is_ok()
        );
    }

    #[test]
    fn json_objects_and_lines_are_bounded() {
        assert_eq!(json_objects(br#"{"a":"{\"}","b":{}}"#), 2);
        let mut empties = b"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[".to_vec();
        for _ in 0..2_000_000 {
            empties.extend_from_slice(b"{},");
        }
        assert!(check_json(&empties).is_err());
        assert!(check_lines(&b"x\n".repeat(200_000)).is_ok());
        assert!(check_lines(&b"x\n\n \n".repeat(200_001)).is_err());
    }
}
