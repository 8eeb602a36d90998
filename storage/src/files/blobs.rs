//! Where data files live. Parquet files, their index sidecars (`.tids`, `.fts`) and
//! series files are objects in an [`object_store`] store, addressed by their path
//! relative to the data directory (`tables/<tenant>/logs/<hour>/<seq>.parquet`). The
//! default store is the local data directory; queries read the same store (the query
//! crate registers it with DataFusion under [`STORE_URL`]).
//!
//! The WAL and the MANIFEST are not objects: they are the commit log and the commit
//! point, appended and renamed with fsyncs on local disk (`wal.rs`, `manifest.rs`).
//!
//! `storage.object_store = "s3://BUCKET/PREFIX"` puts the objects in an S3-compatible
//! bucket instead ([`Blobs::open`]). A PUT there is durable once acknowledged, so the
//! manifest may list the object as soon as `put` returns, as with the local store.
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
use object_store::aws::AmazonS3Builder;
use object_store::client::SpawnedReqwestConnector;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use osprey_config::{StorageConfig, StoreLocation};

use crate::StorageError;

/// The node that wrote a data or series file, from its name
/// (`<node>-<epoch:06>-<seq:012>.<ext>`); `None` for a single node's `<seq:012>`.
pub fn file_owner(name: &str) -> Option<&str> {
    let stem = name.split('.').next().unwrap_or(name);
    let (rest, seq) = stem.rsplit_once('-')?;
    let (node, epoch) = rest.rsplit_once('-')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (digits(seq, 12) && digits(epoch, 6) && !node.is_empty()).then_some(node)
}

/// The URL under which queries find the data files' store.
pub const STORE_URL: &str = "osprey://data";

#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The local directory behind the store, when it is local (for fsync).
    local: Option<PathBuf>,
    /// The runtime a remote store's HTTP client runs on; entered while waiting, for the
    /// store's retry timers.
    runtime: Option<tokio::runtime::Handle>,
    /// Key prefix inside the store (`""` or `"dir/"`), put before every relative path.
    /// Not object_store's `PrefixStore`: its `get_opts` (and so `head`) in 0.13 returns
    /// the unprefixed location, which DataFusion's listing then fails to match.
    prefix: String,
}

fn store_error(rel: &str, e: object_store::Error) -> StorageError {
    StorageError::ObjectStore {
        path: rel.to_string(),
        source: Box::new(e),
    }
}

impl Blobs {
    /// The store `config.object_store` names: the data directory, or an S3 bucket. A
    /// bucket's HTTP client runs on the current tokio runtime (call this from inside
    /// one, e.g. from `spawn_blocking`).
    pub fn open(dir: &FsPath, config: &StorageConfig) -> Result<Self, StorageError> {
        let location = config
            .store_location()
            .map_err(|message| StorageError::Config {
                key: "storage.object_store",
                message,
            })?;
        let (bucket, prefix) = match location {
            StoreLocation::Local => return Self::local(dir),
            StoreLocation::Dir(shared) => return Self::local(&shared),
            StoreLocation::S3 { bucket, prefix } => (bucket, prefix),
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StorageError::Config {
            key: "storage.object_store",
            message: "an S3 store needs a tokio runtime".into(),
        })?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(&config.s3_region)
            .with_http_connector(SpawnedReqwestConnector::new(runtime.clone()));
        if !config.s3_endpoint.is_empty() {
            builder = builder
                .with_endpoint(&config.s3_endpoint)
                .with_allow_http(config.s3_endpoint.starts_with("http://"));
        }
        let url = format!("s3://{bucket}/{prefix}");
        let s3 = builder.build().map_err(|e| store_error(&url, e))?;
        let blobs = Self {
            store: Arc::new(s3),
            local: None,
            runtime: Some(runtime),
            prefix: if prefix.is_empty() {
                prefix
            } else {
                format!("{prefix}/")
            },
        };
        // Fail on start, with the store's reason, rather than at the first flush. One
        // level of the prefix is enough to reach the bucket; the full listing of
        // `tables/` is the orphan cleanup's, right after.
        let top = blobs.key("");
        blobs
            .wait(blobs.store.list_with_delimiter(Some(&top)))
            .map_err(|e| StorageError::Config {
                key: "storage.object_store",
                message: format!("cannot list {url}: {e}"),
            })?;
        tracing::info!(store = %url, "data files live in an S3 bucket");
        Ok(blobs)
    }

    /// Runs a store future to completion on the calling (blocking) thread. The local
    /// store does its file I/O on tokio's blocking pool; outside tokio's cooperative
    /// budget (`unconstrained`), a caller already inside a task cannot spin on an
    /// exhausted budget. A remote store's timers need its runtime entered.
    ///
    /// A remote store spawns its requests on the runtime. Waiting for them on one of the
    /// runtime's own workers could wait for a task queued behind itself, so there the
    /// wait goes through `block_in_place`, which hands the worker's queue to another.
    /// Storage calls belong on blocking threads anyway; this keeps a stray one from
    /// hanging the server.
    pub fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        wait_on(self.runtime.as_ref(), f)
    }

    /// The data directory as an object store.
    pub fn local(dir: &FsPath) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| store_error(&dir.display().to_string(), e))?;
        Ok(Self {
            store: Arc::new(store),
            local: Some(dir.to_path_buf()),
            runtime: None,
            prefix: String::new(),
        })
    }

    /// The cluster snapshots under this store's prefix (`snapshots.rs`), fsynced when
    /// the store is a local directory.
    pub fn snapshots(&self) -> crate::snapshots::Snapshots {
        let s = crate::snapshots::Snapshots::new(self.store(), &self.prefix);
        match &self.local {
            Some(root) => s.fsync_under(root.clone()),
            None => s,
        }
    }

    /// The store itself (queries register it with DataFusion).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The URL of an object for DataFusion (under [`STORE_URL`]).
    pub fn url(&self, rel: &str) -> String {
        format!("{STORE_URL}/{}{rel}", self.prefix)
    }

    /// The store's key of an object.
    fn key(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}{rel}", self.prefix))
        }
    }

    /// Writes a whole object, durably.
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.wait(self.store.put(&self.key(rel), PutPayload::from(bytes)))
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
        self.wait(async { self.store.get(&self.key(rel)).await?.bytes().await })
            .map_err(|e| store_error(rel, e))
    }

    /// Size of an object in bytes.
    pub fn size(&self, rel: &str) -> Result<u64, StorageError> {
        self.wait(self.store.head(&self.key(rel)))
            .map(|m| m.size)
            .map_err(|e| store_error(rel, e))
    }

    /// Deletes an object; `false` when there was none.
    pub fn delete(&self, rel: &str) -> Result<bool, StorageError> {
        match self.wait(self.store.delete(&self.key(rel))) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(rel, e)),
        }
    }

    /// Copies an object.
    pub fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.wait(self.store.copy(&self.key(from), &self.key(to)))
            .map_err(|e| store_error(from, e))
    }

    /// Moves an object; `false` when there was none.
    pub fn rename(&self, from: &str, to: &str) -> Result<bool, StorageError> {
        match self.wait(self.store.rename(&self.key(from), &self.key(to))) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(from, e)),
        }
    }

    /// Paths of every object under `prefix`.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .list_with_times(prefix)?
            .into_iter()
            .map(|(rel, _)| rel)
            .collect())
    }

    /// Every object under `prefix` with when it was last written.
    pub fn list_with_times(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StorageError> {
        let p = self.key(prefix);
        self.wait(self.store.list(Some(&p)).try_collect::<Vec<_>>())
            .map(|metas| {
                metas
                    .into_iter()
                    .map(|m| {
                        let key = m.location.to_string();
                        let rel = match key.strip_prefix(self.prefix.as_str()) {
                            Some(rel) => rel.to_string(),
                            None => key,
                        };
                        (rel, m.last_modified)
                    })
                    .collect()
            })
            .map_err(|e| store_error(prefix, e))
    }

    /// Deletes what interrupted uploads left behind: the local store writes an object to
    /// `<path>#<n>` and renames it into place, and a crash in between leaves the staging
    /// file, which listings do not show. Run on start, before anything is written;
    /// only the files of `owner` in a shared store (all of them when `None`: one
    /// writer).
    pub fn remove_stale_uploads(&self, owner: Option<&str>) -> Result<usize, StorageError> {
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
                    .filter(|n| {
                        owner.is_none() || file_owner(n.split('#').next().unwrap_or(n)) == owner
                    })
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
        let path = self.key(rel);
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

    /// A Parquet reader of an object whose size is known (no request for it).
    pub fn parquet_reader_of_size(&self, rel: &str, size: u64) -> BlobReader {
        BlobReader {
            store: self.store(),
            path: self.key(rel),
            size,
        }
    }
}

/// Reads a Parquet object by byte ranges (footer, then the pages a query needs).
pub struct BlobReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl BlobReader {
    /// The object's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
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

/// Runs `f` to completion from a blocking caller, with `runtime` (the one whose tasks
/// and timers `f` uses) entered; on one of its own workers through `block_in_place`,
/// which hands the worker's queue to another first ([`Blobs::wait`] says why).
pub fn wait_on<F: std::future::Future>(
    runtime: Option<&tokio::runtime::Handle>,
    f: F,
) -> F::Output {
    let block = || futures::executor::block_on(tokio::task::unconstrained(f));
    match runtime {
        None => block(),
        Some(h) => {
            let _entered = h.enter();
            if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                tokio::task::block_in_place(block)
            } else {
                block()
            }
        }
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
        std::fs::write(
            dir.path()
                .join("tables/t/logs/n2-000001-000000000004.parquet#5"),
            b"x",
        )
        .unwrap();
        // In a shared store only this node's staging files are its to remove.
        assert_eq!(b.remove_stale_uploads(Some("n1")).unwrap(), 0);
        assert_eq!(b.remove_stale_uploads(Some("n2")).unwrap(), 1);
        assert_eq!(b.remove_stale_uploads(None).unwrap(), 1);
        assert_eq!(b.list("tables").unwrap(), vec!["tables/t/logs/d#x"]);
        assert_eq!(&b.get("quarantine/a").unwrap()[..], b"hello");
    }
}
