//! `osprey serve`: loads the config, opens storage, wires the crates' routers onto the
//! three listeners and starts the background tasks; on SIGINT/SIGTERM drains them in
//! order (see `tasks.rs`) within `server.shutdown_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use osprey_alerting::RuleManager;
use osprey_auth::{Authenticator, Limiter};
use osprey_config::Config;
use osprey_ingest::IngestState;
use osprey_query::{HttpMetrics, OpsState, QueryState};
use osprey_storage::Storage;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::ServeArgs;
use crate::listen::{self, Limits};
use crate::roles::{self, Parts};
use crate::tasks::Tasks;

fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut overrides = osprey_config::env_overrides(std::env::vars());
    let flags = [
        (
            "server.data_dir",
            args.data_dir.as_ref().map(|p| p.display().to_string()),
        ),
        ("server.http_addr", args.http_addr.clone()),
        ("server.otlp_grpc_addr", args.otlp_grpc_addr.clone()),
        ("server.otlp_http_addr", args.otlp_http_addr.clone()),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            // Quoted so that a path or address is always read as a string.
            overrides.push((key.to_string(), format!("{v:?}")));
        }
    }
    Ok(osprey_config::load(args.config.as_deref(), &overrides)?)
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))?;
    Ok(l)
}

/// The routers of the two HTTP listeners (API + UI, OTLP HTTP) and the state the
/// rest of the wiring needs.
struct Surfaces {
    api: axum::Router,
    otlp_http: axum::Router,
    /// The node-to-node API, when `cluster.token_file` is set.
    internal: Option<axum::Router>,
    ingest: IngestState,
    shutting_down: Arc<AtomicBool>,
}

fn surfaces(
    config: &Config,
    storage: &Storage,
    rules: RuleManager,
    alerting_metrics: &osprey_alerting::AlertingMetrics,
    auth: Arc<Authenticator>,
    limiter: &Arc<Limiter>,
    setup: roles::Setup<'_>,
) -> Surfaces {
    let (parts, cluster_token) = (setup.parts, setup.cluster_token);
    let mut ingest = IngestState::with_limits(
        storage.clone(),
        config.server.max_body_size.as_u64(),
        config.server.ingest_inflight_limit.as_u64(),
        config.spanmetrics.clone(),
    );
    ingest.limiter = Arc::clone(limiter);
    if parts.forwards
        && let (Some(token), Some(me)) = (cluster_token, config.cluster.own_ordinal())
    {
        ingest
            .spanmetrics
            .label_with_node(&config.cluster.node_id());
        ingest.forward = Some(Arc::new(osprey_ingest::cluster::Forwarder::new(
            config.cluster.ingesters.clone(),
            Some(me),
            token.to_string(),
            config.cluster.forward_timeout,
        )));
    }
    ingest.admission.watch_memory(
        config.server.memory_limit.as_u64(),
        config.server.memory_headroom(config.storage.flush_size),
    );
    let http_metrics = HttpMetrics::default();
    let mut registry = Registry::default();
    storage.metrics().register(&mut registry);
    ingest.metrics.register(&mut registry);
    ingest.spanmetrics.register(&mut registry);
    http_metrics.register(&mut registry);
    alerting_metrics.register(&mut registry);
    limiter.register(&mut registry);
    let shutting_down = Arc::new(AtomicBool::new(false));
    let ops = OpsState {
        storage: storage.clone(),
        registry: Arc::new(registry),
        shutting_down: Arc::clone(&shutting_down),
    };
    let query = QueryState {
        limiter: Arc::clone(limiter),
        ..QueryState::new(storage.clone(), config.query.clone())
    };
    let track = axum::middleware::from_fn_with_state(http_metrics, osprey_query::ops::track);
    // Who is asking, decided once per request for every handler behind it; each
    // route then checks its scope. Only the probes answer without credentials.
    let context = axum::middleware::from_fn_with_state(auth, osprey_auth::http_context);
    // Only a node that holds unflushed rows answers for them; the compactor answers
    // the alerting API the queriers pass on to it.
    let internal = cluster_token.and_then(|token| {
        let router = match (parts.ingest, parts.is_compactor()) {
            (true, _) => osprey_query::internal_router(query.clone(), config.cluster.node_id())
                .merge(osprey_ingest::cluster::internal_router(ingest.clone())),
            (false, true) => osprey_alerting::router(rules.clone()),
            (false, false) => return None,
        };
        let only_cluster = Arc::new(Authenticator::cluster(token));
        Some(
            router
                .layer(axum::middleware::from_fn_with_state(
                    only_cluster,
                    osprey_auth::http_context,
                ))
                .layer(track.clone()),
        )
    });
    // A querier passes the alerting API on to the compactor, where the rules run.
    let alerting = match cluster_token.filter(|_| parts.follower) {
        Some(token) if !config.cluster.compactor.is_empty() => osprey_alerting::remote_router(
            config.cluster.compactor.clone(),
            token.to_string(),
            config.query.timeout,
        ),
        _ => osprey_alerting::router(rules),
    };
    let mut api = axum::Router::new();
    if parts.ingest {
        api = api.merge(osprey_ingest::api_router(ingest.clone()));
    }
    api = match parts.queries {
        true => api
            .merge(osprey_query::router(query, ops.clone()))
            .merge(alerting)
            .merge(osprey_ui::router()),
        false => api.merge(osprey_query::admin_router(query, ops.clone())),
    };
    let api = api
        .layer(context.clone())
        .merge(osprey_query::probes_router(ops))
        .layer(track.clone());
    let otlp_http = osprey_ingest::otlp_http_router(ingest.clone())
        .layer(context)
        .layer(track);
    Surfaces {
        api,
        otlp_http,
        internal,
        ingest,
        shutting_down,
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    roles::check(&config, args.role)?;
    let parts = Parts::of(args.role);
    let token = roles::cluster_token(&config)?;
    let storage = roles::open_storage(&config, parts, token.as_deref()).await?;
    // One signal fans out to every listener and background task.
    let (stop_tx, stop_rx) = watch::channel(false);
    let alerting_metrics = osprey_alerting::AlertingMetrics::default();
    let notifier = match parts.rules {
        true => notifier(&config, &storage, &alerting_metrics).await?,
        false => None,
    };
    // Each tenant's limits, shared by ingest, queries and rules.
    let limiter = Arc::new(Limiter::new(&config));
    let rules = rule_manager(
        &config,
        &storage,
        &limiter,
        notifier.clone(),
        &alerting_metrics,
        stop_rx.clone(),
        roles::Setup {
            parts,
            cluster_token: token.as_deref(),
        },
    )?;
    let (auth, self_token) = authenticator(&config)?;
    let s = surfaces(
        &config,
        &storage,
        rules.clone(),
        &alerting_metrics,
        Arc::clone(&auth),
        &limiter,
        roles::Setup {
            parts,
            cluster_token: token.as_deref(),
        },
    );
    let mut tasks = Tasks::default();
    let self_addr = spawn_listeners(&mut tasks, &config, &s, &auth, &stop_rx, parts).await?;
    tracing::info!(
        role = %args.role,
        http = %self_addr,
        data_dir = %config.server.data_dir.display(),
        "osprey {} ready", env!("CARGO_PKG_VERSION")
    );
    let mut scrape = scrape_config(&config, self_addr, self_token);
    if let Some(forward) = &s.ingest.forward {
        share_targets(&mut scrape, forward, &config.cluster.node_id());
    }
    spawn_background(&mut tasks, &storage, &s, scrape, &stop_rx, parts);
    // Rule groups evaluate on their own tasks; this one reloads them on SIGHUP and
    // stops them (their last writes go in before the final flush).
    tasks.spawn_infallible("rules", reload_on_sighup(rules, stopped(stop_rx.clone())));
    if let Some(n) = notifier {
        tasks.spawn_infallible("notifier", n.run(stop_rx.clone()));
    }
    spawn_storage_tasks(&mut tasks, &storage, &config, &stop_rx, parts);

    let fenced = tokio::select! {
        _ = crate::shutdown_signal() => false,
        _ = fenced(&storage) => true,
    };
    s.shutting_down.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    if fenced {
        // A newer process with this node id owns the WAL and the manifest now: no
        // final flush, nothing more to acknowledge.
        anyhow::bail!(
            "fenced: another process with node id {:?} took over; exiting",
            match parts.sweeps {
                true => osprey_config::COMPACTOR_ID.to_string(),
                false => config.cluster.node_id(),
            }
        );
    }
    drain(tasks, &storage, config.server.shutdown_timeout).await;
    Ok(())
}

/// Resolves when `rx` says stop.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Binds and serves the role's listeners (the shutdown order starts with them);
/// returns the API address. Certificates that do not load fail the start before
/// anything listens.
async fn spawn_listeners(
    tasks: &mut Tasks,
    config: &Config,
    s: &Surfaces,
    auth: &Arc<Authenticator>,
    stop_rx: &watch::Receiver<bool>,
    parts: Parts,
) -> anyhow::Result<SocketAddr> {
    let http_tls = tls_acceptor(config, &[b"h2", b"http/1.1"])?;
    let grpc_tls = tls_acceptor(config, &[b"h2"])?;
    let limits = Limits::from_config(&config.server);
    let http_l = bind("HTTP API", config.server.http_addr).await?;
    let self_addr = http_l.local_addr()?;
    let api = listen::serve_http(
        http_l,
        s.api.clone(),
        limits,
        http_tls.clone(),
        stop_rx.clone(),
    );
    tasks.spawn("http", api);
    if parts.ingest {
        let otlp_http_l = bind("OTLP HTTP", config.server.otlp_http_addr).await?;
        let grpc_l = bind("OTLP gRPC", config.server.otlp_grpc_addr).await?;
        tracing::info!(otlp_http = %otlp_http_l.local_addr()?, otlp_grpc = %grpc_l.local_addr()?, "OTLP listening");
        let otlp = listen::serve_http(
            otlp_http_l,
            s.otlp_http.clone(),
            limits,
            http_tls,
            stop_rx.clone(),
        );
        tasks.spawn("otlp_http", otlp);
        tasks.spawn(
            "otlp_grpc",
            tonic::transport::Server::builder()
                .timeout(limits.body_read_timeout)
                .http2_keepalive_interval(Some(listen::H2_KEEPALIVE))
                .http2_keepalive_timeout(Some(listen::H2_KEEPALIVE))
                .layer(osprey_auth::GrpcContextLayer::new(
                    Arc::clone(auth),
                    osprey_config::Scope::Ingest,
                ))
                .layer(osprey_ingest::admission::GrpcLayer(
                    s.ingest.admission.clone(),
                ))
                .add_routes(osprey_ingest::otlp_grpc_routes(s.ingest.clone()))
                .serve_with_incoming_shutdown(
                    listen::incoming(grpc_l, limits, grpc_tls, stop_rx.clone()),
                    stopped(stop_rx.clone()),
                ),
        );
    }
    if let Some(router) = &s.internal {
        let l = bind("the node-to-node API", config.cluster.internal_addr).await?;
        tracing::info!(internal = %l.local_addr()?, "node-to-node API listening");
        let internal = listen::serve_http(l, router.clone(), limits, None, stop_rx.clone());
        tasks.spawn("internal", internal);
    }
    Ok(self_addr)
}

/// The producers of internal writes: span metrics' last write and the scrapes'
/// staleness markers go in before the final flush.
fn spawn_background(
    tasks: &mut Tasks,
    storage: &Storage,
    s: &Surfaces,
    scrape: osprey_config::ScrapeConfig,
    stop_rx: &watch::Receiver<bool>,
    parts: Parts,
) {
    if !parts.ingest {
        return;
    }
    let spanmetrics = Arc::clone(&s.ingest.spanmetrics);
    let st = storage.clone();
    let rx = stop_rx.clone();
    tasks.spawn_infallible("spanmetrics", async move {
        spanmetrics.run(st, stopped(rx)).await
    });
    tasks.spawn_infallible(
        "scrape",
        osprey_ingest::scrape::run(
            storage.clone(),
            Arc::clone(&s.ingest.samples),
            Arc::clone(&s.ingest.targets),
            Arc::clone(&s.ingest.limiter),
            scrape,
            stop_rx.clone(),
        ),
    );
}

/// Flushes, maintenance, and a querier's poll of the manifest head, last in the
/// shutdown order.
fn spawn_storage_tasks(
    tasks: &mut Tasks,
    storage: &Storage,
    config: &Config,
    stop_rx: &watch::Receiver<bool>,
    parts: Parts,
) {
    if parts.ingest {
        let (st, rx) = (storage.clone(), stop_rx.clone());
        tasks.spawn_infallible("flusher", async move { st.run_flusher(stopped(rx)).await });
    }
    if parts.maintenance {
        let (st, rx) = (storage.clone(), stop_rx.clone());
        tasks.spawn_infallible("maintenance", async move {
            st.run_maintenance(stopped(rx)).await
        });
    }
    if parts.sweeps {
        let (st, rx) = (storage.clone(), stop_rx.clone());
        let (every, grace) = (
            config.storage.maintenance_interval,
            config.cluster.deletion_delay,
        );
        tasks.spawn_infallible("sweep", async move {
            tokio::pin!(let stop = stopped(rx););
            loop {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(every) => {}
                }
                match st.sweep_orphans(grace).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(objects = n, "swept objects no snapshot lists"),
                    Err(e) => {
                        tracing::warn!(error = %e, "sweeping unlisted objects failed; will retry")
                    }
                }
            }
        });
    }
    // A querier follows the head; a writer sharing the store checks its epoch there.
    let (st, rx) = (storage.clone(), stop_rx.clone());
    let every = config.cluster.poll_interval;
    tasks.spawn_infallible("manifest_poll", async move {
        st.run_manifest_poll(every, stopped(rx)).await
    });
}

/// Resolves once storage is fenced (checked every second).
async fn fenced(storage: &Storage) {
    while !storage.is_fenced() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Who may ask: the tokens of `[auth]`, and a token only this process knows for its
/// scrape of its own `/metrics`.
fn authenticator(config: &Config) -> anyhow::Result<(Arc<Authenticator>, String)> {
    let mut auth = Authenticator::new(&config.auth)?;
    if auth.enabled() {
        tracing::info!(
            tokens = config.auth.tokens.len(),
            "authentication on: requests need a token"
        );
    } else if !config.server.exposed().is_empty() {
        tracing::warn!(
            "authentication is off and a listener faces a non-loopback address (server.allow_unauthenticated = true): anyone who can reach it can read and write every tenant"
        );
    }
    let self_token = auth.add_internal(
        "self-monitor",
        &config.scrape.tenant,
        &[osprey_config::Scope::Admin],
    );
    Ok((Arc::new(auth), self_token))
}

/// `[scrape]`, with Osprey's scrape of itself at `self_addr` when `self_monitor` asks
/// for it (through the listener's scheme, with the process's own token).
fn scrape_config(
    config: &Config,
    self_addr: SocketAddr,
    self_token: String,
) -> osprey_config::ScrapeConfig {
    let mut scrape = config.scrape.clone();
    if scrape.self_monitor {
        let mut job = osprey_config::ScrapeJob::self_monitor(self_addr);
        job.authorization = Some(osprey_config::ScrapeAuthorization {
            credentials: self_token,
            ..Default::default()
        });
        if config.tls.enabled() {
            // Its own listener: the address may not be among the certificate's names.
            job.scheme = "https".into();
            job.tls_config.insecure_skip_verify = true;
        }
        scrape.jobs.push(job);
    }
    scrape
}

/// A cluster ingester scrapes only the targets it owns (a rendezvous hash of tenant,
/// job and address, as spans and series are owned), and labels its scrape of itself
/// with its node id, so that no two ingesters write one series.
fn share_targets(
    scrape: &mut osprey_config::ScrapeConfig,
    forward: &osprey_ingest::cluster::Forwarder,
    node: &str,
) {
    for job in &mut scrape.jobs {
        if job.job_name == osprey_config::SELF_JOB {
            job.labels.insert(
                osprey_ingest::spanmetrics::INGESTER_LABEL.to_string(),
                node.to_string(),
            );
            continue;
        }
        let tenant = job.tenant.clone().unwrap_or_else(|| scrape.tenant.clone());
        let name = job.job_name.clone();
        job.targets
            .retain(|t| forward.owns(&tenant, format!("{name}\u{0}{t}").as_bytes()));
    }
}

/// Stops the tasks in order, then closes storage (the final flush), within `timeout`.
async fn drain(tasks: Tasks, storage: &Storage, timeout: std::time::Duration) {
    tracing::info!(order = ?tasks.names(), "shutting down: draining requests, then flushing");
    // Live-tail streams never end on their own; end them so the HTTP drain can finish.
    storage.end_tails();
    let drain = async {
        tasks.join_in_order().await;
        storage.close().await
    };
    match tokio::time::timeout(timeout, drain).await {
        Ok(Ok(())) => tracing::info!("shutdown complete"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "final flush failed; the WAL keeps the data for the next start")
        }
        Err(_) => tracing::warn!(
            ?timeout,
            "shutdown timed out; acknowledged data is safe in the WAL"
        ),
    }
}

/// This server's API address as a URL (https with `[tls]`).
fn own_url(config: &Config) -> String {
    let scheme = if config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{}", config.server.http_addr)
}

/// The TLS of the listeners that speak `alpn`, if `[tls]` turns it on (relative
/// files from the config file's directory).
fn tls_acceptor(
    config: &Config,
    alpn: &[&[u8]],
) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let t = &config.tls;
    if !t.enabled() {
        return Ok(None);
    }
    let path = |p: &std::path::Path| config.base_dir.join(p);
    let options = osprey_tls::ServerOptions {
        cert_file: path(&t.cert_file),
        key_file: path(&t.key_file),
        client_ca_file: (!t.client_ca_file.as_os_str().is_empty()).then(|| path(&t.client_ca_file)),
    };
    let server =
        osprey_tls::server_config(&options, alpn).map_err(|e| anyhow::anyhow!("[tls]: {e}"))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(server)))
}

/// The rule manager over this server's storage, with every rule file loaded: a start
/// with rules that do not load fails, as Prometheus' does.
fn rule_manager(
    config: &Config,
    storage: &Storage,
    limiter: &Arc<Limiter>,
    notifier: Option<osprey_alerting::notify::Notifier>,
    metrics: &osprey_alerting::AlertingMetrics,
    stopped: watch::Receiver<bool>,
    setup: roles::Setup<'_>,
) -> anyhow::Result<RuleManager> {
    let backend = osprey_alerting::eval::Backend {
        query: QueryState {
            limiter: Arc::clone(limiter),
            ..QueryState::new(storage.clone(), config.query.clone())
        },
        output: rule_output(config, storage, setup),
    };
    let external_url = osprey_alerting::manager::external_url(&config.alerting, &own_url(config));
    let rules = RuleManager::new(
        backend,
        config.rules.clone(),
        &config.alerting,
        &config.base_dir,
        osprey_alerting::manager::Outputs {
            external_url,
            notifier,
            metrics: metrics.clone(),
        },
        stopped,
    );
    // A role that runs no rules keeps the manager empty (its API lists none).
    if !setup.parts.rules {
        return Ok(rules);
    }
    if let Err(errors) = rules.reload() {
        anyhow::bail!("cannot load rules:\n  {}", errors.join("\n  "));
    }
    Ok(rules)
}

/// Where the compactor's rules write (the series' owners); `None` elsewhere: the
/// server's own storage.
fn rule_output(
    config: &Config,
    storage: &Storage,
    setup: roles::Setup<'_>,
) -> Option<Arc<dyn osprey_alerting::eval::SampleOutput>> {
    let parts = setup.parts;
    let token = setup.cluster_token.filter(|_| parts.is_compactor())?;
    let forward = osprey_ingest::cluster::Forwarder::new(
        config.cluster.ingesters.clone(),
        None,
        token.to_string(),
        config.cluster.forward_timeout,
    );
    let ingest = IngestState::new(storage.clone(), config.server.max_body_size.as_u64());
    Some(Arc::new(roles::ForwardedResults { forward, ingest }))
}

/// The built-in notifier of `[alerting] alertmanager_config`, if one is named: a start
/// with a file that does not load fails.
async fn notifier(
    config: &Config,
    storage: &Storage,
    metrics: &osprey_alerting::AlertingMetrics,
) -> anyhow::Result<Option<osprey_alerting::notify::Notifier>> {
    let file = &config.alerting.alertmanager_config;
    if file.is_empty() {
        return Ok(None);
    }
    let path = config.base_dir.join(file);
    let compiled = osprey_alerting::notify::load(&path)
        .map_err(|e| anyhow::anyhow!("cannot load the notifier's config: {e}"))?;
    let external_url = osprey_alerting::manager::external_url(&config.alerting, &own_url(config));
    let (storage, metrics) = (storage.clone(), metrics.clone());
    // Loading the saved silences reads the store: off the runtime's threads.
    let n = tokio::task::spawn_blocking(move || {
        osprey_alerting::notify::Notifier::new(
            compiled,
            Some(path),
            external_url,
            Some(storage),
            metrics,
        )
    })
    .await?;
    Ok(Some(n))
}

/// Reloads the rules on each SIGHUP until `stopped`, then stops the groups.
async fn reload_on_sighup(rules: RuleManager, stopped: impl std::future::Future<Output = ()>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::pin!(stopped);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = hup.recv() => {
                            // Problems are logged and kept for /api/v1/rules.
                            let _ = rules.reload();
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler: rules reload only through POST /-/reload");
                stopped.await;
            }
        }
    }
    #[cfg(not(unix))]
    stopped.await;
    rules.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingesters_share_the_scrape_targets_and_each_labels_its_own_scrape() {
        let ingesters: Vec<String> = (0..3).map(|i| format!("10.0.0.{i}:4319")).collect();
        let job = osprey_config::ScrapeJob {
            job_name: "node".into(),
            targets: (0..30).map(|i| format!("host-{i}:9100")).collect(),
            ..Default::default()
        };
        let config = osprey_config::ScrapeConfig {
            jobs: vec![
                job,
                osprey_config::ScrapeJob::self_monitor("127.0.0.1:9090".parse().unwrap()),
            ],
            ..Default::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for me in 0..3 {
            let forward = osprey_ingest::cluster::Forwarder::new(
                ingesters.clone(),
                Some(me),
                "token".into(),
                std::time::Duration::from_secs(1),
            );
            let mut mine = config.clone();
            share_targets(&mut mine, &forward, &format!("ingester-{me}"));
            let node = &mine.jobs[0].targets;
            assert!(!node.is_empty() && node.len() < 30, "{node:?}");
            for t in node {
                assert!(seen.insert(t.clone()), "{t} scraped twice");
            }
            let own = &mine.jobs[1];
            assert_eq!(own.targets, vec!["127.0.0.1:9090".to_string()]);
            let label = own.labels.get(osprey_ingest::spanmetrics::INGESTER_LABEL);
            assert_eq!(label.map(String::as_str), Some(&*format!("ingester-{me}")));
        }
        assert_eq!(seen.len(), 30, "every target scraped once");
    }
}
