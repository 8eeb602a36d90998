//! Delivering a flush: unless the route's time intervals mute it, per integration of the
//! group's receiver, what the notification log says is due, rendered for the
//! integration, posted with Alertmanager's retry backoff until the next flush is due,
//! then recorded (log saved, history, counters).

use std::collections::HashSet;

use bytes::Bytes;

use super::alert::NotifyAlert;
use super::dispatch::{self, LogEntry, needs_update};
use super::{
    HISTORY, HistoryEntry, Integration, NFLOG_DOC, NFLOG_RETENTION_NS, Notifier, SavedLog, chat,
    now_ns, webhook,
};

impl Notifier {
    pub(super) async fn flush(self, tenant: String, k: (String, u64), now: i64) {
        let cfg = self.config();
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
        // Alertmanager's TimeActiveStage and TimeMuteStage: a muted flush sends nothing
        // and leaves the notification log alone, yet succeeds (resolved alerts leave).
        if group
            .times
            .mutes(chrono::DateTime::from_timestamp_nanos(now))
        {
            tracing::debug!(%tenant, receiver = %group.receiver, group = %group.key, "notifications not sent, route is muted by its time intervals");
        } else if alerts.is_empty() {
            // Every alert silenced or inhibited: Alertmanager's pipeline stops after its
            // mute stage, so the notification log keeps what was last sent and the end
            // of a silence does not page again before the repeat interval.
        } else {
            for (i, w) in integrations.iter().enumerate() {
                all_ok &= self
                    .notify_one(&tenant, &group, i, w, &alerts, now, deadline)
                    .await;
            }
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
            let global = self.config();
            let http = integration.http().or(global.http.as_ref());
            let client = global.tls_clients.get(http).unwrap_or(&self.inner.client);
            // PagerDuty asks to retry 429 too.
            let also = matches!(integration, Integration::PagerDuty { .. }).then_some(429);
            match webhook::post(client, integration.url(), http, body.clone(), also).await {
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
            // Between the receiver's answer and the saved log, a crash pages again
            // after the restart: delivery is at least once, as Alertmanager's.
            osprey_storage::faults::crash_point("notify.after_send");
            record(self);
            self.save_log(tenant).await;
            osprey_storage::faults::crash_point("notify.after_save");
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
                alerts: to_send
                    .iter()
                    .take(super::HISTORY_ALERTS)
                    .map(|a| (a.labels.clone(), a.resolved_at(now)))
                    .collect(),
            });
        }
        ok
    }

    /// Saves the tenant's notification log as it is now (saves are taken in turn, so
    /// the last one written holds everything recorded before it).
    pub(super) async fn save_log(&self, tenant: &str) {
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
}

/// A jitter in [0, 1) from the clock (no random source needed for spreading retries).
fn jitter(n: u32) -> f64 {
    let ns = now_ns() as u64 ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (ns % 1000) as f64 / 1000.0
}
