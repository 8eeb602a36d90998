//! Corrupt files are reported and set aside in `<data_dir>/quarantine/`, never silently
//! skipped and never a reason not to start: the server serves everything else.

use std::path::{Path, PathBuf};

use crate::StorageError;
use crate::manifest::{FileMeta, Manifest};

fn target(data_dir: &Path, path: &Path) -> PathBuf {
    let rel = path.strip_prefix(data_dir).unwrap_or(path);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = rel.to_string_lossy().replace(['/', '\\'], "__");
    name.push_str(&format!(".{stamp}"));
    data_dir.join("quarantine").join(name)
}

/// Moves a file into quarantine.
pub fn move_file(data_dir: &Path, path: &Path) -> Result<PathBuf, StorageError> {
    let to = target(data_dir, path);
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| StorageError::io(d, e))?;
    }
    match std::fs::rename(path, &to) {
        Ok(()) => Ok(to),
        // Missing files are reported by the caller; nothing to move.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(to),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Copies a file into quarantine (the original stays in use).
pub fn copy(data_dir: &Path, path: &Path) -> Result<PathBuf, StorageError> {
    let to = target(data_dir, path);
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| StorageError::io(d, e))?;
    }
    std::fs::copy(path, &to).map_err(|e| StorageError::io(path, e))?;
    Ok(to)
}

/// Live files that are missing or whose Parquet footer cannot be read.
pub fn check_files(data_dir: &Path, manifest: &Manifest) -> Vec<(FileMeta, String)> {
    let mut bad = Vec::new();
    for f in &manifest.files {
        let path = Manifest::abs_path(data_dir, f);
        let problem = match std::fs::File::open(&path) {
            Err(e) => Some(format!("cannot open: {e}")),
            Ok(file) => {
                match parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file) {
                    Err(e) => Some(format!("unreadable Parquet: {e}")),
                    Ok(b) if b.metadata().file_metadata().num_rows() as u64 != f.rows => {
                        Some(format!(
                            "has {} rows, the manifest says {}",
                            b.metadata().file_metadata().num_rows(),
                            f.rows
                        ))
                    }
                    Ok(_) => None,
                }
            }
        };
        if let Some(p) = problem {
            bad.push((f.clone(), p));
        }
    }
    bad
}
