//! The restore of `for` state after a start (Prometheus' `RestoreForState`,
//! `alerting/docs/semantics.md` §2.4): run once, after a group's second evaluation.
//! Rules with `for` under the grace period are simply marked restored; for the others,
//! each alert found again takes its `ActiveAt` back from the last `ALERTS_FOR_STATE`
//! sample of the past hour, with the time the server was down not counted.

use std::time::Duration;

use super::Backend;
use super::alerting::self_sample;
use super::group::{Group, Rule};

/// Prometheus' `--rules.alert.for-grace-period`.
pub const GRACE_PERIOD: Duration = Duration::from_secs(10 * 60);
/// Prometheus' `--rules.alert.for-outage-tolerance`.
pub const OUTAGE_TOLERANCE: Duration = Duration::from_secs(60 * 60);

impl Group {
    /// Restores `for` progress at `now` (Unix ns, wall clock).
    pub async fn restore_for_state(&mut self, backend: &Backend, now: i64) {
        let tenant = self.key.tenant.clone();
        let grace = GRACE_PERIOD.as_nanos() as i64;
        let since = now - OUTAGE_TOLERANCE.as_nanos() as i64;
        for (rule, _) in &mut self.rules {
            let Rule::Alerting(a) = rule else { continue };
            if a.hold < GRACE_PERIOD {
                a.restored = true;
                continue;
            }
            let hold = a.hold.as_nanos() as i64;
            let rule_labels = a.labels.clone();
            for alert in a.active.values_mut() {
                let series = self_sample(&rule_labels, alert, "ALERTS_FOR_STATE", 0.0).labels;
                let last = match backend.last_sample(&tenant, &series, since, now).await {
                    Ok(Some(s)) => s,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(%tenant, alert = %a.name, error = %e, "restoring for state failed");
                        continue;
                    }
                };
                if osprey_promql::is_stale(last.1) {
                    continue;
                }
                let sec = 1_000_000_000i64;
                let down_at = last.0.div_euclid(sec) * sec;
                let active_at0 = (last.1 as i64) * sec;
                let remaining = hold - (down_at - active_at0);
                alert.active_at = if remaining <= 0 {
                    active_at0
                } else if remaining < grace {
                    now + grace - hold
                } else {
                    active_at0 + (now - down_at)
                };
            }
            a.restored = true;
        }
    }
}
