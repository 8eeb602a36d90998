//! The trace engines, over the `spans` signal of a tenant's snapshot: lookups (a trace
//! by id, services, operations with kinds, dependencies: `lookup.rs`), whole traces by
//! id through the trace-id sidecars (`fetch.rs`), trace search (`search/`), and RED
//! series computed from spans for Jaeger's Monitor tab (`red.rs`). Typed values out;
//! `api/jaeger_v1`, `api/jaeger_v3` and `api/jaeger_monitor.rs` render them.

pub mod fetch;
pub mod lookup;
pub mod red;
pub mod search;
