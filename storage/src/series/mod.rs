//! Series index: per tenant, series id → (metric, labels) and postings
//! label name → value → series ids (`__name__` included), so a PromQL selector
//! resolves to series ids without reading samples, and sample scans can then prune
//! row groups by `series_id` (files are sorted by it).
//!
//! Persistence follows the manifest: series first seen since the last flush are
//! written by that flush to `series/<tenant>/<seq:012>.series` (zstd-compressed JSON,
//! put through `Blobs::put`; format in `storage/docs/format/series.md`) and listed in
//! the manifest in the same commit. On open, the listed series
//! files are loaded and WAL replay re-observes the series of unflushed samples, so the
//! index always covers every acknowledged sample.
//!
//! Submodules: `head` (recent samples per series in compressed `chunk`s, served
//! without files), `samples` (older samples of chosen series through the `series_id`
//! page index), `exemplars` (the bounded exemplar ring), `metadata` (type, help, unit).

mod chunk;
pub mod exemplars;
pub mod head;
mod id_hash;
pub mod metadata;
mod open_chunk;
mod sample_columns;
pub mod samples;

pub use id_hash::{IdBuildHasher, IdHasher, IdMap};
pub use sample_columns::SeriesSamples;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use arrow::array::{Array, AsArray, MapArray, RecordBatch};
use arrow::datatypes::UInt64Type;
use serde::{Deserialize, Serialize};

use crate::StorageError;
use crate::files::blobs::Blobs;

/// A metrics batch without a column it must have.
pub(crate) fn missing(column: &str) -> StorageError {
    StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
        "metrics batch has no {column} column"
    )))
}

/// One series: metric name and labels (without `__name__`), labels sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub id: u64,
    pub metric: String,
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// A label's value, `__name__` included; "" when absent (Prometheus semantics).
    pub fn get(&self, name: &str) -> &str {
        if name == "__name__" {
            return &self.metric;
        }
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct TenantSeries {
    series: IdMap<u64, Arc<Series>>,
    postings: HashMap<String, HashMap<String, BTreeSet<u64>>>,
    /// Ids first seen since the last freeze (not yet in a series file).
    pending: Vec<u64>,
}

impl TenantSeries {
    fn insert(&mut self, s: Series, pending: bool) {
        if self.series.contains_key(&s.id) {
            return;
        }
        let id = s.id;
        self.postings
            .entry("__name__".into())
            .or_default()
            .entry(s.metric.clone())
            .or_default()
            .insert(id);
        for (k, v) in &s.labels {
            self.postings
                .entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .insert(id);
        }
        self.series.insert(id, Arc::new(s));
        if pending {
            self.pending.push(id);
        }
    }
}

/// A label matcher as a predicate over the label's value ("" when absent).
pub struct Matcher<'a> {
    pub name: &'a str,
    pub matches: &'a dyn Fn(&str) -> bool,
}

#[derive(Default)]
pub struct SeriesIndex {
    tenants: RwLock<HashMap<String, TenantSeries>>,
}

impl SeriesIndex {
    /// Registers the series of a metrics batch of the ingest schema (with `metric`
    /// and `labels` columns; a batch without them has nothing to register).
    pub fn observe(&self, tenant: &str, batch: &RecordBatch, pending: bool) {
        let Some(ids) = batch
            .column_by_name("series_id")
            .and_then(|c| c.as_primitive_opt::<UInt64Type>())
            .filter(|_| batch.column_by_name("metric").is_some())
        else {
            return;
        };
        let unknown = self.unknown(tenant, ids.values());
        if let Ok(series) = definitions(batch, &unknown) {
            self.observe_series(tenant, series, pending);
        }
    }

    /// Registers series given whole (a WAL samples record's definitions); labels are
    /// sorted here.
    pub fn observe_series(&self, tenant: &str, series: Vec<Series>, pending: bool) {
        if series.is_empty() {
            return;
        }
        let Ok(mut tenants) = self.tenants.write() else {
            return;
        };
        let t = tenants.entry(tenant.to_string()).or_default();
        for mut s in series {
            s.labels.sort();
            t.insert(s, pending);
        }
    }

    /// A series of the tenant by id.
    pub fn series(&self, tenant: &str, id: u64) -> Option<Arc<Series>> {
        self.tenants
            .read()
            .ok()?
            .get(tenant)?
            .series
            .get(&id)
            .cloned()
    }

    /// Which of `ids` the tenant's index does not hold.
    pub fn unknown(&self, tenant: &str, ids: &[u64]) -> std::collections::HashSet<u64> {
        let Ok(tenants) = self.tenants.read() else {
            return ids.iter().copied().collect();
        };
        match tenants.get(tenant) {
            Some(t) => ids
                .iter()
                .copied()
                .filter(|id| !t.series.contains_key(id))
                .collect(),
            None => ids.iter().copied().collect(),
        }
    }

    /// Takes the series first seen since the last call (the writer calls it when it
    /// freezes a memtable: exactly those series' samples are being flushed).
    pub fn take_pending(&self) -> Vec<(String, Vec<Arc<Series>>)> {
        let Ok(mut tenants) = self.tenants.write() else {
            return Vec::new();
        };
        tenants
            .iter_mut()
            .filter(|(_, t)| !t.pending.is_empty())
            .map(|(name, t)| {
                let ids = std::mem::take(&mut t.pending);
                let series = ids
                    .iter()
                    .filter_map(|id| t.series.get(id).cloned())
                    .collect();
                (name.clone(), series)
            })
            .collect()
    }

    /// Series matching every matcher (Prometheus semantics: a matcher that accepts ""
    /// also accepts series without the label), by id.
    ///
    /// Of the matchers that need their label (do not accept ""), the one whose matching
    /// postings are fewest gives the candidates; every other matcher is checked on each
    /// candidate's own labels. So `{__name__="x", device!="lo"}` costs x's series, not
    /// a walk over every series without `device` as a union per matcher would.
    pub fn select(&self, tenant: &str, matchers: &[Matcher<'_>]) -> Vec<Arc<Series>> {
        let Ok(tenants) = self.tenants.read() else {
            return Vec::new();
        };
        let Some(t) = tenants.get(tenant) else {
            return Vec::new();
        };
        // (matcher index, matching postings, their total size)
        let mut best: Option<(usize, Vec<&BTreeSet<u64>>, usize)> = None;
        for (i, m) in matchers.iter().enumerate() {
            if (m.matches)("") {
                continue;
            }
            let lists: Vec<&BTreeSet<u64>> = t
                .postings
                .get(m.name)
                .map(|values| {
                    values
                        .iter()
                        .filter(|(v, _)| (m.matches)(v))
                        .map(|(_, p)| p)
                        .collect()
                })
                .unwrap_or_default();
            let size: usize = lists.iter().map(|p| p.len()).sum();
            if size == 0 {
                return Vec::new();
            }
            if best.as_ref().is_none_or(|(_, _, b)| size < *b) {
                best = Some((i, lists, size));
            }
        }
        let (skip, candidates): (Option<usize>, Vec<u64>) = match best {
            Some((i, lists, _)) => {
                // A series has one value per label: the lists are disjoint.
                let mut ids: Vec<u64> = lists.into_iter().flatten().copied().collect();
                ids.sort_unstable();
                (Some(i), ids)
            }
            None => {
                let mut ids: Vec<u64> = t.series.keys().copied().collect();
                ids.sort_unstable();
                (None, ids)
            }
        };
        candidates
            .into_iter()
            .filter_map(|id| t.series.get(&id))
            .filter(|s| {
                matchers
                    .iter()
                    .enumerate()
                    .all(|(i, m)| Some(i) == skip || (m.matches)(s.get(m.name)))
            })
            .cloned()
            .collect()
    }

    /// The order samples files keep a tenant's series in: by metric name, then labels
    /// (so a metric's series are adjacent), then id; ids not in the index last.
    pub fn file_order<'a>(&'a self, tenant: &'a str) -> impl Fn(&mut Vec<u64>) + 'a {
        move |ids: &mut Vec<u64>| {
            let Ok(tenants) = self.tenants.read() else {
                ids.sort_unstable();
                return;
            };
            let known = tenants.get(tenant);
            let mut keyed: Vec<(Option<&Series>, u64)> = ids
                .iter()
                .map(|id| (known.and_then(|t| t.series.get(id)).map(|s| &**s), *id))
                .collect();
            keyed.sort_unstable_by(|(a, ia), (b, ib)| match (a, b) {
                (Some(a), Some(b)) => (&a.metric, &a.labels, ia).cmp(&(&b.metric, &b.labels, ib)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => ia.cmp(ib),
            });
            ids.clear();
            ids.extend(keyed.into_iter().map(|(_, id)| id));
        }
    }

    /// Label names, or values of one label, of a tenant.
    pub fn label_values(&self, tenant: &str, name: &str) -> Vec<String> {
        let Ok(tenants) = self.tenants.read() else {
            return Vec::new();
        };
        let mut v: Vec<String> = tenants
            .get(tenant)
            .and_then(|t| t.postings.get(name))
            .map(|vs| vs.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// All label names of a tenant (`__name__` included), sorted.
    pub fn label_names(&self, tenant: &str) -> Vec<String> {
        let Ok(tenants) = self.tenants.read() else {
            return Vec::new();
        };
        let mut v: Vec<String> = tenants
            .get(tenant)
            .map(|t| t.postings.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn len(&self, tenant: &str) -> usize {
        self.tenants
            .read()
            .ok()
            .and_then(|t| t.get(tenant).map(|t| t.series.len()))
            .unwrap_or(0)
    }

    /// Loads a series file written by [`write_file`].
    pub fn load_file(&self, blobs: &Blobs, rel: &str) -> Result<usize, StorageError> {
        let path = Path::new(rel);
        let compressed = blobs.get(rel)?;
        let bytes = zstd::bulk::decompress(&compressed, MAX_SERIES_FILE).map_err(|e| {
            StorageError::CorruptManifest {
                path: path.to_path_buf(),
                reason: format!("series file: {e}"),
            }
        })?;
        let file: SeriesFile =
            serde_json::from_slice(&bytes).map_err(|e| StorageError::CorruptManifest {
                path: path.to_path_buf(),
                reason: format!("series file: {e}"),
            })?;
        let n = file.series.len();
        let Ok(mut tenants) = self.tenants.write() else {
            return Ok(0);
        };
        let t = tenants.entry(file.tenant).or_default();
        for s in file.series {
            t.insert(s, false);
        }
        Ok(n)
    }
}

/// Largest decompressed series file accepted (a corrupt length must not OOM us).
const MAX_SERIES_FILE: usize = 1 << 30;

#[derive(Serialize, Deserialize)]
struct SeriesFile {
    tenant: String,
    series: Vec<Series>,
}

/// The series of a metrics batch of the ingest schema whose ids are in `unknown`,
/// once each, with their names and labels (as the batch gives them).
pub fn definitions(
    batch: &RecordBatch,
    unknown: &HashSet<u64>,
) -> Result<Vec<Series>, StorageError> {
    let col = |name: &str| batch.column_by_name(name).ok_or_else(|| missing(name));
    let ids = col("series_id")?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| missing("series_id"))?;
    let metric = col("metric")?
        .as_string_opt::<i32>()
        .ok_or_else(|| missing("metric"))?;
    let labels = col("labels")?
        .as_any()
        .downcast_ref::<MapArray>()
        .ok_or_else(|| missing("labels"))?;
    let keys = labels.keys().as_string::<i32>();
    let values = labels.values().as_string::<i32>();
    let offsets = labels.value_offsets();
    let mut defined = HashSet::with_capacity(unknown.len());
    let mut out = Vec::with_capacity(unknown.len());
    for i in 0..batch.num_rows() {
        let id = ids.value(i);
        if !unknown.contains(&id) || !defined.insert(id) {
            continue;
        }
        let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
        let labels = (a..b)
            .map(|j| {
                let v = if values.is_null(j) {
                    ""
                } else {
                    values.value(j)
                };
                (keys.value(j).to_string(), v.to_string())
            })
            .collect();
        out.push(Series {
            id,
            metric: metric.value(i).to_string(),
            labels,
        });
    }
    Ok(out)
}

/// Writes a tenant's new series durably: zstd-compressed JSON (written once per flush,
/// read once per start; `zstd -d` makes it readable to operators).
pub fn write_file(
    blobs: &Blobs,
    rel: &str,
    tenant: &str,
    series: &[Arc<Series>],
) -> Result<(), StorageError> {
    let path = Path::new(rel);
    let file = SeriesFile {
        tenant: tenant.to_string(),
        series: series.iter().map(|s| (**s).clone()).collect(),
    };
    let json = serde_json::to_vec(&file).map_err(|e| StorageError::CorruptManifest {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let bytes = zstd::bulk::compress(&json, 9).map_err(|e| StorageError::io(path, e))?;
    blobs.put(rel, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SampleRow, samples_batch};

    fn batch() -> RecordBatch {
        let rows: Vec<SampleRow> = [
            ("up", vec![("job", "a"), ("instance", "1")]),
            ("up", vec![("job", "b"), ("instance", "2")]),
            ("http_requests_total", vec![("job", "a"), ("code", "500")]),
            ("http_requests_total", vec![("job", "a")]),
        ]
        .into_iter()
        .map(|(m, l)| SampleRow {
            metric: m.into(),
            labels: l.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ..Default::default()
        })
        .collect();
        samples_batch(&rows).unwrap()
    }

    #[test]
    fn select_with_prometheus_semantics() {
        let idx = SeriesIndex::default();
        idx.observe("t", &batch(), true);
        idx.observe("t", &batch(), true);
        assert_eq!(idx.len("t"), 4);
        let eq = |v: &'static str| move |x: &str| x == v;
        let up = eq("up");
        let a = eq("a");
        let sel = idx.select(
            "t",
            &[
                Matcher {
                    name: "__name__",
                    matches: &up,
                },
                Matcher {
                    name: "job",
                    matches: &a,
                },
            ],
        );
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].get("instance"), "1");
        // code="" matches the series without a code label.
        let empty = eq("");
        let h = eq("http_requests_total");
        let sel = idx.select(
            "t",
            &[
                Matcher {
                    name: "__name__",
                    matches: &h,
                },
                Matcher {
                    name: "code",
                    matches: &empty,
                },
            ],
        );
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].labels, vec![("job".to_string(), "a".to_string())]);
        assert_eq!(idx.label_values("t", "job"), vec!["a", "b"]);
        assert!(idx.select("other", &[]).is_empty());
    }

    #[test]
    fn pending_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let idx = SeriesIndex::default();
        idx.observe("t", &batch(), true);
        let pending = idx.take_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1.len(), 4);
        assert!(idx.take_pending().is_empty());
        let blobs = Blobs::local(dir.path()).unwrap();
        write_file(&blobs, "series/1.series", "t", &pending[0].1).unwrap();
        let fresh = SeriesIndex::default();
        assert_eq!(fresh.load_file(&blobs, "series/1.series").unwrap(), 4);
        assert_eq!(fresh.len("t"), 4);
        assert!(fresh.take_pending().is_empty());
    }
}
