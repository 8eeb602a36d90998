//! `[cluster]`: this process's place in a cluster of roles over one bucket
//! (`storage/docs/format/cluster.md`), and the `--role` it runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Problems;

/// Where the manifest (the commit point) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestMode {
    /// The `MANIFEST` file in `server.data_dir`, renamed over atomically.
    #[default]
    Local,
    /// Numbered snapshots created once under `manifest/` of the data files' store
    /// (`storage.object_store`, or `server.data_dir` when that is empty).
    Bucket,
}

/// What a process does (`osprey serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Accepts ingest, holds a WAL and memtables, commits its flushes.
    Ingester,
    /// Answers queries from the bucket and the ingesters.
    Querier,
    /// Compacts, applies retention, collects garbage, runs rules and the notifier.
    Compactor,
    /// All of the above in one process: a single node.
    #[default]
    All,
}

impl Role {
    pub const NAMES: [&'static str; 4] = ["ingester", "querier", "compactor", "all"];

    pub fn name(self) -> &'static str {
        match self {
            Role::Ingester => "ingester",
            Role::Querier => "querier",
            Role::Compactor => "compactor",
            Role::All => "all",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ingester" => Ok(Role::Ingester),
            "querier" => Ok(Role::Querier),
            "compactor" => Ok(Role::Compactor),
            "all" => Ok(Role::All),
            _ => Err(format!(
                "{s:?} is not a role; expected one of {}",
                Role::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Membership and the commit point of a cluster; a single node needs none of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This process's name, which its data files and its epoch in the manifest carry;
    /// empty for the host name (a StatefulSet's pod name, stable across restarts).
    pub node_id: String,
    /// The ingesters' internal addresses (`host:port`) in ordinal order; empty on a
    /// single node.
    pub ingesters: Vec<String>,
    /// The compactor's internal address (`host:port`), where it runs the rules and the
    /// notifier: queriers pass the alerting API (rules, alerts, silences) on to it.
    /// Empty: a querier's alerting API lists no rules.
    pub compactor: String,
    /// Where this process answers node-to-node calls.
    pub internal_addr: SocketAddr,
    /// A file holding the token node-to-node calls carry; required with `ingesters`.
    pub token_file: PathBuf,
    /// `"local"` (the `MANIFEST` file) or `"bucket"` (snapshots in the store).
    pub manifest: ManifestMode,
    /// How often queriers and the compactor look for a newer snapshot.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a file dropped from the manifest stays readable before it is deleted;
    /// longer than `query.timeout` + `poll_interval`.
    #[serde(with = "humantime_serde")]
    pub deletion_delay: Duration,
    /// How long an ingester waits for another to store the part of a request it owns
    /// before it answers the request 503 (the client retries; batch ids make that safe).
    #[serde(with = "humantime_serde")]
    pub forward_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            ingesters: Vec::new(),
            compactor: String::new(),
            internal_addr: SocketAddr::from(([127, 0, 0, 1], 4319)),
            token_file: PathBuf::new(),
            manifest: ManifestMode::Local,
            poll_interval: Duration::from_secs(5),
            deletion_delay: Duration::from_secs(15 * 60),
            forward_timeout: Duration::from_secs(5),
        }
    }
}

/// The node id the compactor role commits under, whatever its host name: its epoch in
/// the manifest fences any other compactor (one at a time, `cluster.md`), its files are
/// named after it, and it alone prunes old snapshots.
pub const COMPACTOR_ID: &str = "compactor";

/// What a node id may be, in words (it names data files and manifest entries).
pub const NODE_ID_RULE: &str = "expected 1-63 characters of [A-Za-z0-9_.-]";

/// Whether `id` may be a node id ([`NODE_ID_RULE`]).
pub fn node_id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `osprey`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "osprey".to_string())
}

impl ClusterConfig {
    /// `node_id`, or the host name when it is empty.
    pub fn node_id(&self) -> String {
        if self.node_id.is_empty() {
            host_name()
        } else {
            self.node_id.clone()
        }
    }

    /// Which of `ingesters` is this node: the entry equal to `internal_addr`, or the one
    /// whose host's first label is the node id (`osprey-ingester-0.osprey-ingester:4319`
    /// for the StatefulSet's pod `osprey-ingester-0`).
    pub fn own_ordinal(&self) -> Option<usize> {
        let addr = self.internal_addr.to_string();
        let node = self.node_id();
        let first_label = |a: &str| {
            let host = a.rsplit_once(':').map_or(a, |(h, _)| h);
            host.split('.').next().unwrap_or(host).to_string()
        };
        self.ingesters
            .iter()
            .position(|a| *a == addr)
            .or_else(|| self.ingesters.iter().position(|a| first_label(a) == node))
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        if !self.node_id.is_empty() && !node_id_is_valid(&self.node_id) {
            p.bad(
                "cluster.node_id",
                format!("{:?} is not a valid node id: {NODE_ID_RULE}", self.node_id),
            );
        }
        let port_ok = |a: &str| {
            a.rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        };
        if !self.compactor.is_empty() && !port_ok(&self.compactor) {
            p.bad(
                "cluster.compactor",
                format!("{:?} is not an address; expected HOST:PORT", self.compactor),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.ingesters.iter().enumerate() {
            if !port_ok(a) {
                p.bad(
                    &format!("cluster.ingesters[{i}]"),
                    format!("{a:?} is not an address; expected HOST:PORT"),
                );
            }
            if !seen.insert(a) {
                p.bad(
                    &format!("cluster.ingesters[{i}]"),
                    format!("{a:?} is listed twice"),
                );
            }
        }
        if !self.ingesters.is_empty() {
            if self.token_file.as_os_str().is_empty() {
                p.bad(
                    "cluster.token_file",
                    "is required when cluster.ingesters is set: node-to-node calls carry its token"
                        .into(),
                );
            }
            if self.manifest != ManifestMode::Bucket {
                p.bad(
                    "cluster.manifest",
                    "must be \"bucket\" when cluster.ingesters is set: every node commits to the same manifest".into(),
                );
            }
        }
        if self.poll_interval.is_zero() {
            p.bad("cluster.poll_interval", "must be greater than 0s".into());
        }
        if self.forward_timeout.is_zero() {
            p.bad("cluster.forward_timeout", "must be greater than 0s".into());
        }
    }

    /// What running as `role` needs of this section.
    pub fn role_problems(&self, role: Role) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if role != Role::All {
            if self.manifest != ManifestMode::Bucket {
                out.push((
                    "cluster.manifest".to_string(),
                    format!(
                        "--role {role} shares the manifest with other processes: set cluster.manifest = \"bucket\""
                    ),
                ));
            }
            if self.ingesters.is_empty() {
                // The compactor's rules read the ingesters' rows and write to them.
                out.push((
                    "cluster.ingesters".to_string(),
                    format!("--role {role} needs the ingesters' internal addresses"),
                ));
            } else if role == Role::Ingester
                && !self.node_id.is_empty()
                && self.own_ordinal().is_none()
            {
                // With node_id empty, the host name where it runs decides (`serve`
                // checks it there; a check elsewhere cannot).
                out.push((
                    "cluster.ingesters".to_string(),
                    format!(
                        "--role ingester must be listed: no entry is cluster.internal_addr ({}) or starts with the node id {:?}",
                        self.internal_addr,
                        self.node_id()
                    ),
                ));
            }
            if self.token_file.as_os_str().is_empty() {
                out.push((
                    "cluster.token_file".to_string(),
                    format!("--role {role} talks to the other nodes with it; set one"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_defaults_to_the_host_name() {
        let c = ClusterConfig::default();
        assert!(!c.node_id().is_empty());
        let named = ClusterConfig {
            node_id: "osprey-ingester-2".into(),
            ..Default::default()
        };
        assert_eq!(named.node_id(), "osprey-ingester-2");
    }

    #[test]
    fn an_ingester_finds_itself_by_address_or_node_id() {
        let ingesters = vec![
            "osprey-ingester-0.osprey-ingester:4319".to_string(),
            "127.0.0.1:4400".to_string(),
        ];
        let by_name = ClusterConfig {
            node_id: "osprey-ingester-0".into(),
            ingesters: ingesters.clone(),
            ..Default::default()
        };
        assert_eq!(by_name.own_ordinal(), Some(0));
        let by_addr = ClusterConfig {
            node_id: "other".into(),
            ingesters: ingesters.clone(),
            internal_addr: "127.0.0.1:4400".parse().unwrap(),
            ..Default::default()
        };
        assert_eq!(by_addr.own_ordinal(), Some(1));
        let stranger = ClusterConfig {
            node_id: "osprey-ingester-9".into(),
            ingesters,
            manifest: ManifestMode::Bucket,
            token_file: "token".into(),
            ..Default::default()
        };
        assert_eq!(stranger.own_ordinal(), None);
        let problems = stranger.role_problems(Role::Ingester);
        assert!(problems[0].1.contains("must be listed"), "{problems:?}");
        assert!(stranger.role_problems(Role::Querier).is_empty());
    }

    #[test]
    fn roles_parse_and_name_themselves() {
        for name in Role::NAMES {
            assert_eq!(name.parse::<Role>().unwrap().name(), name);
        }
        let e = "reader".parse::<Role>().unwrap_err();
        assert!(e.contains("ingester, querier, compactor, all"), "{e}");
    }

    #[test]
    fn a_role_other_than_all_needs_a_shared_manifest() {
        let c = ClusterConfig::default();
        assert!(c.role_problems(Role::All).is_empty());
        let p = c.role_problems(Role::Querier);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].1.contains("cluster.manifest = \"bucket\""));
        assert_eq!(p[2].0, "cluster.token_file");
        let bucket = ClusterConfig {
            manifest: ManifestMode::Bucket,
            token_file: "token".into(),
            ..Default::default()
        };
        // The compactor's rules read and write through the ingesters.
        let p = bucket.role_problems(Role::Compactor);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "cluster.ingesters");
        let listed = ClusterConfig {
            ingesters: vec!["i-0:4319".into()],
            ..bucket
        };
        assert!(listed.role_problems(Role::Compactor).is_empty());
    }
}
