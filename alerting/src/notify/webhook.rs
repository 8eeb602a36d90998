//! The webhook integration: Alertmanager 0.25's webhook JSON (`version "4"`,
//! `alerting/docs/semantics.md` §5.1) and its delivery, with Alertmanager's retries:
//! at once, then after 0.5 s growing 1.5× (±50% jitter, at most 60 s) until the
//! flush's deadline; 5xx and connection failures are retried, other statuses not.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;

use super::alert::NotifyAlert;
use super::config::HttpConfig;

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub receiver: String,
    pub status: &'static str,
    pub alerts: Vec<AlertJson>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub version: &'static str,
    pub group_key: String,
    pub truncated_alerts: usize,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    pub status: &'static str,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

use crate::template::gofmt::rfc3339_nano as go_time;

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Pairs present with the same value in every map.
fn common(maps: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some(first) = maps.first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| maps.iter().all(|m| m.get(*k) == Some(v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The message for `alerts` (already sorted), truncated to `max_alerts`.
pub fn message(
    receiver: &str,
    group_key: &str,
    group_labels: &BTreeMap<String, String>,
    alerts: &[NotifyAlert],
    max_alerts: usize,
    external_url: &str,
    now: i64,
) -> Message {
    let keep = if max_alerts == 0 {
        alerts.len()
    } else {
        max_alerts.min(alerts.len())
    };
    let kept = &alerts[..keep];
    let json: Vec<AlertJson> = kept
        .iter()
        .map(|a| {
            let resolved = a.resolved_at(now);
            AlertJson {
                status: if resolved { "resolved" } else { "firing" },
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: go_time(a.starts_at),
                ends_at: match (resolved, a.ends_at) {
                    (true, Some(e)) => go_time(e),
                    _ => "0001-01-01T00:00:00Z".into(),
                },
                generator_url: a.generator_url.clone(),
                fingerprint: format!("{:016x}", a.fingerprint()),
            }
        })
        .collect();
    let status = if json.iter().any(|a| a.status == "firing") {
        "firing"
    } else {
        "resolved"
    };
    let labels: Vec<&BTreeMap<String, String>> = kept.iter().map(|a| &a.labels).collect();
    let annotations: Vec<&BTreeMap<String, String>> = kept.iter().map(|a| &a.annotations).collect();
    Message {
        receiver: quote_meta(receiver),
        status,
        alerts: json,
        group_labels: group_labels.clone(),
        common_labels: common(&labels),
        common_annotations: common(&annotations),
        external_url: external_url.to_string(),
        version: "4",
        group_key: group_key.to_string(),
        truncated_alerts: alerts.len() - keep,
    }
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub retry: bool,
}

/// A secret given inline or in a file (the file's text, trimmed).
fn secret(inline: &Option<String>, file: &Option<String>) -> String {
    match (inline, file) {
        (Some(v), _) => v.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .unwrap_or_default()
            .trim()
            .to_string(),
        _ => String::new(),
    }
}

/// The `Authorization` header of an HTTP config: basic auth, a typed credential, or a
/// bearer token.
fn auth_header(http: Option<&HttpConfig>) -> Option<String> {
    let h = http?;
    if let Some(b) = &h.basic_auth {
        let password = secret(&b.password, &b.password_file);
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", b.username));
        return Some(format!("Basic {token}"));
    }
    if let Some(a) = &h.authorization {
        let creds = secret(&a.credentials, &a.credentials_file);
        return Some(format!("{} {creds}", a.kind.as_deref().unwrap_or("Bearer")));
    }
    h.bearer_token.as_ref().map(|t| format!("Bearer {t}"))
}

/// The HTTP client of the integrations: HTTPS with the system's roots, or HTTP.
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for http and https receivers (Slack and PagerDuty are https), verifying
/// with the system's roots.
pub fn client() -> HttpClient {
    let https = match osprey_tls::https_connector(&osprey_tls::ClientOptions::default(), false) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no TLS client: https receivers will fail");
            osprey_tls::http_connector(false)
        }
    };
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(https)
}

/// One POST of a JSON `body` to `url`; 5xx (and `also_retry`) answers may be retried.
pub async fn post(
    client: &HttpClient,
    url: &str,
    http: Option<&HttpConfig>,
    body: Bytes,
    also_retry: Option<u16>,
) -> Result<(), Failure> {
    let mut req = http::Request::post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Osprey/", env!("CARGO_PKG_VERSION")));
    if let Some(a) = auth_header(http) {
        req = req.header("authorization", a);
    }
    let req = req.body(Full::new(body)).map_err(|e| Failure {
        message: e.to_string(),
        retry: false,
    })?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| Failure {
            message: format!("{url}: no answer within 10s"),
            retry: true,
        })?
        .map_err(|e| Failure {
            message: format!("{url}: {}", osprey_tls::with_causes(&e)),
            retry: true,
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    Err(Failure {
        message: format!("unexpected status code {}: {url}: {text}", status.as_u16()),
        retry: status.is_server_error() || also_retry == Some(status.as_u16()),
    })
}

/// The pause before retry `n` (1-based): 0.5 s × 1.5^(n-1), ±50%, at most 60 s.
pub fn backoff(n: u32, jitter: f64) -> Duration {
    let base = 0.5 * 1.5f64.powi(n.saturating_sub(1) as i32);
    let d = (base * (0.5 + jitter)).min(60.0);
    Duration::from_secs_f64(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], ends_at: Option<i64>) -> NotifyAlert {
        NotifyAlert {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: [("summary".to_string(), "s".to_string())].into(),
            starts_at: 1_764_860_505_560_000_000,
            ends_at,
            generator_url: "http://g/1".into(),
            updated_at: 0,
        }
    }

    #[test]
    fn webhook_json_as_alertmanager_writes_it() {
        let now = 1_764_860_600_000_000_000;
        let alerts = vec![
            alert(&[("alertname", "X"), ("job", "a"), ("sev", "w")], None),
            alert(
                &[("alertname", "X"), ("job", "b"), ("sev", "w")],
                Some(now - 1),
            ),
            alert(&[("alertname", "X"), ("job", "c"), ("sev", "p")], None),
        ];
        let group: BTreeMap<String, String> = [("alertname".to_string(), "X".to_string())].into();
        let m = message(
            "team.a",
            "{}:{alertname=\"X\"}",
            &group,
            &alerts,
            2,
            "http://osprey:9800",
            now,
        );
        assert_eq!(m.receiver, "team\\.a");
        assert_eq!(m.truncated_alerts, 1);
        assert_eq!(m.status, "firing");
        // Common labels of the kept alerts only.
        assert_eq!(m.common_labels.get("sev").map(String::as_str), Some("w"));
        assert_eq!(m.alerts[0].ends_at, "0001-01-01T00:00:00Z");
        assert_eq!(m.alerts[0].starts_at, "2025-12-04T15:01:45.56Z");
        assert_eq!(m.alerts[1].status, "resolved");
        assert_eq!(m.alerts[0].fingerprint.len(), 16);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["version"], "4");
        assert_eq!(json["externalURL"], "http://osprey:9800");
        assert!(backoff(1, 0.5) == Duration::from_millis(500));
        let basic = HttpConfig {
            basic_auth: Some(super::super::config::BasicAuth {
                username: "u".into(),
                password: Some("p".into()),
                password_file: None,
            }),
            ..HttpConfig::default()
        };
        assert_eq!(auth_header(Some(&basic)).as_deref(), Some("Basic dTpw"));
        let bearer = HttpConfig {
            bearer_token: Some("t".into()),
            ..HttpConfig::default()
        };
        assert_eq!(auth_header(Some(&bearer)).as_deref(), Some("Bearer t"));
        assert_eq!(auth_header(None), None);
        assert!(backoff(40, 0.9) == Duration::from_secs(60));
    }
}
