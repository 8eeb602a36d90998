//! Prometheus remote_write 1.0 and 2.0 at `POST /api/v1/write`: snappy-compressed
//! protobuf `prometheus.WriteRequest`, or `io.prometheus.write.v2.Request` when the
//! Content-Type says `proto=io.prometheus.write.v2.Request` (2.0 answers carry the
//! `X-Prometheus-Remote-Write-*-Written` headers). The messages are hand-written prost
//! structs: they are small and stable, and no protoc is needed. Metadata (type, help,
//! unit) is kept for `/api/v1/metadata`; exemplars go to the exemplar ring (`storage.max_exemplars`, durable
//! through the WAL, read by `/api/v1/query_exemplars`); 2.0 native histogram samples are refused with a
//! 400 that counts them.

use crate::shapes::{LabelLimits, check_labels};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use osprey_auth::Rate;
use osprey_storage::Signal;
use std::collections::HashSet;

use arrow::array::RecordBatch;
use osprey_storage::schema::{SampleRow, stored_samples};
use osprey_storage::series::Series;
use osprey_storage::series::exemplars::Exemplar as Ex;
use osprey_storage::series::metadata::Metadata;
use prost::Message;

use crate::body::unsnappy;
use crate::samplegate::IdSample;

pub(crate) mod forward;
mod scan;
use crate::{IngestError, IngestState};
use osprey_auth::RequestContext;
pub use scan::{Decoded, decode_v1};

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// UNKNOWN, COUNTER, GAUGE, HISTOGRAM, GAUGEHISTOGRAM, SUMMARY, INFO, STATESET.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Prometheus' metric type names, by the enum both remote_write versions use.
pub fn metric_type_name(t: i32) -> &'static str {
    match t {
        1 => "counter",
        2 => "gauge",
        3 => "histogram",
        4 => "gaugehistogram",
        5 => "summary",
        6 => "info",
        7 => "stateset",
        _ => "unknown",
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples: counted and refused, not decoded.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<v2::Opaque>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// remote_write 2.0 (`io.prometheus.write.v2.Request`): strings are interned in
/// `symbols` and referenced by index.
pub mod v2 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        #[prost(string, repeated, tag = "4")]
        pub symbols: Vec<String>,
        #[prost(message, repeated, tag = "5")]
        pub timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Name/value pairs of indexes into `symbols`.
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<super::Sample>,
        /// Native histogram samples: counted, not decoded.
        #[prost(message, repeated, tag = "3")]
        pub histograms: Vec<Opaque>,
        #[prost(message, repeated, tag = "4")]
        pub exemplars: Vec<Exemplar>,
        #[prost(message, optional, tag = "5")]
        pub metadata: Option<Metadata>,
        #[prost(int64, tag = "6")]
        pub created_timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        #[prost(double, tag = "2")]
        pub value: f64,
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metadata {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(uint32, tag = "3")]
        pub help_ref: u32,
        #[prost(uint32, tag = "4")]
        pub unit_ref: u32,
    }

    /// A message whose fields are not needed (prost skips them).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Opaque {}
}

/// What a 2.0 request turned into, and what it carried that is not stored.
pub struct V2Rows {
    pub rows: Vec<SampleRow>,
    pub histograms: usize,
    pub exemplars: Vec<Ex>,
    /// (metric name, metadata) of series that carried it.
    pub metadata: Vec<(String, Metadata)>,
}

/// Resolves a 2.0 request's symbol references into samples.
pub fn v2_to_samples(req: v2::Request, limits: &LabelLimits) -> Result<V2Rows, IngestError> {
    if req.symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(IngestError::BadRequest(
            "symbols must start with the empty string (remote_write 2.0)".into(),
        ));
    }
    let mut out = V2Rows {
        rows: Vec::new(),
        histograms: 0,
        exemplars: Vec::new(),
        metadata: Vec::new(),
    };
    let sym =
        |i: u32, series: usize| -> Result<&str, IngestError> {
            req.symbols.get(i as usize).map(String::as_str).ok_or_else(|| {
            IngestError::BadRequest(format!(
                "time series {series}: labels_refs index {i} is out of range of the {} symbols",
                req.symbols.len()
            ))
        })
        };
    for (i, ts) in req.timeseries.iter().enumerate() {
        if ts.labels_refs.len() % 2 != 0 {
            return Err(IngestError::BadRequest(format!(
                "time series {i}: labels_refs has an odd length ({})",
                ts.labels_refs.len()
            )));
        }
        let pairs = ts
            .labels_refs
            .chunks_exact(2)
            .map(|p| Ok((sym(p[0], i)?, sym(p[1], i)?)))
            .collect::<Result<Vec<_>, IngestError>>()?;
        check_labels(limits, i, pairs.iter().copied())?;
        let mut metric = None;
        let mut labels = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name == "__name__" {
                metric = Some(value.to_string());
            } else if !value.is_empty() {
                labels.push((name.to_string(), value.to_string()));
            }
        }
        let metric = metric.filter(|m| !m.is_empty()).ok_or_else(|| {
            IngestError::BadRequest(format!("time series {i} has no __name__ label"))
        })?;
        out.histograms += ts.histograms.len();
        if let Some(m) = &ts.metadata
            && (m.r#type != 0 || m.help_ref != 0 || m.unit_ref != 0)
        {
            out.metadata.push((
                metric.clone(),
                Metadata {
                    kind: metric_type_name(m.r#type).to_string(),
                    help: sym(m.help_ref, i)?.to_string(),
                    unit: sym(m.unit_ref, i)?.to_string(),
                },
            ));
        }
        for e in &ts.exemplars {
            if e.labels_refs.len() % 2 != 0 {
                return Err(IngestError::BadRequest(format!(
                    "time series {i}: an exemplar's labels_refs has an odd length"
                )));
            }
            let mut el = Vec::with_capacity(e.labels_refs.len() / 2);
            for pair in e.labels_refs.chunks_exact(2) {
                el.push((sym(pair[0], i)?.to_string(), sym(pair[1], i)?.to_string()));
            }
            out.exemplars
                .push(exemplar(&metric, &labels, el, e.value, e.timestamp));
        }
        for s in &ts.samples {
            out.rows.push(SampleRow {
                metric: metric.clone(),
                labels: labels.clone(),
                timestamp_ns: s.timestamp.saturating_mul(1_000_000),
                value: s.value,
            });
        }
    }
    Ok(out)
}

/// One time series checked and taken apart: its name, its other labels (empty values
/// dropped), its samples and its exemplars.
pub(crate) struct SeriesParts {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub samples: Vec<Sample>,
    pub exemplars: Vec<Ex>,
}

/// Checks time series `i` against the label limits and takes it apart; a series
/// without `__name__` makes the request invalid (Prometheus answers 400 too).
pub(crate) fn series_parts(
    i: usize,
    ts: TimeSeries,
    limits: &LabelLimits,
) -> Result<SeriesParts, IngestError> {
    check_labels(
        limits,
        i,
        ts.labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str())),
    )?;
    let mut metric = None;
    let mut labels = Vec::with_capacity(ts.labels.len());
    for l in ts.labels {
        if l.name == "__name__" {
            metric = Some(l.value);
        } else if !l.value.is_empty() {
            labels.push((l.name, l.value));
        }
    }
    let metric = metric
        .filter(|m| !m.is_empty())
        .ok_or_else(|| IngestError::BadRequest(format!("time series {i} has no __name__ label")))?;
    let exemplars = ts
        .exemplars
        .into_iter()
        .map(|e| {
            let el = e.labels.into_iter().map(|l| (l.name, l.value)).collect();
            exemplar(&metric, &labels, el, e.value, e.timestamp)
        })
        .collect();
    Ok(SeriesParts {
        metric,
        labels,
        samples: ts.samples,
        exemplars,
    })
}

/// Converts a decoded request into samples (see [`series_parts`] for what is refused).
pub fn to_samples(
    req: WriteRequest,
    limits: &LabelLimits,
) -> Result<(Vec<SampleRow>, Vec<Ex>), IngestError> {
    let mut rows = Vec::new();
    let mut exemplars = Vec::new();
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        let mut parts = series_parts(i, ts, limits)?;
        exemplars.append(&mut parts.exemplars);
        // Clones for all samples but the last, which takes the series' labels.
        let n = parts.samples.len();
        let (mut metric, mut labels) = (Some(parts.metric), Some(parts.labels));
        for (k, s) in parts.samples.into_iter().enumerate() {
            let (m, l) = if k + 1 == n {
                (metric.take(), labels.take())
            } else {
                (metric.clone(), labels.clone())
            };
            rows.push(SampleRow {
                metric: m.unwrap_or_default(),
                labels: l.unwrap_or_default(),
                timestamp_ns: s.timestamp.saturating_mul(1_000_000),
                value: s.value,
            });
        }
    }
    Ok((rows, exemplars))
}

/// An exemplar of a series (the tenant is set when stored).
fn exemplar(
    metric: &str,
    labels: &[(String, String)],
    exemplar_labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: i64,
) -> Ex {
    Ex {
        tenant: String::new(),
        metric: metric.to_string(),
        series_labels: labels.to_vec(),
        labels: exemplar_labels,
        value,
        timestamp_ms,
    }
}

pub async fn write(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match write_inner(&st, ctx.tenant(), &headers, &body).await {
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(written)) => (StatusCode::NO_CONTENT, written.headers()).into_response(),
        Err((e, written)) => {
            let mut resp = e.into_response();
            if let Some(w) = written {
                resp.headers_mut().extend(w.headers());
            }
            resp
        }
    }
}

/// remote_write 2.0's response headers: what was stored.
#[derive(Default, Clone, Copy)]
struct Written {
    samples: usize,
    histograms: usize,
    exemplars: usize,
}

impl Written {
    fn headers(self) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, n) in [
            ("x-prometheus-remote-write-samples-written", self.samples),
            (
                "x-prometheus-remote-write-histograms-written",
                self.histograms,
            ),
            (
                "x-prometheus-remote-write-exemplars-written",
                self.exemplars,
            ),
        ] {
            h.insert(name, http::HeaderValue::from(n));
        }
        h
    }
}

enum Proto {
    V1,
    V2,
}

type WriteResult = Result<Option<Written>, (IngestError, Option<Written>)>;

async fn write_inner(
    st: &IngestState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> WriteResult {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-protobuf");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime != "application/x-protobuf" {
        return Err((
            IngestError::UnsupportedMediaType {
                got: ct.to_string(),
                expected: "application/x-protobuf",
            },
            None,
        ));
    }
    let proto = match ct
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("proto="))
        .map(|p| p.trim_matches('"'))
    {
        None | Some("prometheus.WriteRequest") => Proto::V1,
        Some("io.prometheus.write.v2.Request") => Proto::V2,
        Some(_) => {
            return Err((
                IngestError::UnsupportedMediaType {
                    got: ct.to_string(),
                    expected: "application/x-protobuf with proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request",
                },
                None,
            ));
        }
    };
    if let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        && !enc.eq_ignore_ascii_case("snappy")
    {
        return Err((
            IngestError::UnsupportedEncoding {
                got: enc.to_string(),
                expected: "snappy (remote_write bodies are snappy-compressed)",
            },
            None,
        ));
    }
    let fail = |e: IngestError| (e, None);
    let raw = unsnappy(body, st.max_body).map_err(fail)?;
    crate::limits::check_remote_write(matches!(proto, Proto::V2), &raw).map_err(fail)?;
    let limits = st.limiter.limits(tenant);
    let labels = LabelLimits::from(&limits);
    // A refused shape is counted against its limit.
    let fail = |e: IngestError| {
        if let IngestError::Shape { limit, .. } = &e {
            st.limiter.refused(tenant, limit, 1);
        }
        (e, None)
    };
    st.metrics.bytes(Signal::Metrics, raw.len() as u64);
    let mut decoded = decode(st, tenant, &proto, &raw, &labels).map_err(fail)?;
    let v2 = matches!(proto, Proto::V2);
    let stored = match &st.forward {
        // A cluster: the samples go to their series' owners; exemplars, metadata and
        // the count of refused histograms stay here.
        Some(forward) => {
            let part = forward::SamplesPart::take(st, tenant, &mut decoded);
            let outcome = forward.store(st, tenant, part).await.map_err(fail)?;
            let mut here = store_decoded(st, tenant, decoded, raw.len())
                .await
                .map_err(fail)?;
            here.absorb(outcome);
            here
        }
        None => store_decoded(st, tenant, decoded, raw.len())
            .await
            .map_err(fail)?,
    };
    stored.answer(v2)
}

/// What a request's samples came to.
#[derive(Default)]
pub(crate) struct StoredSamples {
    total: usize,
    stored: usize,
    duplicates: usize,
    refused: usize,
    reasons: Vec<String>,
    histograms: usize,
    exemplars: usize,
}

impl StoredSamples {
    /// Adds what the owners of the forwarded samples stored (their refusals' reasons
    /// are already sentences).
    fn absorb(&mut self, o: crate::otlp::Outcome) {
        let refused = usize::try_from(o.rejected.count).unwrap_or(0);
        self.total += o.accepted + refused;
        self.stored += o.accepted;
        self.refused += refused;
        self.reasons.extend(o.rejected.reasons().iter().cloned());
    }

    /// As an outcome a forwarding ingester sums: stored (and duplicate) samples
    /// accepted, the refused ones rejected with their reasons.
    pub(crate) fn outcome(&self) -> crate::otlp::Outcome {
        let mut rejected = crate::otlp::Rejections::default();
        rejected.absorb(self.refused as i64, self.reasons.clone());
        crate::otlp::Outcome {
            accepted: self.stored + self.duplicates,
            rejected,
            retimed: 0,
        }
    }

    /// The response: 204 (with 2.0's written counts), or 400 naming what was refused.
    fn answer(self, v2: bool) -> WriteResult {
        // Exact duplicates are stored already: written, as Prometheus counts them.
        let written = v2.then_some(Written {
            samples: self.stored + self.duplicates,
            histograms: 0,
            exemplars: self.exemplars,
        });
        let mut problems = Vec::new();
        if self.refused > 0 {
            problems.push(format!(
                "{} of {} samples refused ({} stored, {} exact duplicates dropped): {}",
                self.refused,
                self.total,
                self.stored,
                self.duplicates,
                self.reasons.join("; ")
            ));
        }
        if self.histograms > 0 {
            problems.push(format!(
                "{} native histogram samples refused: native histograms are not supported",
                self.histograms
            ));
        }
        if !problems.is_empty() {
            // Like Prometheus' receiver: what could be stored is, and the 400 tells the
            // sender not to retry the rest.
            return Err((IngestError::BadRequest(problems.join("; ")), written));
        }
        Ok(written)
    }
}

/// Stores decoded samples here: order and duplicate checks, the tenant's limits, the
/// WAL (under `st.batch` when this is a forwarded part), then metadata and exemplars.
pub(crate) async fn store_decoded(
    st: &IngestState,
    tenant: &str,
    decoded: Decoded,
    bytes: usize,
) -> Result<StoredSamples, IngestError> {
    let Decoded {
        samples,
        series,
        exemplars,
        histograms,
        metadata,
    } = decoded;
    let limits = st.limiter.limits(tenant);
    let metric_of = |i: usize| {
        let id = samples[i].id;
        series
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.metric.clone())
            .or_else(|| {
                st.storage
                    .series()
                    .series(tenant, id)
                    .map(|s| s.metric.clone())
            })
            .unwrap_or_else(|| format!("series {id:016x}"))
    };
    let admitted = st
        .samples
        .admit_ids(tenant, &samples, &metric_of, limits.max_active_series);
    st.limiter.refused(
        tenant,
        "max_active_series",
        admitted.over_series_limit as u64,
    );
    let stored = admitted.kept.len();
    st.limiter.take(
        tenant,
        &[(Rate::Samples, stored as u64), (Rate::Bytes, bytes as u64)],
    )?;
    if stored > 0 {
        let (series, batch) = kept_batch(&samples, series, &admitted.kept)?;
        st.storage
            .append_samples_as(st.batch, tenant, series, batch)
            .await?;
    }
    st.samples.commit(&admitted);
    // Metadata is kept only once the request's samples are stored.
    for (family, m) in metadata {
        st.storage.metadata().set(tenant, &family, m);
    }
    st.metrics.rows(
        Signal::Metrics,
        stored as u64,
        (admitted.refused + histograms) as u64,
    );
    let exemplars: Vec<_> = exemplars
        .into_iter()
        .map(|mut e| {
            e.tenant = tenant.to_string();
            e
        })
        .collect();
    let stored_exemplars = st.storage.append_exemplars(exemplars).await?;
    Ok(StoredSamples {
        total: samples.len(),
        stored,
        duplicates: admitted.duplicates,
        refused: admitted.refused,
        reasons: admitted.reasons,
        histograms,
        exemplars: stored_exemplars,
    })
}

/// A request's samples by series id: 1.0 straight from the wire where it can
/// ([`scan::decode_v1`]), else through prost, as 2.0 always is.
fn decode(
    st: &IngestState,
    tenant: &str,
    proto: &Proto,
    raw: &[u8],
    labels: &LabelLimits,
) -> Result<Decoded, IngestError> {
    match proto {
        Proto::V1 => {
            if let Some(d) = scan::decode_v1(raw, tenant, st.storage.series(), labels)? {
                return Ok(d);
            }
            let mut req = WriteRequest::decode(raw).map_err(|e| {
                IngestError::BadRequest(format!("malformed WriteRequest protobuf: {e}"))
            })?;
            let metadata = std::mem::take(&mut req.metadata)
                .into_iter()
                .map(|m| {
                    (
                        m.metric_family_name,
                        Metadata {
                            kind: metric_type_name(m.r#type).to_string(),
                            help: m.help,
                            unit: m.unit,
                        },
                    )
                })
                .collect();
            let histograms = req.timeseries.iter().map(|t| t.histograms.len()).sum();
            let (rows, exemplars) = to_samples(req, labels)?;
            Ok(Decoded {
                exemplars,
                histograms,
                metadata,
                ..Decoded::from_rows(rows)
            })
        }
        Proto::V2 => {
            let req = v2::Request::decode(raw).map_err(|e| {
                IngestError::BadRequest(format!(
                    "malformed io.prometheus.write.v2.Request protobuf: {e}"
                ))
            })?;
            if req.symbols.is_empty() && req.timeseries.is_empty() && !raw.is_empty() {
                // Fields 1-3 (a 1.0 WriteRequest's) are reserved in 2.0: such a body
                // decodes to nothing rather than failing.
                return Err(IngestError::BadRequest(
                    "the body decodes to an empty io.prometheus.write.v2.Request; is it a 1.0 prometheus.WriteRequest? Send that without proto= or with proto=prometheus.WriteRequest".into(),
                ));
            }
            let v = v2_to_samples(req, labels)?;
            Ok(Decoded {
                exemplars: v.exemplars,
                histograms: v.histograms,
                metadata: v.metadata,
                ..Decoded::from_rows(v.rows)
            })
        }
    }
}

/// The kept samples as a batch of the stored metrics schema, and the definitions of
/// the series among them.
fn kept_batch(
    samples: &[IdSample],
    mut series: Vec<Series>,
    kept: &[usize],
) -> Result<(Vec<Series>, RecordBatch), IngestError> {
    let ids: Vec<u64> = kept.iter().map(|&i| samples[i].id).collect();
    if !series.is_empty() {
        let present: HashSet<u64> = ids.iter().copied().collect();
        series.retain(|s| present.contains(&s.id));
    }
    let times: Vec<i64> = kept.iter().map(|&i| samples[i].timestamp_ns).collect();
    let values: Vec<f64> = kept.iter().map(|&i| samples[i].value).collect();
    let batch = stored_samples(ids, times, values)?;
    Ok((series, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: Vec<(String, String)>) -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: labels
                    .into_iter()
                    .map(|(name, value)| Label { name, value })
                    .collect(),
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        }
    }

    fn refused(labels: Vec<(String, String)>) -> String {
        match to_samples(series(labels), &LabelLimits::default()) {
            Err(e) => {
                assert_eq!(e.http_status(), http::StatusCode::BAD_REQUEST);
                e.to_string()
            }
            Ok(_) => panic!("accepted"),
        }
    }

    fn name() -> (String, String) {
        ("__name__".into(), "m".into())
    }

    #[test]
    fn absurd_label_sets_are_refused() {
        let many: Vec<_> = std::iter::once(name())
            .chain((0..50_000).map(|i| (format!("l{i}"), "v".to_string())))
            .collect();
        assert!(refused(many).contains(
            "50001 labels; at most 128 are accepted per series (limits.max_labels_per_series)"
        ));
        let long_value = vec![name(), ("big".into(), "v".repeat(1 << 20))];
        assert!(refused(long_value).contains("label \"big\" has 1048576 bytes; at most 16384"));
        let long_name = vec![name(), ("n".repeat(64 * 1024), "v".into())];
        assert!(refused(long_name).contains("has 65536 bytes; at most 1024"));
        let dup = vec![name(), ("a".into(), "1".into()), ("a".into(), "2".into())];
        assert!(refused(dup).contains("duplicate label name \"a\""));
        let ok = vec![name(), ("a".into(), "1".into())];
        assert_eq!(
            to_samples(series(ok), &LabelLimits::default())
                .unwrap()
                .0
                .len(),
            1
        );
    }
}
