//! Finding the traces a search matches: memtables checked whole, files read newest
//! rows first in rounds, through the service column's page index and the files' tag
//! indexes.

use std::collections::HashMap;

use arrow::array::{Array, RecordBatch};

use super::TraceQuery;
use crate::QueryError;
use crate::columns::{DictMaps, Maps, i64s, strings, timestamps};
use crate::readahead;
use osprey_storage::index::tag_index::Lookup;
use osprey_storage::schema::stored_schema;
use osprey_storage::{FileMeta, Signal, Storage};

/// One tag condition of a search, checked on a span.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TagCond {
    /// `error=true|false`.
    Error(bool),
    /// `span.kind`: the stored kind.
    Kind(String),
    /// `otel.status_code`: the stored status.
    Status(String),
    /// A span or resource attribute.
    Attr(String, String),
}

pub(super) fn tag_cond(key: &str, value: &str) -> Result<TagCond, QueryError> {
    Ok(match key {
        "error" => match value.to_ascii_lowercase().as_str() {
            "true" => TagCond::Error(true),
            "false" => TagCond::Error(false),
            _ => {
                return Err(QueryError::BadData(format!(
                    "tag error={value:?}: expected true or false"
                )));
            }
        },
        "span.kind" => TagCond::Kind(format!("SPAN_KIND_{}", value.to_ascii_uppercase())),
        "otel.status_code" => {
            TagCond::Status(format!("STATUS_CODE_{}", value.to_ascii_uppercase()))
        }
        _ => TagCond::Attr(key.to_string(), value.to_string()),
    })
}

/// Span columns every search checks (stored schema names). The trace id is read
/// last, for the rows that match.
const BASIC: [&str; 5] = ["start_time", "duration_ns", "name", "kind", "status_code"];
/// Columns only attribute tags need: read for the rows that pass the rest.
const MAPS: [&str; 2] = ["attributes", "resource"];

fn has_attr_tags(tags: &[TagCond]) -> bool {
    tags.iter().any(|t| matches!(t, TagCond::Attr(..)))
}

/// The [`BASIC`] columns of a batch.
struct Basic {
    start: arrow::array::TimestampNanosecondArray,
    dur: arrow::array::Int64Array,
    name: arrow::array::StringArray,
    kind: arrow::array::StringArray,
    status: arrow::array::StringArray,
}

impl Basic {
    fn new(b: &RecordBatch) -> Result<Self, QueryError> {
        Ok(Self {
            start: timestamps(b, "start_time")?,
            dur: i64s(b, "duration_ns")?,
            name: strings(b, "name")?,
            kind: strings(b, "kind")?,
            status: strings(b, "status_code")?,
        })
    }

    /// Row `i` passes every condition but the service and attribute tags.
    fn passes(&self, q: &TraceQuery, tags: &[TagCond], i: usize) -> bool {
        let (t, d) = (self.start.value(i), self.dur.value(i));
        (q.start_ns..=q.end_ns).contains(&t)
            && q.operation
                .as_deref()
                .is_none_or(|op| self.name.value(i) == op)
            && q.min_duration_ns.is_none_or(|lo| d >= lo)
            && q.max_duration_ns.is_none_or(|hi| d <= hi)
            && tags.iter().all(|c| match c {
                TagCond::Error(e) => (self.status.value(i) == "STATUS_CODE_ERROR") == *e,
                TagCond::Kind(k) => self.kind.value(i) == k,
                TagCond::Status(s) => self.status.value(i) == s,
                TagCond::Attr(..) => true,
            })
    }
}

/// Row `i` has every attribute tag, as a span or resource attribute.
fn passes_attrs(tags: &[TagCond], attrs: &Maps, res: &Maps, i: usize) -> bool {
    tags.iter().all(|c| match c {
        TagCond::Attr(k, v) => {
            attrs.get(i, k) == Some(v.as_str()) || res.get(i, k) == Some(v.as_str())
        }
        _ => true,
    })
}

pub(super) fn note(newest: &mut HashMap<String, i64>, trace: &str, t: i64) {
    let e = newest.entry(trace.to_string()).or_insert(t);
    *e = (*e).max(t);
}

/// The projections of the stored spans schema a search reads, built once per search.
struct Projections {
    basic: arrow::datatypes::SchemaRef,
    maps: arrow::datatypes::SchemaRef,
    start: arrow::datatypes::SchemaRef,
    trace: arrow::datatypes::SchemaRef,
}

impl Projections {
    fn new() -> Result<Self, QueryError> {
        Ok(Self {
            basic: projected(&BASIC)?,
            maps: projected(&MAPS)?,
            start: projected(&["start_time"])?,
            trace: projected(&["trace_id"])?,
        })
    }
}

/// A projection of the stored spans schema.
fn projected(cols: &[&str]) -> Result<arrow::datatypes::SchemaRef, QueryError> {
    let stored = stored_schema(Signal::Spans);
    let indices = cols
        .iter()
        .map(|c| stored.index_of(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    Ok(std::sync::Arc::new(
        stored
            .project(&indices)
            .map_err(|e| QueryError::Internal(e.to_string()))?,
    ))
}

/// `rows` of a file, `cols` only, in the stored schema (hex ids).
fn read_converted(
    storage: &Storage,
    f: &FileMeta,
    cols: &[&str],
    schema: &arrow::datatypes::SchemaRef,
    rows: &[u32],
) -> Result<Vec<RecordBatch>, QueryError> {
    storage
        .read_rows(f, Some(cols), Some(rows))
        .map_err(|e| QueryError::Internal(e.to_string()))?
        .iter()
        .map(|b| Ok(crate::sql::provider::convert(Signal::Spans, b, schema)?))
        .collect()
}

/// The rows of a file whose service is `service`: the page index names the pages that
/// can hold it (files are sorted by service, so these are a few contiguous runs), and
/// only those are decoded.
fn service_rows(storage: &Storage, f: &FileMeta, service: &str) -> Result<Vec<u32>, QueryError> {
    use arrow::array::AsArray;
    use arrow::datatypes::Int32Type;
    let ranges = storage
        .string_eq_ranges(f, "service", service)
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let batches = storage
        .read_row_ranges_dictionary(f, &["service"], &ranges)
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    // Row numbers of the batches' rows, range after range.
    let mut numbers = ranges.iter().flat_map(|r| r.start as u32..r.end as u32);
    let mut rows = Vec::new();
    for b in &batches {
        let col = b
            .column_by_name("service")
            .ok_or_else(|| QueryError::Internal("spans file without service".into()))?;
        let n = b.num_rows();
        let hits: Vec<bool> = if let Some(dict) = col.as_dictionary_opt::<Int32Type>() {
            let values = dict.values().as_string::<i32>();
            // The dictionary key(s) of the service, then the rows holding one.
            let keys: Vec<i32> = (0..values.len())
                .filter(|k| values.is_valid(*k) && values.value(*k) == service)
                .map(|k| k as i32)
                .collect();
            let k = dict.keys();
            match keys.as_slice() {
                [] => vec![false; n],
                [one] if k.null_count() == 0 => k.values().iter().map(|v| v == one).collect(),
                _ => (0..n)
                    .map(|i| k.is_valid(i) && keys.contains(&k.value(i)))
                    .collect(),
            }
        } else {
            let s = strings(b, "service")?;
            (0..n)
                .map(|i| s.is_valid(i) && s.value(i) == service)
                .collect()
        };
        for hit in hits {
            let row = numbers.next().ok_or_else(|| {
                QueryError::Internal(format!("{}: more service rows than selected", f.path))
            })?;
            if hit {
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// The spans of `rows` of a file that match the search (the service is already
/// known to): trace id and start of each. The basic columns first; of the rows that
/// pass them, the attribute maps when a tag needs them.
fn match_rows(
    storage: &Storage,
    f: &FileMeta,
    q: &TraceQuery,
    tags: &[TagCond],
    rows: &[u32],
    check_maps: bool,
    proj: &Projections,
) -> Result<Vec<(String, i64)>, QueryError> {
    let (basic_schema, maps_schema) = (&proj.basic, &proj.maps);
    // (row, start) of the rows that pass.
    let mut passed: Vec<(u32, i64)> = Vec::new();
    let mut k = 0usize;
    for b in read_converted(storage, f, &BASIC, basic_schema, rows)? {
        let basic = Basic::new(&b)?;
        for i in 0..b.num_rows() {
            if basic.passes(q, tags, i) {
                passed.push((rows[k], basic.start.value(i)));
            }
            k += 1;
        }
    }
    if !passed.is_empty() && check_maps {
        let rows: Vec<u32> = passed.iter().map(|(r, _)| *r).collect();
        let mut keep: Vec<bool> = Vec::with_capacity(rows.len());
        // The maps as dictionaries: a tag is a pair of dictionary ids, compared per
        // entry without copying a string.
        let batches = storage
            .read_rows_dictionary(f, &MAPS, Some(&rows))
            .map_err(|e| QueryError::Internal(e.to_string()))?;
        for b in batches {
            match (
                DictMaps::new(&b, "attributes")?,
                DictMaps::new(&b, "resource")?,
            ) {
                (Some(a), Some(r)) => {
                    let wanted: Vec<_> = tags
                        .iter()
                        .filter_map(|c| match c {
                            TagCond::Attr(key, v) => Some((a.lookup(key, v), r.lookup(key, v))),
                            _ => None,
                        })
                        .collect();
                    keep.extend((0..b.num_rows()).map(|i| {
                        wanted
                            .iter()
                            .all(|((ak, av), (rk, rv))| a.has(i, ak, av) || r.has(i, rk, rv))
                    }));
                }
                _ => {
                    let b = crate::sql::provider::convert(Signal::Spans, &b, maps_schema)?;
                    let (a, r) = (Maps::new(&b, "attributes")?, Maps::new(&b, "resource")?);
                    keep.extend((0..b.num_rows()).map(|i| passes_attrs(tags, &a, &r, i)));
                }
            }
        }
        if keep.len() != passed.len() {
            return Err(QueryError::Internal(format!(
                "{}: attribute maps for {} of {} rows",
                f.path,
                keep.len(),
                passed.len()
            )));
        }
        let mut keep = keep.into_iter();
        passed.retain(|_| keep.next().unwrap_or(false));
    }
    if passed.is_empty() {
        return Ok(Vec::new());
    }
    // The trace ids of the matching rows only.
    let rows: Vec<u32> = passed.iter().map(|(r, _)| *r).collect();
    let mut out = Vec::with_capacity(passed.len());
    let mut starts = passed.iter().map(|(_, t)| *t);
    for b in read_converted(storage, f, &["trace_id"], &proj.trace, &rows)? {
        let trace = strings(&b, "trace_id")?;
        for i in 0..b.num_rows() {
            if let Some(t) = starts.next() {
                out.push((trace.value(i).to_string(), t));
            }
        }
    }
    if out.len() != passed.len() {
        return Err(QueryError::Internal(format!(
            "{}: trace ids for {} of {} rows",
            f.path,
            out.len(),
            passed.len()
        )));
    }
    Ok(out)
}

/// A file's rows of the searched service within the search's time range, with their
/// span starts. Files are sorted by service, then start time, so `starts` ascends;
/// a file where it does not (none is written so) is searched whole in the first round.
struct Candidates<'a> {
    file: &'a FileMeta,
    rows: Vec<u32>,
    starts: Vec<i64>,
    sorted: bool,
    /// Some attribute tag is still to be checked in the maps (the file's tag index
    /// did not list it, or there is none).
    check_maps: bool,
}

impl Candidates<'_> {
    /// Index of the first candidate starting at or after `t`.
    fn at(&self, t: i64) -> usize {
        self.starts.partition_point(|&s| s < t)
    }
}

fn candidates<'a>(
    storage: &Storage,
    f: &'a FileMeta,
    q: &TraceQuery,
    tags: &[TagCond],
    proj: &Projections,
) -> Result<Candidates<'a>, QueryError> {
    let mut rows = service_rows(storage, f, &q.service)?;
    // The tag index narrows the rows before any other column is read; a tag it does
    // not list is checked in the maps of the rows that remain.
    let mut check_maps = false;
    for c in tags {
        let TagCond::Attr(key, value) = c else {
            continue;
        };
        if rows.is_empty() {
            break;
        }
        match storage.tag_rows(f, key, value) {
            Some(Lookup::Rows(listed)) => rows = crate::rows::intersect_sorted(&rows, &listed),
            Some(Lookup::Unlisted) | None => check_maps = true,
        }
    }
    let mut starts = Vec::with_capacity(rows.len());
    if !rows.is_empty() {
        for b in read_converted(storage, f, &["start_time"], &proj.start, &rows)? {
            starts.extend(timestamps(&b, "start_time")?.values().iter().copied());
        }
    }
    if starts.len() != rows.len() {
        return Err(QueryError::Internal(format!(
            "{}: {} start times for {} rows",
            f.path,
            starts.len(),
            rows.len()
        )));
    }
    let mut c = Candidates {
        file: f,
        sorted: starts.is_sorted(),
        rows,
        starts,
        check_maps,
    };
    if c.sorted {
        let (lo, hi) = (c.at(q.start_ns), c.at(q.end_ns.saturating_add(1)));
        c.rows.truncate(hi);
        c.starts.truncate(hi);
        c.rows.drain(..lo);
        c.starts.drain(..lo);
    }
    Ok(c)
}

/// Rows the first round of a search reads; each later round reads four times more.
pub(super) const FIRST_ROUND_ROWS: usize = 8192;

/// The latest time `t` at which at least `n` sorted candidates start at or after
/// `t` (`i64::MIN` when there are no more than `n`).
fn threshold(cands: &[Candidates<'_>], n: usize) -> i64 {
    let count = |t: i64| -> usize {
        cands
            .iter()
            .filter(|c| c.sorted)
            .map(|c| c.starts.len() - c.at(t))
            .sum()
    };
    let bounds = cands
        .iter()
        .filter(|c| c.sorted)
        .filter_map(|c| Some((*c.starts.first()?, *c.starts.last()?)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some((lo, hi)) = bounds else {
        return i64::MIN;
    };
    if count(lo) <= n {
        return i64::MIN;
    }
    // count(lo) > n and count(hi + 1) = 0: the answer lies in [lo, hi].
    let (mut lo, mut hi) = (lo, hi.saturating_add(1));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if count(mid) >= n { lo = mid } else { hi = mid }
    }
    lo
}

/// The `k`-th largest newest-span time among the traces found (None with fewer).
fn kth_newest(newest: &HashMap<String, i64>, k: usize) -> Option<i64> {
    if k == 0 || newest.len() < k {
        return None;
    }
    let mut times: Vec<i64> = newest.values().copied().collect();
    let (_, kth, _) = times.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
    Some(*kth)
}

/// Trace id → newest matching span start, over memtables and files: at least the
/// `q.limit` newest matching traces, with their exact keys.
///
/// Memtables are checked whole. Files are read newest rows first, in rounds: each
/// round takes the next time slice of every file's candidate rows (the service's rows
/// in the time range, four times as many as the round before). Once `q.limit` traces
/// have a matching span at or after the slice's start, no older row can change which
/// traces are the newest or their keys (a trace's key is its newest matching span),
/// and the search stops: a page of the newest traces reads the newest data only.
pub(super) fn scan(
    storage: &Storage,
    tenant: &str,
    q: &TraceQuery,
    tags: &[TagCond],
    first_round: usize,
) -> Result<HashMap<String, i64>, QueryError> {
    let snap = storage.read_snapshot(tenant, Signal::Spans)?;
    let mut newest = HashMap::new();
    for b in &snap.batches {
        let service = strings(b, "service")?;
        let trace = strings(b, "trace_id")?;
        let basic = Basic::new(b)?;
        let maps = if has_attr_tags(tags) {
            Some((Maps::new(b, "attributes")?, Maps::new(b, "resource")?))
        } else {
            None
        };
        for i in 0..b.num_rows() {
            if service.value(i) == q.service
                && basic.passes(q, tags, i)
                && maps
                    .as_ref()
                    .is_none_or(|(a, r)| passes_attrs(tags, a, r, i))
            {
                note(&mut newest, trace.value(i), basic.start.value(i));
            }
        }
    }
    let files: Vec<&FileMeta> = snap
        .files
        .iter()
        .filter(|f| f.max_time_ns >= q.start_ns && f.min_time_ns <= q.end_ns)
        .collect();
    let proj = Projections::new()?;
    let mut cands: Vec<Candidates<'_>> = Vec::new();
    readahead::in_order(
        &files,
        |f| candidates(storage, f, q, tags, &proj),
        |i, c, _| {
            let c = match c {
                Some(c) => c?,
                None => candidates(storage, files[i], q, tags, &proj)?,
            };
            if !c.rows.is_empty() {
                cands.push(c);
            }
            Ok(())
        },
    )?;
    // Each round: a job per file, the rows starting in [lower, upper).
    let (mut upper, mut want, mut first) = (i64::MAX, 0usize, true);
    let total: usize = cands
        .iter()
        .filter(|c| c.sorted)
        .map(|c| c.rows.len())
        .sum();
    loop {
        want = if want == 0 {
            first_round.max(1)
        } else {
            want * 4
        }
        .min(total);
        let lower = threshold(&cands, want);
        let jobs: Vec<(&Candidates<'_>, std::ops::Range<usize>)> = cands
            .iter()
            .filter_map(|c| {
                let range = match (c.sorted, first) {
                    (true, _) => {
                        c.at(lower)..if upper == i64::MAX {
                            c.rows.len()
                        } else {
                            c.at(upper)
                        }
                    }
                    (false, true) => 0..c.rows.len(),
                    (false, false) => 0..0,
                };
                (!range.is_empty()).then_some((c, range))
            })
            .collect();
        let read = |(c, range): &(&Candidates<'_>, std::ops::Range<usize>)| {
            match_rows(
                storage,
                c.file,
                q,
                tags,
                &c.rows[range.clone()],
                c.check_maps,
                &proj,
            )
        };
        readahead::in_order(&jobs, read, |i, found, _| {
            let found = match found {
                Some(f) => f?,
                None => read(&jobs[i])?,
            };
            for (id, t) in found {
                note(&mut newest, &id, t);
            }
            Ok(())
        })?;
        first = false;
        upper = lower;
        // Every candidate left starts before `lower`.
        if lower == i64::MIN || kth_newest(&newest, q.limit).is_some_and(|kth| kth >= lower) {
            break;
        }
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::search::newest_ids;

    /// Searches that stop after a few rounds find exactly the traces a check of every
    /// span finds: spans of many traces over several files whose times overlap, plus
    /// the memtable, with ties in start times, several services and tags.
    #[tokio::test]
    async fn rounds_find_the_same_traces_as_a_full_check() {
        use osprey_storage::schema::{SpanRow, spans_batch};
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), osprey_config::StorageConfig::default()).unwrap();
        let base = 1_795_000_000_000_000_000i64;
        let mut all: Vec<SpanRow> = Vec::new();
        let mut x = 7u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for part in 0..5 {
            let mut rows = Vec::new();
            for _ in 0..400 {
                let trace = rnd(300);
                // Coarse start times so that many spans tie.
                let start = base + (rnd(200) as i64) * 1_000_000 + part * 10_000_000;
                rows.push(SpanRow {
                    service: ["a", "b", "c"][rnd(3) as usize].into(),
                    name: ["op1", "op2"][rnd(2) as usize].into(),
                    trace_id: format!("{trace:032x}"),
                    span_id: format!("{:016x}", rnd(u64::MAX)),
                    start_time_ns: start,
                    end_time_ns: start + rnd(100) as i64 * 1_000_000,
                    kind: "SPAN_KIND_SERVER".into(),
                    status_code: if rnd(10) == 0 {
                        "STATUS_CODE_ERROR"
                    } else {
                        "STATUS_CODE_UNSET"
                    }
                    .into(),
                    // `code` is frequent (left out of the tag index), `slot` is
                    // listed in it.
                    attributes: vec![
                        ("code".into(), rnd(4).to_string()),
                        ("slot".into(), rnd(20).to_string()),
                    ],
                    resource: vec![("service.name".into(), "x".into())],
                    ..Default::default()
                });
            }
            storage
                .append("default", Signal::Spans, spans_batch(&rows).unwrap())
                .await
                .unwrap();
            if part < 4 {
                storage.flush().await.unwrap();
            }
            all.extend(rows);
        }
        assert!(storage.snapshot("default", Signal::Spans).files.len() >= 4);
        let queries = [
            ("a", None, vec![], None, 1),
            ("a", None, vec![("code", "1")], None, 3),
            ("b", Some("op2"), vec![("code", "2")], Some(30_000_000), 20),
            ("c", None, vec![("error", "true")], None, 5),
            ("a", None, vec![("code", "3")], Some(90_000_000), 1000),
            ("nobody", None, vec![], None, 20),
            ("a", None, vec![("slot", "7")], None, 3),
            ("b", None, vec![("slot", "3"), ("code", "1")], None, 2),
            (
                "c",
                None,
                vec![("slot", "11"), ("service.name", "x")],
                None,
                50,
            ),
            ("a", None, vec![("slot", "99")], None, 5),
        ];
        for (service, op, tags, min_dur, limit) in queries {
            let q = TraceQuery {
                service: service.into(),
                operation: op.map(str::to_string),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                min_duration_ns: min_dur,
                max_duration_ns: None,
                start_ns: base,
                end_ns: base + 3_000_000_000,
                limit,
            };
            let conds: Vec<TagCond> = q
                .tags
                .iter()
                .map(|(k, v)| tag_cond(k, v).unwrap())
                .collect();
            // The reference: every span checked.
            let mut reference = HashMap::new();
            for r in &all {
                let d = r.end_time_ns - r.start_time_ns;
                let tag_ok = conds.iter().all(|c| match c {
                    TagCond::Error(e) => (r.status_code == "STATUS_CODE_ERROR") == *e,
                    TagCond::Attr(k, v) => r
                        .attributes
                        .iter()
                        .chain(&r.resource)
                        .any(|(ak, av)| ak == k && av == v),
                    _ => unreachable!(),
                });
                if r.service == q.service
                    && q.operation.as_deref().is_none_or(|o| o == r.name)
                    && q.min_duration_ns.is_none_or(|m| d >= m)
                    && tag_ok
                {
                    note(&mut reference, &r.trace_id, r.start_time_ns);
                }
            }
            let want = newest_ids(reference, limit);
            for first_round in [1, 4, 50, 100_000] {
                let found = scan(&storage, "default", &q, &conds, first_round).unwrap();
                assert_eq!(
                    newest_ids(found, limit),
                    want,
                    "{service} {tags:?} limit {limit}, first round {first_round}"
                );
            }
        }
    }
}
