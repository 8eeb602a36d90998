//! The Slack and PagerDuty integrations with Alertmanager 0.25's default templates
//! (`template/default.tmpl`; payloads pinned in `alerting/docs/semantics.md` §7):
//! the subject `[FIRING:n] <group label values> (<other common label values>)`, the
//! link to the receiver's alerts, PagerDuty's Events API v2 event with the firing and
//! resolved alert lists as details and the SHA-256 of the group key as dedup key.
//! Fields set to plain text are sent as they are; fields with templates are refused
//! when the configuration is loaded (custom notification templates are not there yet).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::alert::NotifyAlert;
use super::config::{PagerDutyConfig, SlackConfig};

/// What the default templates read of a notification.
pub struct Notice<'a> {
    pub receiver: &'a str,
    pub group_key: &'a str,
    pub group_labels: &'a BTreeMap<String, String>,
    pub alerts: &'a [NotifyAlert],
    pub external_url: &'a str,
    pub now: i64,
}

impl Notice<'_> {
    fn firing(&self) -> Vec<&NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| !a.resolved_at(self.now))
            .collect()
    }

    fn resolved(&self) -> Vec<&NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| a.resolved_at(self.now))
            .collect()
    }

    fn status(&self) -> &'static str {
        if self.firing().is_empty() {
            "resolved"
        } else {
            "firing"
        }
    }

    fn common_labels(&self) -> BTreeMap<String, String> {
        let Some(first) = self.alerts.first() else {
            return BTreeMap::new();
        };
        first
            .labels
            .iter()
            .filter(|(k, v)| self.alerts.iter().all(|a| a.labels.get(*k) == Some(v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Alertmanager's `__subject`: `[FIRING:2] S (slack)`.
    pub fn subject(&self) -> String {
        let status = self.status();
        let mut s = format!("[{}", status.to_uppercase());
        if status == "firing" {
            s.push_str(&format!(":{}", self.firing().len()));
        }
        s.push_str("] ");
        let values: Vec<&str> = self.group_labels.values().map(String::as_str).collect();
        s.push_str(&values.join(" "));
        s.push(' ');
        let common = self.common_labels();
        if common.len() > self.group_labels.len() {
            let rest: Vec<&str> = common
                .iter()
                .filter(|(k, _)| !self.group_labels.contains_key(*k))
                .map(|(_, v)| v.as_str())
                .collect();
            s.push_str(&format!("({})", rest.join(" ")));
        }
        s
    }

    /// Alertmanager's `__alertmanagerURL`: the receiver's alerts in its UI.
    pub fn alerts_url(&self) -> String {
        format!(
            "{}/#/alerts?receiver={}",
            self.external_url,
            super::super::template::query_escape(self.receiver)
        )
    }
}

/// Runes at most `n` (Alertmanager truncates titles and summaries so).
fn truncate(s: String, n: usize) -> String {
    if s.chars().count() <= n {
        s
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// The Slack message.
pub fn slack(c: &SlackConfig, n: &Notice<'_>) -> Value {
    let title = truncate(c.title.clone().unwrap_or_else(|| n.subject()), 1024);
    let title_link = c.title_link.clone().unwrap_or_else(|| n.alerts_url());
    let color = c.color.clone().unwrap_or_else(|| {
        if n.status() == "firing" {
            "danger"
        } else {
            "good"
        }
        .to_string()
    });
    let mut att = Map::new();
    att.insert("title".into(), json!(title));
    att.insert("title_link".into(), json!(title_link));
    if let Some(p) = c.pretext.as_ref().filter(|p| !p.is_empty()) {
        att.insert("pretext".into(), json!(p));
    }
    att.insert("text".into(), json!(c.text.clone().unwrap_or_default()));
    let fallback = c
        .fallback
        .clone()
        .unwrap_or_else(|| format!("{} | {}", n.subject(), n.alerts_url()));
    att.insert("fallback".into(), json!(fallback));
    att.insert(
        "callback_id".into(),
        json!(c.callback_id.clone().unwrap_or_default()),
    );
    att.insert("footer".into(), json!(c.footer.clone().unwrap_or_default()));
    att.insert("color".into(), json!(color));
    for (k, v) in [("image_url", &c.image_url), ("thumb_url", &c.thumb_url)] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            att.insert(k.into(), json!(v));
        }
    }
    let mrkdwn = c
        .mrkdwn_in
        .clone()
        .unwrap_or_else(|| vec!["fallback".into(), "pretext".into(), "text".into()]);
    att.insert("mrkdwn_in".into(), json!(mrkdwn));
    let mut msg = Map::new();
    if let Some(ch) = c.channel.as_ref().filter(|v| !v.is_empty()) {
        msg.insert("channel".into(), json!(ch));
    }
    msg.insert(
        "username".into(),
        json!(c.username.clone().unwrap_or_else(|| "Alertmanager".into())),
    );
    for (k, v) in [("icon_emoji", &c.icon_emoji), ("icon_url", &c.icon_url)] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            msg.insert(k.into(), json!(v));
        }
    }
    if c.link_names {
        msg.insert("link_names".into(), json!(true));
    }
    msg.insert("attachments".into(), json!([Value::Object(att)]));
    Value::Object(msg)
}

/// Alertmanager's `__text_alert_list` of some alerts.
fn alert_list(alerts: &[&NotifyAlert]) -> String {
    let mut s = String::new();
    for a in alerts {
        s.push_str("Labels:\n");
        for (k, v) in &a.labels {
            s.push_str(&format!(" - {k} = {v}\n"));
        }
        s.push_str("Annotations:\n");
        for (k, v) in &a.annotations {
            s.push_str(&format!(" - {k} = {v}\n"));
        }
        s.push_str(&format!("Source: {}\n", a.generator_url));
    }
    s
}

/// The PagerDuty Events API v2 event.
pub fn pagerduty(c: &PagerDutyConfig, routing_key: &str, n: &Notice<'_>) -> Value {
    let firing = n.firing();
    let resolved = n.resolved();
    let mut details = Map::new();
    details.insert("firing".into(), json!(alert_list(&firing)));
    details.insert("num_firing".into(), json!(firing.len().to_string()));
    details.insert("num_resolved".into(), json!(resolved.len().to_string()));
    details.insert("resolved".into(), json!(alert_list(&resolved)));
    for (k, v) in &c.details {
        details.insert(k.clone(), json!(v));
    }
    let client = c.client.clone().unwrap_or_else(|| "Alertmanager".into());
    let summary = truncate(c.description.clone().unwrap_or_else(|| n.subject()), 1024);
    let mut payload = Map::new();
    payload.insert("summary".into(), json!(summary));
    payload.insert(
        "source".into(),
        json!(c.source.clone().unwrap_or_else(|| client.clone())),
    );
    payload.insert(
        "severity".into(),
        json!(c.severity.clone().unwrap_or_else(|| "error".into())),
    );
    for (k, v) in [
        ("class", &c.class),
        ("component", &c.component),
        ("group", &c.group),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            payload.insert(k.into(), json!(v));
        }
    }
    payload.insert("custom_details".into(), Value::Object(details));
    let dedup = format!("{:x}", Sha256::digest(n.group_key.as_bytes()));
    json!({
        "routing_key": routing_key,
        "dedup_key": dedup,
        "event_action": if firing.is_empty() { "resolve" } else { "trigger" },
        "payload": Value::Object(payload),
        "client": client,
        "client_url": c.client_url.clone().unwrap_or_else(|| n.alerts_url()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(p: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert {
            labels: p
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: [("summary".to_string(), "pd sum".to_string())].into(),
            starts_at: 0,
            ends_at: None,
            generator_url: "http://g/2".into(),
            updated_at: 0,
        }
    }

    #[test]
    fn default_templates_as_alertmanager_renders_them() {
        let group: BTreeMap<String, String> = [("alertname".to_string(), "P".to_string())].into();
        let alerts = [alert(&[
            ("alertname", "P"),
            ("inst", "a"),
            ("job", "j"),
            ("team", "pd"),
        ])];
        let n = Notice {
            receiver: "pd",
            group_key: "{}:{alertname=\"P\"}",
            group_labels: &group,
            alerts: &alerts,
            external_url: "http://am.example:9093",
            now: 1,
        };
        assert_eq!(n.subject(), "[FIRING:1] P (a j pd)");
        let c = PagerDutyConfig::default();
        let e = pagerduty(&c, "rk123", &n);
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(
            e["client_url"],
            "http://am.example:9093/#/alerts?receiver=pd"
        );
        assert_eq!(
            e["payload"]["custom_details"]["firing"],
            "Labels:\n - alertname = P\n - inst = a\n - job = j\n - team = pd\nAnnotations:\n - summary = pd sum\nSource: http://g/2\n"
        );
        assert_eq!(e["dedup_key"].as_str().unwrap().len(), 64);
        let s = slack(&SlackConfig::default(), &n);
        assert_eq!(s["attachments"][0]["color"], "danger");
        assert_eq!(s["username"], "Alertmanager");
        assert_eq!(
            s["attachments"][0]["fallback"],
            "[FIRING:1] P (a j pd) | http://am.example:9093/#/alerts?receiver=pd"
        );
    }
}
