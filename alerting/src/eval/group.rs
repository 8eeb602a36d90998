//! A rule group: its rules evaluated strictly in order at one timestamp, each rule's
//! output written (a later rule sees it), staleness markers for series a rule no
//! longer returns, and the alerts that are due to be sent (Prometheus' `Group.Eval`
//! and `sendAlerts`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use osprey_promql::Labels;

use super::{AlertState, AlertingRule, Backend, OutSample, RecordingRule};
use crate::rules::file::GroupSpec;
use crate::rules::load::{Language, LoadedGroup};
use crate::template::{self, Context};

/// Which group: its tenant, file and name (Prometheus keys groups by file and name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub tenant: String,
    pub file: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.record,
            Rule::Alerting(a) => &a.name,
        }
    }

    pub fn expr(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.expr,
            Rule::Alerting(a) => &a.expr,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// How a rule's last evaluation went.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    pub last_evaluation: Option<SystemTime>,
    pub evaluation_time: Duration,
}

impl Default for RuleStatus {
    fn default() -> Self {
        Self {
            health: Health::Unknown,
            last_error: None,
            last_evaluation: None,
            evaluation_time: Duration::ZERO,
        }
    }
}

/// An alert on its way to the notifier and the external Alertmanagers, as Prometheus
/// sends it (external labels are added by the sender). Times are Unix ns.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub starts_at: i64,
    pub ends_at: i64,
    /// The path part (`/graph?g0.expr=…&g0.tab=1`); the sender puts the external URL first.
    pub generator_path: String,
}

/// A group as it runs.
#[derive(Debug, Clone)]
pub struct Group {
    pub key: GroupKey,
    pub interval: Duration,
    pub limit: usize,
    pub query_offset: Duration,
    pub rules: Vec<(Rule, RuleStatus)>,
    /// PromQL, or LogQL for Loki-ruler files.
    pub language: Language,
    /// What was loaded, to tell an unchanged group on reload.
    pub spec: GroupSpec,
    /// Per rule: the series it wrote last time (for staleness markers).
    previous: Vec<HashSet<Labels>>,
    pub last_evaluation: Option<SystemTime>,
    pub evaluation_time: Duration,
    pub evaluations: u64,
}

/// The group's place within its interval: Prometheus hashes `{file, name}` with xxhash64
/// (its `labels.Hash`), so groups spread over the interval and two servers with the
/// same files evaluate at the same instants.
pub fn slot_offset(file: &str, name: &str, interval: Duration) -> Duration {
    let mut b = Vec::with_capacity(file.len() + name.len() + 12);
    for (k, v) in [("file", file), ("name", name)] {
        b.extend_from_slice(k.as_bytes());
        b.push(0xff);
        b.extend_from_slice(v.as_bytes());
        b.push(0xff);
    }
    let h = twox_hash::XxHash64::oneshot(0, &b);
    let ns = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(h % ns)
}

/// The expression as Prometheus prints it (rules API, generator URLs): promql-parser's
/// printing, with number literals in Go's format; LogQL as written.
fn printed(language: Language, expr: &str) -> String {
    if language == Language::LogQL {
        return expr.trim().to_string();
    }
    osprey_promql::parse(expr).map_or_else(
        |_| expr.to_string(),
        |e| crate::template::gofmt::promql_numbers(&e.to_string()),
    )
}

impl Group {
    /// A group from what was loaded, with the defaults of `[rules]`.
    pub fn new(
        tenant: &str,
        g: &LoadedGroup,
        default_interval: Duration,
        default_offset: Duration,
    ) -> Self {
        let spec = &g.spec;
        let group_labels: Vec<(String, String)> = spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let with_group = |own: &std::collections::BTreeMap<String, crate::rules::file::Scalar>| {
            let mut l = group_labels.clone();
            for (k, v) in own {
                l.retain(|(x, _)| x != k);
                l.push((k.clone(), v.to_string()));
            }
            l
        };
        let rules = spec
            .rules
            .iter()
            .map(|r| {
                let expr = printed(g.language, r.expr.as_str());
                let rule = match (&r.record, &r.alert) {
                    (Some(record), _) => Rule::Recording(RecordingRule {
                        record: record.clone(),
                        expr,
                        labels: with_group(&r.labels),
                    }),
                    (None, alert) => Rule::Alerting(AlertingRule {
                        name: alert.clone().unwrap_or_default(),
                        expr,
                        hold: r.for_.unwrap_or_default(),
                        keep_firing_for: r.keep_firing_for.unwrap_or_default(),
                        labels: with_group(&r.labels),
                        annotations: r
                            .annotations
                            .iter()
                            .map(|(k, v)| (k.clone(), v.to_string()))
                            .collect(),
                        active: Default::default(),
                        restored: false,
                    }),
                };
                (rule, RuleStatus::default())
            })
            .collect::<Vec<_>>();
        Group {
            key: GroupKey {
                tenant: tenant.to_string(),
                file: g.file.clone(),
                name: spec.name.clone(),
            },
            interval: spec.interval.unwrap_or(default_interval),
            limit: spec.limit,
            query_offset: spec.query_offset.unwrap_or(default_offset),
            previous: vec![HashSet::new(); rules.len()],
            rules,
            language: g.language,
            spec: spec.clone(),
            last_evaluation: None,
            evaluation_time: Duration::ZERO,
            evaluations: 0,
        }
    }

    /// Takes over the state of the group it replaces on reload: alerts and written
    /// series of rules with the same name and labels (Prometheus' `CopyState`).
    pub fn take_state(&mut self, old: &Group) {
        let mut used = vec![false; old.rules.len()];
        for (i, (rule, status)) in self.rules.iter_mut().enumerate() {
            let found = old.rules.iter().enumerate().position(|(j, (o, _))| {
                !used[j] && o.name() == rule.name() && same_labels(o, rule)
            });
            let Some(j) = found else { continue };
            used[j] = true;
            *status = old.rules[j].1.clone();
            self.previous[i] = old.previous[j].clone();
            if let (Rule::Alerting(new), Rule::Alerting(o)) = (rule, &old.rules[j].0) {
                new.active = o.active.clone();
                new.restored = o.restored;
            }
        }
        self.evaluations = old.evaluations;
    }

    /// Every series the group's rules wrote last (to mark stale when it goes away).
    pub fn written_series(&self) -> Vec<Labels> {
        self.previous.iter().flatten().cloned().collect()
    }

    /// One evaluation at `ts` (Unix ns, the group's slot): returns the alerts to send.
    pub async fn eval(
        &mut self,
        backend: &Backend,
        tmpl: &Context,
        ts: i64,
        resend_delay: Duration,
    ) -> Vec<Outgoing> {
        let started = Instant::now();
        self.last_evaluation = Some(SystemTime::now());
        let query_ts = ts - self.query_offset.as_nanos() as i64;
        let mut outgoing = Vec::new();
        for i in 0..self.rules.len() {
            let rule_started = Instant::now();
            let wall = SystemTime::now();
            let result = self.eval_rule(i, backend, tmpl, ts, query_ts).await;
            self.rules[i].1.last_evaluation = Some(wall);
            match result {
                Ok(out) => {
                    let status = &mut self.rules[i].1;
                    status.health = Health::Ok;
                    status.last_error = None;
                    if let Rule::Alerting(a) = &mut self.rules[i].0 {
                        outgoing.extend(send_due(a, ts, self.interval, resend_delay));
                    }
                    let seen: HashSet<Labels> = out.iter().map(|s| s.labels.clone()).collect();
                    let stale: Vec<Labels> = self.previous[i].difference(&seen).cloned().collect();
                    match backend
                        .write(&self.key.tenant, query_ts, &out, &stale)
                        .await
                    {
                        Ok(()) => {
                            osprey_storage::faults::crash_point("rules.after_write");
                            self.previous[i] = seen
                        }
                        Err(e) => {
                            let status = &mut self.rules[i].1;
                            status.health = Health::Err;
                            status.last_error = Some(e);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        tenant = %self.key.tenant, group = %self.key.name, rule = %self.rules[i].0.name(),
                        error = %e, "evaluating rule failed"
                    );
                    let status = &mut self.rules[i].1;
                    status.health = Health::Err;
                    status.last_error = Some(e);
                }
            }
            self.rules[i].1.evaluation_time = rule_started.elapsed();
        }
        self.evaluations += 1;
        self.evaluation_time = started.elapsed();
        outgoing
    }

    async fn eval_rule(
        &mut self,
        i: usize,
        backend: &Backend,
        tmpl: &Context,
        ts: i64,
        query_ts: i64,
    ) -> Result<Vec<OutSample>, String> {
        let tenant = self.key.tenant.clone();
        let (limit, language) = (self.limit, self.language);
        let result = backend
            .instant(&tenant, self.language, self.rules[i].0.expr(), query_ts)
            .await?;
        match &mut self.rules[i].0 {
            Rule::Recording(r) => r.eval(result, limit),
            Rule::Alerting(a) if uses_query(a) => {
                // `query` in a template runs a query while the template executes: on a
                // blocking thread, which may wait for the runtime.
                let mut ctx = tmpl.clone();
                let (b, t) = (backend.clone(), tenant.clone());
                let handle = tokio::runtime::Handle::current();
                ctx.query = Some(Arc::new(move |q: &str| {
                    handle.block_on(b.instant(&t, language, q, query_ts))
                }));
                let mut rule = a.clone();
                let (rule, out) = tokio::task::spawn_blocking(move || {
                    let out = rule.eval(ts, result, &ctx, limit);
                    (rule, out)
                })
                .await
                .map_err(|e| e.to_string())?;
                *a = rule;
                out
            }
            Rule::Alerting(a) => a.eval(ts, result, tmpl, limit),
        }
    }
}

fn same_labels(a: &Rule, b: &Rule) -> bool {
    let labels = |r: &Rule| match r {
        Rule::Recording(x) => x.labels.clone(),
        Rule::Alerting(x) => x.labels.clone(),
    };
    let (mut x, mut y) = (labels(a), labels(b));
    x.sort();
    y.sort();
    x == y
}

fn uses_query(a: &AlertingRule) -> bool {
    a.labels
        .iter()
        .chain(&a.annotations)
        .any(|(_, v)| v.contains("query"))
}

/// The alerts of `a` due at `ts`, marked as sent (Prometheus' `sendAlerts`): `endsAt` is
/// the resolution time, or `ts + 4 × max(interval, resend_delay)` while firing.
fn send_due(
    a: &mut AlertingRule,
    ts: i64,
    interval: Duration,
    resend_delay: Duration,
) -> Vec<Outgoing> {
    let delta = interval.max(resend_delay).as_nanos() as i64;
    let generator_path = format!(
        "/graph?g0.expr={}&g0.tab=1",
        template::query_escape(&a.expr)
    );
    let mut out = Vec::new();
    for alert in a.active.values_mut() {
        if !alert.needs_sending(ts, resend_delay) {
            continue;
        }
        alert.last_sent_at = Some(ts);
        alert.valid_until = Some(ts + 4 * delta);
        if alert.state == AlertState::Pending {
            continue;
        }
        out.push(Outgoing {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: alert.fired_at.unwrap_or(alert.active_at),
            ends_at: alert.resolved_at.unwrap_or(ts + 4 * delta),
            generator_path: generator_path.clone(),
        });
    }
    out
}
