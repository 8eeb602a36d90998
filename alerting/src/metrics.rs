//! Alerting's own metrics on `/metrics`, under the meanings of Prometheus' and
//! Alertmanager's: rule evaluations and their failures, alerts sent to Alertmanagers
//! and errors doing so, notifications delivered and failed.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Cheap to clone: the counters are shared.
#[derive(Clone, Default, Debug)]
pub struct AlertingMetrics {
    pub rule_evaluations: Counter,
    pub rule_evaluation_failures: Counter,
    pub alerts_sent: Counter,
    pub alert_send_errors: Counter,
    pub notifications: Counter,
    pub notifications_failed: Counter,
}

impl AlertingMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "osprey_rule_evaluations",
            "Rule evaluations (as prometheus_rule_evaluations_total)",
            self.rule_evaluations.clone(),
        );
        r.register(
            "osprey_rule_evaluation_failures",
            "Rule evaluations that failed (as prometheus_rule_evaluation_failures_total)",
            self.rule_evaluation_failures.clone(),
        );
        r.register(
            "osprey_notifications_sent",
            "Alerts sent to external Alertmanagers (as prometheus_notifications_sent_total)",
            self.alerts_sent.clone(),
        );
        r.register(
            "osprey_notifications_errors",
            "Batches of alerts that could not be sent to an external Alertmanager",
            self.alert_send_errors.clone(),
        );
        r.register(
            "osprey_notifier_notifications",
            "Notifications the built-in notifier delivered (as alertmanager_notifications_total)",
            self.notifications.clone(),
        );
        r.register(
            "osprey_notifier_notifications_failed",
            "Notifications the built-in notifier gave up on after retries (as alertmanager_notifications_failed_total)",
            self.notifications_failed.clone(),
        );
    }
}
