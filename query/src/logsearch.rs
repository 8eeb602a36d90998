//! Log search v0: plain terms and "quoted phrases", all required, matched
//! case-insensitively anywhere in the body; optional service and time range; newest
//! first. The full search language and the full-text index come with the logs issue.

use arrow::array::RecordBatch;
use datafusion::functions::expr_fn::{lower, strpos};
use datafusion::logical_expr::Expr;
use datafusion::prelude::{col, lit};
use serde::Serialize;
use serde_json::Value;

use crate::columns::{Maps, rfc3339, strings, timestamps};
use osprey_storage::Signal;

use crate::{QueryError, QueryState, session::signal_session};

/// Splits a query into terms; `"a b"` stays one phrase.
pub fn terms(query: &str) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let end = after
                .find('"')
                .ok_or_else(|| QueryError::BadData("unterminated \"phrase\" in query".into()))?;
            if end > 0 {
                out.push(after[..end].to_lowercase());
            }
            rest = after[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..end].to_lowercase());
            rest = rest[end..].trim_start();
        }
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
    tokio::time::timeout(timeout, search_inner(st, tenant, p))
        .await
        .map_err(|_| QueryError::Timeout(timeout))?
}

async fn search_inner(
    st: &QueryState,
    tenant: &str,
    p: &SearchParams,
) -> Result<SearchResult, QueryError> {
    let started = std::time::Instant::now();
    let mut filters: Vec<Expr> = terms(&p.query)?
        .into_iter()
        .map(|t| strpos(lower(col("body")), lit(t)).gt(lit(0)))
        .collect();
    if let Some(s) = &p.service {
        filters.push(col("service").eq(lit(s.as_str())));
    }
    let ts = |ns: i64| {
        lit(datafusion::scalar::ScalarValue::TimestampNanosecond(
            Some(ns),
            Some("UTC".into()),
        ))
    };
    if let Some(s) = p.start_ns {
        filters.push(col("timestamp").gt_eq(ts(s)));
    }
    if let Some(e) = p.end_ns {
        filters.push(col("timestamp").lt_eq(ts(e)));
    }
    let ctx = signal_session(&st.storage, tenant, Signal::Logs, None).await?;
    let mut df = ctx.table("logs").await?;
    if let Some(f) = filters.into_iter().reduce(Expr::and) {
        df = df.filter(f)?;
    }
    let matched = df.clone().count().await?;
    let batches = df
        .sort(vec![col("timestamp").sort(false, true)])?
        .limit(0, Some(p.limit))?
        .collect()
        .await?;
    let mut result = Vec::new();
    for b in &batches {
        result.extend(hits(b)?);
    }
    Ok(SearchResult {
        result,
        stats: SearchStats {
            matched,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
    })
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
            terms(r#"Error "card declined"  payment"#).unwrap(),
            vec!["error", "card declined", "payment"]
        );
        assert!(terms(r#""open"#).is_err());
        assert!(terms("  ").unwrap().is_empty());
    }
}
