//! The scan under every log engine: the in-memory records checked row by row, then
//! each file of the snapshot in the range through its full-text index (the rows it
//! names, checked against the query where the index is not exact), read ahead on
//! background threads ([`scan`], newest first), or read and visited in parallel by one
//! visitor per thread when order does not matter ([`scan_each`]).

use std::cmp::Reverse;

use arrow::array::RecordBatch;
use osprey_storage::{FileMeta, Storage};

use super::search::{Checker, Search, check_columns, storage_err};
use super::textquery::{self, IndexCaps};
use crate::columns::timestamps;
use crate::{QueryError, readahead};
use osprey_storage::index::fulltext::{TextIndex, TextQuery};

/// Where a hit is: an in-memory batch or a file, and the row in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Loc {
    Mem(usize, u32),
    File(usize, u32),
}

/// What a scan does with each match.
pub(crate) trait Visitor {
    /// Columns read from files for [`Visitor::visit`], besides `timestamp` (in-memory
    /// batches have them all).
    fn columns(&self) -> &[&'static str] {
        &[]
    }

    /// Whether the matches of a file (wholly in range, answered exactly by its index)
    /// may be counted without reading it.
    fn skip_file(&self, _file: &FileMeta) -> bool {
        false
    }

    /// Called before the matches of batch `b` are visited (to look its columns up once).
    fn begin_batch(&mut self, _b: &RecordBatch) -> Result<(), QueryError> {
        Ok(())
    }

    /// What this visitor can take from a file's full-text index instead of its rows.
    fn index_reads(&self) -> Option<FromIndex> {
        None
    }

    /// Called before the matches of a file are visited, with its index when its rows
    /// are read as [`Visitor::index_reads`] asked (`None`: the rows hold everything, as
    /// the in-memory records do, before which it is called too).
    fn begin_file(
        &mut self,
        _file: Option<&FileMeta>,
        _index: Option<&TextIndex>,
    ) -> Result<(), QueryError> {
        Ok(())
    }

    /// One match: row `i` of `b`, stored at `loc`.
    fn visit(&mut self, ts: i64, b: &RecordBatch, i: usize, loc: Loc) -> Result<(), QueryError>;
}

/// What a visitor reads of a file instead of [`Visitor::columns`] (`columns`), when it
/// needs no more, or when it takes the `| json` labels it names from the file's
/// full-text index and the index keeps them all (or the file has none of them).
pub(crate) struct FromIndex {
    pub json_labels: Option<Vec<String>>,
    pub columns: &'static [&'static str],
}

impl FromIndex {
    /// Whether file `index` holds what this asks for.
    fn answered_by(&self, index: &TextIndex) -> bool {
        let (Some(names), Some(kept)) = (&self.json_labels, index.json_labels()) else {
            return false;
        };
        names.iter().all(|n| kept.other.binary_search(n).is_err())
    }
}

/// Visits every record of `snap` that matches `m`, files newest first; returns how
/// many match.
pub(crate) fn scan(
    storage: &Storage,
    snap: &osprey_storage::Snapshot,
    m: &Search,
    v: &mut dyn Visitor,
) -> Result<usize, QueryError> {
    let mut matched = visit_memory(snap, m, v)?;
    let plans = plan_files(storage, snap, m, v.columns(), None)?;
    let read = |p: &FilePlan| storage.read_rows(p.meta, Some(&p.cols), p.candidates.as_deref());
    readahead::in_order(&plans, read, |i, batches, skips| {
        let p = &plans[i];
        if p.countable && v.skip_file(p.meta) {
            matched += p.candidates.as_ref().map_or(0, Vec::len);
            return Ok(());
        }
        let batches = match batches {
            Some(b) => b,
            None => read(p),
        }
        .map_err(storage_err)?;
        matched += visit_file(p, &batches, m, v)?;
        // Later files this visitor no longer needs read need not be.
        for (j, q) in plans.iter().enumerate().skip(i + 1) {
            if q.countable && v.skip_file(q.meta) {
                skips.mark(j);
            }
        }
        Ok(())
    })?;
    Ok(matched)
}

/// [`scan`] for visitors whose answer does not depend on the order they see records
/// in: the files are read and visited on one thread per visitor, each file by one of
/// them (the in-memory records by the first). Returns the visitors.
pub(crate) fn scan_each<V: Visitor + Send>(
    storage: &Storage,
    snap: &osprey_storage::Snapshot,
    m: &Search,
    mut visitors: Vec<V>,
) -> Result<Vec<V>, QueryError> {
    let Some(first) = visitors.first_mut() else {
        return Ok(visitors);
    };
    visit_memory(snap, m, first)?;
    let from_index = first.index_reads();
    let plans = plan_files(storage, snap, m, first.columns(), from_index.as_ref())?;
    readahead::each(&plans, &mut visitors, |v, p| {
        if p.countable && v.skip_file(p.meta) {
            return Ok(());
        }
        v.begin_file(Some(p.meta), p.from_index.as_deref())?;
        let batches = storage
            .read_rows(p.meta, Some(&p.cols), p.candidates.as_deref())
            .map_err(storage_err)?;
        visit_file(p, &batches, m, v).map(drop)
    })?;
    Ok(visitors)
}

/// Visits the matches among the in-memory records; returns how many match.
fn visit_memory(
    snap: &osprey_storage::Snapshot,
    m: &Search,
    v: &mut dyn Visitor,
) -> Result<usize, QueryError> {
    let mut matched = 0usize;
    v.begin_file(None, None)?;
    for (bi, b) in snap.batches.iter().enumerate() {
        let ts = timestamps(b, "timestamp")?;
        let mut check = Checker::new(b, &m.expr)?;
        v.begin_batch(b)?;
        for row in 0..b.num_rows() {
            let t = ts.value(row);
            if m.in_range(t) && check.matches(row) {
                matched += 1;
                v.visit(t, b, row, Loc::Mem(bi, row as u32))?;
            }
        }
    }
    Ok(matched)
}

/// How each file of `snap` in the search's range is read, newest first: the rows its
/// full-text index names (and the trace-id filters, for the logs of a trace), and
/// whether they must be checked; files the index rules out are left out.
fn plan_files<'s>(
    storage: &Storage,
    snap: &'s osprey_storage::Snapshot,
    m: &Search,
    columns: &[&'static str],
    from_index: Option<&FromIndex>,
) -> Result<Vec<FilePlan<'s>>, QueryError> {
    let mut files: Vec<(usize, &FileMeta)> = snap
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.max_time_ns >= m.start_ns && f.min_time_ns <= m.end_ns)
        .collect();
    files.sort_by_key(|(_, f)| Reverse(f.max_time_ns));
    let trace_ids = m.expr.required_trace_ids();
    // Each file's index lookups (a substring's walks its whole term dictionary) on
    // every core.
    let plans = readahead::map(&files, |&(fi, meta)| {
        plan_file(
            storage,
            m,
            (columns, from_index),
            trace_ids.as_deref(),
            fi,
            meta,
        )
    })?;
    Ok(plans.into_iter().flatten().collect())
}

/// How file `fi` is read, `None` when its indexes rule it out.
fn plan_file<'s>(
    storage: &Storage,
    m: &Search,
    (columns, from_index): (&[&'static str], Option<&FromIndex>),
    trace_ids: Option<&[String]>,
    fi: usize,
    meta: &'s FileMeta,
) -> Result<Option<FilePlan<'s>>, QueryError> {
    let index = storage.text_index(meta);
    let (columns, from_index) = match (from_index, &index) {
        (Some(f), _) if f.json_labels.is_none() => (f.columns, None),
        (Some(f), Some(i)) if f.answered_by(i) => (f.columns, Some(i.clone())),
        _ => (columns, None),
    };
    // Indexes written before positions (or resource attributes) were kept answer with
    // what they hold, and the rest is checked against the rows.
    let caps = index.as_ref().map_or(IndexCaps::CURRENT, |i| IndexCaps {
        positions: i.has_positions(),
        resource: i.covers_resource(),
    });
    let (query, exact) = textquery::to_text_query(&m.expr, caps);
    // Nothing to ask the index beside trace ids (`trace_id:…` alone): their rows are
    // the candidates, and listing every row of the file first would cost more than
    // the lookup (it grew with the data).
    let index = index.filter(|_| !(trace_ids.is_some() && matches!(query, TextQuery::All)));
    let candidates = match index {
        Some(i) => {
            let rows = i.rows(&query).map_err(storage_err)?;
            if rows.is_empty() {
                return Ok(None);
            }
            Some(rows)
        }
        None => None,
    };
    // The logs of a trace: the rows its trace-id filters and column name.
    let candidates = match trace_ids {
        Some(ids) => match storage
            .rows_with_trace_ids(meta, ids)
            .map_err(storage_err)?
        {
            Some(rows) => {
                let rows = match candidates {
                    Some(c) => crate::rows::intersect_sorted(&c, &rows),
                    None => rows,
                };
                if rows.is_empty() {
                    return Ok(None);
                }
                Some(rows)
            }
            None => candidates,
        },
        None => candidates,
    };
    let check = !exact || candidates.is_none();
    let whole = meta.min_time_ns >= m.start_ns && meta.max_time_ns <= m.end_ns;
    let mut cols = vec!["timestamp"];
    cols.extend(columns.iter().copied());
    if check {
        cols.extend(check_columns(&m.expr));
    }
    cols.sort_unstable();
    cols.dedup();
    Ok(Some(FilePlan {
        fi,
        meta,
        countable: candidates.is_some() && !check && whole,
        candidates,
        check,
        cols,
        from_index,
    }))
}

/// Visits the matches of a file's rows (`batches`, read as `p` says); returns how many
/// match.
fn visit_file(
    p: &FilePlan<'_>,
    batches: &[RecordBatch],
    m: &Search,
    v: &mut dyn Visitor,
) -> Result<usize, QueryError> {
    let mut matched = 0usize;
    let mut next = 0usize;
    for b in batches {
        let ts = timestamps(b, "timestamp")?;
        v.begin_batch(b)?;
        let mut checker = if p.check {
            Some(Checker::new(b, &m.expr)?)
        } else {
            None
        };
        for i in 0..b.num_rows() {
            let row = p.candidates.as_ref().map_or(next as u32, |c| c[next]);
            next += 1;
            let t = ts.value(i);
            if m.in_range(t) && checker.as_mut().is_none_or(|c| c.matches(i)) {
                matched += 1;
                v.visit(t, b, i, Loc::File(p.fi, row))?;
            }
        }
    }
    Ok(matched)
}

/// How a scan reads one file.
struct FilePlan<'a> {
    /// Index in the snapshot's files.
    fi: usize,
    meta: &'a FileMeta,
    /// The rows its full-text index names (`None`: no index; read every row).
    candidates: Option<Vec<u32>>,
    /// Whether rows must be checked against the query (the index is not exact).
    check: bool,
    /// Whether its matches may be counted from the index alone (wholly in range, exact).
    countable: bool,
    cols: Vec<&'static str>,
    /// Its index, when the visitor takes part of what it reads from there.
    from_index: Option<std::sync::Arc<TextIndex>>,
}
