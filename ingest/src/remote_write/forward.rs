//! remote_write in a cluster (`storage/docs/format/cluster.md`, "Write path"): the
//! decoded samples of a request (either version) go to the ingesters owning their
//! series, by series id (a hash of the labels, the same on every node), as a
//! [`SamplesPart`]: the samples and the definition of every series among them, since
//! the owner may not know it yet. The owner stores them as its own request's
//! (`store_decoded`: order and duplicate checks there). Exemplars and metadata stay on
//! the ingester that received them.
//!
//! The compactor writes its rules' results the same way ([`Forwarder::store_rows`]):
//! it holds no ingester's WAL, so each sample goes to its series' owner.

use std::collections::{BTreeMap, HashMap};

use osprey_storage::schema::SampleRow;
use osprey_storage::series::Series;

use super::{Decoded, Label};
use crate::cluster::rendezvous::Ring;
use crate::cluster::{Forwarder, Part};
use crate::otlp::Outcome;
use crate::samplegate::IdSample;
use crate::{IngestError, IngestState};

/// Samples by series id with their series' definitions (the node-to-node format).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SamplesPart {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<SeriesDef>,
    #[prost(fixed64, repeated, tag = "2")]
    pub ids: Vec<u64>,
    /// Nanoseconds since the Unix epoch.
    #[prost(sfixed64, repeated, tag = "3")]
    pub times: Vec<i64>,
    #[prost(double, repeated, tag = "4")]
    pub values: Vec<f64>,
}

/// A series' id, name and labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SeriesDef {
    #[prost(fixed64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub metric: String,
    #[prost(message, repeated, tag = "3")]
    pub labels: Vec<Label>,
}

impl SamplesPart {
    /// Takes `decoded`'s samples, with the definitions of their series (from the
    /// request, or from this node's index for those it knew).
    pub(crate) fn take(st: &IngestState, tenant: &str, decoded: &mut Decoded) -> Self {
        let samples = std::mem::take(&mut decoded.samples);
        let mut defs: HashMap<u64, SeriesDef> = std::mem::take(&mut decoded.series)
            .into_iter()
            .map(|s| (s.id, def(&s)))
            .collect();
        let mut part = SamplesPart::default();
        for s in samples {
            if !defs.contains_key(&s.id)
                && let Some(known) = st.storage.series().series(tenant, s.id)
            {
                defs.insert(s.id, def(&known));
            }
            part.push(s);
        }
        let mut series: Vec<SeriesDef> = defs.into_values().collect();
        series.sort_by_key(|d| d.id);
        part.series = series;
        part
    }

    fn push(&mut self, s: IdSample) {
        self.ids.push(s.id);
        self.times.push(s.timestamp_ns);
        self.values.push(s.value);
    }

    /// As the decoded samples of a request.
    fn into_decoded(self) -> Decoded {
        let samples = self
            .ids
            .iter()
            .zip(&self.times)
            .zip(&self.values)
            .map(|((&id, &timestamp_ns), &value)| IdSample {
                id,
                timestamp_ns,
                value,
            })
            .collect();
        let series = self
            .series
            .into_iter()
            .map(|d| Series {
                id: d.id,
                metric: d.metric,
                labels: d.labels.into_iter().map(|l| (l.name, l.value)).collect(),
            })
            .collect();
        Decoded {
            samples,
            series,
            exemplars: Vec::new(),
            histograms: 0,
            metadata: Vec::new(),
        }
    }
}

impl Forwarder {
    /// Stores `rows` (named samples: a rule's results) with the ingesters owning their
    /// series, checked there for order and duplicates as remote_write's samples are,
    /// and acknowledged once every owner holds its part in its WAL.
    pub async fn store_rows(
        &self,
        st: &IngestState,
        tenant: &str,
        rows: &[SampleRow],
    ) -> Result<Outcome, IngestError> {
        let mut part = SamplesPart::default();
        let mut defined = std::collections::HashSet::new();
        for row in rows {
            let id = row.series_id();
            if defined.insert(id) {
                let mut labels: Vec<Label> = row
                    .labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect();
                labels.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
                part.series.push(SeriesDef {
                    id,
                    metric: row.metric.clone(),
                    labels,
                });
            }
            part.push(IdSample {
                id,
                timestamp_ns: row.timestamp_ns,
                value: row.value,
            });
        }
        self.store(st, tenant, part).await
    }
}

fn def(s: &Series) -> SeriesDef {
    SeriesDef {
        id: s.id,
        metric: s.metric.clone(),
        labels: s
            .labels
            .iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

impl Part for SamplesPart {
    const KIND: &'static str = "samples";

    fn split(self, ring: &Ring, tenant: &str) -> BTreeMap<usize, Self> {
        let mut out: BTreeMap<usize, SamplesPart> = BTreeMap::new();
        let mut owner_of: HashMap<u64, usize> = HashMap::new();
        for (i, &id) in self.ids.iter().enumerate() {
            let owner = *owner_of
                .entry(id)
                .or_insert_with(|| ring.owner(tenant, &id.to_le_bytes()));
            out.entry(owner).or_default().push(IdSample {
                id,
                timestamp_ns: self.times[i],
                value: self.values[i],
            });
        }
        for d in self.series {
            if let Some(part) = owner_of.get(&d.id).and_then(|o| out.get_mut(o)) {
                part.series.push(d);
            }
        }
        out
    }

    async fn store(self, st: &IngestState, tenant: &str) -> Result<Outcome, IngestError> {
        let bytes = prost::Message::encoded_len(&self);
        let stored = super::store_decoded(st, tenant, self.into_decoded(), bytes).await?;
        Ok(stored.outcome())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_go_with_their_series_definition_to_the_series_owner() {
        let addrs: Vec<String> = (0..3).map(|i| format!("i-{i}:1")).collect();
        let ring = Ring::new(&addrs);
        let mut part = SamplesPart::default();
        for k in 0..60u64 {
            let id = k % 20 * 7919;
            part.push(IdSample {
                id,
                timestamp_ns: k as i64,
                value: k as f64,
            });
            if k < 20 {
                part.series.push(SeriesDef {
                    id,
                    metric: format!("m{k}"),
                    labels: Vec::new(),
                });
            }
        }
        let parts = part.split(&ring, "t");
        assert!(parts.len() > 1);
        let mut samples = 0;
        for (owner, p) in &parts {
            samples += p.ids.len();
            assert_eq!(p.ids.len(), p.times.len());
            for id in &p.ids {
                assert_eq!(ring.owner("t", &id.to_le_bytes()), *owner);
                assert!(p.series.iter().any(|d| d.id == *id), "{id} defined");
            }
        }
        assert_eq!(samples, 60);
    }
}
