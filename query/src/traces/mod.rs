//! The trace engines, over the `spans` signal of a tenant's snapshot: lookups (a trace
//! by id, services, operations with kinds, dependencies: `lookup.rs`), whole traces by
//! id through the trace-id sidecars (`fetch.rs`), trace search (`search/`), and RED
//! series computed from spans for Jaeger's Monitor tab (`red.rs`). Typed values out;
//! `api/jaeger_v1`, `api/jaeger_v3` and `api/jaeger_monitor.rs` render them.

pub mod fetch;
pub mod lookup;
pub mod red;
pub mod search;

use crate::QueryError;

/// Jaeger's lowercase span kind (`server`, …; `internal` for an unspecified kind).
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "SPAN_KIND_SERVER" => "server",
        "SPAN_KIND_CLIENT" => "client",
        "SPAN_KIND_PRODUCER" => "producer",
        "SPAN_KIND_CONSUMER" => "consumer",
        _ => "internal",
    }
}

/// The stored span kind for a Jaeger span kind parameter.
pub fn stored_kind(jaeger: &str) -> Result<&'static str, QueryError> {
    Ok(match jaeger.to_ascii_lowercase().as_str() {
        "server" => "SPAN_KIND_SERVER",
        "client" => "SPAN_KIND_CLIENT",
        "producer" => "SPAN_KIND_PRODUCER",
        "consumer" => "SPAN_KIND_CONSUMER",
        "internal" => "SPAN_KIND_INTERNAL",
        other => {
            return Err(QueryError::BadData(format!(
                "malformed parameter spanKind: unsupported span kind {other:?}; expected server, client, producer, consumer or internal"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_kinds() {
        assert_eq!(stored_kind("Server").unwrap(), "SPAN_KIND_SERVER");
        assert!(stored_kind("sideways").is_err());
        assert_eq!(kind_name("SPAN_KIND_UNSPECIFIED"), "internal");
    }
}
