//! Jaeger's trace-search parameters as a [`TraceQuery`].

use crate::QueryError;

/// Jaeger's default number of traces.
const DEFAULT_LIMIT: usize = 100;
/// Most traces one search returns.
const MAX_LIMIT: usize = 1500;
/// How far back a search without `start` looks (Jaeger's default).
const DEFAULT_LOOKBACK_NS: i64 = 2 * 86_400 * 1_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct TraceQuery {
    pub service: String,
    pub operation: Option<String>,
    pub tags: Vec<(String, String)>,
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub limit: usize,
}

fn bad(param: &str, why: impl std::fmt::Display) -> QueryError {
    QueryError::BadData(format!("unable to parse param '{param}': {why}"))
}

impl TraceQuery {
    /// From Jaeger's query parameters (repeated keys allowed).
    pub fn from_params(params: &[(String, String)], now_ns: i64) -> Result<Self, QueryError> {
        let one = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let service = one("service").unwrap_or_default().to_string();
        if service.is_empty() {
            return Err(QueryError::BadData(
                "parameter 'service' is required".into(),
            ));
        }
        let micros = |name: &str| -> Result<Option<i64>, QueryError> {
            one(name)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|e| bad(name, e))
                        .map(|us| us.saturating_mul(1000))
                })
                .transpose()
        };
        let end_ns = micros("end")?.unwrap_or(now_ns);
        let start_ns = micros("start")?.unwrap_or(end_ns.saturating_sub(DEFAULT_LOOKBACK_NS));
        if end_ns < start_ns {
            return Err(QueryError::BadData(
                "'end' should not be before 'start'".into(),
            ));
        }
        let duration = |name: &str| -> Result<Option<i64>, QueryError> {
            one(name)
                .map(|v| go_duration_ns(v).map_err(|e| bad(name, e)))
                .transpose()
        };
        let min_duration_ns = duration("minDuration")?;
        let max_duration_ns = duration("maxDuration")?;
        if let (Some(lo), Some(hi)) = (min_duration_ns, max_duration_ns)
            && hi < lo
        {
            return Err(QueryError::BadData(
                "'maxDuration' should be greater than 'minDuration'".into(),
            ));
        }
        let limit = match one("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<i64>().map_err(|e| bad("limit", e))? {
                n if n <= 0 => DEFAULT_LIMIT,
                n => (n as usize).min(MAX_LIMIT),
            },
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        let mut add = |k: &str, v: &str| {
            tags.retain(|(key, _)| key != k);
            tags.push((k.to_string(), v.to_string()));
        };
        for (k, v) in params {
            match k.as_str() {
                "tag" => {
                    let (key, value) = v.split_once(':').ok_or_else(|| {
                        QueryError::BadData(format!(
                            "malformed 'tag' parameter, expecting key:value, received: {v}"
                        ))
                    })?;
                    add(key, value);
                }
                "tags" if !v.is_empty() => {
                    for (key, value) in tags_json(v, "malformed 'tags' parameter")? {
                        add(&key, &value);
                    }
                }
                _ => {}
            }
        }
        Ok(TraceQuery {
            service,
            operation: one("operation").map(str::to_string),
            tags,
            min_duration_ns,
            max_duration_ns,
            start_ns,
            end_ns,
            limit,
        })
    }
}

/// A JSON object of string values (Jaeger's `tags`, v3's `query.attributes`) as
/// key-value pairs; `what` starts the error message.
pub fn tags_json(text: &str, what: &str) -> Result<Vec<(String, String)>, QueryError> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| QueryError::BadData(format!("{what}, cannot unmarshal JSON: {e}")))?;
    map.into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => Ok((key, s)),
            other => Err(QueryError::BadData(format!(
                "{what}: the value of {key:?} is {other}, expected a string"
            ))),
        })
        .collect()
}

/// A Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`, `10us`, `10µs`) in ns.
pub fn go_duration_ns(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num.parse().map_err(|_| err())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += value * scale;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    Ok(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::params;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_ns("0"), Ok(0));
        assert_eq!(go_duration_ns("1.5ms"), Ok(1_500_000));
        assert_eq!(
            go_duration_ns("2h45m"),
            Ok((2 * 3600 + 45 * 60) * 1_000_000_000)
        );
        assert_eq!(go_duration_ns("10us"), Ok(10_000));
        assert_eq!(go_duration_ns("10µs"), Ok(10_000));
        assert_eq!(go_duration_ns("300ns"), Ok(300));
        for bad in ["", "5", "ms", "1.2.3s", "5 s", "1d"] {
            assert!(go_duration_ns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jaeger_parameters() {
        let q = TraceQuery::from_params(
            &params(&[
                ("service", "checkout"),
                ("operation", "GET /pay"),
                ("tags", r#"{"http.status_code":"500","error":"true"}"#),
                ("tag", "region:eu:west"),
                ("minDuration", "1.5ms"),
                ("maxDuration", "2s"),
                ("start", "1000"),
                ("end", "2000"),
                ("limit", "20"),
            ]),
            5,
        )
        .unwrap();
        assert_eq!(q.service, "checkout");
        assert_eq!(q.operation.as_deref(), Some("GET /pay"));
        assert_eq!((q.start_ns, q.end_ns), (1_000_000, 2_000_000));
        assert_eq!(
            (q.min_duration_ns, q.max_duration_ns),
            (Some(1_500_000), Some(2_000_000_000))
        );
        assert_eq!(q.limit, 20);
        let mut tags = q.tags.clone();
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("error".to_string(), "true".to_string()),
                ("http.status_code".to_string(), "500".to_string()),
                ("region".to_string(), "eu:west".to_string()),
            ]
        );
        let q = TraceQuery::from_params(&params(&[("service", "a")]), 10 * DEFAULT_LOOKBACK_NS)
            .unwrap();
        assert_eq!(q.end_ns - q.start_ns, DEFAULT_LOOKBACK_NS);
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn jaeger_parameter_errors_name_the_parameter() {
        let err = |p: &[(&str, &str)]| {
            TraceQuery::from_params(&params(p), 0)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("parameter 'service' is required"));
        assert!(err(&[("service", "a"), ("start", "x")]).contains("'start'"));
        assert!(err(&[("service", "a"), ("minDuration", "5")]).contains("'minDuration'"));
        assert!(
            err(&[
                ("service", "a"),
                ("minDuration", "2s"),
                ("maxDuration", "1s")
            ])
            .contains("'maxDuration' should be greater than 'minDuration'")
        );
        assert!(err(&[("service", "a"), ("tags", "{")]).contains("malformed 'tags'"));
        assert!(err(&[("service", "a"), ("tag", "novalue")]).contains("malformed 'tag'"));
        assert!(err(&[("service", "a"), ("limit", "many")]).contains("'limit'"));
    }
}
