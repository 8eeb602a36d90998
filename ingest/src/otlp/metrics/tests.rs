//! The OTLP metrics conversion's unit tests.

use super::*;

#[test]
fn names_follow_prometheus_translation() {
    assert_eq!(
        metric_name("http.requests", "1", Kind::Counter),
        "http_requests_total"
    );
    assert_eq!(
        metric_name("http.requests", "{request}", Kind::Counter),
        "http_requests_total"
    );
    assert_eq!(metric_name("latency", "s", Kind::Other), "latency_seconds");
    assert_eq!(
        metric_name("memory.usage", "By", Kind::Gauge),
        "memory_usage_bytes"
    );
    assert_eq!(
        metric_name("cpu.utilization", "1", Kind::Gauge),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        metric_name("net.io", "By/s", Kind::Gauge),
        "net_io_bytes_per_second"
    );
    assert_eq!(
        metric_name("requests_total", "", Kind::Counter),
        "requests_total"
    );
    assert_eq!(
        metric_name("duration_seconds", "s", Kind::Other),
        "duration_seconds"
    );
}

/// The check a cluster ingester runs before splitting agrees with what the strict
/// conversion refuses, for every kind of point with and without a value.
#[test]
fn the_strict_check_refuses_what_strict_conversion_refuses() {
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    let point = |value: Option<f64>, flags: u32| NumberDataPoint {
        value: value.map(number_data_point::Value::AsDouble),
        flags,
        ..Default::default()
    };
    let sum = |monotonic: bool, temporality: AggregationTemporality, p| {
        Data::Sum(Sum {
            data_points: vec![point(Some(1.0), 0), p],
            aggregation_temporality: temporality as i32,
            is_monotonic: monotonic,
        })
    };
    let cases = [
        Data::Gauge(Gauge {
            data_points: vec![point(Some(1.0), 0), point(None, 0)],
        }),
        Data::Gauge(Gauge {
            data_points: vec![point(None, NO_RECORDED_VALUE)],
        }),
        sum(true, AggregationTemporality::Cumulative, point(None, 0)),
        sum(false, AggregationTemporality::Delta, point(None, 0)),
        sum(true, AggregationTemporality::Delta, point(None, 0)),
        sum(
            true,
            AggregationTemporality::Cumulative,
            point(Some(2.0), 0),
        ),
    ];
    let mut refused = 0;
    for data in cases {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "m".into(),
                        data: Some(data.clone()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let converted = convert(&req, true).err();
        refused += usize::from(converted.is_some());
        assert_eq!(check_strict(&req).err(), converted, "{data:?}");
    }
    assert_eq!(refused, 3, "a gauge, a cumulative and a non-monotonic sum");
}

#[test]
fn label_names_are_sanitised() {
    assert_eq!(label_name("http.method"), "http_method");
    assert_eq!(label_name("1x"), "key_1x");
    assert_eq!(label_name("_x"), "key_x");
    assert_eq!(label_name("__x"), "__x");
}

#[test]
fn histograms_become_cumulative_buckets() {
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Histogram, HistogramDataPoint,
        ResourceMetrics, ScopeMetrics, exponential_histogram_data_point::Buckets,
    };
    let cumulative = AggregationTemporality::Cumulative as i32;
    let metric = |name: &str, data: Data| Metric {
        name: name.into(),
        unit: "s".into(),
        data: Some(data),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "lat",
                        Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 6,
                                sum: Some(3.5),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![0.1, 1.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: cumulative,
                        }),
                    ),
                    metric(
                        "exp",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                count: 4,
                                scale: 0,
                                zero_count: 1,
                                positive: Some(Buckets {
                                    offset: 0,
                                    bucket_counts: vec![1, 0, 2],
                                }),
                                ..Default::default()
                            }],
                            aggregation_temporality: cumulative,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (rows, rejected) = convert(&req, false).unwrap();
    assert_eq!(rejected.count, 0);
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| {
            let le = r
                .labels
                .iter()
                .find(|(k, _)| k == "le")
                .map(|(_, v)| v.clone());
            (r.metric.clone(), le.unwrap_or_default(), r.value)
        })
        .collect();
    let want: Vec<(String, String, f64)> = [
        ("lat_seconds_bucket", "0.1", 1.0),
        ("lat_seconds_bucket", "1", 3.0),
        ("lat_seconds_bucket", "+Inf", 6.0),
        ("lat_seconds_sum", "", 3.5),
        ("lat_seconds_count", "", 6.0),
        // scale 0: base 2, positive bucket i covers (2^i, 2^(i+1)]; empty ones left out.
        ("exp_seconds_bucket", "0", 1.0),
        ("exp_seconds_bucket", "2", 2.0),
        ("exp_seconds_bucket", "8", 4.0),
        ("exp_seconds_bucket", "+Inf", 4.0),
        ("exp_seconds_count", "", 4.0),
    ]
    .iter()
    .map(|(m, le, v)| (m.to_string(), le.to_string(), *v))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn float_format() {
    assert_eq!(format_float(0.005), "0.005");
    assert_eq!(format_float(1.0), "1");
    assert_eq!(format_float(f64::INFINITY), "+Inf");
}
