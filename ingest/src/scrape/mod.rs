//! Scraping of static Prometheus targets (`[scrape]` in the config): one task per
//! target fetches its exposition every interval, parses it (text 0.0.4 or OpenMetrics),
//! merges the target's labels (`honor_labels`), applies `metric_relabel_configs`, and
//! appends the samples with Prometheus' synthetic series (`up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`). A series missing
//! from a scrape, every series of a failed scrape, and everything on shutdown get a
//! staleness marker, as Prometheus writes them.

pub mod parse;
pub mod relabel;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_config::{ScrapeConfig, ScrapeJob};
use osprey_storage::schema::{SampleRow, samples_batch};
use osprey_storage::{Signal, Storage};
use tokio::sync::watch;

use crate::samplegate::{SampleGate, fnv, now_ms};
use parse::Format;
use relabel::{LabelMap, Rule};

/// Prometheus' staleness marker.
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// One target after relabelling: where to scrape and the labels its series get.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// The configured `host:port`, before relabelling.
    address: String,
    pub labels: LabelMap,
    interval: Duration,
    timeout: Duration,
    honor_labels: bool,
    honor_timestamps: bool,
    job: String,
    authorization: Option<osprey_config::ScrapeAuthorization>,
    tls: osprey_config::ClientTlsConfig,
    /// The tenant its samples go to.
    tenant: String,
}

/// The targets of every job, relabelled; a job whose rules do not compile is an error.
pub fn targets(cfg: &ScrapeConfig) -> Result<Vec<(Target, Vec<Rule>)>, String> {
    let mut out = Vec::new();
    for job in &cfg.jobs {
        let compile = |rules: &[osprey_config::RelabelConfig]| {
            rules
                .iter()
                .map(Rule::compile)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("scrape job {:?}: {e}", job.job_name))
        };
        let target_rules = compile(&job.relabel_configs)?;
        for addr in &job.targets {
            if let Some(t) = target(cfg, job, addr, &target_rules) {
                out.push((t, compile(&job.metric_relabel_configs)?));
            }
        }
    }
    Ok(out)
}

fn target(cfg: &ScrapeConfig, job: &ScrapeJob, addr: &str, rules: &[Rule]) -> Option<Target> {
    let interval = job.interval(cfg);
    let timeout = job.timeout(cfg);
    let mut l: LabelMap = job.labels.clone();
    l.insert("__address__".into(), addr.into());
    l.insert("__scheme__".into(), job.scheme.clone());
    l.insert("__metrics_path__".into(), job.metrics_path.clone());
    l.insert("job".into(), job.job_name.clone());
    l.insert("__scrape_interval__".into(), humantime_short(interval));
    l.insert("__scrape_timeout__".into(), humantime_short(timeout));
    if !relabel::apply(rules, &mut l) {
        return None;
    }
    let address = l.get("__address__")?.clone();
    let url = format!(
        "{}://{}{}",
        l.get("__scheme__").map_or("http", String::as_str),
        address,
        l.get("__metrics_path__").map_or("/metrics", String::as_str)
    );
    l.entry("instance".into()).or_insert(address);
    l.retain(|k, v| !k.starts_with("__") && !v.is_empty());
    Some(Target {
        url,
        address: addr.to_string(),
        labels: l,
        interval,
        timeout,
        honor_labels: job.honor_labels,
        honor_timestamps: job.honor_timestamps,
        job: job.job_name.clone(),
        authorization: job.authorization.clone(),
        tls: job.tls_config.clone(),
        tenant: job.tenant.clone().unwrap_or_else(|| cfg.tenant.clone()),
    })
}

/// The `Authorization` header of a job's scrapes; a credentials file is read at each
/// scrape, so a rotated token is picked up.
async fn authorization(a: &osprey_config::ScrapeAuthorization) -> Result<String, String> {
    let credentials = if a.credentials_file.is_empty() {
        a.credentials.clone()
    } else {
        tokio::fs::read_to_string(&a.credentials_file)
            .await
            .map_err(|e| format!("cannot read credentials_file {}: {e}", a.credentials_file))?
            .trim()
            .to_string()
    };
    Ok(format!("{} {credentials}", a.kind))
}

/// The HTTP(S) client of a target, verifying as its job's `tls_config` says.
fn client(url: &str, tls: &osprey_config::ClientTlsConfig) -> Result<HttpClient, String> {
    if !url.starts_with("https://") {
        return Ok(Client::builder(TokioExecutor::new()).build(osprey_tls::http_connector(false)));
    }
    let path = |s: &str| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
    let options = osprey_tls::ClientOptions {
        ca_file: path(&tls.ca_file),
        cert_file: path(&tls.cert_file),
        key_file: path(&tls.key_file),
        server_name: (!tls.server_name.is_empty()).then(|| tls.server_name.clone()),
        insecure_skip_verify: tls.insecure_skip_verify,
        min_version: None,
    };
    let https = osprey_tls::https_connector(&options, false).map_err(|e| e.to_string())?;
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

fn humantime_short(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Runs every target's loop until `stop` turns true; each loop writes its staleness
/// markers before returning.
pub async fn run(
    storage: Storage,
    gate: Arc<SampleGate>,
    board: Arc<TargetBoard>,
    limiter: Arc<osprey_auth::Limiter>,
    cfg: ScrapeConfig,
    stop: watch::Receiver<bool>,
) {
    let list = match targets(&cfg) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "scraping disabled");
            return;
        }
    };
    if list.is_empty() {
        return;
    }
    tracing::info!(targets = list.len(), "scraping");
    let limit = cfg.body_size_limit.as_u64() as usize;
    let tasks: Vec<_> = list
        .into_iter()
        .filter_map(|(t, rules)| {
            let client = match client(&t.url, &t.tls) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(job = %t.job, target = %t.url, error = %e, "target not scraped: its tls_config does not load");
                    return None;
                }
            };
            let slot = board.register(&t.tenant, &t);
            let labels = crate::shapes::LabelLimits::from(&limiter.limits(&t.tenant));
            let l = Loop {
                board: Arc::clone(&board),
                slot,
                storage: storage.clone(),
                gate: Arc::clone(&gate),
                tenant: t.tenant.clone(),
                client: client.clone(),
                limit,
                target: t,
                rules,
                last: HashMap::new(),
                labels,
                limiter: Arc::clone(&limiter),
            };
            Some(tokio::spawn(l.run(stop.clone())))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

type SeriesKey = (String, Vec<(String, String)>);

/// The last scrape of each target, for `GET /api/v1/targets`.
#[derive(Default)]
pub struct TargetBoard {
    targets: Mutex<Vec<TargetStatus>>,
}

#[derive(Clone, Debug)]
struct TargetStatus {
    /// The tenant its samples go to: only that tenant sees the target.
    tenant: String,
    job: String,
    address: String,
    url: String,
    labels: LabelMap,
    interval: Duration,
    timeout: Duration,
    /// Unix ms of the last scrape's start; 0 before the first.
    last_scrape_ms: i64,
    last_duration: f64,
    last_error: String,
    health: &'static str,
}

impl TargetBoard {
    fn register(&self, tenant: &str, t: &Target) -> usize {
        let Ok(mut v) = self.targets.lock() else {
            return usize::MAX;
        };
        v.push(TargetStatus {
            tenant: tenant.to_string(),
            job: t.job.clone(),
            address: t.address.clone(),
            url: t.url.clone(),
            labels: t.labels.clone(),
            interval: t.interval,
            timeout: t.timeout,
            last_scrape_ms: 0,
            last_duration: 0.0,
            last_error: String::new(),
            health: "unknown",
        });
        v.len() - 1
    }

    fn report(&self, i: usize, start_ms: i64, duration: f64, error: Option<&str>) {
        if let Ok(mut v) = self.targets.lock()
            && let Some(t) = v.get_mut(i)
        {
            t.last_scrape_ms = start_ms;
            t.last_duration = duration;
            t.last_error = error.unwrap_or("").to_string();
            t.health = if error.is_some() { "down" } else { "up" };
        }
    }

    /// Prometheus' `/api/v1/targets` data of `tenant`: the active targets that scrape
    /// into it, none dropped by relabelling listed (their labels are gone).
    pub fn to_json(&self, tenant: &str, state: Option<&str>) -> serde_json::Value {
        let Ok(v) = self.targets.lock() else {
            return serde_json::json!({"activeTargets": [], "droppedTargets": []});
        };
        let active: Vec<serde_json::Value> = v
            .iter()
            .filter(|t| t.tenant == tenant)
            .map(|t| {
                let last = chrono::DateTime::from_timestamp_millis(t.last_scrape_ms)
                    .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default();
                serde_json::json!({
                    "discoveredLabels": {"__address__": t.address, "job": t.job},
                    "labels": t.labels,
                    "scrapePool": t.job,
                    "scrapeUrl": t.url,
                    "globalUrl": t.url,
                    "lastError": t.last_error,
                    "lastScrape": if t.last_scrape_ms == 0 { "0001-01-01T00:00:00Z".to_string() } else { last },
                    "lastScrapeDuration": t.last_duration,
                    "health": t.health,
                    "scrapeInterval": humantime_short(t.interval),
                    "scrapeTimeout": humantime_short(t.timeout),
                })
            })
            .collect();
        let active = if state == Some("dropped") {
            Vec::new()
        } else {
            active
        };
        serde_json::json!({"activeTargets": active, "droppedTargets": []})
    }
}

struct Loop {
    board: Arc<TargetBoard>,
    slot: usize,
    storage: Storage,
    gate: Arc<SampleGate>,
    tenant: String,
    client: HttpClient,
    limit: usize,
    target: Target,
    rules: Vec<Rule>,
    /// Series of the last scrape that staleness applies to.
    last: HashMap<SeriesKey, ()>,
    /// The tenant's label limits, and where refusals are counted.
    labels: crate::shapes::LabelLimits,
    limiter: Arc<osprey_auth::Limiter>,
}

#[derive(Debug)]
struct Report {
    up: bool,
    duration: f64,
    scraped: usize,
    post_relabel: usize,
    added: usize,
}

impl Loop {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Spread targets over the interval (a stable offset per URL), as Prometheus does.
        let interval = self.target.interval;
        let offset = Duration::from_millis(
            fnv(self.target.url.as_bytes()) % (interval.as_millis().max(1) as u64),
        );
        tokio::select! {
            _ = tokio::time::sleep(offset) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            self.scrape_once().await;
        }
        // The target goes away with the server: its series end here.
        let now = now_ms();
        let mut rows: Vec<SampleRow> = self
            .last
            .drain()
            .map(|((m, l), ())| row(m, l, now, STALE_NAN))
            .collect();
        rows.extend(self.report_rows(None, now));
        self.append(rows).await;
    }

    async fn scrape_once(&mut self) {
        let start = Instant::now();
        let ts = now_ms();
        let fetched = tokio::time::timeout(self.target.timeout, self.fetch()).await;
        let parsed = match fetched {
            Err(_) => Err(format!("scrape timed out after {:?}", self.target.timeout)),
            Ok(Err(e)) => Err(e),
            // Parsing a large exposition is CPU work: off the async workers.
            Ok(Ok((body, format))) => {
                match tokio::task::spawn_blocking(move || parse::parse_with_metadata(&body, format))
                    .await
                    .unwrap_or_else(|e| {
                        Err(parse::ParseError {
                            line: 0,
                            message: format!("parser stopped: {e}"),
                        })
                    }) {
                    Ok((samples, meta)) => {
                        for (family, m) in meta {
                            self.storage.metadata().set(
                                &self.tenant,
                                &family,
                                osprey_storage::series::metadata::Metadata {
                                    kind: if m.kind.is_empty() {
                                        "unknown".into()
                                    } else {
                                        m.kind
                                    },
                                    help: m.help,
                                    unit: m.unit,
                                },
                            );
                        }
                        Ok(samples)
                    }
                    Err(e) => Err(format!("parse error: {e}")),
                }
            }
        };
        // Series over the tenant's label limits fail the whole scrape, as Prometheus'
        // `label_limit` and `label_value_length_limit` do.
        let keyed = parsed.and_then(|samples| self.keyed(samples));
        let duration = start.elapsed().as_secs_f64();
        self.board.report(
            self.slot,
            ts,
            duration,
            keyed.as_ref().err().map(String::as_str),
        );
        let mut rows = Vec::new();
        let mut current: HashMap<SeriesKey, ()> = HashMap::new();
        let report = match keyed {
            Ok((scraped, series)) => {
                let post_relabel = series.len();
                for (key, explicit, value) in series {
                    rows.push(row(
                        key.0.clone(),
                        key.1.clone(),
                        explicit.unwrap_or(ts),
                        value,
                    ));
                    if explicit.is_none() {
                        current.insert(key, ());
                    }
                }
                let added = current
                    .keys()
                    .filter(|k| !self.last.contains_key(*k))
                    .count();
                Report {
                    up: true,
                    duration,
                    scraped,
                    post_relabel,
                    added,
                }
            }
            Err(e) => {
                tracing::warn!(job = %self.target.job, url = %self.target.url, error = %e, "scrape failed");
                Report {
                    up: false,
                    duration,
                    scraped: 0,
                    post_relabel: 0,
                    added: 0,
                }
            }
        };
        for (k, ()) in self.last.drain() {
            if !current.contains_key(&k) {
                rows.push(row(k.0, k.1, ts, STALE_NAN));
            }
        }
        self.last = current;
        rows.extend(self.report_rows(Some(&report), ts));
        self.append(rows).await;
    }

    /// The samples' series after relabelling (the first of duplicate lines), with
    /// their explicit time (when honoured) and value, and how many were scraped; an
    /// error naming the limit when a series breaks the tenant's label limits.
    #[allow(clippy::type_complexity)]
    fn keyed(
        &self,
        samples: Vec<parse::Scraped>,
    ) -> Result<(usize, Vec<(SeriesKey, Option<i64>, f64)>), String> {
        let scraped = samples.len();
        let mut seen: HashSet<SeriesKey> = HashSet::with_capacity(scraped);
        let mut out = Vec::with_capacity(scraped);
        for s in samples {
            let explicit = s.timestamp_ms.filter(|_| self.target.honor_timestamps);
            let Some(key) = self.series_key(s.name, s.labels) else {
                continue;
            };
            // Counted with the name, as remote_write's series are.
            let labels: Vec<(&str, &str)> = std::iter::once(("__name__", key.0.as_str()))
                .chain(key.1.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .collect();
            if let Some((limit, message)) =
                crate::shapes::label_problem(&self.labels, labels.into_iter())
            {
                self.limiter.refused(&self.tenant, limit, 1);
                return Err(format!("series {}: {message}", key.0));
            }
            if !seen.insert(key.clone()) {
                continue; // a duplicate line: Prometheus keeps the first
            }
            out.push((key, explicit, s.value));
        }
        Ok((scraped, out))
    }

    /// The sample's final name and labels: target labels merged, relabelled; `None`
    /// when a rule drops it.
    fn series_key(&self, name: String, labels: Vec<(String, String)>) -> Option<SeriesKey> {
        let mut l: LabelMap = BTreeMap::new();
        l.insert("__name__".into(), name);
        for (k, v) in labels {
            l.insert(k, v);
        }
        for (k, v) in &self.target.labels {
            if self.target.honor_labels {
                l.entry(k.clone()).or_insert_with(|| v.clone());
            } else {
                if let Some(theirs) = l.remove(k) {
                    // Prefix until the name is free, as Prometheus does, so a label
                    // the target exposes as exported_k is not overwritten.
                    let mut name = format!("exported_{k}");
                    while l.contains_key(&name) {
                        name = format!("exported_{name}");
                    }
                    l.insert(name, theirs);
                }
                l.insert(k.clone(), v.clone());
            }
        }
        if !relabel::apply(&self.rules, &mut l) {
            return None;
        }
        let name = l.remove("__name__")?;
        let labels = l.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        Some((name, labels))
    }

    /// `up` and the scrape's own series, with the target's labels; stale when `None`.
    fn report_rows(&self, r: Option<&Report>, ts: i64) -> Vec<SampleRow> {
        let labels: Vec<(String, String)> = self
            .target
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let v = |f: &dyn Fn(&Report) -> f64| r.map_or(STALE_NAN, f);
        [
            ("up", v(&|r| if r.up { 1.0 } else { 0.0 })),
            ("scrape_duration_seconds", v(&|r| r.duration)),
            ("scrape_samples_scraped", v(&|r| r.scraped as f64)),
            (
                "scrape_samples_post_metric_relabeling",
                v(&|r| r.post_relabel as f64),
            ),
            ("scrape_series_added", v(&|r| r.added as f64)),
        ]
        .into_iter()
        .map(|(m, x)| row(m.to_string(), labels.clone(), ts, x))
        .collect()
    }

    async fn append(&self, rows: Vec<SampleRow>) {
        let admitted = self.gate.admit(&self.tenant, rows);
        if admitted.refused > 0 {
            tracing::warn!(job = %self.target.job, url = %self.target.url, refused = admitted.refused, reason = ?admitted.reasons.first(), "scraped samples refused");
        }
        let rows = &admitted.rows;
        if rows.is_empty() {
            return;
        }
        let n = rows.len();
        let result = match samples_batch(rows) {
            Ok(batch) => self
                .storage
                .append(&self.tenant, Signal::Metrics, batch)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => self.gate.commit(&admitted),
            Err(e) => {
                tracing::warn!(job = %self.target.job, url = %self.target.url, samples = n, error = %e, "scraped samples not stored");
            }
        }
    }

    async fn fetch(&self) -> Result<(String, Format), String> {
        let mut req = http::Request::get(&self.target.url);
        if let Some(a) = &self.target.authorization {
            req = req.header(http::header::AUTHORIZATION, authorization(a).await?);
        }
        let req = req
            .header(http::header::ACCEPT, ACCEPT)
            .header(http::header::ACCEPT_ENCODING, "gzip")
            .header(
                http::header::USER_AGENT,
                concat!("Osprey/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", self.target.timeout.as_secs_f64()),
            )
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| osprey_tls::with_causes(&e))?;
        let status = resp.status();
        if status != http::StatusCode::OK {
            return Err(format!("server returned HTTP status {status}"));
        }
        let header = |h: http::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let format = Format::from_content_type(&header(http::header::CONTENT_TYPE));
        let gzip = header(http::header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
        let body = Limited::new(resp.into_body(), self.limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    format!("body exceeds {} bytes (scrape.body_size_limit)", self.limit)
                } else {
                    format!("reading the body: {}", osprey_tls::with_causes(&*e))
                }
            })?
            .to_bytes();
        let raw = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(self.limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            if out.len() > self.limit {
                return Err(format!("body exceeds {} bytes", self.limit));
            }
            out
        } else {
            body.to_vec()
        };
        let text = String::from_utf8(raw).map_err(|_| "body is not UTF-8".to_string())?;
        Ok((text, format))
    }
}

fn row(metric: String, mut labels: Vec<(String, String)>, ts_ms: i64, value: f64) -> SampleRow {
    labels.sort();
    SampleRow {
        metric,
        labels,
        timestamp_ns: ts_ms.saturating_mul(1_000_000),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> ScrapeJob {
        ScrapeJob {
            job_name: name.into(),
            targets: vec!["127.0.0.1:9100".into()],
            labels: [("env".to_string(), "test".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn target_labels_and_url() {
        let cfg = ScrapeConfig {
            jobs: vec![job("node")],
            ..Default::default()
        };
        let t = targets(&cfg).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0.url, "http://127.0.0.1:9100/metrics");
        let l: Vec<_> = t[0]
            .0
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(l, ["env=test", "instance=127.0.0.1:9100", "job=node"]);
    }

    #[test]
    fn a_keep_rule_can_drop_a_target() {
        let mut j = job("node");
        j.relabel_configs.push(osprey_config::RelabelConfig {
            source_labels: vec!["__address__".into()],
            regex: "10\\..*".into(),
            action: osprey_config::RelabelAction::Keep,
            ..Default::default()
        });
        let cfg = ScrapeConfig {
            jobs: vec![j],
            ..Default::default()
        };
        assert!(targets(&cfg).unwrap().is_empty());
    }
}
