//! The log streams of a time range, as Loki's label and series endpoints list them:
//! each record's stream labels (`logql::stream_labels`), de-duplicated, optionally
//! only those some selectors select.

use std::collections::HashSet;

use arrow::array::{RecordBatch, StringArray};
use osprey_logql::logql::{Labels, LogExpr};
use osprey_logql::search::Expr;
use osprey_storage::Signal;

use super::logql::{selects_stream, stream_labels};
use super::search::{Loc, Search, Visitor, scan};
use crate::columns::{Maps, strings};
use crate::{QueryError, QueryState};

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
        let snap = storage.snapshot(&tenant, Signal::Logs);
        let search = Search {
            expr: Expr::All,
            start_ns,
            end_ns,
        };
        let mut c = Streams {
            selectors: &selectors,
            seen: HashSet::new(),
            cols: None,
        };
        scan(&storage, &snap, &search, &mut c)?;
        let mut out: Vec<Labels> = c.seen.into_iter().collect();
        out.sort();
        Ok(out)
    })
    .await
}

struct Streams<'a> {
    selectors: &'a [LogExpr],
    seen: HashSet<Labels>,
    /// service, resource.
    cols: Option<(StringArray, Maps)>,
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
            return Err(QueryError::BadData(format!(
                "more than {MAX_STREAMS} streams in the time range: narrow it or add a selector"
            )));
        }
        self.seen.insert(labels);
        Ok(())
    }
}
