//! Where data files live. Parquet files, their index sidecars (`.tids`, `.fts`) and
//! series files are objects in an [`object_store`] store, addressed by their path
//! relative to the data directory (`tables/<tenant>/logs/<hour>/<seq>.parquet`). The
//! default store is the local data directory; queries read the same store (the query
//! crate registers it with DataFusion under [`STORE_URL`]).
//!
//! The WAL and the MANIFEST are not objects: they are the commit log and the commit
//! point, appended and renamed with fsyncs on local disk (`wal.rs`, `manifest.rs`).
//!
//! `LocalFileSystem::put` writes a staging file and renames it into place, so an object
//! is never seen half-written, but it does not fsync. A file the manifest is about to
//! list must survive a power loss, so [`Blobs::put`] also fsyncs the file and its
//! directory when the store is local.
//!
//! Storage code runs on blocking threads (flushes, compaction, search), so this module
//! offers a blocking API over the async store.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::StorageError;

/// The URL under which queries find the data files' store.
pub const STORE_URL: &str = "osprey://data";

#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The local directory behind the store, when it is local (for fsync).
    local: Option<PathBuf>,
}

fn store_error(rel: &str, e: object_store::Error) -> StorageError {
    StorageError::ObjectStore {
        path: rel.to_string(),
        source: Box::new(e),
    }
}

/// Runs a store future to completion on the calling (blocking) thread. The local store
/// does its file I/O on tokio's blocking pool; outside tokio's cooperative budget
/// (`unconstrained`), a caller already inside a task cannot spin on an exhausted budget.
fn wait<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(tokio::task::unconstrained(f))
}

impl Blobs {
    /// The data directory as an object store.
    pub fn local(dir: &FsPath) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| store_error(&dir.display().to_string(), e))?;
        Ok(Self {
            store: Arc::new(store),
            local: Some(dir.to_path_buf()),
        })
    }

    /// The store itself (queries register it with DataFusion).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// Writes a whole object, durably.
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        wait(self.store.put(&Path::from(rel), PutPayload::from(bytes)))
            .map_err(|e| store_error(rel, e))?;
        if let Some(dir) = &self.local {
            let path = dir.join(rel);
            let f = std::fs::File::open(&path).map_err(|e| StorageError::io(&path, e))?;
            f.sync_all().map_err(|e| StorageError::io(&path, e))?;
            if let Some(parent) = path.parent() {
                crate::wal::sync_dir(parent)?;
            }
        }
        Ok(())
    }

    /// Reads a whole object.
    pub fn get(&self, rel: &str) -> Result<Bytes, StorageError> {
        wait(async { self.store.get(&Path::from(rel)).await?.bytes().await })
            .map_err(|e| store_error(rel, e))
    }

    /// Size of an object in bytes.
    pub fn size(&self, rel: &str) -> Result<u64, StorageError> {
        wait(self.store.head(&Path::from(rel)))
            .map(|m| m.size)
            .map_err(|e| store_error(rel, e))
    }

    /// Deletes an object; `false` when there was none.
    pub fn delete(&self, rel: &str) -> Result<bool, StorageError> {
        match wait(self.store.delete(&Path::from(rel))) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(rel, e)),
        }
    }

    /// Copies an object.
    pub fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        wait(self.store.copy(&Path::from(from), &Path::from(to))).map_err(|e| store_error(from, e))
    }

    /// Moves an object; `false` when there was none.
    pub fn rename(&self, from: &str, to: &str) -> Result<bool, StorageError> {
        match wait(self.store.rename(&Path::from(from), &Path::from(to))) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(from, e)),
        }
    }

    /// Paths of every object under `prefix`.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let p = Path::from(prefix);
        wait(self.store.list(Some(&p)).try_collect::<Vec<_>>())
            .map(|metas| metas.into_iter().map(|m| m.location.to_string()).collect())
            .map_err(|e| store_error(prefix, e))
    }

    /// Deletes what interrupted uploads left behind: the local store writes an object to
    /// `<path>#<n>` and renames it into place, and a crash in between leaves the staging
    /// file, which listings do not show. Run on start, before anything is written.
    pub fn remove_stale_uploads(&self) -> Result<usize, StorageError> {
        let Some(root) = &self.local else {
            return Ok(0);
        };
        let mut removed = 0;
        let mut stack = vec![root.join("tables"), root.join("series")];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StorageError::io(&d, e)),
            };
            for entry in entries {
                let p = entry.map_err(|e| StorageError::io(&d, e))?.path();
                let staging = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.rsplit_once('#'))
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if p.is_dir() {
                    stack.push(p);
                } else if staging {
                    tracing::info!(file = %p.display(), "removing interrupted upload");
                    std::fs::remove_file(&p).map_err(|e| StorageError::io(&p, e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// An async Parquet reader of an object (use inside [`Blobs::wait`]).
    pub async fn parquet_reader(&self, rel: &str) -> Result<BlobReader, StorageError> {
        let path = Path::from(rel);
        let size = self
            .store
            .head(&path)
            .await
            .map_err(|e| store_error(rel, e))?
            .size;
        Ok(BlobReader {
            store: self.store(),
            path,
            size,
        })
    }

    /// Drives an async read (of a [`Blobs::parquet_reader`]) on the calling thread.
    pub fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        wait(f)
    }
}

/// Reads a Parquet object by byte ranges (footer, then the pages a query needs).
pub struct BlobReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl parquet::arrow::async_reader::AsyncFileReader for BlobReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        Box::pin(async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<
        'a,
        parquet::errors::Result<Arc<parquet::file::metadata::ParquetMetaData>>,
    > {
        Box::pin(async move {
            let size = self.size;
            let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_rename_delete() {
        let dir = tempfile::tempdir().unwrap();
        let b = Blobs::local(dir.path()).unwrap();
        b.put("tables/t/logs/a.parquet", b"hello".to_vec()).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("tables/t/logs/a.parquet")).unwrap(),
            b"hello"
        );
        assert_eq!(&b.get("tables/t/logs/a.parquet").unwrap()[..], b"hello");
        assert_eq!(b.size("tables/t/logs/a.parquet").unwrap(), 5);
        b.copy("tables/t/logs/a.parquet", "quarantine/a").unwrap();
        assert!(
            b.rename("tables/t/logs/a.parquet", "tables/t/logs/b.parquet")
                .unwrap()
        );
        assert!(!b.rename("tables/t/logs/a.parquet", "x").unwrap());
        assert_eq!(b.list("tables").unwrap(), vec!["tables/t/logs/b.parquet"]);
        assert!(b.delete("tables/t/logs/b.parquet").unwrap());
        assert!(!b.delete("tables/t/logs/b.parquet").unwrap());
        assert!(b.list("tables").unwrap().is_empty());
        assert!(b.get("nope").is_err());
        std::fs::write(dir.path().join("tables/t/logs/c.parquet#3"), b"x").unwrap();
        std::fs::write(dir.path().join("tables/t/logs/d#x"), b"x").unwrap();
        assert_eq!(b.remove_stale_uploads().unwrap(), 1);
        assert_eq!(b.list("tables").unwrap(), vec!["tables/t/logs/d#x"]);
        assert_eq!(&b.get("quarantine/a").unwrap()[..], b"hello");
    }
}
