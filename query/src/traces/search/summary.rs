//! A trace at a glance: its root, start, duration, span and error counts, services.

use std::collections::BTreeSet;

use arrow::array::{Array, RecordBatch};
use serde::Serialize;

use crate::QueryError;
use crate::columns::{i64s, strings, timestamps};

/// One trace at a glance.
#[derive(Debug, Serialize, PartialEq)]
pub struct TraceSummary {
    pub trace_id: String,
    /// Service and name of the root span (the earliest span without a parent in the
    /// trace; the earliest span when the root has not arrived).
    pub root_service: String,
    pub root_operation: String,
    /// Earliest span start, ns since the epoch.
    pub start_ns: i64,
    /// From the earliest start to the latest end.
    pub duration_ns: i64,
    pub span_count: usize,
    pub error_count: usize,
    /// Services with spans in the trace, sorted.
    pub services: Vec<String>,
}

pub fn summarize(trace_id: &str, batches: &[RecordBatch]) -> Result<TraceSummary, QueryError> {
    let mut s = TraceSummary {
        trace_id: trace_id.to_string(),
        root_service: String::new(),
        root_operation: String::new(),
        start_ns: i64::MAX,
        duration_ns: 0,
        span_count: 0,
        error_count: 0,
        services: Vec::new(),
    };
    let mut end = i64::MIN;
    let mut services = BTreeSet::new();
    // (has a parent, start): the root sorts first.
    let mut root: Option<((bool, i64), String, String)> = None;
    for b in batches {
        let service = strings(b, "service")?;
        let parent = strings(b, "parent_span_id")?;
        let name = strings(b, "name")?;
        let status = strings(b, "status_code")?;
        let start = timestamps(b, "start_time")?;
        let dur = i64s(b, "duration_ns")?;
        for i in 0..b.num_rows() {
            s.span_count += 1;
            let t = start.value(i);
            s.start_ns = s.start_ns.min(t);
            end = end.max(t.saturating_add(dur.value(i)));
            if status.value(i) == "STATUS_CODE_ERROR" {
                s.error_count += 1;
            }
            services.insert(service.value(i).to_string());
            let key = (parent.is_valid(i) && !parent.value(i).is_empty(), t);
            if root.as_ref().is_none_or(|(k, _, _)| key < *k) {
                root = Some((key, service.value(i).to_string(), name.value(i).to_string()));
            }
        }
    }
    if let Some((_, service, name)) = root {
        s.root_service = service;
        s.root_operation = name;
    }
    if s.span_count > 0 {
        s.duration_ns = end - s.start_ns;
    }
    s.services = services.into_iter().collect();
    Ok(s)
}
