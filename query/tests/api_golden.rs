//! The query API in-process, replayed from golden files (issue 14, item 9): the router
//! over a temporary storage, no sockets and no binary, so a handler change is tested
//! by `cargo nextest` alone. The e2e suite keeps the real clients and peers.
//!
//! `query/tests/golden/<surface>.json` holds cases: `name`, `method`, `path` (with its
//! query string), optional `form` (a form-encoded POST body), `json` (a JSON body) and
//! `tenant`, then the expected `status` and `response` (a dashboard's save time,
//! `"updated"`, compared as `<time>`). The data is the shared
//! dataset (`common/mod.rs`): most of it flushed to files, the last rows of each
//! signal left in memory, so both read paths answer.
//!
//! `OSPREY_UPDATE_GOLDEN=1 cargo nextest run -E 'test(api_golden)'` rewrites the
//! expected answers from what the API says now: read every change before committing
//! it, as a golden is only as right as its review.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{call, logs, samples, spans, state};
use osprey_storage::Signal;
use osprey_storage::schema::{logs_batch, samples_batch, spans_batch};
use serde_json::{Value, json};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The dataset, split between files and memory.
async fn load(st: &osprey_query::QueryState) {
    let (l, s, m) = (logs(), spans(), samples());
    let (l_split, s_split, m_split) = (l.len() - 10, s.len() - 3, m.len() - 20);
    for (signal, batch) in [
        (Signal::Logs, logs_batch(&l[..l_split]).unwrap()),
        (Signal::Spans, spans_batch(&s[..s_split]).unwrap()),
        (Signal::Metrics, samples_batch(&m[..m_split]).unwrap()),
    ] {
        st.storage.append("default", signal, batch).await.unwrap();
    }
    st.storage.flush().await.unwrap();
    for (signal, batch) in [
        (Signal::Logs, logs_batch(&l[l_split..]).unwrap()),
        (Signal::Spans, spans_batch(&s[s_split..]).unwrap()),
        (Signal::Metrics, samples_batch(&m[m_split..]).unwrap()),
    ] {
        st.storage.append("default", signal, batch).await.unwrap();
    }
}

/// Save times (`"updated"`, set by the clock when a dashboard is stored) as `<time>`.
fn mask_save_times(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "updated" && x.is_string() {
                    *x = json!("<time>");
                } else {
                    mask_save_times(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_save_times),
        _ => {}
    }
}

fn body_of(case: &Value) -> Option<(&'static str, String)> {
    if let Some(form) = case.get("form").and_then(Value::as_object) {
        let encoded = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v.as_str().unwrap())))
            .collect::<Vec<_>>()
            .join("&");
        return Some(("application/x-www-form-urlencoded", encoded));
    }
    case.get("json")
        .map(|j| ("application/json", j.to_string()))
}

/// Percent-encoding for form values (everything but unreserved characters).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn api_golden() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    load(&st).await;
    let app = common::app(&st);
    let update = std::env::var_os("OSPREY_UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "golden files missing");
    let mut failures = Vec::new();
    let mut cases_run = 0;
    for file in files {
        let mut cases: Vec<Value> = serde_json::from_slice(&std::fs::read(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cases.iter_mut() {
            let name = case["name"].as_str().unwrap().to_string();
            let method = case["method"].as_str().unwrap();
            let path = case["path"].as_str().unwrap();
            let tenant = case.get("tenant").and_then(Value::as_str);
            let (status, mut response) = call(&app, method, path, body_of(case), tenant).await;
            mask_save_times(&mut response);
            cases_run += 1;
            if update {
                case["status"] = json!(status);
                case["response"] = response;
                continue;
            }
            let want = (
                case["status"].as_u64().unwrap_or(0) as u16,
                &case["response"],
            );
            if (status, &response) != (want.0, want.1) {
                failures.push(format!(
                    "{}: {name}: got {status} {}\n  want {} {}",
                    file.file_name().unwrap().to_string_lossy(),
                    serde_json::to_string(&response).unwrap(),
                    want.0,
                    serde_json::to_string(want.1).unwrap()
                ));
            }
        }
        if update {
            let text = serde_json::to_string_pretty(&cases).unwrap();
            std::fs::write(&file, text + "\n").unwrap();
        }
    }
    assert!(cases_run >= 30, "only {cases_run} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases_run} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
