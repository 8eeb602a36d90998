//! The `osprey` binary: the command line and its dispatch (this file), the server's
//! wiring (`serve.rs`) and what each `--role` runs of it (`roles.rs`), its named background tasks in shutdown order (`tasks.rs`) and
//! how listeners accept connections (`listen.rs`), and the rule-file and token tools
//! (`rules_cmd.rs`, `token_cmd.rs`). No business logic lives here.

mod listen;
mod roles;
mod rules_cmd;
mod serve;
mod tasks;
mod token_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use osprey_config::ConfigError;

/// glibc malloc took ~45% of ingest CPU in a profile of the traces workload
/// (allocation-heavy decoding on several threads); mimalloc is the usual cure. Built
/// with `no_thp`: with transparent huge pages on its arenas, every purge and re-fault
/// zeroed 2 MiB (a quarter of remote_write ingest CPU in `clear_page_erms`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "osprey",
    about = "Single-binary observability backend",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: ingest listeners, storage, query API and web UI.
    Serve(ServeArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Rule file tools (promtool's, for Osprey's rules).
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
    /// API tokens for `[[auth.tokens]]`.
    Token {
        #[command(subcommand)]
        command: token_cmd::TokenCommand,
    },
    /// Print the version.
    Version,
    /// Send realistic telemetry of a small microservice shop to a running server.
    Demo(DemoArgs),
    /// Run a program, pass its output through and ship its stdout and stderr lines.
    Run(RunArgs),
    /// Ship standard input's lines (and pass them through): `CMD | osprey pipe`.
    Pipe(ShipArgs),
    /// Follow log files (plain, CRI, Docker json-file) through rotation and ship them.
    Tail(TailArgs),
}

#[derive(clap::Args, Clone)]
struct ShipArgs {
    /// The service the lines belong to.
    #[arg(long)]
    service: String,
    #[command(flatten)]
    to: ShipTo,
}

#[derive(clap::Args)]
struct TailArgs {
    /// The service of every file (default: the Kubernetes container name, else the
    /// file name without extension).
    #[arg(long)]
    service: Option<String>,
    /// Where read positions are kept across restarts.
    #[arg(long, default_value = ".osprey-tail.positions")]
    positions: PathBuf,
    /// The files to follow. A quoted pattern (`'/var/log/containers/*.log'`) also
    /// follows matching files that appear later.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    to: ShipTo,
}

#[derive(clap::Args, Clone)]
struct ShipTo {
    /// The Osprey server's API address.
    #[arg(long, default_value = "http://127.0.0.1:9800")]
    endpoint: String,
    /// Tenant to send as X-Scope-OrgID.
    #[arg(long)]
    tenant: Option<String>,
    /// API token (`[[auth.tokens]]`), sent as `Authorization: Bearer`.
    #[arg(long, env = "OSPREY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Most memory for lines waiting to be shipped (the oldest are dropped beyond it).
    #[arg(long, default_value = "16MiB")]
    buffer: bytesize::ByteSize,
    /// How long buffered lines may take to reach the server at exit.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    flush_timeout: Duration,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    ship: ShipArgs,
    /// The program and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// How a client verifies an `https://` server.
#[derive(clap::Args, Clone)]
struct TlsArgs {
    /// PEM CA certificates to verify an https:// server with (default: the system's).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Accept any server certificate (tests only).
    #[arg(long)]
    insecure_skip_verify: bool,
}

impl TlsArgs {
    /// The client options for `endpoint`, checked when it is `https://` (a CA file
    /// that does not load is an error now).
    fn options(&self, endpoint: &str) -> anyhow::Result<osprey_tls::ClientOptions> {
        let o = osprey_tls::ClientOptions {
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            ..Default::default()
        };
        if endpoint.starts_with("https://") {
            osprey_tls::client_config(&o)?;
        }
        Ok(o)
    }
}

impl ShipTo {
    fn config(&self, service: &str) -> anyhow::Result<osprey_ingest::capture::ShipperConfig> {
        if !self.endpoint.starts_with("http://") && !self.endpoint.starts_with("https://") {
            anyhow::bail!(
                "--endpoint {:?}: expected http://HOST:PORT or https://HOST:PORT (the server's API address)",
                self.endpoint
            );
        }
        let mut cfg = osprey_ingest::capture::ShipperConfig::new(&self.endpoint, service);
        cfg.tenant = self.tenant.clone();
        cfg.token = self.token.clone();
        cfg.tls = self.tls.options(&self.endpoint)?;
        cfg.buffer_bytes = usize::try_from(self.buffer.as_u64()).unwrap_or(usize::MAX);
        Ok(cfg)
    }
}

/// Runs a capture client; its exit code is the program's (or 1 when it cannot start).
fn capture(args: ShipArgs, command: Option<Vec<String>>) -> ExitCode {
    let Some(rt) = runtime(Some(1)) else {
        return ExitCode::FAILURE;
    };
    let code = rt.block_on(async move {
        let cfg = args.to.config(&args.service)?;
        let flush = args.to.flush_timeout;
        Ok::<i32, anyhow::Error>(match command {
            Some(cmd) => osprey_ingest::capture::run::run(cfg, &cmd, flush).await?,
            None => osprey_ingest::capture::run::pipe(cfg, flush).await,
        })
    });
    // Do not wait for a shipper still retrying against a dead server.
    rt.shutdown_background();
    exit_code(code)
}

/// A capture client's exit: its code, or 1 with the reason on stderr.
fn exit_code(code: anyhow::Result<i32>) -> ExitCode {
    match code {
        Ok(c) => ExitCode::from(u8::try_from(c.clamp(0, 255)).unwrap_or(1)),
        Err(e) => {
            eprintln!("osprey: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file and explain every problem in it.
    Check {
        file: PathBuf,
        /// Also check what running as this role needs (`osprey serve --role`).
        #[arg(long, default_value = "all")]
        role: osprey_config::Role,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML config file (optional: defaults run with no file).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// HTTP API + UI address (overrides server.http_addr).
    #[arg(long)]
    pub(crate) http_addr: Option<String>,
    /// OTLP gRPC address (overrides server.otlp_grpc_addr).
    #[arg(long)]
    pub(crate) otlp_grpc_addr: Option<String>,
    /// OTLP HTTP address (overrides server.otlp_http_addr).
    #[arg(long)]
    pub(crate) otlp_http_addr: Option<String>,
    /// What this process does: `ingester`, `querier`, `compactor`, or `all` (a single
    /// node; see `[cluster]`).
    #[arg(long, default_value = "all")]
    pub(crate) role: osprey_config::Role,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// OTLP gRPC endpoint of the server (https:// for TLS).
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    endpoint: String,
    /// Stop after this long (e.g. 30s, 10m); runs until Ctrl-C when absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Simulated user requests (traces) per second.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tenant to send as X-Scope-OrgID.
    #[arg(long)]
    tenant: Option<String>,
    /// API token (`[[auth.tokens]]`), sent as `authorization: Bearer` metadata.
    #[arg(long, env = "OSPREY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("osprey {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Rules { command } => rules_cmd::run(command),
        Command::Token { command } => token_cmd::run(command),
        Command::Config {
            command: ConfigCommand::Check { file, role },
        } => config_check(&file, role),
        Command::Serve(args) => {
            // Crash tests arm fault points through FAILPOINTS (debug builds only).
            let _faults = osprey_storage::faults::setup();
            run(serve::serve(args))
        }
        Command::Demo(args) => run(demo(args)),
        Command::Run(args) => capture(args.ship, Some(args.command)),
        Command::Pipe(args) => capture(args, None),
        Command::Tail(args) => tail_files(args),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OSPREY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `osprey tail`: follows files until SIGINT or SIGTERM.
fn tail_files(args: TailArgs) -> ExitCode {
    let Some(rt) = runtime(Some(1)) else {
        return ExitCode::FAILURE;
    };
    let code = rt.block_on(async move {
        let cfg = args
            .to
            .config(args.service.as_deref().unwrap_or("unknown"))?;
        Ok::<i32, anyhow::Error>(
            osprey_ingest::capture::tail::tail(
                cfg,
                args.service,
                args.paths,
                args.positions,
                args.to.flush_timeout,
                shutdown_signal(),
            )
            .await,
        )
    });
    rt.shutdown_background();
    exit_code(code)
}

/// A multi-thread runtime (`workers` threads, or one per core); says why on failure.
fn runtime(workers: Option<usize>) -> Option<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    match b.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("osprey: cannot start the runtime: {e}");
            None
        }
    }
}

fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    init_logging();
    let Some(rt) = runtime(None) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osprey: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_check(file: &std::path::Path, role: osprey_config::Role) -> ExitCode {
    let problems = match osprey_config::load(Some(file), &[]) {
        Ok(c) => {
            let mut problems: Vec<String> = c
                .validate_for(role)
                .iter()
                .map(ToString::to_string)
                .collect();
            // The notifier's file is checked too, with Alertmanager's messages.
            if !c.alerting.alertmanager_config.is_empty()
                && let Err(e) =
                    osprey_alerting::notify::load(&c.base_dir.join(&c.alerting.alertmanager_config))
            {
                problems.push(format!("alerting.alertmanager_config: {e}"));
            }
            problems
        }
        Err(ConfigError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if problems.is_empty() {
        println!("ok: {} is valid (role {role})", file.display());
        return ExitCode::SUCCESS;
    }
    println!("{}: {} problem(s)", file.display(), problems.len());
    for p in problems {
        println!("  {p}");
    }
    ExitCode::FAILURE
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let tls = args.tls.options(&args.endpoint)?;
    let opts = osprey_ingest::demo::DemoOptions {
        endpoint: args.endpoint,
        duration: args.duration,
        rate: args.rate,
        seed: args.seed,
        tenant: args.tenant,
        token: args.token,
        tls,
    };
    tracing::info!(endpoint = %opts.endpoint, rate = opts.rate, "sending demo telemetry (Ctrl-C to stop)");
    let stats = tokio::select! {
        r = osprey_ingest::demo::run(opts) => r?,
        _ = shutdown_signal() => {
            tracing::info!("stopped");
            return Ok(());
        }
    };
    println!(
        "demo: sent {} traces ({} spans), {} log records, {} metric points",
        stats.traces, stats.spans, stats.logs, stats.metric_points
    );
    Ok(())
}
