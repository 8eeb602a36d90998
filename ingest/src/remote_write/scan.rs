//! remote_write 1.0 decoded from the wire straight into samples by series id.
//!
//! A time series whose labels the series index already holds costs its label bytes
//! hashed into its id (the same FNV as `SampleRow::series_id`) and its samples read:
//! no `String` per label, no row struct, no label checks (they passed when the series
//! was first stored). A series the index does not hold, or whose labels are not in
//! the sorted form that hashing on the wire needs, or that carries exemplars, is
//! decoded by prost and checked as before ([`super::series_parts`]). A request whose
//! wire format is broken is left to prost whole, so its error is prost's.

use std::collections::HashSet;

use osprey_storage::schema::SampleRow;
use osprey_storage::series::exemplars::Exemplar as Ex;
use osprey_storage::series::metadata::Metadata;
use osprey_storage::series::{Series, SeriesIndex};
use prost::Message;

use super::{MetricMetadata, SeriesParts, TimeSeries, metric_type_name, series_parts};
use crate::IngestError;
use crate::samplegate::{IdSample, series_ids};
use crate::shapes::LabelLimits;
use crate::wire::{Broken, Value, fields};

/// A request's samples by series id, and what else it carried.
#[derive(Debug, Default)]
pub struct Decoded {
    pub samples: Vec<IdSample>,
    /// Series among `samples` that the index may not hold, with names and labels.
    pub series: Vec<Series>,
    pub exemplars: Vec<Ex>,
    /// Native histogram samples (refused, counted).
    pub histograms: usize,
    pub metadata: Vec<(String, Metadata)>,
}

impl Decoded {
    /// Adds a series prost decoded: its samples, its definition and its exemplars.
    fn add_series(&mut self, mut parts: SeriesParts) {
        self.exemplars.append(&mut parts.exemplars);
        if parts.samples.is_empty() {
            return;
        }
        let mut row = SampleRow {
            metric: parts.metric,
            labels: parts.labels,
            ..Default::default()
        };
        let id = row.series_id();
        self.samples.extend(
            parts
                .samples
                .iter()
                .map(|s| sample(id, s.timestamp.saturating_mul(1_000_000), s.value)),
        );
        row.labels.sort();
        self.series.push(Series {
            id,
            metric: row.metric,
            labels: row.labels,
        });
    }

    /// Samples given as rows (remote_write 2.0): ids computed once per run of a
    /// series, and every series defined (storage keeps the definitions it needs).
    pub fn from_rows(rows: Vec<SampleRow>) -> Self {
        let mut out = Self::default();
        let mut seen = HashSet::new();
        for (id, r) in series_ids(&rows).into_iter().zip(rows) {
            out.samples.push(sample(id, r.timestamp_ns, r.value));
            if seen.insert(id) {
                let mut labels = r.labels;
                labels.sort();
                out.series.push(Series {
                    id,
                    metric: r.metric,
                    labels,
                });
            }
        }
        out
    }
}

fn sample(id: u64, timestamp_ns: i64, value: f64) -> IdSample {
    IdSample {
        id,
        timestamp_ns,
        value,
    }
}

/// A label's name and value bytes (prost's rule: the last occurrence of a field wins).
fn label(msg: &[u8]) -> Result<(&[u8], &[u8]), Broken> {
    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
    for f in fields(msg) {
        match f? {
            crate::wire::Field {
                number: 1,
                value: Value::Bytes(b),
            } => name = b,
            crate::wire::Field {
                number: 2,
                value: Value::Bytes(b),
            } => value = b,
            crate::wire::Field { number: 1 | 2, .. } => return Err(Broken),
            _ => {}
        }
    }
    Ok((name, value))
}

fn eat(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100000001b3);
    }
    *h ^= 0xff;
    *h = h.wrapping_mul(0x100000001b3);
}

/// A time series' id from its labels on the wire, when they allow hashing there:
/// exactly one non-empty `__name__`, the other labels (empty values aside, as they
/// are dropped) sorted by (name, value), and no exemplars. `None` otherwise.
/// `labels` is scratch space, reused from series to series.
fn wire_id<'a>(
    series: &'a [u8],
    labels: &mut Vec<(&'a [u8], &'a [u8])>,
) -> Result<Option<u64>, Broken> {
    labels.clear();
    let mut metric: Option<&[u8]> = None;
    let mut names = 0;
    let mut sorted = true;
    for f in fields(series) {
        let f = f?;
        match (f.number, f.value) {
            (1, Value::Bytes(b)) => match label(b)? {
                (b"__name__", value) => {
                    names += 1;
                    metric = Some(value);
                }
                (_, b"") => {}
                pair => {
                    sorted &= labels.last().is_none_or(|p| *p <= pair);
                    labels.push(pair);
                }
            },
            (3, _) => return Ok(None),
            (1..=4, Value::Bytes(_)) => {}
            (1..=4, _) => return Err(Broken),
            _ => {}
        }
    }
    let Some(metric) = metric.filter(|m| names == 1 && !m.is_empty() && sorted) else {
        return Ok(None);
    };
    let mut h: u64 = 0xcbf29ce484222325;
    eat(&mut h, metric);
    for (name, value) in labels.iter() {
        eat(&mut h, name);
        eat(&mut h, value);
    }
    Ok(Some(h))
}

/// A sample message's (timestamp ms, value).
fn wire_sample(msg: &[u8]) -> Result<(i64, f64), Broken> {
    let (mut ts, mut value) = (0i64, 0f64);
    for f in fields(msg) {
        match f? {
            crate::wire::Field {
                number: 1,
                value: Value::Fixed64(v),
            } => value = f64::from_bits(v),
            crate::wire::Field {
                number: 2,
                value: Value::Varint(v),
            } => ts = v as i64,
            crate::wire::Field { number: 1 | 2, .. } => return Err(Broken),
            _ => {}
        }
    }
    Ok((ts, value))
}

/// The samples and histogram count of a series known by id, from the wire.
fn known_series(id: u64, series: &[u8], out: &mut Decoded) -> Result<(), Broken> {
    for f in fields(series) {
        let f = f?;
        match (f.number, f.value) {
            (2, Value::Bytes(b)) => {
                let (ts, value) = wire_sample(b)?;
                out.samples
                    .push(sample(id, ts.saturating_mul(1_000_000), value));
            }
            (4, Value::Bytes(_)) => out.histograms += 1,
            _ => {}
        }
    }
    Ok(())
}

/// Decodes a remote_write 1.0 request for `tenant`. `Ok(None)`: the wire format is
/// broken somewhere, and prost must decode the request to say where.
pub fn decode_v1(
    raw: &[u8],
    tenant: &str,
    index: &SeriesIndex,
    limits: &LabelLimits,
) -> Result<Option<Decoded>, IngestError> {
    // Pass 1: every series' bytes and, where hashing on the wire works, its id.
    let mut series: Vec<(&[u8], Option<u64>)> = Vec::new();
    let mut scratch = Vec::new();
    let mut metadata: Vec<&[u8]> = Vec::new();
    for f in fields(raw) {
        let Ok(f) = f else {
            return Ok(None);
        };
        match (f.number, f.value) {
            (1, Value::Bytes(b)) => match wire_id(b, &mut scratch) {
                Ok(id) => series.push((b, id)),
                Err(Broken) => return Ok(None),
            },
            (3, Value::Bytes(b)) => metadata.push(b),
            (1 | 3, _) => return Ok(None),
            _ => {}
        }
    }
    let ids: Vec<u64> = series.iter().filter_map(|s| s.1).collect();
    let unknown = index.unknown(tenant, &ids);
    // Pass 2: samples of known series from the wire, the others through prost.
    let mut out = Decoded::default();
    for (i, &(bytes, id)) in series.iter().enumerate() {
        if let Some(id) = id.filter(|id| !unknown.contains(id)) {
            if known_series(id, bytes, &mut out).is_err() {
                return Ok(None);
            }
            continue;
        }
        let Ok(ts) = TimeSeries::decode(bytes) else {
            return Ok(None);
        };
        out.histograms += ts.histograms.len();
        out.add_series(series_parts(i, ts, limits)?);
    }
    for m in metadata {
        let Ok(m) = MetricMetadata::decode(m) else {
            return Ok(None);
        };
        out.metadata.push((
            m.metric_family_name,
            Metadata {
                kind: metric_type_name(m.r#type).to_string(),
                help: m.help,
                unit: m.unit,
            },
        ));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::super::{Exemplar, Label, Sample, WriteRequest, to_samples};
    use super::*;

    fn l(name: &str, value: &str) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }

    fn ts(labels: Vec<Label>, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels,
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    /// What prost and the row path make of a request.
    fn by_prost(raw: &[u8]) -> Decoded {
        let req = WriteRequest::decode(raw).unwrap();
        let (rows, exemplars) = to_samples(req, &LabelLimits::default()).unwrap();
        Decoded {
            exemplars,
            ..Decoded::from_rows(rows)
        }
    }

    #[test]
    fn the_wire_gives_what_prost_gives_known_series_without_labels() {
        let mut with_exemplar = ts(
            vec![l("__name__", "req_total"), l("code", "500")],
            &[(1000, 1.0)],
        );
        with_exemplar.exemplars.push(Exemplar {
            labels: vec![l("trace_id", "abc")],
            value: 1.0,
            timestamp: 1000,
        });
        let req = WriteRequest {
            timeseries: vec![
                ts(
                    vec![l("__name__", "up"), l("instance", "a"), l("job", "node")],
                    &[(1000, 1.0), (2000, 0.0)],
                ),
                // Unsorted, an empty value, __name__ in the middle.
                ts(
                    vec![
                        l("job", "node"),
                        l("__name__", "up"),
                        l("a", ""),
                        l("instance", "b"),
                    ],
                    &[(1000, f64::NAN)],
                ),
                // Upper-case names sort before __name__.
                ts(vec![l("Zone", "eu"), l("__name__", "temp")], &[(-5, -1.5)]),
                with_exemplar,
                ts(vec![l("__name__", "no_samples")], &[]),
            ],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "req_total".into(),
                help: "Requests.".into(),
                unit: String::new(),
            }],
        };
        let raw = req.encode_to_vec();
        let want = by_prost(&raw);
        let index = SeriesIndex::default();
        let limits = LabelLimits::default();
        let bits = |d: &Decoded| {
            d.samples
                .iter()
                .map(|s| (s.id, s.timestamp_ns, s.value.to_bits()))
                .collect::<Vec<_>>()
        };
        let got = decode_v1(&raw, "t", &index, &limits).unwrap().unwrap();
        assert_eq!(bits(&got), bits(&want));
        let mut defined: Vec<_> = got.series.iter().map(|s| s.id).collect();
        defined.sort_unstable();
        let mut all: Vec<_> = want.series.iter().map(|s| s.id).collect();
        all.sort_unstable();
        assert_eq!(
            defined, all,
            "an empty index: every series with samples defined"
        );
        assert_eq!(got.exemplars.len(), 1);
        assert_eq!(got.metadata.len(), 1);
        assert_eq!(got.metadata[0].1.kind, "counter");
        // Once the index holds them, series come by id only; the one with unsorted
        // labels and the one with an exemplar still go through prost, defined again.
        index.observe_series("t", want.series.clone(), false);
        let again = decode_v1(&raw, "t", &index, &limits).unwrap().unwrap();
        assert_eq!(bits(&again), bits(&want));
        let names: Vec<_> = again.series.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["up", "req_total"]);
        assert_eq!(again.exemplars.len(), 1);
        // Another tenant's index does not count.
        let other = decode_v1(&raw, "u", &index, &limits).unwrap().unwrap();
        assert_eq!(other.series.len(), want.series.len());
    }

    #[test]
    fn a_broken_wire_format_is_left_to_prost_and_a_nameless_series_refused() {
        let req = WriteRequest {
            timeseries: vec![ts(vec![l("__name__", "up")], &[(1, 1.0)])],
            metadata: vec![],
        };
        let raw = req.encode_to_vec();
        let index = SeriesIndex::default();
        let limits = LabelLimits::default();
        assert!(
            decode_v1(&raw[..raw.len() - 1], "t", &index, &limits)
                .unwrap()
                .is_none()
        );
        // A sample's timestamp with the wrong wire type (fixed64 instead of varint).
        let bad_sample = [0x11, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut series = vec![0x12, bad_sample.len() as u8];
        series.extend_from_slice(&bad_sample);
        let mut body = vec![0x0a, series.len() as u8];
        body.extend_from_slice(&series);
        assert!(decode_v1(&body, "t", &index, &limits).unwrap().is_none());
        assert!(WriteRequest::decode(body.as_slice()).is_err());
        let nameless = WriteRequest {
            timeseries: vec![
                ts(vec![l("__name__", "up")], &[(1, 1.0)]),
                ts(vec![l("job", "x")], &[(1, 1.0)]),
            ],
            metadata: vec![],
        };
        let e = decode_v1(&nameless.encode_to_vec(), "t", &index, &limits).unwrap_err();
        assert_eq!(e.to_string(), "time series 1 has no __name__ label");
    }
}
