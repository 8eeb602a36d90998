//! Jaeger v3's query parameters: the camelCase names, with the deprecated snake_case
//! aliases still accepted, as Jaeger 2.x does.

use crate::QueryError;
use crate::traces::search::{TraceQuery, go_duration_ns, tags_json};

/// An RFC 3339 time parameter, ns since the epoch.
fn rfc3339_ns(name: &str, v: &str) -> Result<i64, QueryError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            QueryError::BadData(format!(
                "malformed parameter {name}: {v:?} is not an RFC 3339 time"
            ))
        })
}

/// The value of a parameter by its canonical name or a deprecated alias.
fn param<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<(&'a str, &'a str)> {
    names.iter().find_map(|n| {
        params
            .iter()
            .find(|(k, v)| k == n && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    })
}

/// `GET /api/v3/traces` parameters as a trace search.
pub fn find_traces_query(params: &[(String, String)]) -> Result<TraceQuery, QueryError> {
    let service = param(params, &["query.serviceName", "query.service_name"])
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| QueryError::BadData("query.serviceName is required".into()))?;
    let (Some((min_name, min)), Some((max_name, max))) = (
        param(params, &["query.startTimeMin", "query.start_time_min"]),
        param(params, &["query.startTimeMax", "query.start_time_max"]),
    ) else {
        return Err(QueryError::BadData(
            "query.startTimeMin and query.startTimeMax are required".into(),
        ));
    };
    let start_ns = rfc3339_ns(min_name, min)?;
    let end_ns = rfc3339_ns(max_name, max)?;
    let duration = |names: &[&str]| -> Result<Option<i64>, QueryError> {
        param(params, names)
            .map(|(n, v)| {
                go_duration_ns(v)
                    .map_err(|e| QueryError::BadData(format!("malformed parameter {n}: {e}")))
            })
            .transpose()
    };
    let limit = match param(
        params,
        &[
            "query.searchDepth",
            "query.num_traces",
            "query.search_depth",
        ],
    ) {
        None => 20,
        Some((n, v)) => v
            .parse::<usize>()
            .map_err(|e| QueryError::BadData(format!("malformed parameter {n}: {e}")))?,
    };
    // `query.attributes`: a JSON object of string values, as Jaeger's HTTP gateway
    // takes it; matched like v1's `tags` (span or resource attributes).
    let tags = match param(params, &["query.attributes"]) {
        None => Vec::new(),
        Some((n, v)) => tags_json(v, &format!("malformed parameter {n}"))?,
    };
    if end_ns < start_ns {
        return Err(QueryError::BadData(format!(
            "{max_name} must not be before {min_name}"
        )));
    }
    Ok(TraceQuery {
        service,
        operation: param(params, &["query.operationName", "query.operation_name"])
            .map(|(_, v)| v.to_string()),
        tags,
        min_duration_ns: duration(&["query.durationMin", "query.duration_min"])?,
        max_duration_ns: duration(&["query.durationMax", "query.duration_max"])?,
        start_ns,
        end_ns,
        limit: limit.clamp(1, 1500),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::params;

    #[test]
    fn find_traces_parameters_and_aliases() {
        let q = find_traces_query(&params(&[
            ("query.serviceName", "checkout"),
            ("query.operation_name", "pay"),
            ("query.startTimeMin", "2026-11-22T00:00:00Z"),
            ("query.startTimeMax", "2026-11-22T01:00:00.5Z"),
            ("query.durationMin", "1ms"),
            ("query.num_traces", "7"),
            (
                "query.attributes",
                r#"{"http.route":"/pay","error":"true"}"#,
            ),
        ]))
        .unwrap();
        let mut tags = q.tags.clone();
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("error".to_string(), "true".to_string()),
                ("http.route".to_string(), "/pay".to_string())
            ]
        );
        for (bad, why) in [
            (
                ("query.attributes", "{"),
                "malformed parameter query.attributes",
            ),
            (("query.attributes", r#"{"a":1}"#), "expected a string"),
            (
                ("query.startTimeMax", "2026-11-21T00:00:00Z"),
                "must not be before",
            ),
        ] {
            let mut p = vec![
                ("query.serviceName", "a"),
                ("query.startTimeMin", "2026-11-22T00:00:00Z"),
                ("query.startTimeMax", "2026-11-22T01:00:00Z"),
            ];
            p.retain(|(k, _)| *k != bad.0);
            p.push(bad);
            let e = find_traces_query(&params(&p)).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(q.service, "checkout");
        assert_eq!(q.operation.as_deref(), Some("pay"));
        assert_eq!(q.end_ns - q.start_ns, 3_600_500_000_000);
        assert_eq!(q.min_duration_ns, Some(1_000_000));
        assert_eq!(q.limit, 7);
        let e = find_traces_query(&params(&[("query.serviceName", "a")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("query.startTimeMin and query.startTimeMax are required")
        );
        let e = find_traces_query(&params(&[("query.startTimeMin", "2026-11-22T00:00:00Z")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("query.serviceName is required"),
            "{e}"
        );
        let e = find_traces_query(&params(&[
            ("query.serviceName", "a"),
            ("query.startTimeMin", "yesterday"),
            ("query.startTimeMax", "2026-11-22T01:00:00Z"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("malformed parameter query.startTimeMin"),
            "{e}"
        );
    }
}
