//! Osprey's query service: DataFusion SQL over the storage snapshot, PromQL, log search,
//! trace lookup, stored dashboards (`dashboards.rs`), and the HTTP APIs that expose
//! them (Prometheus, Jaeger, Loki and Osprey's own shapes), plus the operational
//! endpoints (`/healthz`, `/readyz`, `/metrics`).
//!
//! Query code never decodes wire protocols; it reads only through
//! `osprey_storage::Storage::snapshot`, so a record is visible exactly once whether it
//! is still in a memtable or already in a Parquet file.

pub mod api;
pub mod cluster;
mod columns;
pub mod dashboards;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod logs;
pub mod promql;
mod readahead;
mod rows;
pub mod sql;
pub mod traces;

use osprey_config::QueryConfig;
use osprey_storage::Storage;

pub use api::ops::{self, HttpMetrics, OpsState};
pub use api::{admin_router, internal_router, probes_router, router};
pub use error::QueryError;

/// What every query handler needs.
#[derive(Clone)]
pub struct QueryState {
    pub storage: Storage,
    pub config: QueryConfig,
    /// Each tenant's query limits and concurrent-query slots (`[limits]`).
    pub limiter: std::sync::Arc<osprey_auth::Limiter>,
    /// Parsed Parquet footers SQL keeps across queries (`sql::session`).
    pub sql_footers: sql::session::FooterCache,
}

impl QueryState {
    pub fn new(storage: Storage, config: QueryConfig) -> Self {
        Self {
            storage,
            config,
            limiter: std::sync::Arc::default(),
            sql_footers: sql::session::footer_cache(),
        }
    }

    /// `[query]` with the query limits `[limits]` or `[overrides.<tenant>]` set.
    pub fn config_for(&self, tenant: &str) -> QueryConfig {
        let set = self.limiter.configured(tenant);
        let c = &self.config;
        QueryConfig {
            timeout: set.max_query_time.unwrap_or(c.timeout),
            max_result_rows: set.max_result_rows.unwrap_or(c.max_result_rows),
            max_series: set.max_series.unwrap_or(c.max_series),
            max_samples: set.max_samples.unwrap_or(c.max_samples),
            ..c.clone()
        }
    }

    /// Runs blocking query work (`what`, for errors) on the blocking pool, within the
    /// query timeout.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let timeout = self.config.timeout;
        let f = osprey_storage::partial::carry(f);
        tokio::time::timeout(timeout, tokio::task::spawn_blocking(f))
            .await
            .map_err(|_| QueryError::Timeout(timeout))?
            .map_err(|e| QueryError::Internal(format!("{what} task: {e}")))?
    }
}

#[cfg(test)]
mod tests;
