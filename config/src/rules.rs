//! `[rules]`: which rule files are evaluated, and how often by default.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Problems;

/// Rule files (DESIGN §6). Paths and globs are relative to the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Prometheus rule files (PromQL) of the tenant `default`.
    pub files: Vec<String>,
    /// Loki-ruler rule files (LogQL metric queries over logs) of the tenant `default`.
    pub log_files: Vec<String>,
    /// A group's interval when it sets none (Prometheus' `evaluation_interval`).
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    /// How far back of each evaluation time rules query (Prometheus' `rule_query_offset`).
    #[serde(with = "humantime_serde")]
    pub query_offset: Duration,
    /// `<tenant_dir>/<tenant>/*.yml` (and `*.logql.yml`) hold other tenants' rules;
    /// empty: none.
    pub tenant_dir: String,
    /// Osprey's own RED and USE rules (shipped in the binary), off unless turned on.
    pub builtin: bool,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            log_files: Vec::new(),
            evaluation_interval: Duration::from_secs(60),
            query_offset: Duration::ZERO,
            tenant_dir: String::new(),
            builtin: false,
        }
    }
}

impl RulesConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        if self.evaluation_interval < Duration::from_secs(1) {
            p.bad("rules.evaluation_interval", "must be at least 1s".into());
        }
        for (key, list) in [
            ("rules.files", &self.files),
            ("rules.log_files", &self.log_files),
        ] {
            for f in list {
                if f.trim().is_empty() {
                    p.bad(key, "an entry is empty".into());
                } else if glob::Pattern::new(f).is_err() {
                    p.bad(key, format!("{f:?} is not a valid glob pattern"));
                }
            }
        }
    }
}
