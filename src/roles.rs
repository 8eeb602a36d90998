//! What `osprey serve --role` turns on (`storage/docs/format/cluster.md`, "Roles"):
//! the parts of the server each role runs, the check that its config allows it, the
//! cluster token, how it opens storage (a writer's, a querier's follower, or the
//! compactor's writer reading the ingesters), and where the compactor's rules write.

use std::sync::Arc;

use anyhow::Context;
use osprey_config::{Config, Role};
use osprey_storage::Storage;

/// The parts of the server a role runs.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Ingest listeners and routes, the WAL's writer, span metrics, scrapes, flushes.
    pub ingest: bool,
    /// The query API and the UI.
    pub queries: bool,
    /// Compaction, retention and garbage collection.
    pub maintenance: bool,
    /// Rule evaluation and the built-in notifier.
    pub rules: bool,
    /// Storage follows the bucket snapshots instead of writing (a querier).
    pub follower: bool,
    /// Sweeps objects no snapshot lists, of any writer (the compactor's job).
    pub sweeps: bool,
    /// Sends spans and metric points to the ingesters that own them (an ingester).
    pub forwards: bool,
}

impl Parts {
    /// Whether these are the compactor's: rules evaluated in a cluster, beside the
    /// sweeps of every writer's objects (a single node's rules do not sweep).
    pub fn is_compactor(&self) -> bool {
        self.rules && self.sweeps
    }

    pub fn of(role: Role) -> Self {
        let only = |ingest, queries, follower| Parts {
            ingest,
            queries,
            maintenance: false,
            rules: false,
            follower,
            sweeps: false,
            forwards: false,
        };
        match role {
            Role::All => Parts {
                ingest: true,
                queries: true,
                maintenance: true,
                rules: true,
                follower: false,
                sweeps: false,
                forwards: false,
            },
            Role::Ingester => Parts {
                forwards: true,
                ..only(true, false, false)
            },
            Role::Querier => only(false, true, true),
            // Rules read the ingesters as a querier does and write their results to
            // the series' owners; the notifier's state is in the bucket's documents.
            Role::Compactor => Parts {
                maintenance: true,
                sweeps: true,
                rules: true,
                ..only(false, false, false)
            },
        }
    }
}

/// What `surfaces` needs of the role: its parts and the cluster token.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub parts: Parts,
    pub cluster_token: Option<&'a str>,
}

/// Refuses a role this build cannot run yet, or a config that role cannot run with.
pub fn check(config: &Config, role: Role) -> anyhow::Result<()> {
    let problems = config.role_problems(role);
    if let Some((key, message)) = problems.first() {
        anyhow::bail!("{key}: {message}");
    }
    let c = &config.cluster;
    if role == Role::Ingester && c.own_ordinal().is_none() {
        anyhow::bail!(
            "cluster.ingesters: --role ingester must be listed: no entry is cluster.internal_addr ({}) or starts with this node's id {:?} (node_id, or the host name)",
            c.internal_addr,
            c.node_id()
        );
    }
    Ok(())
}

/// The node-to-node API's token (the contents of `cluster.token_file`), when one is set.
pub fn cluster_token(config: &Config) -> anyhow::Result<Option<String>> {
    let file = &config.cluster.token_file;
    if file.as_os_str().is_empty() {
        return Ok(None);
    }
    let path = config.base_dir.join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cluster.token_file: cannot read {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("cluster.token_file: {} is empty", path.display());
    }
    Ok(Some(token.to_string()))
}

/// Opens the data directory: as a writer, or as a follower of the bucket snapshots
/// reading the ingesters' unflushed rows with `token` (a querier).
pub async fn open_storage(
    config: &Config,
    parts: Parts,
    token: Option<&str>,
) -> anyhow::Result<Storage> {
    let dir = config.server.data_dir.clone();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let storage_cfg = config.storage.clone();
    let mut cluster = config.cluster.clone();
    if parts.sweeps {
        // One compactor at a time, whatever its pod is called.
        cluster.node_id = osprey_config::COMPACTOR_ID.to_string();
    }
    // A querier, and the compactor for its rules, read the ingesters' unflushed rows.
    let source = match (parts.follower || parts.sweeps, token) {
        (true, Some(t)) => Some(Arc::new(osprey_query::cluster::IngesterClient::new(
            cluster.ingesters.clone(),
            t.to_string(),
            config.query.timeout,
        ))),
        _ => None,
    };
    // An ingester asks the others which of its WAL's forwarded batches they stored in
    // its place while it was down.
    let peers = match (parts.forwards, token, cluster.own_ordinal()) {
        (true, Some(t), Some(me)) => Some(Arc::new(osprey_ingest::cluster::peers::Peers::new(
            &cluster.ingesters,
            me,
            t.to_string(),
            cluster.forward_timeout,
        ))),
        _ => None,
    };
    let open_dir = dir.clone();
    let follows = parts.follower;
    let opened = tokio::task::spawn_blocking(move || match (source, peers) {
        (Some(s), _) if follows => Storage::open_follower(&open_dir, storage_cfg, &cluster, s),
        (Some(s), _) => Storage::open_compactor(&open_dir, storage_cfg, &cluster, s),
        (None, Some(p)) => Storage::open_ingester(&open_dir, storage_cfg, &cluster, p),
        (None, None) => Storage::open_with(&open_dir, storage_cfg, &cluster),
    })
    .await?;
    let storage = opened.with_context(|| format!("cannot open storage in {}", dir.display()))?;
    if storage.batch_ids().held_elsewhere() > 0 {
        // Batches another ingester stored in this one's place: flushed now, the WAL
        // segments holding this node's copies are gone before anyone else forgets.
        storage
            .flush_wal()
            .await
            .context("flushing after leaving out batches held by another ingester")?;
    }
    Ok(storage)
}

/// The compactor's rule results, written to the ingesters owning their series (it
/// holds no ingester's WAL), acknowledged once each owner has them in its WAL.
pub struct ForwardedResults {
    pub forward: osprey_ingest::cluster::Forwarder,
    /// Unused for storing (the compactor owns no series): the forwarder's signature.
    pub ingest: osprey_ingest::IngestState,
}

impl osprey_alerting::eval::SampleOutput for ForwardedResults {
    fn write<'a>(
        &'a self,
        tenant: &'a str,
        rows: Vec<osprey_storage::schema::SampleRow>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let outcome = self
                .forward
                .store_rows(&self.ingest, tenant, &rows)
                .await
                .map_err(|e| e.client_message())?;
            if outcome.rejected.count > 0 {
                // As Prometheus logs an out-of-order rule result, and goes on.
                tracing::warn!(
                    tenant,
                    rejected = outcome.rejected.count,
                    reason = %outcome.rejected.message(),
                    "rule results refused by their series' owners"
                );
            }
            Ok(())
        })
    }
}
