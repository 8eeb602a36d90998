//! LogQL queries: parsed or refused with a positioned reason, never a panic; a parsed
//! query runs over one stream whose line is the query text itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_logql::logql::{Data, Labels, Line, Query, Stream, evaluate, parse, pipeline};

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let mut labels = Labels::new();
    labels.insert("app".into(), "a".into());
    match parse(q) {
        Ok(Query::Log(l)) => {
            let mut e = pipeline::Entry::new(&labels, q);
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
            let data: Data = m.ranges().iter().map(|r| (r.id, vec![stream.clone()])).collect();
            let _ = evaluate(&m, 2_000_000_000, &data);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
