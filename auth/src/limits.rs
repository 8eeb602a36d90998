//! Per-tenant limits at run time: the resolved [`Limits`] of each tenant, token
//! buckets for its ingest rates, a gate for its concurrent queries, and the count of
//! every refusal by tenant and limit (`osprey_limits_refused_total`). The checks of
//! shapes (labels, lines, attributes) live where the rows are made; they report here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use osprey_config::{Config, Limits, LimitsConfig, QueryConfig};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An ingest rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rate {
    Samples,
    Lines,
    Spans,
    Bytes,
}

impl Rate {
    /// Its key in `[limits]`.
    pub fn key(self) -> &'static str {
        match self {
            Rate::Samples => "ingest_samples_per_second",
            Rate::Lines => "ingest_lines_per_second",
            Rate::Spans => "ingest_spans_per_second",
            Rate::Bytes => "ingest_bytes_per_second",
        }
    }

    fn of(self, l: &Limits) -> u64 {
        match self {
            Rate::Samples => l.ingest_samples_per_second,
            Rate::Lines => l.ingest_lines_per_second,
            Rate::Spans => l.ingest_spans_per_second,
            Rate::Bytes => l.ingest_bytes_per_second,
        }
    }
}

/// A refusal for a tenant's rate or concurrency limit (shapes are refused by the code
/// that checks them, with their own messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "tenant {tenant:?} is over its ingest rate: limits.{limit} = {rate}/s with a burst of {burst}; this request needs {asked}: retry in {retry_after}s or ask for a higher limit"
    )]
    Rate {
        tenant: String,
        limit: &'static str,
        rate: u64,
        burst: u64,
        asked: u64,
        retry_after: u64,
    },
    #[error(
        "tenant {tenant:?} already runs {limit} queries (limits.max_concurrent_queries) and none finished within {waited:?}: retry later"
    )]
    Concurrency {
        tenant: String,
        limit: usize,
        waited: Duration,
    },
}

impl LimitError {
    /// Seconds to wait before retrying.
    pub fn retry_after(&self) -> u64 {
        match self {
            LimitError::Rate { retry_after, .. } => *retry_after,
            LimitError::Concurrency { .. } => 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

type RefusalLabels = Vec<(&'static str, String)>;

/// Most token buckets kept; beyond it, the full ones (which equal a fresh bucket) go.
const MAX_BUCKETS: usize = 10_000;

/// The limits of every tenant and the state that enforces them.
#[derive(Debug)]
pub struct Limiter {
    query: QueryConfig,
    defaults: LimitsConfig,
    overrides: BTreeMap<String, LimitsConfig>,
    buckets: Mutex<HashMap<(String, Rate), Bucket>>,
    queries: Mutex<HashMap<String, Arc<Semaphore>>>,
    refused: Family<RefusalLabels, Counter>,
}

impl Default for Limiter {
    /// The built-in limits (no rates, no overrides).
    fn default() -> Self {
        Self::new(&Config::default())
    }
}

impl Limiter {
    pub fn new(c: &Config) -> Self {
        Self {
            query: c.query.clone(),
            defaults: c.limits.clone(),
            overrides: c.overrides.clone(),
            buckets: Mutex::default(),
            queries: Mutex::default(),
            refused: Family::default(),
        }
    }

    pub fn register(&self, r: &mut Registry) {
        r.register(
            "osprey_limits_refused",
            "Requests, rows or queries refused by a per-tenant limit, by tenant and limit",
            self.refused.clone(),
        );
    }

    /// What the config sets for `tenant` (its override over `[limits]`), unresolved.
    pub fn configured(&self, tenant: &str) -> LimitsConfig {
        LimitsConfig::of_tenant(&self.defaults, &self.overrides, tenant)
    }

    /// The limits of `tenant`.
    pub fn limits(&self, tenant: &str) -> Limits {
        Limits::resolve(&self.query, &self.defaults, &self.overrides, tenant)
    }

    /// Counts a refusal of `tenant` by `limit` (a `[limits]` key).
    pub fn refused(&self, tenant: &str, limit: &'static str, n: u64) {
        if n > 0 {
            self.refused
                .get_or_create(&vec![
                    ("tenant", tenant.to_string()),
                    ("limit", limit.to_string()),
                ])
                .inc_by(n);
        }
    }

    /// Takes `amount` of each rate from `tenant`'s buckets, all or none. A bucket holds
    /// `ingest_burst` seconds of its rate; a request larger than that passes when the
    /// bucket is full and leaves it in debt, so that any request can pass eventually
    /// and the average stays at the rate.
    pub fn take(&self, tenant: &str, wants: &[(Rate, u64)]) -> Result<(), LimitError> {
        let l = self.limits(tenant);
        let limited: Vec<(Rate, u64, u64)> = wants
            .iter()
            .filter_map(|&(r, amount)| {
                let rate = r.of(&l);
                (rate > 0 && amount > 0).then_some((r, amount, rate))
            })
            .collect();
        if limited.is_empty() {
            return Ok(());
        }
        let burst_secs = l.ingest_burst.as_secs_f64().max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            prune(&mut buckets, &l, now);
        }
        for &(r, amount, rate) in &limited {
            let cap = rate as f64 * burst_secs;
            let b = refill(&mut buckets, tenant, r, rate, cap, now);
            let need = (amount as f64).min(cap);
            if b.tokens < need {
                let retry_after = ((need - b.tokens) / rate as f64).ceil().max(1.0) as u64;
                drop(buckets);
                self.refused(tenant, r.key(), 1);
                return Err(LimitError::Rate {
                    tenant: tenant.to_string(),
                    limit: r.key(),
                    rate,
                    burst: cap as u64,
                    asked: amount,
                    retry_after,
                });
            }
        }
        for &(r, amount, _) in &limited {
            if let Some(b) = buckets.get_mut(&(tenant.to_string(), r)) {
                b.tokens -= amount as f64;
            }
        }
        Ok(())
    }

    /// A slot among `tenant`'s concurrent queries, waiting up to its query time for
    /// one; `None` when its queries are not limited. The slot is freed when dropped.
    pub async fn query_slot(
        &self,
        tenant: &str,
    ) -> Result<Option<OwnedSemaphorePermit>, LimitError> {
        let l = self.limits(tenant);
        if l.max_concurrent_queries == 0 {
            return Ok(None);
        }
        let sem = {
            let mut q = self.queries.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                q.entry(tenant.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(l.max_concurrent_queries))),
            )
        };
        match tokio::time::timeout(l.max_query_time, sem.acquire_owned()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            // Never closed.
            Ok(Err(_)) | Err(_) => {
                self.refused(tenant, "max_concurrent_queries", 1);
                Err(LimitError::Concurrency {
                    tenant: tenant.to_string(),
                    limit: l.max_concurrent_queries,
                    waited: l.max_query_time,
                })
            }
        }
    }
}

/// `tenant`'s bucket for `r`, refilled up to now (a new one is full).
fn refill<'a>(
    buckets: &'a mut HashMap<(String, Rate), Bucket>,
    tenant: &str,
    r: Rate,
    rate: u64,
    cap: f64,
    now: Instant,
) -> &'a mut Bucket {
    let b = buckets.entry((tenant.to_string(), r)).or_insert(Bucket {
        tokens: cap,
        at: now,
    });
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    b.tokens = (b.tokens + elapsed * rate as f64).min(cap);
    b.at = now;
    b
}

/// Drops the buckets that have refilled (they equal a fresh one). `l` is a tenant's
/// limits, used as an upper bound of how long any bucket takes to refill.
fn prune(buckets: &mut HashMap<(String, Rate), Bucket>, l: &Limits, now: Instant) {
    let refill_time = l
        .ingest_burst
        .saturating_mul(2)
        .max(Duration::from_secs(60));
    buckets.retain(|_, b| b.tokens < 0.0 || now.saturating_duration_since(b.at) < refill_time);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(text: &str) -> Limiter {
        Limiter::new(&osprey_config::load_str(text, &[]).unwrap())
    }

    #[test]
    fn rates_refuse_beyond_the_burst_and_name_the_limit() {
        let l = limiter(
            "[limits]\ningest_samples_per_second = 100\ningest_burst = \"2s\"\n[overrides.big]\ningest_samples_per_second = 0\n",
        );
        // A full bucket holds 200: two requests of 100 pass, the third is refused.
        assert!(l.take("a", &[(Rate::Samples, 100)]).is_ok());
        assert!(l.take("a", &[(Rate::Samples, 100)]).is_ok());
        let e = l.take("a", &[(Rate::Samples, 100)]).unwrap_err();
        assert!(
            e.to_string()
                .contains("limits.ingest_samples_per_second = 100/s"),
            "{e}"
        );
        assert_eq!(e.retry_after(), 1);
        // Another tenant has its own bucket; an override lifts the limit.
        assert!(l.take("b", &[(Rate::Samples, 200)]).is_ok());
        assert!(l.take("big", &[(Rate::Samples, 1_000_000)]).is_ok());
        // Unlimited rates are not taken from.
        assert!(l.take("a", &[(Rate::Lines, 1_000_000)]).is_ok());
        let mut r = Registry::default();
        l.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(
            text.contains(
                "osprey_limits_refused_total{tenant=\"a\",limit=\"ingest_samples_per_second\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_request_larger_than_the_burst_passes_on_a_full_bucket_and_leaves_debt() {
        let l = limiter("[limits]\ningest_lines_per_second = 10\ningest_burst = \"1s\"\n");
        assert!(l.take("a", &[(Rate::Lines, 50)]).is_ok());
        let e = l.take("a", &[(Rate::Lines, 1)]).unwrap_err();
        // 40 in debt and 1 to take at 10/s: about 5 s.
        assert!((4..=5).contains(&e.retry_after()), "{e}");
    }

    #[test]
    fn all_rates_or_none_are_taken() {
        let l = limiter(
            "[limits]\ningest_samples_per_second = 1000\ningest_bytes_per_second = \"1KiB\"\ningest_burst = \"1s\"\n",
        );
        assert!(l.take("a", &[(Rate::Bytes, 1024)]).is_ok());
        let e = l.take("a", &[(Rate::Samples, 500), (Rate::Bytes, 100)]);
        assert!(e.is_err());
        // The samples were not taken by the refused request.
        assert!(l.take("a", &[(Rate::Samples, 1000)]).is_ok());
    }

    #[tokio::test]
    async fn concurrent_queries_wait_then_are_refused() {
        let l = limiter("[limits]\nmax_concurrent_queries = 1\nmax_query_time = \"200ms\"\n");
        let first = l.query_slot("a").await.unwrap();
        assert!(first.is_some());
        let e = l.query_slot("a").await.unwrap_err();
        assert!(
            e.to_string().contains("limits.max_concurrent_queries"),
            "{e}"
        );
        assert!(l.query_slot("b").await.unwrap().is_some());
        drop(first);
        assert!(l.query_slot("a").await.unwrap().is_some());
        assert!(limiter("").query_slot("a").await.unwrap().is_none());
    }
}
