//! The log streams of a time range, as Loki's label, series and index endpoints see
//! them: each record's stream labels (`logql::stream_labels`), de-duplicated,
//! optionally only those some selectors select ([`list`]); and their volume, lines
//! and bytes per group of streams and time bucket ([`volume`]). A logs file wholly
//! inside the range (and, for volumes, inside one bucket) answers from the stream
//! volumes in its footer without a row read; the others and memory are scanned.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{RecordBatch, StringArray};
use osprey_logql::logql::{Labels, LogExpr};
use osprey_logql::search::Expr;
use osprey_storage::files::volumes::StreamVolume;
use osprey_storage::{FileMeta, Signal};

use super::search::{Loc, Search, Visitor, scan};
use crate::columns::{Maps, strings};
use crate::{QueryError, QueryState};
use osprey_logql::logql::{selects_stream, stream_labels};

/// Most distinct streams one listing may collect.
pub const MAX_STREAMS: usize = 100_000;

/// The distinct stream label sets with a record in `[start_ns, end_ns]` that one of
/// `selectors` selects (every stream when there are none), sorted.
pub async fn list(
    st: &QueryState,
    tenant: &str,
    start_ns: i64,
    end_ns: i64,
    selectors: Vec<LogExpr>,
) -> Result<Vec<Labels>, QueryError> {
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    st.blocking("logql streams", move || {
        let snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let search = Search {
            expr: Expr::All,
            start_ns,
            end_ns,
        };
        let mut c = Streams {
            set: StreamSet {
                selectors: &selectors,
                seen: HashSet::new(),
            },
            cols: None,
        };
        let snap = answer_from_footers(&storage, snap, (start_ns, end_ns), |_, v| {
            c.set
                .add(stream_labels(v.resource.clone(), &v.service), &v.service)
        })?;
        scan(&storage, &snap, &search, &mut c)?;
        let mut out: Vec<Labels> = c.set.seen.into_iter().collect();
        out.sort();
        Ok(out)
    })
    .await
}

/// The distinct streams some selector selects.
struct StreamSet<'a> {
    selectors: &'a [LogExpr],
    seen: HashSet<Labels>,
}

struct Streams<'a> {
    set: StreamSet<'a>,
    /// service, resource.
    cols: Option<(StringArray, Maps)>,
}

fn too_many_streams() -> QueryError {
    QueryError::BadData(format!(
        "more than {MAX_STREAMS} streams in the time range: narrow it or add a selector"
    ))
}

impl StreamSet<'_> {
    fn add(&mut self, labels: Labels, service: &str) -> Result<(), QueryError> {
        if self.seen.contains(&labels) {
            return Ok(());
        }
        if !self.selectors.is_empty()
            && !self
                .selectors
                .iter()
                .any(|s| selects_stream(s, &labels, service))
        {
            return Ok(());
        }
        if self.seen.len() >= MAX_STREAMS {
            return Err(too_many_streams());
        }
        self.seen.insert(labels);
        Ok(())
    }
}

impl Visitor for Streams<'_> {
    fn columns(&self) -> &[&'static str] {
        &["service", "resource"]
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.cols = Some((strings(b, "service")?, Maps::new(b, "resource")?));
        Ok(())
    }

    fn visit(&mut self, _ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((service, resource)) = &self.cols else {
            return Err(QueryError::Internal(
                "stream scan visited before a batch".into(),
            ));
        };
        let service = service.value(i);
        let labels = stream_labels(resource.row(i), service);
        self.set.add(labels, service)
    }
}

/// The snapshot without the files wholly inside `[start_ns, end_ns]` whose footers
/// list their stream volumes (`osprey_storage::files::volumes`): each of those
/// streams goes to `take` (with the file) instead, so only the other files are read.
fn answer_from_footers(
    storage: &osprey_storage::Storage,
    mut snap: osprey_storage::Snapshot,
    (start_ns, end_ns): (i64, i64),
    mut take: impl FnMut(&FileMeta, &StreamVolume) -> Result<(), QueryError>,
) -> Result<osprey_storage::Snapshot, QueryError> {
    let mut kept = Vec::with_capacity(snap.files.len());
    for f in std::mem::take(&mut snap.files) {
        let inside = start_ns <= f.min_time_ns && f.max_time_ns <= end_ns;
        match inside.then(|| storage.stream_volumes(&f)).flatten() {
            Some(volumes) => {
                for v in &volumes {
                    take(&f, v)?;
                }
            }
            None => kept.push(f),
        }
    }
    snap.files = kept;
    Ok(snap)
}

/// Lines and bytes (of their text) of one group of streams in one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Volume {
    pub lines: u64,
    pub bytes: u64,
}

/// What [`volume`] found: per group (its labels), per bucket start (ns), the volume;
/// and how many distinct streams matched.
#[derive(Debug, Default)]
pub struct Volumes {
    pub groups: BTreeMap<Labels, BTreeMap<i64, Volume>>,
    pub streams: usize,
}

/// The volume of the streams `selector` selects in `[start_ns, end_ns]`, grouped by
/// `group` (the labels kept of each stream's; all of them when `None`), in buckets of
/// `bucket_ns` from `start_ns` (one bucket when `None`).
pub async fn volume(
    st: &QueryState,
    tenant: &str,
    (start_ns, end_ns): (i64, i64),
    selector: LogExpr,
    group: Option<Vec<String>>,
    bucket_ns: Option<i64>,
) -> Result<Volumes, QueryError> {
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    st.blocking("logql volume", move || {
        let mut snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let search = Search {
            expr: Expr::All,
            start_ns,
            end_ns,
        };
        let mut v = Volumer {
            acc: VolumeAcc {
                selector: &selector,
                group: group.as_deref(),
                bucket: bucket_ns.map(|b| (start_ns, b.max(1))),
                seen: HashMap::new(),
                out: Volumes::default(),
            },
            cols: None,
        };
        // A file answers from its footer when it lies in one bucket.
        let mut in_buckets = Vec::new();
        let mut rest = Vec::new();
        for f in std::mem::take(&mut snap.files) {
            match v.acc.bucket_of(f.min_time_ns) == v.acc.bucket_of(f.max_time_ns) {
                true => in_buckets.push(f),
                false => rest.push(f),
            }
        }
        snap.files = in_buckets;
        let mut snap = answer_from_footers(&storage, snap, (start_ns, end_ns), |f, s| {
            let labels = stream_labels(s.resource.clone(), &s.service);
            let volume = Volume {
                lines: s.lines,
                bytes: s.bytes,
            };
            let bucket = v.acc.bucket_of(f.min_time_ns);
            v.acc.add(labels, &s.service, bucket, volume)
        })?;
        snap.files.extend(rest);
        scan(&storage, &snap, &search, &mut v)?;
        let mut out = v.acc.out;
        out.streams = v.acc.seen.values().filter(|g| g.is_some()).count();
        Ok(out)
    })
    .await
}

/// Volumes summed per group and bucket.
struct VolumeAcc<'a> {
    selector: &'a LogExpr,
    group: Option<&'a [String]>,
    /// (first bucket's start, bucket width).
    bucket: Option<(i64, i64)>,
    /// Stream → its group's labels (`None`: not selected).
    seen: HashMap<Labels, Option<Labels>>,
    out: Volumes,
}

struct Volumer<'a> {
    acc: VolumeAcc<'a>,
    /// body, service, resource.
    cols: Option<(StringArray, StringArray, Maps)>,
}

impl Visitor for Volumer<'_> {
    fn columns(&self) -> &[&'static str] {
        &["body", "service", "resource"]
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.cols = Some((
            strings(b, "body")?,
            strings(b, "service")?,
            Maps::new(b, "resource")?,
        ));
        Ok(())
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((body, service, resource)) = &self.cols else {
            return Err(QueryError::Internal(
                "volume scan visited before a batch".into(),
            ));
        };
        let service_name = service.value(i);
        let labels = stream_labels(resource.row(i), service_name);
        let volume = Volume {
            lines: 1,
            bytes: body.value_length(i) as u64,
        };
        let bucket = self.acc.bucket_of(ts);
        self.acc.add(labels, service_name, bucket, volume)
    }
}

impl VolumeAcc<'_> {
    /// The bucket a time falls in (0 when unbucketed).
    fn bucket_of(&self, ts: i64) -> i64 {
        match self.bucket {
            Some((first, width)) => first + (ts - first).div_euclid(width) * width,
            None => 0,
        }
    }

    /// Adds a stream's lines and bytes in one bucket to its group.
    fn add(
        &mut self,
        labels: Labels,
        service: &str,
        bucket: i64,
        add: Volume,
    ) -> Result<(), QueryError> {
        if !self.seen.contains_key(&labels) {
            if self.seen.len() >= MAX_STREAMS {
                return Err(too_many_streams());
            }
            let group = selects_stream(self.selector, &labels, service).then(|| match self.group {
                Some(keep) => labels
                    .iter()
                    .filter(|(k, _)| keep.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None => labels.clone(),
            });
            self.seen.insert(labels.clone(), group);
        }
        let Some(Some(group)) = self.seen.get(&labels) else {
            return Ok(());
        };
        let v = self
            .out
            .groups
            .entry(group.clone())
            .or_default()
            .entry(bucket)
            .or_default();
        v.lines += add.lines;
        v.bytes += add.bytes;
        Ok(())
    }
}
