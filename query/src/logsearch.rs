//! Log search: terms and "quoted phrases", all required, matched as whole tokens
//! (case-insensitive runs of letters and digits, the full-text index's tokens) in the
//! body; a term that splits into several tokens (`orders_pkey`, `ID-42`) is a phrase;
//! optional service and time range; newest first, with the total match count.
//!
//! Files are searched through their full-text index (`osprey_storage::fulltext`): the
//! index names the rows holding every token, and only those rows are read. A query of
//! single tokens is answered exactly by the index; phrases are verified against the
//! body of the candidate rows (the index keeps no positions, see fulltext.rs). The
//! in-memory records are checked row by row. Files are visited newest first, and a
//! file whose newest row cannot make the page is counted from the index without
//! being read. The full search language comes with the logs issue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::TimestampNanosecondType;
use serde::Serialize;
use serde_json::Value;

use crate::columns::{Maps, rfc3339, strings, timestamps};
use osprey_storage::fulltext::{TextQuery, Tokenizer, tokens};
use osprey_storage::schema::stored_schema;
use osprey_storage::{FileMeta, Signal, Storage};

use crate::{QueryError, QueryState};

/// The clauses of a query, each the tokens of one term or "phrase".
pub fn clauses(query: &str) -> Result<Vec<Vec<String>>, QueryError> {
    let mut out = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let (term, after) = if let Some(after) = rest.strip_prefix('"') {
            let end = after
                .find('"')
                .ok_or_else(|| QueryError::BadData("unterminated \"phrase\" in query".into()))?;
            (&after[..end], &after[end + 1..])
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        let t = tokens(term);
        if t.is_empty() && !term.is_empty() {
            return Err(QueryError::BadData(format!(
                "search term {term:?} has no letters or digits; terms match whole words"
            )));
        }
        if !t.is_empty() {
            out.push(t);
        }
        rest = after.trim_start();
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub struct SearchParams {
    pub query: String,
    pub service: Option<String>,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub limit: usize,
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
}

#[derive(Debug, Serialize)]
pub struct SearchResult {
    pub result: Vec<LogHit>,
    pub stats: SearchStats,
}

#[derive(Debug, Serialize)]
pub struct SearchStats {
    /// All matching records, not only those returned.
    pub matched: usize,
    pub elapsed_ms: u64,
}

pub async fn search(
    st: &QueryState,
    tenant: &str,
    p: &SearchParams,
) -> Result<SearchResult, QueryError> {
    let timeout = st.config.timeout;
    let started = std::time::Instant::now();
    let matcher = Matcher {
        clauses: clauses(&p.query)?,
        service: p.service.clone(),
        start_ns: p.start_ns.unwrap_or(i64::MIN),
        end_ns: p.end_ns.unwrap_or(i64::MAX),
    };
    let storage = st.storage.clone();
    let (tenant, limit) = (tenant.to_string(), p.limit);
    let task = tokio::task::spawn_blocking(move || run(&storage, &tenant, &matcher, limit));
    let (result, matched) = tokio::time::timeout(timeout, task)
        .await
        .map_err(|_| QueryError::Timeout(timeout))?
        .map_err(|e| QueryError::Internal(format!("search task: {e}")))??;
    Ok(SearchResult {
        result,
        stats: SearchStats {
            matched,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
    })
}

/// What a record must satisfy.
struct Matcher {
    clauses: Vec<Vec<String>>,
    service: Option<String>,
    start_ns: i64,
    end_ns: i64,
}

impl Matcher {
    /// Rows holding every token (and of the service): a superset of the matches, and
    /// exactly the matches when [`Matcher::index_is_exact`].
    fn text_query(&self) -> TextQuery {
        let mut all: Vec<TextQuery> = self
            .clauses
            .iter()
            .flatten()
            .map(|t| TextQuery::Token(t.clone()))
            .collect();
        if let Some(s) = &self.service {
            all.push(TextQuery::Service(s.clone()));
        }
        TextQuery::And(all)
    }

    fn index_is_exact(&self) -> bool {
        self.clauses.iter().all(|c| c.len() == 1)
    }

    fn in_range(&self, ts: i64) -> bool {
        (self.start_ns..=self.end_ns).contains(&ts)
    }

    fn body_matches(&self, tok: &mut Tokenizer, body: &str, scratch: &mut Vec<String>) -> bool {
        if self.clauses.is_empty() {
            return true;
        }
        scratch.clear();
        tok.each(body, |t| {
            scratch.push(t.to_string());
            true
        });
        self.clauses.iter().all(|c| {
            scratch
                .windows(c.len())
                .any(|w| w.iter().zip(c).all(|(a, b)| a == b))
        })
    }
}

/// Where a hit is: an in-memory batch or a file, and the row in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Loc {
    Mem(usize, u32),
    File(usize, u32),
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

fn storage_err(e: osprey_storage::StorageError) -> QueryError {
    QueryError::Internal(e.to_string())
}

fn run(
    storage: &Storage,
    tenant: &str,
    m: &Matcher,
    limit: usize,
) -> Result<(Vec<LogHit>, usize), QueryError> {
    let snap = storage.snapshot(tenant, Signal::Logs);
    let mut newest = Newest {
        limit,
        heap: BinaryHeap::new(),
    };
    let mut matched = 0usize;
    let mut tok = Tokenizer::default();
    let mut scratch = Vec::new();

    for (bi, b) in snap.batches.iter().enumerate() {
        let ts = b
            .column_by_name("timestamp")
            .map(|c| c.as_primitive::<TimestampNanosecondType>().clone())
            .ok_or_else(|| QueryError::Internal("logs batch has no timestamp".into()))?;
        let service = strings(b, "service")?;
        let body = strings(b, "body")?;
        for row in 0..b.num_rows() {
            let t = ts.value(row);
            if m.in_range(t)
                && m.service.as_deref().is_none_or(|s| s == service.value(row))
                && m.body_matches(&mut tok, body.value(row), &mut scratch)
            {
                matched += 1;
                newest.push(t, Loc::Mem(bi, row as u32));
            }
        }
    }

    let mut files: Vec<(usize, &FileMeta)> = snap
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.max_time_ns >= m.start_ns && f.min_time_ns <= m.end_ns)
        .collect();
    files.sort_by_key(|(_, f)| Reverse(f.max_time_ns));
    let query = m.text_query();
    let exact = m.index_is_exact();
    for (fi, meta) in files {
        let index = storage.text_index(meta);
        let candidates = match index {
            Some(i) => {
                let rows = i.rows(&query).map_err(storage_err)?;
                if rows.is_empty() {
                    continue;
                }
                Some(rows)
            }
            None => None,
        };
        // The index answered exactly and the whole file is in range: count without
        // reading when none of its rows can make the page.
        let whole = meta.min_time_ns >= m.start_ns && meta.max_time_ns <= m.end_ns;
        if let (Some(rows), true, false) =
            (&candidates, exact && whole, newest.wants(meta.max_time_ns))
        {
            matched += rows.len();
            continue;
        }
        let mut cols = vec!["timestamp"];
        if !exact || candidates.is_none() {
            cols.push("body");
        }
        if candidates.is_none() && m.service.is_some() {
            cols.push("service");
        }
        let batches = storage
            .read_rows(meta, Some(&cols), candidates.as_deref())
            .map_err(storage_err)?;
        let mut next = 0usize;
        for b in &batches {
            let ts = timestamps(b, "timestamp")?;
            let body = if cols.contains(&"body") {
                Some(strings(b, "body")?)
            } else {
                None
            };
            let service = if cols.contains(&"service") {
                Some(strings(b, "service")?)
            } else {
                None
            };
            for i in 0..b.num_rows() {
                let row = candidates.as_ref().map_or(next as u32, |c| c[next]);
                next += 1;
                let t = ts.value(i);
                let ok = m.in_range(t)
                    && service
                        .as_ref()
                        .is_none_or(|s| m.service.as_deref().is_none_or(|want| want == s.value(i)))
                    && body
                        .as_ref()
                        .is_none_or(|b| m.body_matches(&mut tok, b.value(i), &mut scratch));
                if ok {
                    matched += 1;
                    newest.push(t, Loc::File(fi, row));
                }
            }
        }
    }

    let mut page: Vec<(i64, Loc)> = newest.heap.into_iter().map(|Reverse(x)| x).collect();
    page.sort_by(|a, b| b.cmp(a));
    let hits = fetch(storage, &snap, &page)?;
    Ok((hits, matched))
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
    let mut found: std::collections::HashMap<Loc, LogHit> = Default::default();
    for ((is_file, idx), mut rows) in by_source {
        rows.sort_unstable();
        let batch = if is_file {
            let batches = storage
                .read_rows(&snap.files[idx], None, Some(&rows))
                .map_err(storage_err)?;
            let batch = arrow::compute::concat_batches(
                &osprey_storage::layout::file_schema(Signal::Logs),
                &batches,
            )
            .map_err(|e| QueryError::Internal(e.to_string()))?;
            crate::provider::convert(Signal::Logs, &batch, &schema)?
        } else {
            let indices = UInt32Array::from(rows.clone());
            arrow::compute::take_record_batch(&snap.batches[idx], &indices)
                .map_err(|e| QueryError::Internal(e.to_string()))?
        };
        for (row, hit) in rows.iter().zip(hits(&batch)?) {
            let loc = if is_file {
                Loc::File(idx, *row)
            } else {
                Loc::Mem(idx, *row)
            };
            found.insert(loc, hit);
        }
    }
    Ok(page
        .iter()
        .filter_map(|(_, loc)| found.remove(loc))
        .collect())
}

fn hits(b: &RecordBatch) -> Result<Vec<LogHit>, QueryError> {
    let ts = timestamps(b, "timestamp")?;
    let service = strings(b, "service")?;
    let sev = strings(b, "severity_text")?;
    let body = strings(b, "body")?;
    let trace = strings(b, "trace_id")?;
    let span = strings(b, "span_id")?;
    let attrs = Maps::new(b, "attributes")?;
    Ok((0..b.num_rows())
        .map(|i| LogHit {
            timestamp: rfc3339(ts.value(i)),
            service: service.value(i).to_string(),
            severity: sev.value(i).to_string(),
            body: body.value(i).to_string(),
            trace_id: trace.value(i).to_string(),
            span_id: span.value(i).to_string(),
            attributes: attrs
                .row(i)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_terms_and_phrases() {
        assert_eq!(
            clauses(r#"Error "card declined"  orders_pkey"#).unwrap(),
            vec![
                vec!["error".to_string()],
                vec!["card".into(), "declined".into()],
                vec!["orders".into(), "pkey".into()]
            ]
        );
        assert!(clauses(r#""open"#).is_err());
        assert!(clauses("  ").unwrap().is_empty());
        let e = clauses("a --").unwrap_err().to_string();
        assert!(e.contains("\"--\""), "{e}");
    }

    #[test]
    fn phrases_match_consecutive_tokens() {
        let m = Matcher {
            clauses: clauses(r#""card declined" payment"#).unwrap(),
            service: None,
            start_ns: i64::MIN,
            end_ns: i64::MAX,
        };
        let mut tok = Tokenizer::default();
        let mut s = Vec::new();
        assert!(m.body_matches(&mut tok, "Payment failed: card DECLINED", &mut s));
        assert!(!m.body_matches(&mut tok, "payment: declined card", &mut s));
        assert!(!m.body_matches(&mut tok, "payment: discard declined", &mut s));
        assert!(!m.index_is_exact());
        let m = Matcher {
            clauses: clauses("item").unwrap(),
            ..m
        };
        assert!(!m.body_matches(&mut tok, "GET /api/items/1 200 in 5ms", &mut s));
        assert!(m.body_matches(&mut tok, "cache MISS for key item:50", &mut s));
    }
}
