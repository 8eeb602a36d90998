//! The data files' store as SQL scans see it: a file the snapshot lists but the store
//! no longer holds is an error, never an empty file.
//!
//! A table over files is one `ListingTableUrl` per file the snapshot lists
//! (`session.rs`). DataFusion asks the store for each one's metadata, and when the
//! object is not found it lists the path as a prefix instead (a URL may name a
//! directory), which finds nothing: the file's rows would be missing from the answer
//! with no error. Files leave the store only `cluster.deletion_delay` after the
//! commit that dropped them (`storage/docs/format/cluster.md`), so this should not
//! happen; if it does, the query must fail (503: the snapshot it read is stale),
//! not answer short. This wrapper answers such a listing — a prefix naming a
//! `.parquet` object, which no data directory is — with the not-found error.
//!
//! DataFusion also asks the store for every file's metadata (`head`) on every query: a
//! request per file and query on S3. The snapshot knows each file's size already, so
//! the files the session's tables list answer from it ([`FileSizes`]); a file that is
//! gone then fails when it is read, with the same not-found error. Every other call
//! goes to the store unchanged.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use futures::StreamExt;
use futures::stream::BoxStream;

/// What the not-found error says about the missing file.
pub(crate) const GONE: &str = "a data file this query's snapshot lists is no longer in the store \
     (removed by a compaction or retention after the snapshot was read)";

/// The sizes of the data files a session's tables list, by object path (a session
/// config extension, filled as its tables are registered). Data files are never
/// rewritten under their name, so a size never changes; their modification time is
/// not known and reads as the epoch (the footer cache compares it, always with this).
#[derive(Debug, Default)]
pub(crate) struct FileSizes(RwLock<HashMap<Path, u64>>);

impl FileSizes {
    pub(crate) fn add(&self, path: Path, size: u64) {
        if let Ok(mut sizes) = self.0.write() {
            sizes.insert(path, size);
        }
    }

    fn get(&self, path: &Path) -> Option<u64> {
        self.0.read().ok()?.get(path).copied()
    }
}

/// The storage's store, refusing to list a data file's path as a prefix and
/// answering the metadata of the files the session lists from their sizes.
#[derive(Debug)]
pub(crate) struct ListedFiles {
    pub store: Arc<dyn ObjectStore>,
    pub sizes: Arc<FileSizes>,
}

impl fmt::Display for ListedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListedFiles({})", self.store)
    }
}

/// A request for an object's metadata alone, with no condition to check.
fn plain_head(o: &GetOptions) -> bool {
    o.head
        && o.range.is_none()
        && o.version.is_none()
        && o.if_match.is_none()
        && o.if_none_match.is_none()
        && o.if_modified_since.is_none()
        && o.if_unmodified_since.is_none()
}

/// Whether `prefix` names a data file rather than a directory.
fn names_a_file(prefix: Option<&Path>) -> bool {
    prefix
        .and_then(Path::filename)
        .is_some_and(|name| name.ends_with(".parquet"))
}

fn gone(path: &Path) -> datafusion::object_store::Error {
    datafusion::object_store::Error::NotFound {
        path: path.to_string(),
        source: GONE.into(),
    }
}

/// A listing that fails at once with [`gone`].
fn refused(path: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
    futures::stream::once(std::future::ready(Err(gone(path)))).boxed()
}

#[async_trait]
impl ObjectStore for ListedFiles {
    async fn put_opts(&self, at: &Path, payload: PutPayload, o: PutOptions) -> Result<PutResult> {
        self.store.put_opts(at, payload, o).await
    }

    async fn put_multipart_opts(
        &self,
        at: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.store.put_multipart_opts(at, o).await
    }

    async fn get_opts(&self, at: &Path, o: GetOptions) -> Result<GetResult> {
        if plain_head(&o)
            && let Some(size) = self.sizes.get(at)
        {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(futures::stream::empty().boxed()),
                meta: ObjectMeta {
                    location: at.clone(),
                    last_modified: chrono::DateTime::UNIX_EPOCH,
                    size,
                    e_tag: None,
                    version: None,
                },
                range: 0..size,
                attributes: Default::default(),
            });
        }
        self.store.get_opts(at, o).await
    }

    async fn get_ranges(&self, at: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.store.get_ranges(at, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.store.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match prefix {
            Some(p) if names_a_file(prefix) => refused(p),
            _ => self.store.list(prefix),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        match prefix {
            Some(p) if names_a_file(prefix) => refused(p),
            _ => self.store.list_with_offset(prefix, offset),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        match prefix {
            Some(p) if names_a_file(prefix) => Err(gone(p)),
            _ => self.store.list_with_delimiter(prefix).await,
        }
    }

    async fn copy_opts(&self, from: &Path, to: &Path, o: CopyOptions) -> Result<()> {
        self.store.copy_opts(from, to, o).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, o: RenameOptions) -> Result<()> {
        self.store.rename_opts(from, to, o).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::object_store::ObjectStoreExt;
    use datafusion::object_store::memory::InMemory;
    use futures::TryStreamExt;

    use super::*;

    /// A listed file's metadata comes from its size, with no request to the store
    /// (here it does not even hold the object); any other object's goes to the store;
    /// a data file's path is never listed as a prefix.
    #[tokio::test]
    async fn listed_files_answer_from_their_sizes() {
        let inner = Arc::new(InMemory::new());
        let other = Path::from("tables/t/logs/p/2.parquet");
        inner
            .put(&other, PutPayload::from_static(b"abc"))
            .await
            .unwrap();
        let sizes = Arc::new(FileSizes::default());
        let listed = Path::from("tables/t/logs/p/1.parquet");
        sizes.add(listed.clone(), 4096);
        let store = ListedFiles {
            store: inner,
            sizes,
        };
        let meta = store.head(&listed).await.unwrap();
        assert_eq!((meta.location, meta.size), (listed.clone(), 4096));
        assert_eq!(store.head(&other).await.unwrap().size, 3);
        // A read of the listed file goes to the store, which does not hold it.
        let e = store.get(&listed).await.unwrap_err();
        assert!(
            matches!(e, datafusion::object_store::Error::NotFound { .. }),
            "{e}"
        );
        let e = store
            .list(Some(&listed))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no longer in the store"), "{e}");
        let dir = Path::from("tables/t/logs");
        let all: Vec<_> = store.list(Some(&dir)).try_collect().await.unwrap();
        assert_eq!(all.len(), 1);
    }
}
