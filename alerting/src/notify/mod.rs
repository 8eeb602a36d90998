//! The built-in notifier: Alertmanager 0.25's behaviour for the alerts Osprey's rules
//! raise, configured by an unchanged `alertmanager.yml` (`config.rs`). Routing and
//! group keys (`route.rs`, `matcher.rs`), aggregation groups, timers and the
//! notification log (`dispatch.rs`), inhibition (`inhibit.rs`), silences
//! (`silence.rs`), the configuration checked and compiled (`compile.rs`), delivery of a
//! flush (`deliver.rs`) through the webhook (`webhook.rs`), Slack and PagerDuty
//! (`chat.rs`) integrations, fingerprints and merging (`alert.rs`), the mute and active
//! time intervals of routes (`timeinterval.rs`), `http_config`'s TLS settings (`tls.rs`). Every tenant has its own alerts,
//! groups, silences and log under the same configuration.
//!
//! One task (`run`) flushes due groups; each flush runs on its own task so a slow
//! receiver holds back only its group.

pub mod alert;
pub mod chat;
mod compile;
pub mod config;
mod deliver;
pub mod dispatch;
pub mod inhibit;
pub mod matcher;
pub mod route;
pub mod silence;
pub mod timeinterval;
pub mod tls;
pub mod webhook;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use crate::error::AlertingError;

use alert::NotifyAlert;
pub use compile::{Compiled, Integration, compile, load};
use dispatch::{LogEntry, TenantState};
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

/// Entries of the notification history kept (oldest dropped).
const HISTORY: usize = 10_000;

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
    /// The alerts sent (labels, resolved), at most [`HISTORY_ALERTS`] of them.
    pub alerts: Vec<(std::collections::BTreeMap<String, String>, bool)>,
}

/// Alerts one history entry lists (a group may hold thousands).
pub const HISTORY_ALERTS: usize = 100;

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
    /// Swapped whole on reload.
    config: std::sync::RwLock<Arc<Compiled>>,
    /// The alertmanager.yml it reloads from (none in unit tests).
    source: Option<std::path::PathBuf>,
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
    /// Changes of silences, one at a time: each is saved before it applies.
    silence_writes: tokio::sync::Mutex<()>,
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
    /// its documents; with `source`, [`Notifier::reload`] rereads that file. Blocking
    /// (it reads the saved silences).
    pub fn new(
        config: Compiled,
        source: Option<std::path::PathBuf>,
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
                config: std::sync::RwLock::new(Arc::new(config)),
                source,
                storage,
                started_at: now_ns(),
                external_url,
                client: webhook::client(),
                tenants: Mutex::new(tenants),
                wake: Notify::new(),
                history: Mutex::new(VecDeque::new()),
                metrics,
                save_order: tokio::sync::Mutex::new(()),
                silence_writes: tokio::sync::Mutex::new(()),
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
        let config = self.config();
        let timeout = config.resolve_timeout.as_nanos() as i64;
        for a in &mut alerts {
            a.updated_at = now;
            if a.ends_at.is_none() {
                a.ends_at = Some(now + timeout);
            }
        }
        if let Ok(mut t) = self.inner.tenants.lock() {
            t.entry(tenant.to_string())
                .or_default()
                .put(&config.root, alerts, now);
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

    /// The configuration in force.
    pub(crate) fn config(&self) -> Arc<Compiled> {
        match self.inner.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rereads the alertmanager.yml it was started with, as Alertmanager reloads: a file
    /// that does not load keeps the configuration in force; a new one takes over, every
    /// tenant's alerts regrouped under its routes (the notification log stays, so
    /// nothing already notified is sent again before its repeat interval). `Ok(false)`:
    /// no file, or the same text.
    pub fn reload(&self) -> Result<bool, String> {
        let Some(path) = &self.inner.source else {
            return Ok(false);
        };
        let fresh = load(path)?;
        if fresh.text == self.config().text {
            return Ok(false);
        }
        let fresh = Arc::new(fresh);
        match self.inner.config.write() {
            Ok(mut c) => *c = fresh.clone(),
            Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
        }
        let now = now_ns();
        if let Ok(mut tenants) = self.inner.tenants.lock() {
            for state in tenants.values_mut() {
                let alerts: Vec<NotifyAlert> = state.alerts.drain().map(|(_, a)| a).collect();
                state.groups.clear();
                state.put(&fresh.root, alerts, now);
            }
        }
        self.inner.wake.notify_one();
        tracing::info!(file = %path.display(), "notifier configuration reloaded");
        Ok(true)
    }

    pub fn config_text(&self) -> String {
        self.config().text.clone()
    }

    pub fn started_at(&self) -> i64 {
        self.inner.started_at
    }

    pub fn receiver_names(&self) -> Vec<String> {
        self.config().receiver_order.clone()
    }

    fn view(&self, state: &TenantState, a: &NotifyAlert, now: i64) -> AlertView {
        let config = self.config();
        let mut receivers: Vec<String> = config
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
            inhibited_by: config
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

    /// Creates or updates a silence of `tenant`; it applies only once it is saved.
    pub async fn set_silence(&self, tenant: &str, s: Silence) -> Result<String, AlertingError> {
        self.change_silences(tenant, |silences| silences.set(s, now_ns()))
            .await
    }

    /// Expires a silence of `tenant`; it applies only once it is saved.
    pub async fn expire_silence(&self, tenant: &str, id: &str) -> Result<(), AlertingError> {
        self.change_silences(tenant, |silences| silences.expire(id, now_ns()))
            .await
    }

    /// Applies `change` to a copy of `tenant`'s silences, saves the copy, and only
    /// then puts it in place: a change that cannot be saved (a full disk) is refused
    /// and leaves the silences as they were.
    async fn change_silences<T>(
        &self,
        tenant: &str,
        change: impl FnOnce(&mut Silences) -> Result<T, AlertingError>,
    ) -> Result<T, AlertingError> {
        let _one_at_a_time = self.inner.silence_writes.lock().await;
        let poisoned = || AlertingError::Invalid("notifier state lock poisoned".into());
        let mut next = {
            let t = self.inner.tenants.lock().map_err(|_| poisoned())?;
            t.get(tenant)
                .map(|s| s.silences.clone())
                .unwrap_or_default()
        };
        let out = change(&mut next)?;
        self.save_silences(tenant, next.clone()).await?;
        {
            let mut t = self.inner.tenants.lock().map_err(|_| poisoned())?;
            t.entry(tenant.to_string()).or_default().silences = next;
        }
        self.inner.wake.notify_one();
        Ok(out)
    }

    async fn save_silences(&self, tenant: &str, s: Silences) -> Result<(), AlertingError> {
        let Some(st) = self.inner.storage.clone() else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&s)
            .map_err(|e| AlertingError::Invalid(format!("silences not serializable: {e}")))?;
        let tenant = tenant.to_string();
        tokio::task::spawn_blocking(move || st.put_document(&tenant, SILENCES_DOC, bytes))
            .await
            .map_err(|e| {
                AlertingError::Storage(osprey_storage::StorageError::Closed(format!(
                    "silence save: {e}"
                )))
            })??;
        Ok(())
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
                        expired_silences.push(tenant.clone());
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
            for tenant in expired_silences {
                // Saved in turn with the API's changes, from the state as it is then.
                let saved = self.change_silences(&tenant, |_| Ok(())).await;
                if let Err(e) = saved {
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
}
