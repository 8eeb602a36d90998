//! Forwarding alerts to external Alertmanagers as Prometheus' notifier does
//! (`alerting/docs/semantics.md` §3.3): `POST <am>/api/v2/alerts` with a JSON list of
//! alerts, in batches of at most 64, to every Alertmanager at once, each with a 10 s
//! timeout and no retry (an alert still active goes again at its next re-send). The
//! external labels are added to each alert that lacks them; the tenant is named in
//! the tenant header (`osprey_auth::TENANT_HEADER`), which a multi-tenant
//! Alertmanager reads and Alertmanager ignores.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::eval::Outgoing;

/// Prometheus' `maxBatchSize`.
const BATCH: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(10);

/// One alert as Alertmanager's API v2 takes it (`postableAlert`).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub ends_at: String,
    pub starts_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub labels: BTreeMap<String, String>,
}

/// RFC 3339 with exactly three fractional digits, as Prometheus sends times.
pub fn rfc3339_millis(ns: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(ns);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// An outgoing alert as the built-in notifier takes it: the same labels (external ones
/// where missing), annotations, times and generator URL as sent to Alertmanagers.
pub fn notify_alert(
    a: &Outgoing,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
) -> crate::notify::alert::NotifyAlert {
    let mut labels: BTreeMap<String, String> = a.labels.pairs().iter().cloned().collect();
    for (k, v) in external_labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    // Milliseconds, as the times reach an Alertmanager (`rfc3339_millis`).
    let ms = |ns: i64| ns.div_euclid(1_000_000) * 1_000_000;
    crate::notify::alert::NotifyAlert {
        labels,
        annotations: a.annotations.iter().cloned().collect(),
        starts_at: ms(a.starts_at),
        ends_at: Some(ms(a.ends_at)),
        generator_url: format!("{}{}", external_url.trim_end_matches('/'), a.generator_path),
        updated_at: 0,
    }
}

/// An outgoing alert with the external labels (where it lacks them) and URL.
pub fn postable(
    a: &Outgoing,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
) -> PostableAlert {
    let mut labels: BTreeMap<String, String> = a.labels.pairs().iter().cloned().collect();
    for (k, v) in external_labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    PostableAlert {
        annotations: a.annotations.iter().cloned().collect(),
        ends_at: rfc3339_millis(a.ends_at),
        starts_at: rfc3339_millis(a.starts_at),
        generator_url: format!("{}{}", external_url.trim_end_matches('/'), a.generator_path),
        labels,
    }
}

/// Sends alerts to the configured Alertmanagers.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Full<Bytes>>,
    alertmanagers: Arc<Vec<String>>,
    external_labels: Arc<BTreeMap<String, String>>,
    external_url: Arc<String>,
    metrics: crate::AlertingMetrics,
}

impl Forwarder {
    pub fn new(
        alertmanagers: Vec<String>,
        external_labels: BTreeMap<String, String>,
        external_url: String,
        metrics: crate::AlertingMetrics,
    ) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            alertmanagers: Arc::new(alertmanagers),
            external_labels: Arc::new(external_labels),
            external_url: Arc::new(external_url),
            metrics,
        }
    }

    /// Hands `alerts` to the built-in notifier as they would go to an Alertmanager.
    pub fn to_notifier(&self, n: &crate::notify::Notifier, tenant: &str, alerts: &[Outgoing]) {
        if alerts.is_empty() {
            return;
        }
        let converted = alerts
            .iter()
            .map(|a| notify_alert(a, &self.external_labels, &self.external_url))
            .collect();
        n.put(tenant, converted);
    }

    /// Whether there is anywhere to send to.
    pub fn is_enabled(&self) -> bool {
        !self.alertmanagers.is_empty()
    }

    /// Sends `alerts` of `tenant` in the background.
    pub fn send(&self, tenant: &str, alerts: &[Outgoing]) {
        if alerts.is_empty() || !self.is_enabled() {
            return;
        }
        let body: Vec<PostableAlert> = alerts
            .iter()
            .map(|a| postable(a, &self.external_labels, &self.external_url))
            .collect();
        for chunk in body.chunks(BATCH) {
            let Ok(json) = serde_json::to_vec(chunk) else {
                continue;
            };
            let json = Bytes::from(json);
            for am in self.alertmanagers.iter() {
                let (this, am, json, tenant) =
                    (self.clone(), am.clone(), json.clone(), tenant.to_string());
                let n = chunk.len() as u64;
                tokio::spawn(async move {
                    match this.post(&am, &tenant, json).await {
                        Ok(()) => {
                            this.metrics.alerts_sent.inc_by(n);
                        }
                        Err(e) => {
                            this.metrics.alert_send_errors.inc();
                            tracing::warn!(alertmanager = %am, error = %e, "error sending alerts");
                        }
                    }
                });
            }
        }
    }

    async fn post(&self, am: &str, tenant: &str, body: Bytes) -> Result<(), String> {
        let url = format!("{}/api/v2/alerts", am.trim_end_matches('/'));
        let req = http::Request::post(&url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("Osprey/", env!("CARGO_PKG_VERSION")))
            .header(osprey_auth::TENANT_HEADER, tenant)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| format!("{url}: no answer within {TIMEOUT:?}"))?
            .map_err(|e| format!("{url}: {e}"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url}: bad response status {}", resp.status()))
        }
    }
}

#[cfg(test)]
mod tests {
    use osprey_promql::Labels;

    use super::*;

    #[test]
    fn alerts_go_out_as_prometheus_sends_them() {
        let a = Outgoing {
            labels: Labels::new(vec![
                ("alertname".into(), "A".into()),
                ("cluster".into(), "fromrule".into()),
            ]),
            annotations: vec![("summary".into(), "m on a = 1".into())],
            starts_at: 1_764_860_064_151_000_000,
            ends_at: 1_764_860_304_151_000_000,
            generator_path: "/graph?g0.expr=m+%3E+0&g0.tab=1".into(),
        };
        let ext: BTreeMap<String, String> = [
            ("cluster".to_string(), "c1".to_string()),
            ("region".to_string(), "eu".to_string()),
        ]
        .into();
        let p = postable(&a, &ext, "http://prom.example:9090/pfx/");
        assert_eq!(p.labels["cluster"], "fromrule");
        assert_eq!(p.labels["region"], "eu");
        assert_eq!(
            p.generator_url,
            "http://prom.example:9090/pfx/graph?g0.expr=m+%3E+0&g0.tab=1"
        );
        assert_eq!(p.starts_at, "2025-12-04T14:54:24.151Z");
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.starts_with("{\"annotations\":{\"summary\":\"m on a = 1\"},\"endsAt\":"),
            "{json}"
        );
        let mut none = p;
        none.annotations.clear();
        assert!(
            !serde_json::to_string(&none)
                .unwrap()
                .contains("annotations")
        );
    }
}
