//! Fault points for crash tests, compiled into debug builds only (release builds carry
//! none). A point is named for the moment it marks (`flush.after_files`: the flush's
//! files are written, the manifest does not list them yet). The tests arm points with
//! the `fail` crate's `FAILPOINTS` environment variable, read once at start by
//! [`setup`]:
//!
//! - `FAILPOINTS='flush.after_files=return'` aborts the process there, which leaves
//!   the disk as a `kill -9` at that moment would: no destructor runs, nothing is
//!   flushed or fsynced after it;
//! - `2*off->return` aborts on the third time the point is reached;
//! - `return(error)` makes the operation fail there instead (an I/O error naming the
//!   point), for the paths that handle failures.
//!
//! Points: `wal.fsync` (a group written, not yet fsynced), `flush.after_files`,
//! `flush.after_manifest` (the WAL it covers not yet deleted), `compact.after_merge`,
//! `compact.after_manifest` (the inputs not yet deleted), `retention.after_manifest`
//! (the dropped files not yet deleted), and the alerting crate's `rules.after_write`,
//! `notify.after_send` and `notify.after_save`.
//!
//! The `fail` crate is used instead of a hand-written switch for its counting and
//! chaining syntax, which the tests use to reach the nth flush or delivery.

use crate::StorageError;

/// Reads `FAILPOINTS` (debug builds); keep the guard for the life of the process.
#[cfg(debug_assertions)]
pub fn setup() -> Option<fail::FailScenario<'static>> {
    std::env::var_os("FAILPOINTS").map(|_| fail::FailScenario::setup())
}

/// Release builds arm no point.
#[cfg(not(debug_assertions))]
pub fn setup() -> Option<()> {
    None
}

/// Passes the point `name`: aborts the process when it is armed with `return`, fails
/// with an I/O error naming it when armed with `return(error)`, else does nothing.
#[inline]
pub fn point(name: &'static str) -> Result<(), StorageError> {
    #[cfg(debug_assertions)]
    if let Some(e) = fail::eval(name, |arg| injected(name, arg.as_deref())) {
        return Err(e);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
    Ok(())
}

/// Passes a point that can only abort (where no error can be returned).
#[inline]
pub fn crash_point(name: &'static str) {
    let _ = point(name);
}

#[cfg(debug_assertions)]
fn injected(name: &'static str, arg: Option<&str>) -> StorageError {
    if arg == Some("error") {
        return StorageError::io(
            std::path::Path::new(name),
            std::io::Error::other("fault injected by a test"),
        );
    }
    eprintln!("fault point {name} reached: aborting (FAILPOINTS)");
    std::process::abort()
}
