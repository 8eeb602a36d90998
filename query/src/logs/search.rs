//! Log search: a query in the search language (`osprey_logql::search`), an optional service
//! and time range; newest first, a page at a time, with the total match count.
//!
//! Files are searched through their full-text index (`osprey_storage::index::fulltext`): the
//! index names the candidate rows, and only those rows are read. When the index
//! answers the query exactly (no phrase, id or long attribute), only the timestamps of
//! the candidates are read; otherwise the candidates are checked against the query.
//! The in-memory records are checked row by row. Files are visited newest first, and a
//! file whose newest row cannot make the page is counted from the index without being
//! read.
//!
//! Paging: a page that does not hold every match carries a `cursor` (the last
//! timestamp returned and how many records with that timestamp were returned). The next
//! page ends at that timestamp and skips those records. Records with the same
//! nanosecond timestamp are ordered by where they are stored, so a flush or compaction
//! between two pages can reorder such ties at the page boundary.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::collections::HashMap;

use arrow::array::{AsArray, Int32Array, RecordBatch, StringArray, UInt32Array};
use serde::Serialize;
use serde_json::Value;

use super::filter::{self, Language};
pub(crate) use super::scan::{Loc, Visitor, scan};
use crate::columns::{Maps, rfc3339, strings, timestamps};
use crate::readahead;
use osprey_logql::search::{Expr, Record, Scratch};
use osprey_storage::schema::stored_schema;
use osprey_storage::{FileMeta, Signal, Storage};

use crate::{QueryError, QueryState};

#[derive(Debug, Default)]
pub struct SearchParams {
    pub query: String,
    pub language: Language,
    pub service: Option<String>,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub limit: usize,
    /// From the previous page's [`SearchResult::cursor`].
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LogHit {
    pub timestamp: String,
    pub service: String,
    pub severity: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: serde_json::Map<String, Value>,
    /// The record's resource attributes (`service.name`, `host.name`, ...).
    pub resource: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct SearchResult {
    pub result: Vec<LogHit>,
    pub stats: SearchStats,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchStats {
    /// All matching records in the page's window (from `start` to the cursor), not
    /// only those returned.
    pub matched: usize,
    pub elapsed_ms: u64,
}

pub async fn search(
    st: &QueryState,
    tenant: &str,
    p: &SearchParams,
) -> Result<SearchResult, QueryError> {
    let started = std::time::Instant::now();
    let expr = filter::expr(p.language, &p.query, p.service.as_deref())?;
    let cursor = p.cursor.as_deref().map(Cursor::parse).transpose()?;
    let mut end_ns = p.end_ns.unwrap_or(i64::MAX);
    if let Some(c) = &cursor {
        end_ns = end_ns.min(c.ts);
    }
    let search = Search {
        expr,
        start_ns: p.start_ns.unwrap_or(i64::MIN),
        end_ns,
    };
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let (limit, skip) = (p.limit, cursor.map_or(0, |c| c.skip));
    let page = st
        .blocking("search", move || {
            run(&storage, &tenant, &search, limit, skip)
        })
        .await?;
    Ok(SearchResult {
        result: page.hits,
        stats: SearchStats {
            matched: page.matched,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
        cursor: page.next.map(|c| c.to_string()),
    })
}

/// Where the next page starts: at or before `ts`, after the `skip` records at `ts`
/// already returned.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    ts: i64,
    skip: usize,
}

impl Cursor {
    fn parse(s: &str) -> Result<Self, QueryError> {
        let bad = || {
            QueryError::BadData(format!(
                "invalid cursor {s:?}: pass the cursor of the previous page"
            ))
        };
        let (ts, skip) = s.rsplit_once('-').ok_or_else(bad)?;
        Ok(Cursor {
            ts: ts.parse().map_err(|_| bad())?,
            skip: skip.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ts, self.skip)
    }
}

/// What a record must satisfy.
pub(crate) struct Search {
    pub expr: Expr,
    pub start_ns: i64,
    pub end_ns: i64,
}

impl Search {
    pub(super) fn in_range(&self, ts: i64) -> bool {
        (self.start_ns..=self.end_ns).contains(&ts)
    }
}

/// Checks records of a batch (memory or file layout) against an expression.
pub(crate) struct Checker<'a> {
    /// The record times, when the batch has them (a LogQL template may read them).
    ts: Option<arrow::array::TimestampNanosecondArray>,
    /// Read only when the expression reads it (`Expr::uses_body`).
    body: Option<StringArray>,
    service: StringArray,
    severity: Int32Array,
    /// Read only when the expression reads them (`Expr::uses_ids`).
    ids: Option<(StringArray, StringArray)>,
    attributes: Option<(Maps, Maps)>,
    expr: &'a Expr,
    scratch: Scratch,
    attrs: HashMap<String, String>,
    resource: HashMap<String, String>,
}

/// The columns a check reads.
pub(super) fn check_columns(expr: &Expr) -> Vec<&'static str> {
    let mut cols = vec!["service", "severity_number"];
    if expr.uses_body() {
        cols.push("body");
    }
    if expr.uses_ids() {
        cols.extend(["trace_id", "span_id"]);
    }
    if expr.uses_attributes() {
        cols.push("attributes");
        cols.push("resource");
    }
    cols
}

/// A string column; binary ids (file layout) become hex.
fn text_column(b: &RecordBatch, name: &str) -> Result<StringArray, QueryError> {
    match b.column_by_name(name) {
        Some(c)
            if matches!(
                c.data_type(),
                arrow::datatypes::DataType::FixedSizeBinary(_)
            ) =>
        {
            Ok(osprey_storage::files::layout::binary_to_hex(c)
                .as_string::<i32>()
                .clone())
        }
        _ => strings(b, name),
    }
}

impl<'a> Checker<'a> {
    pub(crate) fn new(b: &RecordBatch, expr: &'a Expr) -> Result<Self, QueryError> {
        let severity = b
            .column_by_name("severity_number")
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
            .cloned()
            .ok_or_else(|| QueryError::Internal("logs batch has no severity_number".into()))?;
        Ok(Checker {
            ts: timestamps(b, "timestamp").ok(),
            body: if expr.uses_body() {
                Some(strings(b, "body")?)
            } else {
                None
            },
            service: strings(b, "service")?,
            severity,
            ids: if expr.uses_ids() {
                Some((text_column(b, "trace_id")?, text_column(b, "span_id")?))
            } else {
                None
            },
            attributes: if expr.uses_attributes() {
                Some((Maps::new(b, "attributes")?, Maps::new(b, "resource")?))
            } else {
                None
            },
            expr,
            scratch: Scratch::default(),
            attrs: HashMap::new(),
            resource: HashMap::new(),
        })
    }

    pub(crate) fn matches(&mut self, i: usize) -> bool {
        if let Some((a, r)) = &self.attributes {
            self.attrs.clear();
            self.attrs.extend(a.row(i));
            self.resource.clear();
            self.resource.extend(r.row(i));
        }
        let r = Record {
            ts_ns: self.ts.as_ref().map_or(0, |t| t.value(i)),
            body: self.body.as_ref().map_or("", |b| b.value(i)),
            service: self.service.value(i),
            severity_number: self.severity.value(i),
            trace_id: self.ids.as_ref().map_or("", |(t, _)| t.value(i)),
            span_id: self.ids.as_ref().map_or("", |(_, s)| s.value(i)),
            attributes: &self.attrs,
            resource: &self.resource,
        };
        self.expr.matches(&r, &mut self.scratch)
    }
}

/// The `limit` newest hits seen so far.
struct Newest {
    limit: usize,
    heap: BinaryHeap<Reverse<(i64, Loc)>>,
}

impl Newest {
    fn push(&mut self, ts: i64, loc: Loc) {
        if self.heap.len() < self.limit {
            self.heap.push(Reverse((ts, loc)));
        } else if let Some(Reverse(min)) = self.heap.peek()
            && (ts, loc) > *min
        {
            self.heap.pop();
            self.heap.push(Reverse((ts, loc)));
        }
    }

    /// Whether a record at `ts` could still make the page.
    fn wants(&self, ts: i64) -> bool {
        self.heap.len() < self.limit || self.heap.peek().is_some_and(|Reverse((t, _))| ts >= *t)
    }
}

pub(super) fn storage_err(e: osprey_storage::StorageError) -> QueryError {
    QueryError::Internal(e.to_string())
}

/// One page of hits.
struct Page {
    hits: Vec<LogHit>,
    matched: usize,
    next: Option<Cursor>,
}

impl Visitor for Newest {
    /// None of the file's rows can make the page.
    fn skip_file(&self, file: &FileMeta) -> bool {
        !self.wants(file.max_time_ns)
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, _i: usize, loc: Loc) -> Result<(), QueryError> {
        self.push(ts, loc);
        Ok(())
    }
}

fn run(
    storage: &Storage,
    tenant: &str,
    m: &Search,
    limit: usize,
    skip: usize,
) -> Result<Page, QueryError> {
    let snap = storage.read_snapshot(tenant, Signal::Logs)?;
    // The records at the cursor's timestamp that earlier pages returned come first
    // (newest first): take them too, then drop them.
    let mut newest = Newest {
        limit: limit + skip,
        heap: BinaryHeap::new(),
    };
    let matched = scan(storage, &snap, m, &mut newest)?;

    let mut page: Vec<(i64, Loc)> = newest.heap.into_iter().map(|Reverse(x)| x).collect();
    page.sort_by(|a, b| b.cmp(a));
    // Drop what earlier pages returned: the first `skip` records at the cursor's
    // timestamp (the end of this window).
    let dropped = page
        .iter()
        .take(skip)
        .take_while(|(t, _)| *t == m.end_ns)
        .count();
    page.drain(..dropped);
    page.truncate(limit);
    let remaining = matched.saturating_sub(dropped);
    let next = (remaining > page.len())
        .then(|| page.last())
        .flatten()
        .map(|(last, _)| {
            let same = page.iter().filter(|(t, _)| t == last).count();
            // Still at the cursor's timestamp: count the records returned before too.
            let before = if *last == m.end_ns { dropped } else { 0 };
            Cursor {
                ts: *last,
                skip: same + before,
            }
        });
    let hits = fetch(storage, &snap, &page)?;
    Ok(Page {
        hits,
        matched,
        next,
    })
}

/// Reads the records of `page` (newest first) in full.
fn fetch(
    storage: &Storage,
    snap: &osprey_storage::Snapshot,
    page: &[(i64, Loc)],
) -> Result<Vec<LogHit>, QueryError> {
    let schema = stored_schema(Signal::Logs);
    let mut by_source: std::collections::BTreeMap<(bool, usize), Vec<u32>> = Default::default();
    for (_, loc) in page {
        let (key, row) = match *loc {
            Loc::Mem(b, r) => ((false, b), r),
            Loc::File(f, r) => ((true, f), r),
        };
        by_source.entry(key).or_default().push(row);
    }
    let jobs: Vec<((bool, usize), Vec<u32>)> = by_source
        .into_iter()
        .map(|(key, mut rows)| {
            rows.sort_unstable();
            (key, rows)
        })
        .collect();
    // The records of one source (a file's rows, or an in-memory batch's).
    let read =
        |((is_file, idx), rows): &((bool, usize), Vec<u32>)| -> Result<RecordBatch, QueryError> {
            if *is_file {
                let batches = storage
                    .read_rows(&snap.files[*idx], None, Some(rows))
                    .map_err(storage_err)?;
                let batch = arrow::compute::concat_batches(
                    &osprey_storage::files::layout::file_schema(Signal::Logs),
                    &batches,
                )
                .map_err(|e| QueryError::Internal(e.to_string()))?;
                Ok(crate::sql::provider::convert(
                    Signal::Logs,
                    &batch,
                    &schema,
                )?)
            } else {
                let indices = UInt32Array::from(rows.clone());
                arrow::compute::take_record_batch(&snap.batches[*idx], &indices)
                    .map_err(|e| QueryError::Internal(e.to_string()))
            }
        };
    let mut found: std::collections::HashMap<Loc, LogHit> = Default::default();
    // Files are read in parallel (a page's records often come from several).
    readahead::in_order(&jobs, read, |i, batch, _| {
        let job = &jobs[i];
        let batch = match batch {
            Some(b) => b?,
            None => read(job)?,
        };
        let ((is_file, idx), rows) = job;
        for (row, hit) in rows.iter().zip(hits(&batch)?) {
            let loc = if *is_file {
                Loc::File(*idx, *row)
            } else {
                Loc::Mem(*idx, *row)
            };
            found.insert(loc, hit);
        }
        Ok(())
    })?;
    Ok(page
        .iter()
        .filter_map(|(_, loc)| found.remove(loc))
        .collect())
}

pub(crate) fn hits(b: &RecordBatch) -> Result<Vec<LogHit>, QueryError> {
    let ts = timestamps(b, "timestamp")?;
    let service = strings(b, "service")?;
    let sev = strings(b, "severity_text")?;
    let body = strings(b, "body")?;
    let trace = strings(b, "trace_id")?;
    let span = strings(b, "span_id")?;
    let attrs = Maps::new(b, "attributes")?;
    let resource = Maps::new(b, "resource")?;
    let as_json = |row: Vec<(String, String)>| -> serde_json::Map<String, Value> {
        row.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    };
    Ok((0..b.num_rows())
        .map(|i| LogHit {
            timestamp: rfc3339(ts.value(i)),
            service: service.value(i).to_string(),
            severity: sev.value(i).to_string(),
            body: body.value(i).to_string(),
            trace_id: trace.value(i).to_string(),
            span_id: span.value(i).to_string(),
            attributes: as_json(attrs.row(i)),
            resource: as_json(resource.row(i)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor { ts: -5, skip: 2 };
        assert_eq!(Cursor::parse(&c.to_string()).unwrap(), c);
        let c = Cursor {
            ts: 1_795_000_000_000_000_000,
            skip: 0,
        };
        assert_eq!(Cursor::parse(&c.to_string()).unwrap(), c);
        assert!(Cursor::parse("abc").is_err());
        assert!(Cursor::parse("1-x").is_err());
    }
}
