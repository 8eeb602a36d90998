//! Prometheus 2.42's JSON of `/api/v1/rules` and `/api/v1/alerts`, as serde structs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::eval::{Alert, AlertState, Group, Rule, RuleStatus};
use crate::template::gofmt;
// Times as Go writes `time.Time` (`time.RFC3339Nano`: trailing zeros dropped, as
// Prometheus' API answers them; chrono's `AutoSi` kept `.766485090`).
use crate::template::gofmt::rfc3339_nano;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleType {
    Any,
    Alert,
    Record,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleDiscovery {
    pub groups: Vec<RuleGroup>,
    /// Why the last reload failed (the rules shown are the ones loaded before); Osprey's
    /// addition to Prometheus' shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroup {
    pub name: String,
    pub file: String,
    pub rules: Vec<RuleJson>,
    /// Seconds.
    pub interval: f64,
    pub limit: usize,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    /// `logql` for a Loki-ruler group (Osprey's addition); absent for PromQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RuleJson {
    Alerting(AlertingRuleJson),
    Recording(RecordingRuleJson),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRuleJson {
    pub state: &'static str,
    pub name: String,
    pub query: String,
    /// `for`, seconds.
    pub duration: f64,
    pub keep_firing_for: f64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub alerts: Vec<AlertJson>,
    pub health: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleJson {
    pub name: String,
    pub query: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub health: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: &'static str,
    pub active_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// Go's `FormatFloat(v, 'e', -1, 64)`.
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct AlertDiscovery {
    pub alerts: Vec<AlertJson>,
}

fn wall(t: Option<SystemTime>) -> String {
    match t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => rfc3339_nano(d.as_nanos() as i64),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn map(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

fn alert_json(a: &Alert) -> AlertJson {
    AlertJson {
        labels: map(a.labels.pairs()),
        annotations: map(&a.annotations),
        state: a.state.as_str(),
        active_at: rfc3339_nano(a.active_at),
        keep_firing_since: a.keep_firing_since.map(rfc3339_nano),
        value: gofmt::e(a.value),
    }
}

/// A rule's alerts that are pending or firing (resolved ones are kept but not shown).
fn active(r: &crate::eval::AlertingRule) -> Vec<&Alert> {
    let mut v: Vec<&Alert> = r
        .active
        .values()
        .filter(|a| a.state != AlertState::Inactive)
        .collect();
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

fn rule_json(rule: &Rule, status: &RuleStatus) -> RuleJson {
    let health = status.health.as_str();
    let last_evaluation = wall(status.last_evaluation);
    let evaluation_time = status.evaluation_time.as_secs_f64();
    match rule {
        Rule::Alerting(a) => RuleJson::Alerting(AlertingRuleJson {
            state: a.state().as_str(),
            name: a.name.clone(),
            query: a.expr.clone(),
            duration: a.hold.as_secs_f64(),
            keep_firing_for: a.keep_firing_for.as_secs_f64(),
            labels: map(&a.labels),
            annotations: map(&a.annotations),
            alerts: active(a).into_iter().map(alert_json).collect(),
            health,
            last_error: status.last_error.clone(),
            evaluation_time,
            last_evaluation,
            kind: "alerting",
        }),
        Rule::Recording(r) => RuleJson::Recording(RecordingRuleJson {
            name: r.record.clone(),
            query: r.expr.clone(),
            labels: map(&r.labels),
            health,
            last_error: status.last_error.clone(),
            evaluation_time,
            last_evaluation,
            kind: "recording",
        }),
    }
}

impl RuleDiscovery {
    pub fn new(groups: &[Group], filter: RuleType, reload_error: Option<String>) -> Self {
        let groups = groups
            .iter()
            .map(|g| RuleGroup {
                name: g.key.name.clone(),
                file: g.key.file.clone(),
                rules: g
                    .rules
                    .iter()
                    .filter(|(r, _)| {
                        matches!(
                            (filter, r),
                            (RuleType::Any, _)
                                | (RuleType::Alert, Rule::Alerting(_))
                                | (RuleType::Record, Rule::Recording(_))
                        )
                    })
                    .map(|(r, s)| rule_json(r, s))
                    .collect(),
                interval: g.interval.as_secs_f64(),
                limit: g.limit,
                evaluation_time: g.evaluation_time.as_secs_f64(),
                last_evaluation: wall(g.last_evaluation),
                language: (g.language == crate::rules::load::Language::LogQL).then_some("logql"),
            })
            .collect();
        RuleDiscovery {
            groups,
            reload_error,
        }
    }
}

impl AlertDiscovery {
    pub fn new(groups: &[Group]) -> Self {
        let mut alerts = Vec::new();
        for g in groups {
            for (r, _) in &g.rules {
                if let Rule::Alerting(a) = r {
                    alerts.extend(active(a).into_iter().map(alert_json));
                }
            }
        }
        AlertDiscovery { alerts }
    }
}

/// One delivery of the built-in notifier.
pub fn history_json(e: &crate::notify::HistoryEntry) -> serde_json::Value {
    serde_json::json!({
        "time": rfc3339_nano(e.at),
        "groupKey": e.group_key,
        "receiver": e.receiver,
        "integration": e.integration,
        "outcome": e.outcome,
        "firing": e.firing,
        "resolved": e.resolved,
        "attempts": e.attempts,
        "error": e.error,
        "alerts": e.alerts.iter().map(|(labels, resolved)| serde_json::json!({
            "labels": labels,
            "status": if *resolved { "resolved" } else { "firing" },
        })).collect::<Vec<_>>(),
    })
}

/// An alert's transition (fired or resolved).
pub fn transition_json(t: &crate::history::Transition) -> serde_json::Value {
    serde_json::json!({
        "time": rfc3339_nano(t.at),
        "event": t.event,
        "group": t.group,
        "rule": t.rule,
        "labels": map(t.labels.pairs()),
        "annotations": map(&t.annotations),
        "value": gofmt::e(t.value),
    })
}
