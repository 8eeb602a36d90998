//! Partial answers in a cluster (`storage/docs/format/cluster.md`, "Read path"): what a
//! query does when an ingester does not answer for its unflushed rows.
//!
//! A query surface runs each request inside a [`ReadScope`] ([`scoped`]). A follower's
//! read that cannot reach an ingester then leaves that ingester's rows out and records
//! it in the scope, when the scope allows partial answers (the default; a request with
//! `partial_response=false` does not), and the surface adds a warning naming it to the
//! answer. Without a scope, or when the scope refuses partial answers, the read fails
//! with `Unreachable` (503).
//!
//! The scope follows the request onto the blocking threads its query runs on through
//! [`carry`] (a task-local does not cross `spawn_blocking` by itself).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One request's tolerance of missing ingesters, and the ones that were missing.
#[derive(Debug)]
pub struct ReadScope {
    partial: bool,
    missing: Mutex<BTreeMap<String, String>>,
}

impl ReadScope {
    /// A scope for one request; `partial`: whether it accepts an answer without an
    /// ingester that does not answer.
    pub fn new(partial: bool) -> Arc<Self> {
        Arc::new(ReadScope {
            partial,
            missing: Mutex::default(),
        })
    }

    /// Whether this request accepts an answer without an ingester that does not answer.
    pub fn allows_partial(&self) -> bool {
        self.partial
    }

    /// Records that `node` did not answer, for `reason`.
    pub fn missed(&self, node: &str, reason: &str) {
        if let Ok(mut m) = self.missing.lock() {
            m.entry(node.to_string())
                .or_insert_with(|| reason.to_string());
        }
    }

    /// One warning per ingester left out of the answer, in address order (empty when
    /// every ingester answered).
    pub fn warnings(&self) -> Vec<String> {
        let Ok(m) = self.missing.lock() else {
            return Vec::new();
        };
        m.iter()
            .map(|(node, reason)| {
                format!(
                    "ingester {node} did not answer ({reason}): its unflushed rows are missing from this answer"
                )
            })
            .collect()
    }
}

tokio::task_local! {
    static TASK: Arc<ReadScope>;
}

thread_local! {
    static THREAD: RefCell<Option<Arc<ReadScope>>> = const { RefCell::new(None) };
}

/// Runs `f` (one request) inside `scope`.
pub async fn scoped<F: std::future::Future>(scope: Arc<ReadScope>, f: F) -> F::Output {
    TASK.scope(scope, f).await
}

/// The scope of the request running on this task or thread, if any.
pub fn current() -> Option<Arc<ReadScope>> {
    TASK.try_with(Arc::clone)
        .ok()
        .or_else(|| THREAD.with(|t| t.borrow().clone()))
}

/// `f` with the current scope carried along: call it where `f` moves to another thread
/// (`spawn_blocking(carry(f))`), and the reads it makes there see the request's scope.
pub fn carry<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let scope = current();
    move || {
        let _entered = Entered(THREAD.with(|t| t.replace(scope)));
        f()
    }
}

/// Puts back the thread's scope from before [`carry`] entered one, even on a panic.
struct Entered(Option<Arc<ReadScope>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let before = self.0.take();
        THREAD.with(|t| *t.borrow_mut() = before);
    }
}

/// What a read does about `node` not answering: `Ok` (leave its rows out, recorded in
/// the request's scope) when the request accepts partial answers, else the error.
pub(crate) fn tolerate(node: &str, error: crate::StorageError) -> Result<(), crate::StorageError> {
    match current() {
        Some(scope) if scope.allows_partial() => {
            scope.missed(node, &error.to_string());
            Ok(())
        }
        _ => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_follows_a_request_onto_a_blocking_thread() {
        let scope = ReadScope::new(true);
        let seen = scoped(scope.clone(), async {
            tokio::task::spawn_blocking(carry(|| {
                if let Some(s) = current() {
                    s.missed("ingester-1:4319", "refused");
                }
                current().is_some()
            }))
            .await
        })
        .await;
        assert!(matches!(seen, Ok(true)));
        assert_eq!(scope.warnings().len(), 1);
        assert!(scope.warnings()[0].contains("ingester-1:4319"));
        // The blocking thread does not keep it once the request is done.
        let after = tokio::task::spawn_blocking(current).await;
        assert!(matches!(after, Ok(None)));
    }

    #[tokio::test]
    async fn a_strict_request_gets_the_error() {
        let err = || crate::StorageError::Unreachable {
            node: "i-0".into(),
            reason: "down".into(),
        };
        assert!(tolerate("i-0", err()).is_err());
        let strict = ReadScope::new(false);
        let got = scoped(strict.clone(), async { tolerate("i-0", err()) }).await;
        assert!(got.is_err());
        assert!(strict.warnings().is_empty());
        let lenient = ReadScope::new(true);
        let got = scoped(lenient.clone(), async { tolerate("i-0", err()) }).await;
        assert!(got.is_ok());
        assert_eq!(lenient.warnings().len(), 1);
    }
}
