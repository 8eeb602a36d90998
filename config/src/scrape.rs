//! `[scrape]`: Prometheus-style scraping of static targets (DESIGN §4), with the
//! field names of Prometheus' `scrape_configs` so a job moves over by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    /// Default time between scrapes of a target (Prometheus' global default: 1m).
    #[serde(with = "humantime_serde")]
    pub scrape_interval: Duration,
    /// Default time a scrape may take (Prometheus' global default: 10s).
    #[serde(with = "humantime_serde")]
    pub scrape_timeout: Duration,
    /// Tenant the scraped samples are written to.
    pub tenant: String,
    /// Largest uncompressed response accepted from a target.
    pub body_size_limit: bytesize::ByteSize,
    /// Scrape Osprey's own `/metrics` every 15s as job `osprey` (into `tenant`), as
    /// Prometheus' shipped configuration scrapes itself: the "Osprey itself"
    /// dashboard reads these series.
    pub self_monitor: bool,
    pub jobs: Vec<ScrapeJob>,
}

/// The job name of Osprey's own scrape (`self_monitor`).
pub const SELF_JOB: &str = "osprey";

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            tenant: "default".into(),
            body_size_limit: bytesize::ByteSize::mib(64),
            self_monitor: false,
            jobs: Vec::new(),
        }
    }
}

/// One `[[scrape.jobs]]`: static targets scraped alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeJob {
    pub job_name: String,
    /// `host:port` of each target (Prometheus' `static_configs[].targets`).
    pub targets: Vec<String>,
    /// Labels added to every target (Prometheus' `static_configs[].labels`).
    pub labels: BTreeMap<String, String>,
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: String,
    #[serde(default, with = "humantime_serde::option")]
    pub scrape_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub scrape_timeout: Option<Duration>,
    /// Keep the target's own labels on conflict instead of renaming them `exported_*`.
    pub honor_labels: bool,
    /// Use the timestamps the target gives its samples.
    pub honor_timestamps: bool,
    /// Rewrite target labels before the scrape (may drop the target).
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rewrite each scraped sample's labels (may drop the sample).
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// The `Authorization` header of each scrape (Prometheus' `authorization`).
    pub authorization: Option<ScrapeAuthorization>,
    /// How `https` targets are verified, and the client certificate they may ask for.
    pub tls_config: crate::ClientTlsConfig,
    /// The tenant its samples go to (default: `[scrape] tenant`).
    pub tenant: Option<String>,
}

/// `Authorization: <type> <credentials>` on every scrape of a job.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeAuthorization {
    #[serde(rename = "type")]
    pub kind: String,
    pub credentials: String,
    /// Read at each scrape instead of `credentials` (a rotated token is picked up).
    pub credentials_file: String,
}

impl Default for ScrapeAuthorization {
    fn default() -> Self {
        Self {
            kind: "Bearer".into(),
            credentials: String::new(),
            credentials_file: String::new(),
        }
    }
}

/// Credentials never reach debug output.
impl std::fmt::Debug for ScrapeAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeAuthorization")
            .field("type", &self.kind)
            .field("credentials_file", &self.credentials_file)
            .finish_non_exhaustive()
    }
}

impl ScrapeJob {
    /// Osprey's own scrape (`self_monitor`): `/metrics` at `addr` every 15s.
    pub fn self_monitor(addr: std::net::SocketAddr) -> Self {
        Self {
            job_name: SELF_JOB.into(),
            targets: vec![addr.to_string()],
            scrape_interval: Some(Duration::from_secs(15)),
            ..Self::default()
        }
    }
}

impl Default for ScrapeJob {
    fn default() -> Self {
        Self {
            job_name: String::new(),
            targets: Vec::new(),
            labels: BTreeMap::new(),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            scrape_interval: None,
            scrape_timeout: None,
            honor_labels: false,
            honor_timestamps: true,
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            authorization: None,
            tls_config: crate::ClientTlsConfig::default(),
            tenant: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    Replace,
    Keep,
    Drop,
    Labelmap,
    Labeldrop,
    Labelkeep,
}

/// One relabelling step, with Prometheus' fields and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    /// Anchored at both ends, as in Prometheus.
    pub regex: String,
    pub target_label: String,
    pub replacement: String,
    pub action: RelabelAction,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        Self {
            source_labels: Vec::new(),
            separator: ";".into(),
            regex: "(.*)".into(),
            target_label: String::new(),
            replacement: "$1".into(),
            action: RelabelAction::Replace,
        }
    }
}

impl RelabelConfig {
    /// The regex anchored at both ends, as Prometheus compiles it.
    pub fn compiled_regex(&self) -> Result<regex::Regex, regex::Error> {
        regex::Regex::new(&format!("^(?:{})$", self.regex))
    }
}

impl ScrapeJob {
    pub fn interval(&self, d: &ScrapeConfig) -> Duration {
        self.scrape_interval.unwrap_or(d.scrape_interval)
    }

    /// The timeout, never longer than the interval.
    pub fn timeout(&self, d: &ScrapeConfig) -> Duration {
        self.scrape_timeout
            .unwrap_or(d.scrape_timeout)
            .min(self.interval(d))
    }
}

/// Problems with the `[scrape]` section as (key, message).
pub(crate) fn problems(c: &ScrapeConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut bad = |k: String, m: String| out.push((k, m));
    if c.scrape_interval.as_millis() < 100 {
        bad(
            "scrape.scrape_interval".into(),
            "must be at least 100ms".into(),
        );
    }
    if c.scrape_timeout.is_zero() {
        bad(
            "scrape.scrape_timeout".into(),
            "must be greater than 0s".into(),
        );
    }
    let mut names = std::collections::HashSet::new();
    if c.self_monitor && c.jobs.iter().any(|j| j.job_name == SELF_JOB) {
        bad(
            "scrape.self_monitor".into(),
            format!(
                "a job is named {SELF_JOB:?}, the name of Osprey's own scrape: rename it, or drop self_monitor"
            ),
        );
    }
    for (i, j) in c.jobs.iter().enumerate() {
        let k = |f: &str| format!("scrape.jobs[{i}].{f}");
        if j.job_name.is_empty() {
            bad(k("job_name"), "must not be empty".into());
        } else if !names.insert(j.job_name.as_str()) {
            bad(
                k("job_name"),
                format!("{:?} is used by another job", j.job_name),
            );
        }
        if j.scheme != "http" && j.scheme != "https" {
            bad(
                k("scheme"),
                format!(
                    "{:?} is not supported; expected \"http\" or \"https\"",
                    j.scheme
                ),
            );
        }
        if let Some(t) = &j.tenant
            && !crate::tenant_id_is_valid(t)
        {
            bad(
                k("tenant"),
                format!("{t:?} is not a valid tenant id: {}", crate::TENANT_ID_RULE),
            );
        }
        if j.tls_config.cert_file.is_empty() != j.tls_config.key_file.is_empty() {
            bad(k("tls_config"), "cert_file and key_file go together".into());
        }
        if !j.metrics_path.starts_with('/') {
            bad(k("metrics_path"), "must start with '/'".into());
        }
        for t in &j.targets {
            let ok = t
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                bad(k("targets"), format!("{t:?} is not host:port"));
            }
        }
        if let Some(a) = &j.authorization
            && a.credentials.is_empty() == a.credentials_file.is_empty()
        {
            bad(
                k("authorization"),
                "expected exactly one of credentials and credentials_file".into(),
            );
        }
        if j.scrape_interval.is_some_and(|d| d.as_millis() < 100) {
            bad(k("scrape_interval"), "must be at least 100ms".into());
        }
        for (name, rules) in [
            ("relabel_configs", &j.relabel_configs),
            ("metric_relabel_configs", &j.metric_relabel_configs),
        ] {
            for (r, rule) in rules.iter().enumerate() {
                let rk = format!("scrape.jobs[{i}].{name}[{r}]");
                if let Err(e) = rule.compiled_regex() {
                    bad(format!("{rk}.regex"), e.to_string());
                }
                if rule.action == RelabelAction::Replace && rule.target_label.is_empty() {
                    bad(
                        format!("{rk}.target_label"),
                        "is required for action replace".into(),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrape_jobs_are_checked() {
        let cfg = crate::load_str(
            r#"
[scrape]
scrape_interval = "15s"
[[scrape.jobs]]
job_name = "node"
targets = ["127.0.0.1:9100", "nohostport"]
scheme = "ftp"
[[scrape.jobs.relabel_configs]]
regex = "(unclosed"
[[scrape.jobs]]
job_name = "node"
"#,
            &[],
        );
        let err = cfg.expect_err("invalid scrape config").to_string();
        for want in [
            "scrape.jobs[0].targets",
            "scrape.jobs[0].scheme",
            "scrape.jobs[0].relabel_configs[0].regex",
            "scrape.jobs[1].job_name",
        ] {
            assert!(err.contains(want), "{want} missing in {err}");
        }
    }

    #[test]
    fn self_monitor_takes_the_osprey_job_name() {
        let ok = crate::load_str("[scrape]\nself_monitor = true\n", &[]).expect("valid");
        assert!(ok.scrape.self_monitor);
        let job = super::ScrapeJob::self_monitor("127.0.0.1:9800".parse().expect("addr"));
        assert_eq!(
            (job.job_name.as_str(), job.targets.as_slice()),
            (super::SELF_JOB, ["127.0.0.1:9800".to_string()].as_slice())
        );
        let err = crate::load_str(
            "[scrape]\nself_monitor = true\n[[scrape.jobs]]\njob_name = \"osprey\"\ntargets = [\"127.0.0.1:1\"]\n",
            &[],
        )
        .expect_err("a job named osprey clashes")
        .to_string();
        assert!(err.contains("scrape.self_monitor"), "{err}");
    }
}
