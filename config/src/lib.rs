//! Osprey's typed configuration: every setting with its default, loading from a TOML
//! file, `OSPREY_<SECTION>_<KEY>` environment overrides, and validation that explains
//! every problem at once (`osprey config check`).
//!
//! Unknown keys are errors. Sizes are written like `"16MiB"`, durations like `"30s"`.

//! One file per section, each with its defaults and its own `validate`:
//! `server.rs`, `tls.rs`, `auth.rs`, `limits.rs`, `storage.rs`, `query.rs`, `spanmetrics.rs`, `scrape.rs`,
//! `rules.rs`, `alerting.rs`, `cluster.rs` (and the `--role` a process runs); `load.rs`
//! reads files and environment overrides.

mod alerting;
mod auth;
mod cluster;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod load;
mod query;
mod rules;
mod scrape;
mod server;
mod spanmetrics;
mod storage;
mod tls;

use serde::{Deserialize, Serialize};

pub use alerting::AlertingConfig;
pub use auth::{ANY_TENANT, AuthConfig, Scope, TokenConfig};
pub use cluster::{
    COMPACTOR_ID, ClusterConfig, ManifestMode, NODE_ID_RULE, Role, node_id_is_valid,
};
pub use limits::{Limits, LimitsConfig};
pub use load::{ConfigError, Problem, env_overrides, load, load_str};
pub use query::QueryConfig;
pub use rules::RulesConfig;
pub use scrape::{
    RelabelAction, RelabelConfig, SELF_JOB, ScrapeAuthorization, ScrapeConfig, ScrapeJob,
};
pub use server::{FLUSH_OVERHEAD, ServerConfig};
pub use spanmetrics::SpanMetricsConfig;
pub use storage::{StorageConfig, StoreLocation};
pub use tls::{ClientTlsConfig, TlsConfig};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    /// Per-tenant changes to `limits`.
    pub overrides: std::collections::BTreeMap<String, LimitsConfig>,
    pub storage: StorageConfig,
    pub query: QueryConfig,
    pub spanmetrics: SpanMetricsConfig,
    pub scrape: ScrapeConfig,
    pub rules: RulesConfig,
    pub alerting: AlertingConfig,
    pub cluster: ClusterConfig,
    /// The directory of the config file, which relative paths in it are read from
    /// (the working directory without a file).
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
}

impl Config {
    /// The limits of `tenant` (`[overrides.<tenant>]` over `[limits]`).
    pub fn limits_for(&self, tenant: &str) -> Limits {
        Limits::resolve(&self.query, &self.limits, &self.overrides, tenant)
    }

    /// `server.memory_limit` must leave ingest at least as much as its headroom.
    fn validate_memory_limit(&self, p: &mut Problems) {
        let limit = self.server.memory_limit.as_u64();
        let headroom = self.server.memory_headroom(self.storage.flush_size);
        if limit > 0 && limit < 2 * headroom {
            p.bad(
                "server.memory_limit",
                format!(
                    "{} is below twice the headroom ingest leaves free, {} (server.ingest_inflight_limit {} + storage.flush_size {} + {} for flush encoders); raise it to at least {} or lower those",
                    self.server.memory_limit,
                    bytesize::ByteSize::b(headroom),
                    self.server.ingest_inflight_limit,
                    self.storage.flush_size,
                    server::FLUSH_OVERHEAD,
                    bytesize::ByteSize::b(2 * headroom),
                ),
            );
        }
    }

    /// A dropped file must outlive every query that may still read it: one that started
    /// just before the drop on a snapshot up to `poll_interval` old.
    fn validate_deletion_delay(&self, p: &mut Problems) {
        let c = &self.cluster;
        let floor = self.query.timeout + c.poll_interval;
        if c.deletion_delay <= floor {
            p.bad(
                "cluster.deletion_delay",
                format!(
                    "{} must be longer than query.timeout + cluster.poll_interval ({}): a query may still read a file that long after it is dropped",
                    humantime_serde::re::humantime::format_duration(c.deletion_delay),
                    humantime_serde::re::humantime::format_duration(floor),
                ),
            );
        }
    }

    /// Every problem of this configuration for a process running as `role`.
    pub fn validate_for(&self, role: Role) -> Vec<Problem> {
        let mut problems = Problems(self.validate());
        for (key, message) in self.role_problems(role) {
            problems.bad(&key, message);
        }
        problems.0
    }

    /// What `role` needs of this configuration beyond its own checks: the cluster's
    /// ([`ClusterConfig::role_problems`]), and a querier's way to the rules that the
    /// compactor runs.
    pub fn role_problems(&self, role: Role) -> Vec<(String, String)> {
        let mut out = self.cluster.role_problems(role);
        let r = &self.rules;
        let alerting = !r.files.is_empty()
            || !r.log_files.is_empty()
            || !r.tenant_dir.is_empty()
            || r.builtin
            || !self.alerting.alertmanager_config.is_empty();
        if role == Role::Querier && alerting && self.cluster.compactor.is_empty() {
            out.push((
                "cluster.compactor".to_string(),
                "the rules and the notifier run on the compactor: set its internal address, so queriers answer the alerting API (rules, alerts, silences) from it".to_string(),
            ));
        }
        out
    }

    /// Semantic checks that a type alone cannot express. Returns every problem found.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Problems::default();
        self.server.validate(&mut problems);
        self.tls.validate(&mut problems);
        self.auth.validate(&mut problems);
        if !self.auth.enabled() && !self.server.allow_unauthenticated {
            for (key, addr) in self.server.exposed() {
                problems.bad(
                    key,
                    format!(
                        "{addr} is not a loopback address and no [[auth.tokens]] are configured: anyone who reaches it could read and write every tenant. Add tokens (`osprey token create`) or set server.allow_unauthenticated = true"
                    ),
                );
            }
        }
        if !crate::tenant_id_is_valid(&self.scrape.tenant) {
            problems.bad(
                "scrape.tenant",
                format!(
                    "{:?} is not a valid tenant id: {TENANT_ID_RULE}",
                    self.scrape.tenant
                ),
            );
        }
        self.limits.validate("limits", &mut problems);
        for (tenant, o) in &self.overrides {
            let key = format!("overrides.{tenant}");
            if !tenant_id_is_valid(tenant) {
                problems.bad(
                    &key,
                    format!("{tenant:?} is not a valid tenant id: {TENANT_ID_RULE}"),
                );
            }
            o.validate(&key, &mut problems);
        }
        self.storage.validate(&mut problems);
        self.validate_memory_limit(&mut problems);
        self.spanmetrics.validate(&mut problems);
        self.query.validate(&mut problems);
        self.rules.validate(&mut problems);
        self.alerting.validate(&mut problems);
        self.cluster.validate(&mut problems);
        self.validate_deletion_delay(&mut problems);
        for (key, message) in scrape::problems(&self.scrape) {
            problems.bad(&key, message);
        }
        problems.0
    }
}

/// What a tenant id may be, in words (ids name directories and object-store prefixes).
pub const TENANT_ID_RULE: &str = "expected 1-64 characters of [A-Za-z0-9_.-], not '.' or '..'";

/// Whether `id` may be a tenant id ([`TENANT_ID_RULE`]).
pub fn tenant_id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The problems a validation found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    /// Records that `key` (dotted, `server.http_addr`) is wrong, and why.
    pub(crate) fn bad(&mut self, key: &str, message: String) {
        self.0.push(Problem {
            key: key.to_string(),
            message,
        });
    }
}
