//! Opening a data directory written by an older layout. Samples files with a Parquet
//! row per sample (`files/decimal.rs`, written until 2026-12) are rewritten in the
//! runs layout (`files/runs.rs`), one file at a time, each swap published by its own
//! manifest commit: a crash midway leaves a directory of both layouts whose next
//! open finishes the work. Readers then know one samples layout only.

use std::time::Instant;

use crate::files::{self, decimal};
use crate::flush::{FrozenChange, publish};
use crate::{Signal, Storage, StorageError};

impl Storage {
    /// Rewrites every samples file of the row-per-sample layout as runs; returns how
    /// many. Runs on open, before the store serves anything.
    pub(crate) fn migrate_sample_files(&self) -> Result<usize, StorageError> {
        let inner = &self.inner;
        let old: Vec<crate::FileMeta> = self
            .files()
            .into_iter()
            .filter(|f| f.signal == Signal::Metrics && f.runs == 0)
            .collect();
        let started = Instant::now();
        for f in &old {
            let batches = files::read_file(&inner.blobs, &f.path)?
                .iter()
                .map(decimal::to_memory)
                .collect::<Result<Vec<_>, _>>()?;
            let name = inner.new_file_name();
            let file = files::NewFile {
                name: &name,
                tenant: &f.tenant,
                signal: Signal::Metrics,
                partition: f.partition_ns,
            };
            let new = files::write_new(
                &inner.blobs,
                file,
                &batches,
                files::WriteOptions::compaction(&inner.config),
                &inner.series.index.file_order(&f.tenant),
            )?;
            if new.rows != f.rows {
                return Err(StorageError::Layout(format!(
                    "migrating {}: read {} samples, the manifest says {}",
                    f.path, new.rows, f.rows
                )));
            }
            publish(inner, FrozenChange::None, |m| {
                for live in m.files.iter_mut().filter(|l| l.path == f.path) {
                    *live = new.clone();
                }
            })?;
            inner.blobs.delete(&f.path)?;
        }
        if !old.is_empty() {
            tracing::info!(
                files = old.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "samples files rewritten in the runs layout"
            );
        }
        Ok(old.len())
    }
}
