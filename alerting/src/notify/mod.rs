//! The built-in notifier: Alertmanager 0.25's behaviour for the alerts Osprey's rules
//! raise, configured by an unchanged `alertmanager.yml` (`config.rs`). Routing and
//! group keys (`route.rs`, `matcher.rs`), aggregation groups, timers and the
//! notification log (`dispatch.rs`), inhibition (`inhibit.rs`), the webhook
//! integration (`webhook.rs`), fingerprints and merging (`alert.rs`). Every tenant has
//! its own alerts, groups and log under the same configuration.
//!
//! One task (`run`) flushes due groups; each flush runs on its own task so a slow
//! receiver holds back only its group.

pub mod alert;
pub mod chat;
pub mod config;
pub mod dispatch;
pub mod inhibit;
pub mod matcher;
pub mod route;
pub mod silence;
pub mod webhook;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::{Notify, watch};

use alert::NotifyAlert;
use config::{AlertmanagerConfig, HttpConfig, PagerDutyConfig, SlackConfig, WebhookConfig};
use dispatch::{LogEntry, TenantState, needs_update};
use inhibit::InhibitRule;
use route::Route;
use silence::{Silence, Silences};

/// The document each tenant's silences are saved in.
const SILENCES_DOC: &str = "silences.json";
/// The document each tenant's notification log is saved in: what was notified, so a
/// restart does not page again.
const NFLOG_DOC: &str = "nflog.json";
/// How long a notification log entry is kept (Alertmanager's data retention).
const NFLOG_RETENTION_NS: i64 = 120 * 3600 * 1_000_000_000;

/// The notification log as saved: (group key, receiver, integration, entry).
type SavedLog = Vec<(String, String, usize, LogEntry)>;

/// Alertmanager's `resolve_timeout` default.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(300);
/// Entries of the notification history kept (oldest dropped).
const HISTORY: usize = 10_000;

/// One way of notifying of a receiver.
#[derive(Debug, Clone)]
pub enum Integration {
    Webhook(WebhookConfig),
    Slack {
        cfg: SlackConfig,
        url: String,
    },
    PagerDuty {
        cfg: PagerDutyConfig,
        url: String,
        routing_key: String,
    },
}

impl Integration {
    pub fn name(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack { .. } => "slack",
            Integration::PagerDuty { .. } => "pagerduty",
        }
    }

    /// Alertmanager's defaults: webhooks and PagerDuty send resolved, Slack not.
    fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(w) => w.send_resolved.unwrap_or(true),
            Integration::Slack { cfg, .. } => cfg.send_resolved.unwrap_or(false),
            Integration::PagerDuty { cfg, .. } => cfg.send_resolved.unwrap_or(true),
        }
    }

    fn url(&self) -> &str {
        match self {
            Integration::Webhook(w) => &w.url,
            Integration::Slack { url, .. } | Integration::PagerDuty { url, .. } => url,
        }
    }

    fn http(&self) -> Option<&HttpConfig> {
        match self {
            Integration::Webhook(w) => w.http_config.as_ref(),
            Integration::Slack { cfg, .. } => cfg.http_config.as_ref(),
            Integration::PagerDuty { cfg, .. } => cfg.http_config.as_ref(),
        }
    }
}

/// PagerDuty's Events API v2 (Alertmanager's default `pagerduty_url`).
const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn file_or(inline: &Option<String>, file: &Option<String>) -> Result<Option<String>, String> {
    match (inline, file) {
        (Some(v), _) if !v.is_empty() => Ok(Some(v.clone())),
        (_, Some(f)) => std::fs::read_to_string(f)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("{f}: {e}")),
        _ => Ok(None),
    }
}

/// Refuses a field written as a template (custom templates are not supported yet).
fn plain(receiver: &str, field: &str, v: &Option<String>) -> Result<(), String> {
    match v {
        Some(t) if t.contains("{{") => Err(format!(
            "receiver {receiver:?}: {field}: custom notification templates are not supported by Osprey yet (leave it out for Alertmanager's default, or write plain text)"
        )),
        _ => Ok(()),
    }
}

fn slack_integration(
    receiver: &str,
    c: &SlackConfig,
    global: &config::Global,
) -> Result<Integration, String> {
    let url = file_or(&c.api_url, &c.api_url_file)?
        .or_else(|| global.slack_api_url.clone())
        .ok_or("no global Slack API URL set either inline or in a file")?;
    for (f, v) in [
        ("title", &c.title),
        ("title_link", &c.title_link),
        ("text", &c.text),
        ("pretext", &c.pretext),
        ("fallback", &c.fallback),
        ("color", &c.color),
        ("channel", &c.channel),
        ("username", &c.username),
        ("footer", &c.footer),
    ] {
        plain(receiver, f, v)?;
    }
    if !c.fields.is_empty() || !c.actions.is_empty() {
        return Err(format!(
            "receiver {receiver:?}: Slack fields and actions are not supported by Osprey yet"
        ));
    }
    Ok(Integration::Slack {
        cfg: c.clone(),
        url,
    })
}

fn pagerduty_integration(
    receiver: &str,
    c: &PagerDutyConfig,
    global: &config::Global,
) -> Result<Integration, String> {
    if c.service_key.is_some() || c.service_key_file.is_some() {
        return Err(format!(
            "receiver {receiver:?}: PagerDuty's Events API v1 (service_key) is not supported by Osprey; use routing_key"
        ));
    }
    let routing_key = file_or(&c.routing_key, &c.routing_key_file)?
        .ok_or("missing service or routing key in PagerDuty config")?;
    for (f, v) in [
        ("description", &c.description),
        ("client_url", &c.client_url),
        ("severity", &c.severity),
    ] {
        plain(receiver, f, v)?;
    }
    if c.details.values().any(|v| v.contains("{{")) {
        return Err(format!(
            "receiver {receiver:?}: details: custom notification templates are not supported by Osprey yet"
        ));
    }
    if !c.images.is_empty() || !c.links.is_empty() {
        return Err(format!(
            "receiver {receiver:?}: PagerDuty images and links are not supported by Osprey yet"
        ));
    }
    let url = c
        .url
        .clone()
        .or_else(|| global.pagerduty_url.clone())
        .unwrap_or_else(|| PAGERDUTY_URL.to_string());
    Ok(Integration::PagerDuty {
        cfg: c.clone(),
        url,
        routing_key,
    })
}

/// A configuration ready to run.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The file as written (`/api/v2/status` shows it; amtool reads routes from it).
    pub text: String,
    /// Receiver names in the file's order.
    pub receiver_order: Vec<String>,
    pub root: Route,
    pub receivers: HashMap<String, Vec<Integration>>,
    pub http: Option<HttpConfig>,
    pub inhibit: Vec<InhibitRule>,
    pub resolve_timeout: Duration,
}

/// Reads and checks an `alertmanager.yml`, with Alertmanager's messages where it has
/// them; what Osprey does not deliver yet is refused by name.
pub fn load(path: &Path) -> Result<Compiled, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    compile(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn compile(text: &str) -> Result<Compiled, String> {
    let cfg: AlertmanagerConfig = config::parse(text)?;
    let Some(route_cfg) = &cfg.route else {
        return Err("no routes provided".into());
    };
    if route_cfg.receiver.as_deref().unwrap_or("").is_empty() {
        return Err("root route must specify a default receiver".into());
    }
    if !(route_cfg.match_.is_empty()
        && route_cfg.match_re.is_empty()
        && route_cfg.matchers.is_empty())
    {
        return Err("root route must not have any matchers".into());
    }
    if route_cfg.continue_ {
        return Err("cannot have continue in root route".into());
    }
    if !cfg.templates.is_empty() {
        return Err("templates: notification templates are not supported by Osprey yet".into());
    }
    if !cfg.time_intervals.is_empty() || !cfg.mute_time_intervals.is_empty() {
        return Err("time_intervals: time intervals are not supported by Osprey yet".into());
    }
    let root = Route::build(route_cfg, None, 0)?;
    let mut receivers = HashMap::new();
    let receiver_order = cfg.receivers.iter().map(|r| r.name.clone()).collect();
    for r in &cfg.receivers {
        if r.name.is_empty() {
            return Err("missing name in receiver".into());
        }
        if receivers.contains_key(&r.name) {
            return Err(format!(
                "notification config name {:?} is not unique",
                r.name
            ));
        }
        if let Some(kind) = r.unsupported().first() {
            return Err(format!(
                "receiver {:?}: {kind} are not supported by Osprey yet (webhook, slack and pagerduty configs are)",
                r.name
            ));
        }
        let mut integrations = Vec::new();
        for w in &r.webhook_configs {
            if w.url.is_empty() {
                return Err("missing URL in webhook config".into());
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err("scheme required for webhook url".into());
            }
            integrations.push(Integration::Webhook(w.clone()));
        }
        for c in &r.slack_configs {
            integrations.push(slack_integration(&r.name, c, &cfg.global)?);
        }
        for c in &r.pagerduty_configs {
            integrations.push(pagerduty_integration(&r.name, c, &cfg.global)?);
        }
        receivers.insert(r.name.clone(), integrations);
    }
    for name in root.receivers() {
        if !receivers.contains_key(name) {
            return Err(format!("undefined receiver {name:?} used in route"));
        }
    }
    let inhibit = cfg
        .inhibit_rules
        .iter()
        .map(InhibitRule::build)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Compiled {
        text: text.to_string(),
        receiver_order,
        root,
        receivers,
        http: cfg.global.http_config.clone(),
        inhibit,
        resolve_timeout: cfg.global.resolve_timeout.unwrap_or(RESOLVE_TIMEOUT),
    })
}

/// One notification attempt's outcome, for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: i64,
    pub tenant: String,
    pub group_key: String,
    pub receiver: String,
    pub integration: String,
    /// `notified` or `failed`.
    pub outcome: &'static str,
    pub firing: usize,
    pub resolved: usize,
    pub attempts: u32,
    pub error: Option<String>,
}

/// An aggregation group as the API shows it: group labels, receiver, alerts.
pub type GroupView = (
    std::collections::BTreeMap<String, String>,
    String,
    Vec<AlertView>,
);

/// An alert with what the API shows about it.
#[derive(Debug, Clone)]
pub struct AlertView {
    pub alert: NotifyAlert,
    pub receivers: Vec<String>,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
}

struct Inner {
    config: Compiled,
    /// Where silences are kept (none in unit tests).
    storage: Option<osprey_storage::Storage>,
    started_at: i64,
    external_url: String,
    client: webhook::HttpClient,
    tenants: Mutex<HashMap<String, TenantState>>,
    wake: Notify,
    history: Mutex<VecDeque<HistoryEntry>>,
    metrics: crate::AlertingMetrics,
    /// Saves of the notification log, one at a time.
    save_order: tokio::sync::Mutex<()>,
}

/// Handle to the notifier; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Notifier {
    /// A notifier; with `storage`, each tenant's silences are loaded from and saved to
    /// its documents. Blocking (it reads the saved silences).
    pub fn new(
        config: Compiled,
        external_url: String,
        storage: Option<osprey_storage::Storage>,
        metrics: crate::AlertingMetrics,
    ) -> Self {
        let mut tenants: HashMap<String, TenantState> = HashMap::new();
        if let Some(st) = &storage {
            for t in st.document_tenants(SILENCES_DOC).unwrap_or_default() {
                match st.get_document(&t, SILENCES_DOC) {
                    Ok(Some(b)) => match serde_json::from_slice::<Silences>(&b) {
                        Ok(s) => tenants.entry(t).or_default().silences = s,
                        Err(e) => {
                            tracing::error!(tenant = %t, error = %e, "silences document unreadable; starting without them")
                        }
                    },
                    Ok(None) => {}
                    Err(e) => tracing::error!(tenant = %t, error = %e, "cannot read silences"),
                }
            }
            for t in st.document_tenants(NFLOG_DOC).unwrap_or_default() {
                if let Ok(Some(b)) = st.get_document(&t, NFLOG_DOC) {
                    match serde_json::from_slice::<SavedLog>(&b) {
                        Ok(log) => {
                            tenants.entry(t).or_default().log =
                                log.into_iter().map(|(g, r, i, e)| ((g, r, i), e)).collect();
                        }
                        Err(e) => {
                            tracing::error!(tenant = %t, error = %e, "notification log unreadable; starting without it")
                        }
                    }
                }
            }
        }
        Notifier {
            inner: Arc::new(Inner {
                config,
                storage,
                started_at: now_ns(),
                external_url,
                client: webhook::client(),
                tenants: Mutex::new(tenants),
                wake: Notify::new(),
                history: Mutex::new(VecDeque::new()),
                metrics,
                save_order: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Takes in alerts of `tenant` (an alert without an end ends `resolve_timeout`
    /// after now, as Alertmanager sets it).
    pub fn put(&self, tenant: &str, mut alerts: Vec<NotifyAlert>) {
        if alerts.is_empty() {
            return;
        }
        let now = now_ns();
        let timeout = self.inner.config.resolve_timeout.as_nanos() as i64;
        for a in &mut alerts {
            a.updated_at = now;
            if a.ends_at.is_none() {
                a.ends_at = Some(now + timeout);
            }
        }
        if let Ok(mut t) = self.inner.tenants.lock() {
            t.entry(tenant.to_string())
                .or_default()
                .put(&self.inner.config.root, alerts, now);
        }
        self.inner.wake.notify_one();
    }

    pub fn history(&self, tenant: &str, start: i64, end: i64) -> Vec<HistoryEntry> {
        self.inner
            .history
            .lock()
            .map(|h| {
                h.iter()
                    .filter(|e| e.tenant == tenant && e.at >= start && e.at <= end)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn config_text(&self) -> &str {
        &self.inner.config.text
    }

    pub fn started_at(&self) -> i64 {
        self.inner.started_at
    }

    pub fn receiver_names(&self) -> Vec<String> {
        self.inner.config.receiver_order.clone()
    }

    fn view(&self, state: &TenantState, a: &NotifyAlert, now: i64) -> AlertView {
        let mut receivers: Vec<String> = self
            .inner
            .config
            .root
            .matching(&a.labels)
            .into_iter()
            .map(|r| r.receiver.clone())
            .collect();
        receivers.dedup();
        AlertView {
            alert: a.clone(),
            receivers,
            silenced_by: state.silences.muting(&a.labels, now),
            inhibited_by: self
                .inner
                .config
                .inhibit
                .iter()
                .filter_map(|r| r.inhibitor(a, state.alerts.values(), now))
                .map(|s| format!("{:016x}", s.fingerprint()))
                .collect(),
        }
    }

    /// `f` over `tenant`'s state (nothing for a tenant without one).
    fn with_state<T: Default>(&self, tenant: &str, f: impl FnOnce(&TenantState) -> T) -> T {
        match self.inner.tenants.lock() {
            Ok(t) => t.get(tenant).map(f).unwrap_or_default(),
            Err(_) => T::default(),
        }
    }

    /// `tenant`'s alerts that have not ended.
    pub fn alerts(&self, tenant: &str) -> Vec<AlertView> {
        let now = now_ns();
        self.with_state(tenant, |state| {
            state
                .alerts
                .values()
                .filter(|a| !a.resolved_at(now))
                .map(|a| self.view(state, a, now))
                .collect()
        })
    }

    /// `tenant`'s aggregation groups: their labels, receiver and alerts not ended.
    pub fn alert_groups(&self, tenant: &str) -> Vec<GroupView> {
        let now = now_ns();
        self.with_state(tenant, |state| {
            state
                .groups
                .values()
                .map(|g| {
                    let views = g
                        .alerts
                        .values()
                        .filter(|a| !a.resolved_at(now))
                        .map(|a| self.view(state, a, now))
                        .collect();
                    (g.group_labels.clone(), g.receiver.clone(), views)
                })
                .collect()
        })
    }

    pub fn silences(&self, tenant: &str) -> Vec<Silence> {
        self.with_state(tenant, |s| s.silences.0.clone())
    }

    /// Creates or updates a silence of `tenant`, saved before it answers.
    pub async fn set_silence(&self, tenant: &str, s: Silence) -> Result<String, String> {
        let now = now_ns();
        let (id, snapshot) = {
            let mut t = self.inner.tenants.lock().map_err(|e| e.to_string())?;
            let state = t.entry(tenant.to_string()).or_default();
            let id = state.silences.set(s, now)?;
            (id, state.silences.clone())
        };
        self.save_silences(tenant, snapshot).await?;
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Expires a silence of `tenant`, saved before it answers.
    pub async fn expire_silence(&self, tenant: &str, id: &str) -> Result<(), String> {
        let snapshot = {
            let mut t = self.inner.tenants.lock().map_err(|e| e.to_string())?;
            let state = t.entry(tenant.to_string()).or_default();
            state.silences.expire(id, now_ns())?;
            state.silences.clone()
        };
        self.save_silences(tenant, snapshot).await
    }

    /// Saves the tenant's notification log as it is now (saves are taken in turn, so
    /// the last one written holds everything recorded before it).
    async fn save_log(&self, tenant: &str) {
        let Some(st) = self.inner.storage.clone() else {
            return;
        };
        let _order = self.inner.save_order.lock().await;
        let log: SavedLog = match self.inner.tenants.lock() {
            Ok(t) => t
                .get(tenant)
                .map(|s| {
                    s.log
                        .iter()
                        .map(|((g, r, i), e)| (g.clone(), r.clone(), *i, e.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => return,
        };
        let Ok(bytes) = serde_json::to_vec(&log) else {
            return;
        };
        let t = tenant.to_string();
        let r = tokio::task::spawn_blocking(move || st.put_document(&t, NFLOG_DOC, bytes)).await;
        if !matches!(r, Ok(Ok(()))) {
            tracing::warn!(%tenant, "cannot save the notification log; a restart now may notify again");
        }
    }

    async fn save_silences(&self, tenant: &str, s: Silences) -> Result<(), String> {
        let Some(st) = self.inner.storage.clone() else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&s).map_err(|e| e.to_string())?;
        let tenant = tenant.to_string();
        tokio::task::spawn_blocking(move || st.put_document(&tenant, SILENCES_DOC, bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Flushes due groups until `stopped`.
    pub async fn run(self, mut stopped: watch::Receiver<bool>) {
        loop {
            let now = now_ns();
            let mut next = now + 1_000_000_000;
            let mut due = Vec::new();
            let mut expired_silences = Vec::new();
            if let Ok(mut tenants) = self.inner.tenants.lock() {
                for (tenant, state) in tenants.iter_mut() {
                    state.collect_garbage(now);
                    if state.silences.collect_garbage(now) {
                        expired_silences.push((tenant.clone(), state.silences.clone()));
                    }
                    for k in state.due(now) {
                        due.push((tenant.clone(), k));
                    }
                    for g in state.groups.values() {
                        if !g.in_flight && !g.alerts.is_empty() {
                            next = next.min(g.next_flush);
                        }
                    }
                }
            }
            for (tenant, k) in due {
                tokio::spawn(self.clone().flush(tenant, k, now));
            }
            for (tenant, s) in expired_silences {
                if let Err(e) = self.save_silences(&tenant, s).await {
                    tracing::warn!(%tenant, error = %e, "cannot save silences");
                }
            }
            let wait = Duration::from_nanos((next - now_ns()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.inner.wake.notified() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }

    async fn flush(self, tenant: String, k: (String, u64), now: i64) {
        let cfg = &self.inner.config;
        let snapshot = {
            let Ok(t) = self.inner.tenants.lock() else {
                return;
            };
            let Some(state) = t.get(&tenant) else { return };
            let Some(g) = state.groups.get(&k) else {
                return;
            };
            (state.snapshot(&k, &cfg.inhibit, now), g.clone())
        };
        let (alerts, group) = snapshot;
        let integrations = cfg
            .receivers
            .get(&group.receiver)
            .cloned()
            .unwrap_or_default();
        let deadline = now + group.group_interval_ns.max(10_000_000_000);
        let mut all_ok = true;
        for (i, w) in integrations.iter().enumerate() {
            all_ok &= self
                .notify_one(&tenant, &group, i, w, &alerts, now, deadline)
                .await;
        }
        if let Ok(mut t) = self.inner.tenants.lock()
            && let Some(state) = t.get_mut(&tenant)
        {
            state.flushed(&k, &alerts, all_ok, now);
        }
        self.inner.wake.notify_one();
    }

    /// The JSON body `integration` sends for `alerts`, and how many firing and
    /// resolved alerts it holds.
    fn body(
        &self,
        integration: &Integration,
        group: &dispatch::AggrGroup,
        alerts: &[NotifyAlert],
        now: i64,
    ) -> Option<(Bytes, usize, usize)> {
        let notice = chat::Notice {
            receiver: &group.receiver,
            group_key: &group.key,
            group_labels: &group.group_labels,
            alerts,
            external_url: &self.inner.external_url,
            now,
        };
        let firing = alerts.iter().filter(|a| !a.resolved_at(now)).count();
        let (json, firing, resolved) = match integration {
            Integration::Webhook(w) => {
                let msg = webhook::message(
                    &group.receiver,
                    &group.key,
                    &group.group_labels,
                    alerts,
                    w.max_alerts,
                    &self.inner.external_url,
                    now,
                );
                let f = msg.alerts.iter().filter(|a| a.status == "firing").count();
                let r = msg.alerts.len() - f;
                (serde_json::to_vec(&msg).ok()?, f, r)
            }
            Integration::Slack { cfg, .. } => (
                serde_json::to_vec(&chat::slack(cfg, &notice)).ok()?,
                firing,
                alerts.len() - firing,
            ),
            Integration::PagerDuty {
                cfg, routing_key, ..
            } => (
                serde_json::to_vec(&chat::pagerduty(cfg, routing_key, &notice)).ok()?,
                firing,
                alerts.len() - firing,
            ),
        };
        Some((Bytes::from(json), firing, resolved))
    }

    /// One integration of a flush; whether it succeeded (or had nothing to do).
    #[allow(clippy::too_many_arguments)]
    async fn notify_one(
        &self,
        tenant: &str,
        group: &dispatch::AggrGroup,
        index: usize,
        integration: &Integration,
        alerts: &[NotifyAlert],
        now: i64,
        deadline: i64,
    ) -> bool {
        let send_resolved = integration.send_resolved();
        let firing: HashSet<u64> = alerts
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(NotifyAlert::fingerprint)
            .collect();
        let resolved: HashSet<u64> = alerts
            .iter()
            .filter(|a| a.resolved_at(now))
            .map(NotifyAlert::fingerprint)
            .collect();
        let log_key = (group.key.clone(), group.receiver.clone(), index);
        let entry = self
            .inner
            .tenants
            .lock()
            .ok()
            .and_then(|t| t.get(tenant).and_then(|s| s.log.get(&log_key).cloned()));
        if !needs_update(
            entry.as_ref(),
            &firing,
            &resolved,
            send_resolved,
            group.repeat_interval_ns,
            now,
        ) {
            return true;
        }
        let record = |this: &Self| {
            if let Ok(mut t) = this.inner.tenants.lock() {
                let state = t.entry(tenant.to_string()).or_default();
                state.log.insert(
                    log_key.clone(),
                    LogEntry {
                        at: now,
                        firing: firing.clone(),
                        resolved: resolved.clone(),
                    },
                );
                state.log.retain(|_, e| e.at >= now - NFLOG_RETENTION_NS);
            }
        };
        let to_send: Vec<NotifyAlert> = if send_resolved {
            alerts.to_vec()
        } else {
            alerts
                .iter()
                .filter(|a| !a.resolved_at(now))
                .cloned()
                .collect()
        };
        if to_send.is_empty() {
            record(self);
            self.save_log(tenant).await;
            return true;
        }
        let Some((body, firing_sent, resolved_sent)) = self.body(integration, group, &to_send, now)
        else {
            return false;
        };
        let mut attempts = 0u32;
        let result = loop {
            attempts += 1;
            let http = integration.http().or(self.inner.config.http.as_ref());
            // PagerDuty asks to retry 429 too.
            let also = matches!(integration, Integration::PagerDuty { .. }).then_some(429);
            match webhook::post(
                &self.inner.client,
                integration.url(),
                http,
                body.clone(),
                also,
            )
            .await
            {
                Ok(()) => break Ok(()),
                Err(f) => {
                    let pause = webhook::backoff(attempts, jitter(attempts));
                    if !f.retry || now_ns() + pause.as_nanos() as i64 >= deadline {
                        break Err(f.message);
                    }
                    tracing::warn!(%tenant, receiver = %group.receiver, attempts, error = %f.message, "notify attempt failed, will retry later");
                    tokio::time::sleep(pause).await;
                }
            }
        };
        let ok = result.is_ok();
        if ok {
            record(self);
            self.save_log(tenant).await;
            self.inner.metrics.notifications.inc();
        } else {
            self.inner.metrics.notifications_failed.inc();
            tracing::error!(%tenant, receiver = %group.receiver, attempts, error = ?result, "notify for alerts failed");
        }
        if let Ok(mut h) = self.inner.history.lock() {
            if h.len() >= HISTORY {
                h.pop_front();
            }
            h.push_back(HistoryEntry {
                at: now_ns(),
                tenant: tenant.to_string(),
                group_key: group.key.clone(),
                receiver: group.receiver.clone(),
                integration: format!("{}[{index}]", integration.name()),
                outcome: if ok { "notified" } else { "failed" },
                firing: firing_sent,
                resolved: resolved_sent,
                attempts,
                error: result.err(),
            });
        }
        ok
    }
}

/// A jitter in [0, 1) from the clock (no random source needed for spreading retries).
fn jitter(n: u32) -> f64 {
    let ns = now_ns() as u64 ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (ns % 1000) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_with_alertmanagers_words() {
        let ok = compile("route:\n  receiver: hook\nreceivers:\n  - name: hook\n    webhook_configs: [{url: 'http://127.0.0.1:1/'}]\n").unwrap();
        assert_eq!(ok.resolve_timeout, RESOLVE_TIMEOUT);
        for (text, want) in [
            ("receivers: []\n", "no routes provided"),
            ("route: {}\n", "root route must specify a default receiver"),
            (
                "route: {receiver: x}\nreceivers: []\n",
                "undefined receiver \"x\" used in route",
            ),
            (
                "route: {receiver: x, matchers: [a=b]}\nreceivers: [{name: x}]\n",
                "root route must not have any matchers",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, webhook_configs: [{url: ''}]}]\n",
                "missing URL in webhook config",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, slack_configs: [{channel: '#a'}]}]\n",
                "no global Slack API URL set",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, slack_configs: [{api_url: 'http://s', title: '{{ .Status }}'}]}]\n",
                "custom notification templates are not supported",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, pagerduty_configs: [{}]}]\n",
                "missing service or routing key in PagerDuty config",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, email_configs: [{to: a@b}]}]\n",
                "email_configs are not supported",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x}, {name: x}]\n",
                "is not unique",
            ),
            (
                "route: {receiver: x, group_interval: 0s}\nreceivers: [{name: x}]\n",
                "group_interval cannot be zero",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x}]\nbogus: 1\n",
                "bogus",
            ),
        ] {
            let e = compile(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
