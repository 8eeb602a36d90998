//! OTLP metrics → samples, with Prometheus' own OTLP translation (the rules of
//! Prometheus' `otlptranslator` as of 2.42): `service.name` → `job` (prefixed with
//! `service.namespace/`), `service.instance.id` → `instance`, unit and `_total` suffixes,
//! label names sanitised, histograms as `_bucket{le}`/`_sum`/`_count`, summaries as
//! `{quantile}` series plus `_sum`/`_count`.
//!
//! Exponential histograms (which Prometheus 2.42 can only keep as native histograms)
//! are stored losslessly as classic cumulative buckets: one `_bucket` series per
//! populated exponential bucket with `le` = the bucket's upper bound
//! (`base^(index+1)`, `base = 2^(2^-scale)`), negative buckets first, then the zero
//! bucket (`le` = zero threshold), then positive buckets, plus `le="+Inf"`, `_sum` and
//! `_count`. `histogram_quantile` over them works as on classic histograms.
//!
//! Delta temporality is rejected per data point, as Prometheus does.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Metric, exemplar, metric::Data, number_data_point,
};
use osprey_storage::schema::{Attributes, SampleRow};
use osprey_storage::series::exemplars::Exemplar as StoredExemplar;

use super::common::{Rejections, any_value_string, lookup, nanos, resource_attributes};

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
/// OTLP's DataPointFlags.NO_RECORDED_VALUE.
const NO_RECORDED_VALUE: u32 = 1;

fn unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

fn sanitize_unit(u: &str) -> String {
    u.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_string()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Other,
}

/// The Prometheus name of an OTLP metric.
fn metric_name(name: &str, unit: &str, kind: Kind) -> String {
    let mut words: Vec<String> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    // Units in braces are annotations ({request}); they add nothing.
    let unit = if unit.starts_with('{') { "" } else { unit };
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), p.trim()),
        None => (unit.trim(), ""),
    };
    let main = if main.starts_with('{') { "" } else { main };
    let main_word = unit_word(main).map_or_else(|| sanitize_unit(main), str::to_string);
    if !main_word.is_empty() && main != "1" && !words.contains(&main_word) {
        words.push(main_word);
    }
    if !per.is_empty() && !per.starts_with('{') {
        let per_word = per_unit_word(per).map_or_else(|| sanitize_unit(per), str::to_string);
        if !per_word.is_empty() && !words.contains(&per_word) {
            words.push("per".into());
            words.push(per_word);
        }
    }
    if kind == Kind::Counter {
        words.retain(|w| w != "total");
        words.push("total".into());
    }
    if kind == Kind::Gauge && unit == "1" && !words.iter().any(|w| w == "ratio") {
        words.push("ratio".into());
    }
    let mut out = words.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Prometheus label-name sanitisation (2.42's `NormalizeLabel`).
pub fn label_name(key: &str) -> String {
    let mut l: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if l.starts_with(|c: char| c.is_ascii_digit()) {
        l.insert_str(0, "key_");
    } else if l.starts_with('_') && !l.starts_with("__") {
        l.insert_str(0, "key");
    }
    l
}

/// job/instance from the resource.
fn resource_labels(resource: &Attributes) -> Attributes {
    let mut out = Vec::new();
    if let Some(name) = lookup(resource, "service.name").filter(|s| !s.is_empty()) {
        let job = match lookup(resource, "service.namespace").filter(|s| !s.is_empty()) {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        out.push(("job".to_string(), job));
    }
    if let Some(inst) = lookup(resource, "service.instance.id").filter(|s| !s.is_empty()) {
        out.push(("instance".to_string(), inst.to_string()));
    }
    out
}

fn point_labels(base: &Attributes, attrs: &[KeyValue]) -> Attributes {
    let mut out: Attributes = Vec::with_capacity(base.len() + attrs.len());
    for kv in attrs {
        let name = label_name(&kv.key);
        let value = any_value_string(kv.value.as_ref());
        // Two keys that sanitise to one label name: values joined with ';' (Prometheus).
        if let Some(existing) = out.iter_mut().find(|(k, _)| *k == name) {
            existing.1.push(';');
            existing.1.push_str(&value);
        } else {
            out.push((name, value));
        }
    }
    // job/instance from the resource win over point attributes of the same name.
    for (k, v) in base {
        out.retain(|(ok, _)| ok != k);
        out.push((k.clone(), v.clone()));
    }
    out
}

fn with_label(labels: &Attributes, k: &str, v: String) -> Attributes {
    let mut l = labels.clone();
    l.retain(|(ok, _)| ok != k);
    l.push((k.to_string(), v));
    l
}

/// Prometheus' float formatting for `le` and `quantile` labels.
pub fn format_float(f: f64) -> String {
    if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

struct Out<'a> {
    rows: &'a mut Vec<SampleRow>,
    exemplars: &'a mut Vec<StoredExemplar>,
}

impl Out<'_> {
    fn push(&mut self, metric: &str, labels: Attributes, ts: i64, value: f64) {
        self.rows.push(SampleRow {
            metric: metric.to_string(),
            labels,
            timestamp_ns: ts,
            value,
        });
    }
}

fn exemplar_value(e: &Exemplar) -> Option<f64> {
    match e.value? {
        exemplar::Value::AsDouble(v) => Some(v),
        exemplar::Value::AsInt(v) => Some(v as f64),
    }
}

/// An OTLP exemplar as Prometheus keeps it: its filtered attributes as labels, plus
/// `trace_id` and `span_id` in hex when set.
fn stored_exemplar(metric: &str, series: Attributes, e: &Exemplar, v: f64) -> StoredExemplar {
    let mut labels: Attributes = e
        .filtered_attributes
        .iter()
        .map(|kv| (label_name(&kv.key), any_value_string(kv.value.as_ref())))
        .collect();
    if !e.trace_id.is_empty() {
        labels.push(("trace_id".into(), hex::encode(&e.trace_id)));
    }
    if !e.span_id.is_empty() {
        labels.push(("span_id".into(), hex::encode(&e.span_id)));
    }
    StoredExemplar {
        tenant: String::new(),
        metric: metric.to_string(),
        series_labels: series,
        labels,
        value: v,
        timestamp_ms: nanos(e.time_unix_nano).div_euclid(1_000_000),
    }
}

/// What a histogram point contributes besides its buckets.
struct HistogramPoint {
    labels: Attributes,
    ts: i64,
    flags: u32,
    count: u64,
    sum: Option<f64>,
}

/// `_bucket{le}` series with cumulative counts for `buckets` (ascending upper bounds),
/// `le="+Inf"` = count, then `_sum` and `_count`. `skip_empty` leaves out buckets that
/// add nothing (exponential histograms have many).
fn emit_histogram(
    out: &mut Out<'_>,
    name: &str,
    p: &HistogramPoint,
    buckets: impl Iterator<Item = (f64, u64)>,
    skip_empty: bool,
) {
    let bucket_name = format!("{name}_bucket");
    let mut cumulative = 0u64;
    for (le, c) in buckets {
        cumulative += c;
        if skip_empty && c == 0 {
            continue;
        }
        out.push(
            &bucket_name,
            with_label(&p.labels, "le", format_float(le)),
            p.ts,
            value_or_stale(p.flags, cumulative as f64),
        );
    }
    out.push(
        &bucket_name,
        with_label(&p.labels, "le", "+Inf".into()),
        p.ts,
        value_or_stale(p.flags, p.count as f64),
    );
    if let Some(sum) = p.sum {
        out.push(
            &format!("{name}_sum"),
            p.labels.clone(),
            p.ts,
            value_or_stale(p.flags, sum),
        );
    }
    out.push(
        &format!("{name}_count"),
        p.labels.clone(),
        p.ts,
        value_or_stale(p.flags, p.count as f64),
    );
}

fn value_or_stale(flags: u32, v: f64) -> f64 {
    if flags & NO_RECORDED_VALUE != 0 {
        f64::from_bits(STALE_NAN)
    } else {
        v
    }
}

/// Every point of a delta metric is rejected, as Prometheus does.
fn reject_delta(rejected: &mut Rejections, what: &str, name: &str, points: usize) {
    for _ in 0..points {
        rejected.reject(format!(
            "{what} {name:?}: delta temporality is not supported (Prometheus semantics); export cumulative"
        ));
    }
}

fn is_cumulative(t: i32) -> bool {
    t == AggregationTemporality::Cumulative as i32
}

/// Converts one metric; a point that cannot be stored is rejected with a reason.
/// In `strict` mode (OTLP/JSON) a number point without a value makes the whole request
/// invalid: the JSON decoder turns a malformed value into "no value".
fn convert_metric(
    m: &Metric,
    base: &Attributes,
    out: &mut Out<'_>,
    rejected: &mut Rejections,
    strict: bool,
) -> Result<(), String> {
    let Some(data) = &m.data else {
        rejected.reject(format!("metric {:?} has no data", m.name));
        return Ok(());
    };
    match data {
        Data::Gauge(g) => {
            let name = metric_name(&m.name, &m.unit, Kind::Gauge);
            number_points(&name, &m.name, &g.data_points, base, out, rejected, strict)?;
        }
        Data::Sum(s) => {
            let kind = if s.is_monotonic {
                Kind::Counter
            } else {
                Kind::Gauge
            };
            if s.is_monotonic && !is_cumulative(s.aggregation_temporality) {
                reject_delta(rejected, "metric", &m.name, s.data_points.len());
                return Ok(());
            }
            let name = metric_name(&m.name, &m.unit, kind);
            number_points(&name, &m.name, &s.data_points, base, out, rejected, strict)?;
        }
        Data::Histogram(h) => {
            if !is_cumulative(h.aggregation_temporality) {
                reject_delta(rejected, "histogram", &m.name, h.data_points.len());
                return Ok(());
            }
            let name = metric_name(&m.name, &m.unit, Kind::Other);
            for p in &h.data_points {
                if !p.bucket_counts.is_empty()
                    && p.bucket_counts.len() != p.explicit_bounds.len() + 1
                {
                    rejected.reject(format!(
                        "histogram {:?}: {} bucket counts for {} bounds; expected bounds + 1",
                        m.name,
                        p.bucket_counts.len(),
                        p.explicit_bounds.len()
                    ));
                    continue;
                }
                // (upper bound, count) of the finite buckets; +Inf is `count`.
                let buckets = p.bucket_counts.iter().enumerate().filter_map(|(i, c)| {
                    p.explicit_bounds
                        .get(i)
                        .filter(|le| le.is_finite())
                        .map(|le| (*le, *c))
                });
                let point = HistogramPoint {
                    labels: point_labels(base, &p.attributes),
                    ts: nanos(p.time_unix_nano),
                    flags: p.flags,
                    count: p.count,
                    sum: p.sum,
                };
                // Each exemplar goes with the bucket its value falls in (Prometheus'
                // translation): the first bound at or above it, else +Inf.
                for e in &p.exemplars {
                    let Some(v) = exemplar_value(e) else { continue };
                    let le = p
                        .explicit_bounds
                        .iter()
                        .find(|b| v <= **b)
                        .map_or_else(|| "+Inf".to_string(), |b| format_float(*b));
                    out.exemplars.push(stored_exemplar(
                        &format!("{name}_bucket"),
                        with_label(&point.labels, "le", le),
                        e,
                        v,
                    ));
                }
                emit_histogram(out, &name, &point, buckets, false);
            }
        }
        Data::ExponentialHistogram(h) => {
            if !is_cumulative(h.aggregation_temporality) {
                reject_delta(
                    rejected,
                    "exponential histogram",
                    &m.name,
                    h.data_points.len(),
                );
                return Ok(());
            }
            let name = metric_name(&m.name, &m.unit, Kind::Other);
            for p in &h.data_points {
                if !(-10..=20).contains(&p.scale) {
                    rejected.reject(format!(
                        "exponential histogram {:?}: scale {} outside -10..=20",
                        m.name, p.scale
                    ));
                    continue;
                }
                let labels = point_labels(base, &p.attributes);
                let ts = nanos(p.time_unix_nano);
                let base_f = 2f64.powf(2f64.powi(-p.scale));
                // (upper bound, count) in ascending order of bound.
                let mut buckets: Vec<(f64, u64)> = Vec::new();
                if let Some(neg) = &p.negative {
                    // Negative bucket i covers [-base^(i+1), -base^i): upper bound -base^i.
                    for (i, c) in neg.bucket_counts.iter().enumerate().rev() {
                        let idx = neg.offset + i as i32;
                        buckets.push((-base_f.powi(idx), *c));
                    }
                }
                if p.zero_count > 0 || p.zero_threshold > 0.0 {
                    buckets.push((p.zero_threshold, p.zero_count));
                }
                if let Some(pos) = &p.positive {
                    for (i, c) in pos.bucket_counts.iter().enumerate() {
                        let idx = pos.offset + i as i32;
                        buckets.push((base_f.powi(idx + 1), *c));
                    }
                }
                let point = HistogramPoint {
                    labels,
                    ts,
                    flags: p.flags,
                    count: p.count,
                    sum: p.sum,
                };
                emit_histogram(out, &name, &point, buckets.into_iter(), true);
            }
        }
        Data::Summary(s) => {
            let name = metric_name(&m.name, &m.unit, Kind::Other);
            for p in &s.data_points {
                let labels = point_labels(base, &p.attributes);
                let ts = nanos(p.time_unix_nano);
                for q in &p.quantile_values {
                    out.push(
                        &name,
                        with_label(&labels, "quantile", format_float(q.quantile)),
                        ts,
                        value_or_stale(p.flags, q.value),
                    );
                }
                out.push(
                    &format!("{name}_sum"),
                    labels.clone(),
                    ts,
                    value_or_stale(p.flags, p.sum),
                );
                out.push(
                    &format!("{name}_count"),
                    labels,
                    ts,
                    value_or_stale(p.flags, p.count as f64),
                );
            }
        }
    }
    Ok(())
}

fn number_points(
    name: &str,
    otlp_name: &str,
    points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint],
    base: &Attributes,
    out: &mut Out<'_>,
    rejected: &mut Rejections,
    strict: bool,
) -> Result<(), String> {
    for (i, p) in points.iter().enumerate() {
        let v = match p.value {
            Some(number_data_point::Value::AsDouble(d)) => d,
            Some(number_data_point::Value::AsInt(n)) => n as f64,
            None if p.flags & NO_RECORDED_VALUE != 0 => 0.0,
            None if strict => return Err(missing_value(otlp_name, i)),
            None => {
                rejected.reject(format!("metric {otlp_name:?} data point {i} has no value"));
                continue;
            }
        };
        out.push(
            name,
            point_labels(base, &p.attributes),
            nanos(p.time_unix_nano),
            value_or_stale(p.flags, v),
        );
    }
    Ok(())
}

/// Strict mode's refusal of a number point without a value.
fn missing_value(otlp_name: &str, i: usize) -> String {
    format!(
        "metric {otlp_name:?} data point {i}: missing or malformed value (expected asDouble or asInt)"
    )
}

/// Strict mode's rule alone, without converting (what [`convert`] with `strict` refuses
/// the whole request for): a gauge or sum point without a value and without the
/// no-recorded-value flag. A cluster ingester checks an OTLP/JSON request with it
/// before it splits the request by owner, whose parts travel as protobuf.
pub fn check_strict(req: &ExportMetricsServiceRequest) -> Result<(), String> {
    let metrics = req
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics);
    for m in metrics {
        let points = match &m.data {
            Some(Data::Gauge(g)) => &g.data_points,
            // A monotonic delta sum is rejected whole before its points are read.
            Some(Data::Sum(s)) if !s.is_monotonic || is_cumulative(s.aggregation_temporality) => {
                &s.data_points
            }
            _ => continue,
        };
        let missing = points
            .iter()
            .position(|p| p.value.is_none() && p.flags & NO_RECORDED_VALUE == 0);
        if let Some(i) = missing {
            return Err(missing_value(&m.name, i));
        }
    }
    Ok(())
}

/// Converts a request. `Err` means the whole request is malformed (400).
pub fn convert(
    req: &ExportMetricsServiceRequest,
    strict: bool,
) -> Result<(Vec<SampleRow>, Rejections), String> {
    convert_with_exemplars(req, strict).map(|(rows, rejected, _)| (rows, rejected))
}

/// [`convert`], with the histogram points' exemplars (tenant left empty).
pub fn convert_with_exemplars(
    req: &ExportMetricsServiceRequest,
    strict: bool,
) -> Result<(Vec<SampleRow>, Rejections, Vec<StoredExemplar>), String> {
    let mut exemplars = Vec::new();
    let mut rows = Vec::new();
    let mut rejected = Rejections::default();
    for rm in &req.resource_metrics {
        let resource = resource_attributes(rm.resource.as_ref());
        let base = resource_labels(&resource);
        let first = rows.len();
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                convert_metric(
                    m,
                    &base,
                    &mut Out {
                        rows: &mut rows,
                        exemplars: &mut exemplars,
                    },
                    &mut rejected,
                    strict,
                )?;
            }
        }
        if let Some(info) = target_info(&resource, &base, &rows[first..]) {
            rows.push(info);
        }
    }
    Ok((rows, rejected, exemplars))
}

/// Prometheus' `target_info`: the resource attributes other than those that made
/// `job` and `instance`, as labels of a sample 1 at the resource's newest point; none
/// when only job/instance attributes are there.
fn target_info(resource: &Attributes, base: &Attributes, rows: &[SampleRow]) -> Option<SampleRow> {
    let ts = rows.iter().map(|r| r.timestamp_ns).max()?;
    let mut labels: Attributes = Vec::new();
    for (k, v) in resource {
        if matches!(
            k.as_str(),
            "service.name" | "service.namespace" | "service.instance.id"
        ) {
            continue;
        }
        let name = label_name(k);
        if let Some(existing) = labels.iter_mut().find(|(n, _)| *n == name) {
            existing.1.push(';');
            existing.1.push_str(v);
        } else {
            labels.push((name, v.clone()));
        }
    }
    if labels.is_empty() {
        return None;
    }
    for (k, v) in base {
        labels.retain(|(n, _)| n != k);
        labels.push((k.clone(), v.clone()));
    }
    Some(SampleRow {
        metric: "target_info".into(),
        labels,
        timestamp_ns: ts,
        value: 1.0,
    })
}

#[cfg(test)]
mod tests;
