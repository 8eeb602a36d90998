//! Splits a request by owner (`cluster.md`, "Write path"): OTLP spans by trace id, so a
//! trace's spans (and the RED and service-graph halves made of them) meet on one
//! ingester; OTLP metric points and remote_write series by series (the resource's
//! attributes, the metric's name and the point's attributes, in any order), so a
//! series' samples are checked for order and duplicates in one place. Each part keeps
//! its resource and scope, so its owner runs the same pipeline on it as on a request.

use std::collections::BTreeMap;
use std::hash::Hasher;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use twox_hash::XxHash64;

use super::rendezvous::Ring;

/// `req`'s spans by the owner of their trace id.
pub fn traces(
    req: ExportTraceServiceRequest,
    ring: &Ring,
    tenant: &str,
) -> BTreeMap<usize, ExportTraceServiceRequest> {
    let mut out: BTreeMap<usize, ExportTraceServiceRequest> = BTreeMap::new();
    for rs in req.resource_spans {
        let shell = ResourceSpans {
            scope_spans: Vec::new(),
            ..rs
        };
        let mut per: BTreeMap<usize, ResourceSpans> = BTreeMap::new();
        for ss in rs.scope_spans {
            let mut scoped: BTreeMap<usize, ScopeSpans> = BTreeMap::new();
            let empty = ScopeSpans {
                spans: Vec::new(),
                ..ss
            };
            for span in ss.spans {
                let owner = ring.owner(tenant, &span.trace_id);
                scoped
                    .entry(owner)
                    .or_insert_with(|| empty.clone())
                    .spans
                    .push(span);
            }
            for (owner, part) in scoped {
                per.entry(owner)
                    .or_insert_with(|| shell.clone())
                    .scope_spans
                    .push(part);
            }
        }
        for (owner, part) in per {
            out.entry(owner).or_default().resource_spans.push(part);
        }
    }
    out
}

/// `req`'s metric points by the owner of their series.
pub fn metrics(
    req: ExportMetricsServiceRequest,
    ring: &Ring,
    tenant: &str,
) -> BTreeMap<usize, ExportMetricsServiceRequest> {
    let mut out: BTreeMap<usize, ExportMetricsServiceRequest> = BTreeMap::new();
    for rm in req.resource_metrics {
        let resource_key = attributes_hash(
            0,
            rm.resource
                .as_ref()
                .map_or(&[][..], |r| r.attributes.as_slice()),
        );
        let shell = ResourceMetrics {
            scope_metrics: Vec::new(),
            ..rm
        };
        let mut per: BTreeMap<usize, ResourceMetrics> = BTreeMap::new();
        for sm in rm.scope_metrics {
            let empty = ScopeMetrics {
                metrics: Vec::new(),
                ..sm
            };
            let mut scoped: BTreeMap<usize, ScopeMetrics> = BTreeMap::new();
            for mut metric in sm.metrics {
                let Some(data) = metric.data.take() else {
                    continue;
                };
                let name_key = XxHash64::oneshot(resource_key, metric.name.as_bytes());
                let owner_of = |attrs: &[KeyValue]| {
                    ring.owner(tenant, &attributes_hash(name_key, attrs).to_le_bytes())
                };
                for (owner, data) in split_data(data, owner_of) {
                    let part = Metric {
                        data: Some(data),
                        ..metric.clone()
                    };
                    scoped
                        .entry(owner)
                        .or_insert_with(|| empty.clone())
                        .metrics
                        .push(part);
                }
            }
            for (owner, part) in scoped {
                per.entry(owner)
                    .or_insert_with(|| shell.clone())
                    .scope_metrics
                    .push(part);
            }
        }
        for (owner, part) in per {
            out.entry(owner).or_default().resource_metrics.push(part);
        }
    }
    out
}

/// A hash of `attrs` in key order (an exporter may list them in any order), from `seed`.
pub fn attributes_hash(seed: u64, attrs: &[KeyValue]) -> u64 {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut h = XxHash64::with_seed(seed);
    for kv in sorted {
        h.write(kv.key.as_bytes());
        h.write_u8(0xff);
        if let Some(v) = &kv.value {
            h.write(&v.encode_to_vec());
        }
        h.write_u8(0xfe);
    }
    h.finish()
}

/// A data point's attributes.
trait Point {
    fn attributes(&self) -> &[KeyValue];
}

macro_rules! point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }
        }
    )*};
}
point!(
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    SummaryDataPoint
);

fn by_owner<P: Point>(
    points: Vec<P>,
    owner_of: &impl Fn(&[KeyValue]) -> usize,
) -> Vec<(usize, Vec<P>)> {
    let mut out: BTreeMap<usize, Vec<P>> = BTreeMap::new();
    for p in points {
        out.entry(owner_of(p.attributes())).or_default().push(p);
    }
    out.into_iter().collect()
}

/// A metric's points by owner, each part with the metric's own temporality and kind.
fn split_data(data: Data, owner_of: impl Fn(&[KeyValue]) -> usize) -> Vec<(usize, Data)> {
    match data {
        Data::Gauge(g) => by_owner(g.data_points, &owner_of)
            .into_iter()
            .map(|(o, data_points)| (o, Data::Gauge(Gauge { data_points })))
            .collect(),
        Data::Sum(s) => by_owner(s.data_points, &owner_of)
            .into_iter()
            .map(|(o, data_points)| {
                let part = Sum {
                    data_points,
                    aggregation_temporality: s.aggregation_temporality,
                    is_monotonic: s.is_monotonic,
                };
                (o, Data::Sum(part))
            })
            .collect(),
        Data::Histogram(h) => by_owner(h.data_points, &owner_of)
            .into_iter()
            .map(|(o, data_points)| {
                let part = Histogram {
                    data_points,
                    aggregation_temporality: h.aggregation_temporality,
                };
                (o, Data::Histogram(part))
            })
            .collect(),
        Data::ExponentialHistogram(h) => by_owner(h.data_points, &owner_of)
            .into_iter()
            .map(|(o, data_points)| {
                let part = ExponentialHistogram {
                    data_points,
                    aggregation_temporality: h.aggregation_temporality,
                };
                (o, Data::ExponentialHistogram(part))
            })
            .collect(),
        Data::Summary(s) => by_owner(s.data_points, &owner_of)
            .into_iter()
            .map(|(o, data_points)| (o, Data::Summary(Summary { data_points })))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn ring_addrs() -> Vec<String> {
        (0..3).map(|i| format!("10.0.0.{i}:4319")).collect()
    }

    #[test]
    fn a_trace_goes_whole_to_one_owner_with_its_resource_and_scope() {
        let addrs = ring_addrs();
        let ring = Ring::new(&addrs);
        let spans: Vec<Span> = (0..60u8)
            .map(|i| Span {
                trace_id: vec![i % 20; 16],
                span_id: vec![i; 8],
                ..Default::default()
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    schema_url: "s".into(),
                    ..Default::default()
                }],
                schema_url: "r".into(),
                ..Default::default()
            }],
        };
        let parts = traces(req, &ring, "t");
        assert!(parts.len() > 1, "20 traces over 3 owners");
        let mut seen = std::collections::HashMap::new();
        let mut total = 0;
        for (owner, part) in &parts {
            for rs in &part.resource_spans {
                assert_eq!(rs.schema_url, "r");
                for ss in &rs.scope_spans {
                    assert_eq!(ss.schema_url, "s");
                    for s in &ss.spans {
                        total += 1;
                        assert_eq!(ring.owner("t", &s.trace_id), *owner);
                        assert_eq!(*seen.entry(s.trace_id.clone()).or_insert(*owner), *owner);
                    }
                }
            }
        }
        assert_eq!(total, 60);
    }

    #[test]
    fn a_series_goes_to_one_owner_whatever_its_attribute_order() {
        let addrs = ring_addrs();
        let ring = Ring::new(&addrs);
        let point = |i: usize, flip: bool| {
            let (a, b) = (kv("a", &i.to_string()), kv("b", "x"));
            NumberDataPoint {
                attributes: if flip { vec![b, a] } else { vec![a, b] },
                time_unix_nano: i as u64,
                ..Default::default()
            }
        };
        let request = |flip: bool| ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "m".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: (0..30).map(|i| point(i, flip)).collect(),
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let owners = |flip: bool| {
            let mut by_point = std::collections::BTreeMap::new();
            for (owner, part) in metrics(request(flip), &ring, "t") {
                let metric = &part.resource_metrics[0].scope_metrics[0].metrics[0];
                let Some(Data::Sum(sum)) = &metric.data else {
                    panic!("a sum stays a sum")
                };
                assert!(sum.is_monotonic && sum.aggregation_temporality == 2);
                for p in &sum.data_points {
                    by_point.insert(p.time_unix_nano, owner);
                }
            }
            by_point
        };
        let straight = owners(false);
        assert_eq!(straight.len(), 30);
        assert!(
            straight
                .values()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1
        );
        assert_eq!(straight, owners(true));
    }
}
