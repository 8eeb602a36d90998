//! Stored dashboards, per tenant: Grafana dashboard JSON kept as it was given, with an
//! id, a version and the time of its last save. Each save keeps the one before as a
//! version (the newest [`KEEP_VERSIONS`]), which can be read and restored; an update
//! names the version it edited, and a stale one is refused (409), so two editors do
//! not overwrite each other silently.
//!
//! The built-in dashboards ([`builtin`]) are listed and read like stored ones, flagged
//! `builtin`, and refused (403) to update, restore and delete.
//!
//! Storage: durable documents (`storage/docs/format/documents.md`):
//! `dashboard.<id>.json` holds the current version, `dashboard.<id>.v<N>.json` each
//! earlier one, all `{"id", "version", "updated_ns", "title", "tags", "dashboard"}`.
//! A save writes the previous version's document, then the new current one, each
//! fsynced; writes are serialised in this process.

use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{QueryError, QueryState};

pub mod builtin;

/// Earlier versions kept per dashboard.
pub const KEEP_VERSIONS: u64 = 50;
/// Largest dashboard JSON accepted (bytes).
pub const MAX_BYTES: usize = 4 << 20;

/// Saves are read-check-write: one at a time.
static WRITES: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));

/// One version of a dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub id: String,
    pub version: u64,
    pub updated_ns: i64,
    pub title: String,
    pub tags: Vec<String>,
    pub dashboard: Value,
}

/// A dashboard as a list shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub id: String,
    pub version: u64,
    pub updated_ns: i64,
    pub title: String,
    pub tags: Vec<String>,
    /// Shipped in the binary: read-only.
    pub builtin: bool,
}

impl From<&Stored> for Summary {
    fn from(s: &Stored) -> Self {
        Summary {
            id: s.id.clone(),
            version: s.version,
            updated_ns: s.updated_ns,
            title: s.title.clone(),
            tags: s.tags.clone(),
            builtin: builtin::is_builtin(&s.id),
        }
    }
}

/// Refuses a change to a built-in dashboard.
fn check_writable(id: &str) -> Result<(), QueryError> {
    if builtin::is_builtin(id) {
        Err(QueryError::Forbidden(format!(
            "dashboard {id:?} is built in and read-only: save a copy to change it"
        )))
    } else {
        Ok(())
    }
}

/// Whether a dashboard's title holds `query` (lowercase) and it carries every tag.
fn matches(s: &Stored, query: &str, tags: &[String]) -> bool {
    s.title.to_lowercase().contains(query) && tags.iter().all(|t| s.tags.contains(t))
}

fn storage_err(e: osprey_storage::StorageError) -> QueryError {
    if e.is_disk_full() {
        return QueryError::InsufficientStorage(
            "cannot save the dashboard: the disk is full; retry once space is freed".into(),
        );
    }
    QueryError::Internal(format!("dashboard storage: {e}"))
}

fn head_name(id: &str) -> String {
    format!("dashboard.{id}.json")
}

fn version_name(id: &str, v: u64) -> String {
    format!("dashboard.{id}.v{v}.json")
}

/// A dashboard id: Grafana's `uid` rule (letters, digits, `-`, `_`; at most 40).
pub fn valid_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_id(id: &str) -> Result<(), QueryError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(QueryError::NotFound(format!("no dashboard {id:?}")))
    }
}

/// The title and tags of a Grafana dashboard JSON; a clear error when it is not one.
pub(crate) fn describe(d: &Value) -> Result<(String, Vec<String>), QueryError> {
    let obj = d.as_object().ok_or_else(|| {
        QueryError::BadData("a dashboard is a JSON object (Grafana's dashboard model)".into())
    })?;
    let title = obj
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| QueryError::BadData("the dashboard has no \"title\"".into()))?;
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    QueryError::BadData("\"tags\" must be an array of strings".into())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(QueryError::BadData(
                "\"tags\" must be an array of strings".into(),
            ));
        }
    };
    if serde_json::to_vec(d).map_or(0, |b| b.len()) > MAX_BYTES {
        return Err(QueryError::BadData(format!(
            "the dashboard is larger than the limit of {} MiB",
            MAX_BYTES >> 20
        )));
    }
    if depth(d) > MAX_DEPTH {
        // Stored one level deeper, it must read back under serde_json's 128 levels.
        return Err(QueryError::BadData(format!(
            "the dashboard is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok((title.to_string(), tags))
}

/// Deepest nesting of arrays and objects accepted in a dashboard (Grafana's own
/// reach about 10).
const MAX_DEPTH: usize = 64;

/// How deeply `v` nests arrays and objects (a scalar: 0), without recursion.
fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

fn read(st: &QueryState, tenant: &str, name: &str) -> Result<Option<Stored>, QueryError> {
    let Some(bytes) = st.storage.get_document(tenant, name).map_err(storage_err)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| QueryError::Internal(format!("dashboard document {name} is damaged: {e}")))
}

fn write(st: &QueryState, tenant: &str, name: &str, s: &Stored) -> Result<(), QueryError> {
    let bytes = serde_json::to_vec(s).map_err(|e| QueryError::Internal(e.to_string()))?;
    st.storage
        .put_document(tenant, name, bytes)
        .map_err(storage_err)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// A fresh id: 14 hex digits from the clock and a counter.
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ns());
    h.write_u64(N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    format!("{:014x}", h.finish() & 0x00ff_ffff_ffff_ffff)
}

/// The dashboard as saved: its `uid` and `version` set to the stored ones.
fn stamped(mut d: Value, id: &str, version: u64) -> Value {
    if let Some(o) = d.as_object_mut() {
        o.insert("uid".into(), Value::String(id.to_string()));
        o.insert("version".into(), Value::from(version));
        o.remove("id");
    }
    d
}

/// The tenant's dashboards whose title holds `query` (any case) and that carry every
/// tag of `tags`, by title.
pub async fn list(
    st: &QueryState,
    tenant: &str,
    query: &str,
    tags: &[String],
) -> Result<Vec<Summary>, QueryError> {
    let (st2, tenant, query, tags) = (
        st.clone(),
        tenant.to_string(),
        query.to_lowercase(),
        tags.to_vec(),
    );
    st.blocking("dashboards", move || {
        let mut out = Vec::new();
        for name in st2
            .storage
            .document_names(&tenant, "dashboard.")
            .map_err(storage_err)?
        {
            // Heads only: `dashboard.<id>.json`.
            let Some(id) = name
                .strip_prefix("dashboard.")
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if id.contains('.') {
                continue;
            }
            if let Some(s) = read(&st2, &tenant, &name)?
                && matches(&s, &query, &tags)
            {
                out.push(Summary::from(&s));
            }
        }
        out.extend(
            builtin::all()
                .iter()
                .filter(|s| matches(s, &query, &tags))
                .map(Summary::from),
        );
        out.sort_by(|a, b| {
            a.title
                .to_lowercase()
                .cmp(&b.title.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    })
    .await
}

/// The current version of dashboard `id`.
pub async fn get(st: &QueryState, tenant: &str, id: &str) -> Result<Stored, QueryError> {
    check_id(id)?;
    if let Some(b) = builtin::get(id) {
        return Ok(b.clone());
    }
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        read(&st2, &tenant, &head_name(&id))?
            .ok_or_else(|| QueryError::NotFound(format!("no dashboard {id:?}")))
    })
    .await
}

/// Stores a new dashboard (version 1) under its `uid` when that is a free valid id,
/// else a fresh one.
pub async fn create(st: &QueryState, tenant: &str, dashboard: Value) -> Result<Stored, QueryError> {
    let (title, tags) = describe(&dashboard)?;
    let (st2, tenant) = (st.clone(), tenant.to_string());
    st.blocking("dashboards", move || {
        let _w = WRITES
            .lock()
            .map_err(|_| QueryError::Internal("dashboard lock poisoned".into()))?;
        let wanted = dashboard
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| valid_id(u));
        let id = match wanted {
            Some(uid) if builtin::is_builtin(uid) => {
                return Err(QueryError::Conflict(format!(
                    "{uid:?} is a built-in dashboard's uid: import without the uid"
                )));
            }
            Some(uid) if read(&st2, &tenant, &head_name(uid))?.is_none() => uid.to_string(),
            Some(uid) => {
                return Err(QueryError::Conflict(format!(
                    "a dashboard with uid {uid:?} exists: update it, or import without the uid"
                )));
            }
            None => new_id(),
        };
        let s = Stored {
            dashboard: stamped(dashboard, &id, 1),
            id: id.clone(),
            version: 1,
            updated_ns: now_ns(),
            title,
            tags,
        };
        write(&st2, &tenant, &head_name(&id), &s)?;
        Ok(s)
    })
    .await
}

/// Saves a new version of `id` made from version `base`; refused (409) when the
/// current version is no longer `base`.
pub async fn update(
    st: &QueryState,
    tenant: &str,
    id: &str,
    base: u64,
    dashboard: Value,
) -> Result<Stored, QueryError> {
    check_id(id)?;
    check_writable(id)?;
    let (title, tags) = describe(&dashboard)?;
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        let _w = WRITES.lock().map_err(|_| QueryError::Internal("dashboard lock poisoned".into()))?;
        let cur = read(&st2, &tenant, &head_name(&id))?.ok_or_else(|| QueryError::NotFound(format!("no dashboard {id:?}")))?;
        if cur.version != base {
            return Err(QueryError::Conflict(format!(
                "the dashboard was saved since version {base} was read (it is at version {}): reload it and apply the change again",
                cur.version
            )));
        }
        save_next(&st2, &tenant, cur, dashboard, (title, tags))
    })
    .await
}

/// Keeps `cur` as a version and stores `dashboard` as the next one.
fn save_next(
    st: &QueryState,
    tenant: &str,
    cur: Stored,
    dashboard: Value,
    (title, tags): (String, Vec<String>),
) -> Result<Stored, QueryError> {
    let id = cur.id.clone();
    let version = cur.version + 1;
    write(st, tenant, &version_name(&id, cur.version), &cur)?;
    let s = Stored {
        dashboard: stamped(dashboard, &id, version),
        id: id.clone(),
        version,
        updated_ns: now_ns(),
        title,
        tags,
    };
    write(st, tenant, &head_name(&id), &s)?;
    if let Some(old) = version.checked_sub(KEEP_VERSIONS + 1)
        && old > 0
    {
        for v in versions_of(st, tenant, &id)?
            .into_iter()
            .filter(|v| *v <= old)
        {
            st.storage
                .delete_document(tenant, &version_name(&id, v))
                .map_err(storage_err)?;
        }
    }
    Ok(s)
}

/// The earlier versions kept of `id`, newest first.
fn versions_of(st: &QueryState, tenant: &str, id: &str) -> Result<Vec<u64>, QueryError> {
    let prefix = format!("dashboard.{id}.v");
    let mut out: Vec<u64> = st
        .storage
        .document_names(tenant, &prefix)
        .map_err(storage_err)?
        .iter()
        .filter_map(|n| n.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok())
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out)
}

/// Every version of `id` kept (the current one first).
pub async fn versions(st: &QueryState, tenant: &str, id: &str) -> Result<Vec<Summary>, QueryError> {
    let cur = get(st, tenant, id).await?;
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        let mut out = vec![Summary::from(&cur)];
        for v in versions_of(&st2, &tenant, &id)? {
            if let Some(s) = read(&st2, &tenant, &version_name(&id, v))? {
                out.push(Summary::from(&s));
            }
        }
        Ok(out)
    })
    .await
}

/// Version `v` of `id` (the current one or a kept one).
pub async fn version(
    st: &QueryState,
    tenant: &str,
    id: &str,
    v: u64,
) -> Result<Stored, QueryError> {
    let cur = get(st, tenant, id).await?;
    if cur.version == v {
        return Ok(cur);
    }
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        read(&st2, &tenant, &version_name(&id, v))?.ok_or_else(|| {
            QueryError::NotFound(format!(
                "dashboard {id:?} has no version {v} (kept: the newest {KEEP_VERSIONS})"
            ))
        })
    })
    .await
}

/// Makes version `v`'s content the next version of `id`.
pub async fn restore(
    st: &QueryState,
    tenant: &str,
    id: &str,
    v: u64,
) -> Result<Stored, QueryError> {
    check_writable(id)?;
    let old = version(st, tenant, id, v).await?;
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        let _w = WRITES
            .lock()
            .map_err(|_| QueryError::Internal("dashboard lock poisoned".into()))?;
        let cur = read(&st2, &tenant, &head_name(&id))?
            .ok_or_else(|| QueryError::NotFound(format!("no dashboard {id:?}")))?;
        save_next(&st2, &tenant, cur, old.dashboard, (old.title, old.tags))
    })
    .await
}

/// Removes `id` and its versions.
pub async fn delete(st: &QueryState, tenant: &str, id: &str) -> Result<(), QueryError> {
    check_id(id)?;
    check_writable(id)?;
    let (st2, tenant, id) = (st.clone(), tenant.to_string(), id.to_string());
    st.blocking("dashboards", move || {
        let _w = WRITES
            .lock()
            .map_err(|_| QueryError::Internal("dashboard lock poisoned".into()))?;
        if !st2
            .storage
            .delete_document(&tenant, &head_name(&id))
            .map_err(storage_err)?
        {
            return Err(QueryError::NotFound(format!("no dashboard {id:?}")));
        }
        for v in versions_of(&st2, &tenant, &id)? {
            st2.storage
                .delete_document(&tenant, &version_name(&id, v))
                .map_err(storage_err)?;
        }
        Ok(())
    })
    .await
}
