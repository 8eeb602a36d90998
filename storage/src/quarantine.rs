//! Corrupt files are reported and set aside in `<data_dir>/quarantine/`, never silently
//! skipped and never a reason not to start: the server serves everything else.

use std::path::{Path, PathBuf};

use crate::StorageError;
use crate::files::blobs::Blobs;
use crate::manifest::{FileMeta, Manifest};

/// `quarantine/<path with / as __>.<unix seconds>`.
fn target(rel: &str) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("quarantine/{}.{stamp}", rel.replace(['/', '\\'], "__"))
}

/// Moves a data file into quarantine (a missing one is reported by the caller).
pub fn move_file(blobs: &Blobs, rel: &str) -> Result<String, StorageError> {
    let to = target(rel);
    blobs.rename(rel, &to)?;
    Ok(to)
}

/// Copies a local file (a WAL segment) into quarantine; the original stays in use.
pub fn copy(data_dir: &Path, path: &Path) -> Result<PathBuf, StorageError> {
    let rel = path.strip_prefix(data_dir).unwrap_or(path);
    let to = data_dir.join(target(&rel.to_string_lossy()));
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| StorageError::io(d, e))?;
    }
    std::fs::copy(path, &to).map_err(|e| StorageError::io(path, e))?;
    Ok(to)
}

/// Live files that are missing or whose Parquet footer cannot be read.
pub fn check_files(blobs: &Blobs, manifest: &Manifest) -> Vec<(FileMeta, String)> {
    let mut bad = Vec::new();
    for f in &manifest.files {
        // A samples file in the runs layout holds a Parquet row per series run.
        let want = if f.runs > 0 { f.runs } else { f.rows };
        let problem = match crate::files::footer_rows(blobs, &f.path) {
            Err(e) => Some(format!("missing or unreadable Parquet: {e}")),
            Ok(rows) if rows != want => Some(format!("has {rows} rows, the manifest says {want}")),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            bad.push((f.clone(), p));
        }
    }
    bad
}
