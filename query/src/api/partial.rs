//! Partial answers on every read surface (`storage/docs/format/cluster.md`, "Read
//! path"): each read runs inside an `osprey_storage::partial::ReadScope`. On a querier,
//! an ingester that does not answer is left out of the answer and named in its
//! warnings (Prometheus' top-level `warnings` array, which Grafana shows, on every JSON
//! answer, and the `X-Osprey-Warnings` header on any answer), unless the request says
//! `partial_response=false` (a URL parameter, as Thanos names it): then the read fails
//! with 503 naming the ingester.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use osprey_storage::partial::{ReadScope, scoped};

/// The largest JSON answer the warnings are written into; a larger one carries them in
/// the header only (rather than holding a second copy of it in memory).
const MAX_REWRITTEN: usize = 64 << 20;

/// The header that carries the warnings on every answer.
pub const WARNINGS_HEADER: &str = "x-osprey-warnings";

/// Runs the request inside a read scope and adds the scope's warnings to its answer.
pub async fn partial_answers(req: Request, next: Next) -> Response {
    let scope = ReadScope::new(allows_partial(req.uri()));
    let resp = scoped(scope.clone(), next.run(req)).await;
    let warnings = scope.warnings();
    if warnings.is_empty() {
        return resp;
    }
    with_warnings(resp, &warnings).await
}

/// `partial_response` of a query string: anything but `false` or `0` (or no parameter)
/// accepts partial answers.
fn allows_partial(uri: &axum::http::Uri) -> bool {
    let Ok(axum::extract::Query(params)) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
    else {
        return true;
    };
    !params
        .iter()
        .any(|(k, v)| k == "partial_response" && matches!(v.as_str(), "false" | "0"))
}

async fn with_warnings(resp: Response, warnings: &[String]) -> Response {
    let (mut parts, body) = resp.into_parts();
    let header_text: String = warnings
        .join("; ")
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&header_text) {
        parts.headers.insert(WARNINGS_HEADER, v);
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !json {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_REWRITTEN).await {
        Ok(b) => b,
        // Too large to rewrite (its body is gone): the header still names the ingester.
        Err(e) => {
            tracing::warn!(error = %e, "answer too large to add its warnings to");
            return Response::from_parts(parts, Body::from("answer too large"));
        }
    };
    let Ok(serde_json::Value::Object(mut doc)) = serde_json::from_slice(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let listed = doc
        .entry("warnings")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if !listed.is_array() {
        *listed = serde_json::Value::Array(Vec::new());
    }
    if let Some(list) = listed.as_array_mut() {
        list.extend(warnings.iter().cloned().map(serde_json::Value::String));
    }
    let out = serde_json::to_vec(&doc).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_response_false_or_0_refuses_partial_answers() {
        let allows = |uri: &'static str| allows_partial(&axum::http::Uri::from_static(uri));
        assert!(allows("/api/v1/query"));
        assert!(allows("/api/v1/query?query=up&partial_response=true"));
        assert!(!allows("/api/v1/query?query=up&partial_response=false"));
        assert!(!allows("/loki/api/v1/labels?partial_response=0"));
    }

    #[tokio::test]
    async fn warnings_join_the_answers_own() {
        let resp = axum::response::Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"status":"success","warnings":["w0"]}"#))
            .unwrap_or_default();
        let out = with_warnings(resp, &["ingester a did not answer".into()]).await;
        assert!(out.headers().contains_key(WARNINGS_HEADER));
        let body = axum::body::to_bytes(out.into_body(), 1 << 20).await;
        let doc: serde_json::Value =
            serde_json::from_slice(&body.unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            doc["warnings"],
            serde_json::json!(["w0", "ingester a did not answer"])
        );
        assert_eq!(doc["status"], "success");
    }
}
