//! The rule manager: loads the rule files of every tenant, runs each group on its own
//! task at its slots, reloads on request (SIGHUP, `POST /-/reload`) all or nothing,
//! and keeps what the APIs show. Prometheus' `rules.Manager` is the model: an
//! unchanged group keeps running on reload, a changed one takes over its
//! predecessor's alerts, a removed one marks its series stale; `for` state is restored
//! only for groups loaded at start.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use osprey_config::{AlertingConfig, RulesConfig};
use tokio::sync::watch;

use crate::error::AlertingError;
use crate::eval::saved::{self, SavedRule, SavedState};
use crate::eval::{Backend, Group, GroupKey, slot_offset};
use crate::forward::Forwarder;
use crate::rules::load::{Language, LoadedGroup, builtin, expand, load_all, load_file};
use crate::template::Context;

/// Prometheus' `--rules.alert.resend-delay`.
pub const RESEND_DELAY: Duration = Duration::from_secs(60);

/// The tenant that `[rules] files` belong to.
pub const DEFAULT_TENANT: &str = "default";

struct Running {
    /// The group as of its last evaluation, for the APIs and for reload.
    snapshot: Arc<RwLock<Group>>,
    stop: watch::Sender<bool>,
}

/// What the last load or reload did.
#[derive(Debug, Clone, Default)]
pub struct LoadStatus {
    pub last_error: Option<String>,
    pub last_success: Option<SystemTime>,
}

struct Inner {
    backend: Backend,
    rules: RulesConfig,
    base_dir: PathBuf,
    tmpl: Context,
    forwarder: Forwarder,
    notifier: Option<crate::notify::Notifier>,
    metrics: crate::AlertingMetrics,
    history: crate::history::History,
    groups: Mutex<BTreeMap<GroupKey, Running>>,
    status: Mutex<LoadStatus>,
    /// Set after the first load: later loads do not restore `for` state.
    started: AtomicBool,
    /// Each tenant's alert state as last saved (`eval/saved.rs`).
    saved: Mutex<HashMap<String, SavedState>>,
    /// Saves of the alert-state documents, one at a time, in order.
    save_order: tokio::sync::Mutex<()>,
    /// Rule groups written through the API, one at a time.
    write_order: Mutex<()>,
    stopped: watch::Receiver<bool>,
}

/// Where the manager's alerts go, and what it counts.
pub struct Outputs {
    /// The base of generator URLs.
    pub external_url: String,
    /// The built-in notifier, when configured.
    pub notifier: Option<crate::notify::Notifier>,
    pub metrics: crate::AlertingMetrics,
}

/// Handle to the rule manager; cheap to clone.
#[derive(Clone)]
pub struct RuleManager {
    inner: Arc<Inner>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The base of generator URLs: `[alerting] external_url`, or the API's own address.
pub fn external_url(alerting: &AlertingConfig, own_url: &str) -> String {
    if alerting.external_url.is_empty() {
        own_url.to_string()
    } else {
        alerting.external_url.trim_end_matches('/').to_string()
    }
}

impl RuleManager {
    pub fn new(
        backend: Backend,
        rules: RulesConfig,
        alerting: &AlertingConfig,
        base_dir: &Path,
        out: Outputs,
        stopped: watch::Receiver<bool>,
    ) -> Self {
        let Outputs {
            external_url,
            notifier,
            metrics,
        } = out;
        let tmpl = Context {
            external_labels: alerting.external_labels.clone(),
            external_url: Some(external_url.clone()),
            query: None,
        };
        let forwarder = Forwarder::new(
            alerting.alertmanagers.clone(),
            alerting.external_labels.clone(),
            external_url,
            metrics.clone(),
        );
        RuleManager {
            inner: Arc::new(Inner {
                backend,
                rules,
                base_dir: base_dir.to_path_buf(),
                tmpl,
                forwarder,
                notifier,
                metrics,
                history: crate::history::History::default(),
                groups: Mutex::new(BTreeMap::new()),
                status: Mutex::new(LoadStatus::default()),
                started: AtomicBool::new(false),
                saved: Mutex::new(HashMap::new()),
                save_order: tokio::sync::Mutex::new(()),
                write_order: Mutex::new(()),
                stopped,
            }),
        }
    }

    /// Every tenant's groups as the files say now, or every problem found.
    pub fn load_sources(&self) -> Result<Vec<(String, LoadedGroup)>, Vec<String>> {
        let c = &self.inner.rules;
        let base = &self.inner.base_dir;
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let mut add = |tenant: &str, r: Result<Vec<LoadedGroup>, Vec<String>>| match r {
            Ok(gs) => out.extend(gs.into_iter().map(|g| (tenant.to_string(), g))),
            Err(mut e) => errors.append(&mut e),
        };
        add(DEFAULT_TENANT, load_all(base, &c.files, Language::PromQL));
        add(
            DEFAULT_TENANT,
            load_all(base, &c.log_files, Language::LogQL),
        );
        if c.builtin {
            add(DEFAULT_TENANT, builtin());
        }
        if !c.tenant_dir.is_empty() {
            let dir = base.join(&c.tenant_dir);
            match tenant_dirs(&dir) {
                Ok(tenants) => {
                    for t in tenants {
                        if c.builtin {
                            add(&t, builtin());
                        }
                        // `*.logql.yml` are Loki-ruler files; the other `*.yml` PromQL.
                        let pattern = format!("{}/{t}/*.yml", c.tenant_dir);
                        match expand(base, &[pattern]) {
                            Ok(files) => {
                                for f in files {
                                    let language = if f.ends_with(".logql.yml") {
                                        Language::LogQL
                                    } else {
                                        Language::PromQL
                                    };
                                    add(&t, load_file(&f, language));
                                }
                            }
                            Err(e) => add(&t, Err(e)),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors.extend(self.over_rule_limits(&out));
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The tenants whose rules (built-in ones included) exceed `limits.max_rules`.
    fn over_rule_limits(&self, loaded: &[(String, LoadedGroup)]) -> Vec<String> {
        let mut per_tenant: BTreeMap<&str, usize> = BTreeMap::new();
        for (tenant, g) in loaded {
            *per_tenant.entry(tenant.as_str()).or_insert(0) += g.spec.rules.len();
        }
        let limiter = &self.inner.backend.query.limiter;
        per_tenant
            .into_iter()
            .filter_map(|(tenant, n)| {
                let max = limiter.limits(tenant).max_rules;
                (max > 0 && n > max).then(|| {
                    limiter.refused(tenant, "max_rules", 1);
                    format!("tenant {tenant:?} would have {n} rules; at most {max} are allowed (limits.max_rules)")
                })
            })
            .collect()
    }

    /// Loads (or reloads) every rule file, and the built-in notifier's alertmanager.yml
    /// (SIGHUP and `POST /-/reload` reload both, as they would reload Prometheus and
    /// Alertmanager). Each keeps what it had on a problem; the problems are returned
    /// (the rules' kept for the APIs too).
    pub fn reload(&self) -> Result<usize, Vec<String>> {
        let notifier = self.inner.notifier.as_ref().and_then(|n| n.reload().err());
        if let Some(e) = &notifier {
            tracing::error!(error = %e, "error reloading the notifier's configuration, previous one kept");
        }
        match (self.reload_rules(), notifier) {
            (Ok(n), None) => Ok(n),
            (Ok(_), Some(e)) => Err(vec![format!("alertmanager_config: {e}")]),
            (Err(mut errors), Some(e)) => {
                errors.push(format!("alertmanager_config: {e}"));
                Err(errors)
            }
            (Err(errors), None) => Err(errors),
        }
    }

    /// Writes rule group `body` (YAML) into `namespace` of the tenant's rules directory
    /// and reloads; when the reload refuses the new set, the file is put back as it was
    /// and the refusal is the error.
    pub fn put_group(
        &self,
        tenant: &str,
        namespace: &str,
        body: &str,
    ) -> Result<(), AlertingError> {
        let group = crate::rules::write::parse_group(body)?;
        self.edit_group_file(tenant, namespace, |path, prev| {
            crate::rules::write::upsert(path, prev, group)
        })
    }

    /// Removes rule group `group` of `namespace` and reloads.
    pub fn delete_group(
        &self,
        tenant: &str,
        namespace: &str,
        group: &str,
    ) -> Result<(), AlertingError> {
        self.edit_group_file(tenant, namespace, |path, prev| {
            crate::rules::write::remove(path, prev, group)
        })
    }

    fn edit_group_file(
        &self,
        tenant: &str,
        namespace: &str,
        edit: impl FnOnce(&Path, Option<&str>) -> Result<(), AlertingError>,
    ) -> Result<(), AlertingError> {
        use crate::rules::write;
        let path = write::group_file(
            &self.inner.base_dir,
            &self.inner.rules.tenant_dir,
            tenant,
            namespace,
        )?;
        // One edit at a time: each reads the file it changes. The lock guards no data,
        // so a panicked holder leaves nothing to distrust.
        let _one = self
            .inner
            .write_order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = write::current(&path)?;
        edit(&path, previous.as_deref())?;
        if let Err(errors) = self.reload_rules() {
            write::restore(&path, previous.as_deref())?;
            let _ = self.reload_rules();
            return Err(AlertingError::Invalid(format!(
                "the rules did not load, nothing was changed: {}",
                errors.join("; ")
            )));
        }
        Ok(())
    }

    fn reload_rules(&self) -> Result<usize, Vec<String>> {
        let loaded = match self.load_sources() {
            Ok(l) => l,
            Err(errors) => {
                tracing::error!(errors = ?errors, "error loading rules, previous rule set kept");
                if let Ok(mut s) = self.inner.status.lock() {
                    s.last_error = Some(errors.join("; "));
                }
                return Err(errors);
            }
        };
        let restore = !self.inner.started.swap(true, Ordering::SeqCst);
        if restore {
            self.load_saved_state(loaded.iter().map(|(t, _)| t.as_str()));
        }
        let c = &self.inner.rules;
        let mut fresh: BTreeMap<GroupKey, Group> = BTreeMap::new();
        for (tenant, g) in &loaded {
            let mut group = Group::new(tenant, g, c.evaluation_interval, c.query_offset);
            if restore
                && let Ok(saved) = self.inner.saved.lock()
                && let Some(rules) = saved
                    .get(tenant)
                    .and_then(|s| s.groups.get(&saved::group_id(&group)))
            {
                let n = saved::restore_group(&mut group, rules);
                if n > 0 {
                    tracing::info!(%tenant, group = %group.key.name, alerts = n, "alert state restored");
                }
            }
            fresh.insert(group.key.clone(), group);
        }
        let count = fresh.len();
        let Ok(mut running) = self.inner.groups.lock() else {
            return Err(vec!["rule manager state is poisoned".into()]);
        };
        let mut old = std::mem::take(&mut *running);
        for (key, mut group) in fresh {
            if let Some(prev) = old.remove(&key) {
                let unchanged = prev
                    .snapshot
                    .read()
                    .is_ok_and(|p| p.spec == group.spec && p.interval == group.interval);
                if unchanged {
                    running.insert(key, prev);
                    continue;
                }
                if let Ok(p) = prev.snapshot.read() {
                    group.take_state(&p);
                }
                let _ = prev.stop.send(true);
            }
            if !restore {
                mark_restored(&mut group);
            }
            running.insert(key, self.start(group, restore));
        }
        // Removed groups: stop, and end their series.
        for (_, prev) in old {
            let _ = prev.stop.send(true);
            if let Ok(g) = prev.snapshot.read() {
                let (backend, tenant, series) = (
                    self.inner.backend.clone(),
                    g.key.tenant.clone(),
                    g.written_series(),
                );
                tokio::spawn(async move {
                    let _ = backend.write(&tenant, now_ns(), &[], &series).await;
                });
            }
        }
        if let Ok(mut s) = self.inner.status.lock() {
            s.last_error = None;
            s.last_success = Some(SystemTime::now());
        }
        tracing::info!(groups = count, "rules loaded");
        Ok(count)
    }

    /// Reads the saved alert state of these tenants (at start).
    fn load_saved_state<'a>(&self, tenants: impl Iterator<Item = &'a str>) {
        let storage = &self.inner.backend.query.storage;
        let mut seen = std::collections::HashSet::new();
        let Ok(mut saved) = self.inner.saved.lock() else {
            return;
        };
        for t in tenants {
            if !seen.insert(t.to_string()) {
                continue;
            }
            match storage.get_document(t, saved::DOCUMENT) {
                Ok(Some(b)) => match serde_json::from_slice::<SavedState>(&b) {
                    Ok(s) => {
                        saved.insert(t.to_string(), s);
                    }
                    Err(e) => {
                        tracing::error!(tenant = %t, error = %e, "alert state unreadable; starting without it")
                    }
                },
                Ok(None) => {}
                Err(e) => tracing::error!(tenant = %t, error = %e, "cannot read alert state"),
            }
        }
    }

    fn start(&self, group: Group, restore: bool) -> Running {
        let snapshot = Arc::new(RwLock::new(group.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::clone(&self.inner);
        let snap = Arc::clone(&snapshot);
        tokio::spawn(run_group(inner, group, snap, stop_rx, restore));
        Running { snapshot, stop }
    }

    /// The groups of `tenant` as of their last evaluation, by file then name.
    pub fn groups(&self, tenant: &str) -> Vec<Group> {
        let Ok(running) = self.inner.groups.lock() else {
            return Vec::new();
        };
        running
            .iter()
            .filter(|(k, _)| k.tenant == tenant)
            .filter_map(|(_, r)| r.snapshot.read().ok().map(|g| g.clone()))
            .collect()
    }

    pub fn status(&self) -> LoadStatus {
        self.inner
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub fn forwarder(&self) -> &Forwarder {
        &self.inner.forwarder
    }

    /// `tenant`'s alert transitions in `start..=end`.
    pub fn transitions(
        &self,
        tenant: &str,
        start: i64,
        end: i64,
    ) -> Vec<crate::history::Transition> {
        self.inner.history.query(tenant, start, end)
    }

    /// The built-in notifier, when `[alerting] alertmanager_config` names one.
    pub fn notifier(&self) -> Option<&crate::notify::Notifier> {
        self.inner.notifier.as_ref()
    }

    /// Stops every group (at shutdown).
    pub fn stop(&self) {
        if let Ok(running) = self.inner.groups.lock() {
            for r in running.values() {
                let _ = r.stop.send(true);
            }
        }
    }
}

fn mark_restored(g: &mut Group) {
    for (rule, _) in &mut g.rules {
        if let crate::eval::Rule::Alerting(a) = rule {
            a.restored = true;
        }
    }
}

/// Tenant subdirectories of `dir` (valid tenant ids only), sorted.
fn tenant_dirs(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|t| osprey_auth::tenant::is_valid(t))
        .collect();
    out.sort();
    Ok(out)
}

/// The slot at or before `now` for a group with this offset and interval.
fn slot_at_or_before(now: i64, offset: i64, interval: i64) -> i64 {
    let adj = now - offset;
    adj - adj.rem_euclid(interval) + offset
}

async fn run_group(
    inner: Arc<Inner>,
    mut group: Group,
    snapshot: Arc<RwLock<Group>>,
    mut stop: watch::Receiver<bool>,
    restore: bool,
) {
    let interval = group.interval.as_nanos().max(1) as i64;
    let offset = slot_offset(&group.key.file, &group.key.name, group.interval).as_nanos() as i64;
    let mut ts = slot_at_or_before(now_ns(), offset, interval) + interval;
    let mut stopped = inner.stopped.clone();
    let mut restored = !restore;
    loop {
        let wait = Duration::from_nanos((ts - now_ns()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
            _ = stopped.wait_for(|s| *s) => return,
        }
        let before = crate::history::states(&group);
        let out = group
            .eval(&inner.backend, &inner.tmpl, ts, RESEND_DELAY)
            .await;
        inner
            .history
            .record(crate::history::transitions(&before, &group, ts));
        for (_, status) in &group.rules {
            inner.metrics.rule_evaluations.inc();
            if status.health == crate::eval::Health::Err {
                inner.metrics.rule_evaluation_failures.inc();
            }
        }
        inner.forwarder.send(&group.key.tenant, &out);
        if let Some(n) = &inner.notifier {
            inner.forwarder.to_notifier(n, &group.key.tenant, &out);
        }
        if !restored && group.evaluations >= 2 {
            group.restore_for_state(&inner.backend, now_ns()).await;
            restored = true;
        }
        if let Ok(mut s) = snapshot.write() {
            *s = group.clone();
        }
        save_if_changed(&inner, &group).await;
        // Next slot; slots missed while evaluating are skipped.
        let now = now_ns();
        ts += interval;
        if now > ts {
            ts += (now - ts) / interval * interval;
            if ts < now {
                ts += interval;
            }
        }
    }
}

/// An alert's labels, state and times; a rule's name and its alerts'.
type AlertIdentity = (Vec<(String, String)>, String, i64, Option<i64>, Option<i64>);
type RuleIdentity = (String, Vec<AlertIdentity>);

/// What decides whether the state changed: the alerts and their states and times,
/// not their values (which change at every evaluation).
fn identity(rules: &[SavedRule]) -> Vec<RuleIdentity> {
    rules
        .iter()
        .map(|r| {
            let alerts = r
                .alerts
                .iter()
                .map(|a| {
                    (
                        a.labels.clone(),
                        a.state.clone(),
                        a.active_at,
                        a.fired_at,
                        a.resolved_at,
                    )
                })
                .collect();
            (r.name.clone(), alerts)
        })
        .collect()
}

/// Saves the tenant's alert-state document when this group's alerts changed.
async fn save_if_changed(inner: &Arc<Inner>, group: &Group) {
    let now = saved::save_group(group);
    let tenant = group.key.tenant.clone();
    let id = saved::group_id(group);
    {
        let Ok(mut saved) = inner.saved.lock() else {
            return;
        };
        let entry = saved.entry(tenant.clone()).or_default();
        let before = entry.groups.get(&id).map(|r| identity(r));
        if before.as_ref() == Some(&identity(&now))
            || (before.is_none() && now.iter().all(|r| r.alerts.is_empty()))
        {
            return;
        }
        entry.groups.insert(id, now);
    }
    let _order = inner.save_order.lock().await;
    let bytes = {
        let Ok(saved) = inner.saved.lock() else {
            return;
        };
        match saved.get(&tenant).map(serde_json::to_vec) {
            Some(Ok(b)) => b,
            _ => return,
        }
    };
    let storage = inner.backend.query.storage.clone();
    let t = tenant.clone();
    let result =
        tokio::task::spawn_blocking(move || storage.put_document(&t, saved::DOCUMENT, bytes)).await;
    if !matches!(result, Ok(Ok(()))) {
        tracing::warn!(%tenant, "cannot save alert state; a restart now would lose it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots() {
        assert_eq!(slot_at_or_before(17, 2, 5), 17);
        assert_eq!(slot_at_or_before(16, 2, 5), 12);
        assert_eq!(slot_at_or_before(12, 2, 5), 12);
    }
}
