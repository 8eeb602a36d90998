//! `[spanmetrics]`: RED metrics and the service graph derived from spans.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Problems;

/// RED metrics derived from spans at ingest (DESIGN §5), under the OpenTelemetry
/// Collector spanmetrics connector's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMetricsConfig {
    pub enabled: bool,
    /// How often the cumulative series are written as samples.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Upper bounds (ms) of the duration histogram's buckets; `+Inf` is added.
    pub buckets_ms: Vec<f64>,
    /// Span (or else resource) attributes that become extra labels (dots become `_`).
    pub dimensions: Vec<String>,
    /// How long half of a service-graph edge waits for its other half before it is
    /// dropped (or becomes an edge to a virtual node).
    #[serde(with = "humantime_serde")]
    pub graph_wait: Duration,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(15),
            buckets_ms: vec![
                2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0,
                5000.0, 10000.0, 15000.0,
            ],
            dimensions: Vec::new(),
            graph_wait: Duration::from_secs(30),
        }
    }
}

impl SpanMetricsConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        let sm = self;
        if sm.interval.is_zero() {
            p.bad("spanmetrics.interval", "must be greater than 0s".into());
        }
        let ascending = sm.buckets_ms.windows(2).all(|w| w[0] < w[1]);
        if sm.buckets_ms.is_empty()
            || !ascending
            || sm.buckets_ms.iter().any(|b| !b.is_finite() || *b <= 0.0)
        {
            p.bad(
                "spanmetrics.buckets_ms",
                "expected positive, finite bounds in ascending order, e.g. [5, 10, 100]".into(),
            );
        }
        for d in &sm.dimensions {
            if d.is_empty()
                || ["service_name", "span_name", "span_kind", "status_code"].contains(&d.as_str())
            {
                p.bad(
                    "spanmetrics.dimensions",
                    format!("{d:?} is empty or a built-in label"),
                );
            }
        }
    }
}
