//! `[alerting]`: where alerts go and how they are labelled on the way out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Problems;

/// Alert delivery (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Base of `generatorURL` and `externalURL` (Prometheus' `--web.external-url`);
    /// empty: `http://<server.http_addr>`.
    pub external_url: String,
    /// Added to alerts sent out, where an alert lacks the label.
    pub external_labels: BTreeMap<String, String>,
    /// The built-in notifier's config, in Alertmanager's own format (relative to this
    /// file; checked by `osprey config check`); empty: no built-in notifier.
    pub alertmanager_config: String,
    /// External Alertmanagers that also receive the alerts (API v2).
    pub alertmanagers: Vec<String>,
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

impl AlertingConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        if !self.external_url.is_empty() && !is_http_url(&self.external_url) {
            p.bad(
                "alerting.external_url",
                format!("{:?} is not an http(s) URL", self.external_url),
            );
        }
        for (k, v) in &self.external_labels {
            if !is_label_name(k) || k == "__name__" {
                p.bad(
                    "alerting.external_labels",
                    format!("{k:?} is not a valid label name"),
                );
            }
            if v.is_empty() {
                p.bad(
                    "alerting.external_labels",
                    format!("{k} has an empty value"),
                );
            }
        }
        for am in &self.alertmanagers {
            if !is_http_url(am) {
                p.bad(
                    "alerting.alertmanagers",
                    format!("{am:?} is not an http(s) URL"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConfigError, load_str};

    fn problems(toml: &str) -> Vec<String> {
        match load_str(toml, &[]) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid(p)) => p.iter().map(|p| p.to_string()).collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn rules_and_alerting_sections_are_read_and_checked() {
        let c = load_str(
            "[rules]\nfiles = [\"rules/*.yml\"]\nevaluation_interval = \"30s\"\ntenant_dir = \"rules.d\"\nbuiltin = true\n[alerting]\nexternal_url = \"http://osprey.example:9800\"\nexternal_labels = { cluster = \"c1\" }\nalertmanagers = [\"http://127.0.0.1:9093\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.rules.files, ["rules/*.yml"]);
        assert_eq!(
            c.rules.evaluation_interval,
            std::time::Duration::from_secs(30)
        );
        assert!(c.rules.builtin);
        assert_eq!(c.alerting.external_labels["cluster"], "c1");
        let p = problems(
            "[rules]\nevaluation_interval = \"0s\"\nfiles = [\"[\"]\n[alerting]\nexternal_url = \"osprey\"\nexternal_labels = { \"0x\" = \"a\" }\nalertmanagers = [\"127.0.0.1:9093\"]\n",
        );
        let all = p.join("\n");
        for want in [
            "rules.evaluation_interval",
            "rules.files",
            "alerting.external_url",
            "alerting.external_labels",
            "alerting.alertmanagers",
        ] {
            assert!(all.contains(want), "{want} missing in {all}");
        }
        assert!(!problems("[rules]\nfils = []\n").is_empty());
    }
}
