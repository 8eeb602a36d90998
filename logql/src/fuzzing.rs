//! The fuzz targets of the log-query languages: one function per target, called by the
//! libFuzzer targets in `fuzz/` and by the stable run in the test command
//! (`fuzz/stable.rs`).

use std::collections::HashMap;

use crate::logql::{Data, Labels, Line, Query, Stream, evaluate, parse, pipeline};
use crate::search::{Record, Scratch};

/// LogQL: parsed or refused with a reason; a parsed query runs over one stream whose
/// line is the query text itself.
pub fn logql(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    let mut labels = Labels::new();
    labels.insert("app".into(), "a".into());
    match parse(&q) {
        Ok(Query::Log(l)) => {
            let mut e = pipeline::Entry::new(&labels, &q);
            let _ = pipeline::run(&l.pipeline, &mut e);
        }
        Ok(Query::Metric(m)) => {
            let stream = Stream {
                labels,
                entries: vec![Line {
                    ts_ns: 1_000_000_000,
                    line: q.to_string(),
                    metadata: vec![("trace_id".into(), "abc".into())],
                }],
            };
            let data: Data = m
                .ranges()
                .iter()
                .map(|r| (r.id, vec![stream.clone()]))
                .collect();
            let _ = evaluate(&m, 2_000_000_000, &data);
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a reason"),
    }
}

/// Log search: parsed or refused with a reason; a parsed query checks a record, and
/// the language's words agree with themselves on any text.
pub fn log_search(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    match crate::search::parse(&q) {
        Ok(e) => {
            let none = HashMap::new();
            let r = Record {
                body: &q,
                ts_ns: 0,
                service: "s",
                severity_number: 9,
                trace_id: "",
                span_id: "",
                attributes: &none,
                resource: &none,
            };
            let _ = e.matches(&r, &mut Scratch::default());
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a reason"),
    }
    let _ = crate::tokens(&q);
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_logql() {
        super::stable::run("logql", super::logql);
    }

    #[test]
    fn fuzz_log_search() {
        super::stable::run("log_search", super::log_search);
    }
}
