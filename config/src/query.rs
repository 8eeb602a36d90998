//! `[query]`: limits of every query surface.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Problems;

/// Query limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Longest a query may run.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Most rows a SQL query returns in one response.
    pub max_result_rows: usize,
    /// Prometheus' lookback delta for instant vector selectors.
    #[serde(with = "humantime_serde")]
    pub lookback_delta: Duration,
    /// Most samples one PromQL query may load or hold in one node's result
    /// (Prometheus' `--query.max-samples`).
    pub max_samples: usize,
    /// Most series one PromQL selector may match or one node may produce.
    pub max_series: usize,
    /// Step of a PromQL subquery that gives none (Prometheus' evaluation interval).
    #[serde(with = "humantime_serde")]
    pub subquery_step: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_result_rows: 10_000,
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            max_series: 500_000,
            subquery_step: Duration::from_secs(60),
        }
    }
}

impl QueryConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        let q = self;
        if q.timeout.is_zero() {
            p.bad("query.timeout", "must be greater than 0s".into());
        }
        if q.max_result_rows == 0 {
            p.bad("query.max_result_rows", "must be greater than 0".into());
        }
        if q.lookback_delta.is_zero() {
            p.bad("query.lookback_delta", "must be greater than 0s".into());
        }
        if q.max_samples == 0 {
            p.bad("query.max_samples", "must be greater than 0".into());
        }
        if q.max_series == 0 {
            p.bad("query.max_series", "must be greater than 0".into());
        }
        if q.subquery_step.as_millis() == 0 {
            p.bad("query.subquery_step", "must be at least 1ms".into());
        }
    }
}
