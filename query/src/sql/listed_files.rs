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
//! `.parquet` object, which no data directory is — with the not-found error, and
//! hands every other call to the store unchanged.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use futures::StreamExt;
use futures::stream::BoxStream;

/// What the not-found error says about the missing file.
pub(crate) const GONE: &str = "a data file this query's snapshot lists is no longer in the store \
     (removed by a compaction or retention after the snapshot was read)";

/// The storage's store, refusing to list a data file's path as a prefix.
#[derive(Debug)]
pub(crate) struct ListedFiles(pub Arc<dyn ObjectStore>);

impl fmt::Display for ListedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListedFiles({})", self.0)
    }
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
        self.0.put_opts(at, payload, o).await
    }

    async fn put_multipart_opts(
        &self,
        at: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(at, o).await
    }

    async fn get_opts(&self, at: &Path, o: GetOptions) -> Result<GetResult> {
        self.0.get_opts(at, o).await
    }

    async fn get_ranges(&self, at: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.0.get_ranges(at, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.0.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match prefix {
            Some(p) if names_a_file(prefix) => refused(p),
            _ => self.0.list(prefix),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        match prefix {
            Some(p) if names_a_file(prefix) => refused(p),
            _ => self.0.list_with_offset(prefix, offset),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        match prefix {
            Some(p) if names_a_file(prefix) => Err(gone(p)),
            _ => self.0.list_with_delimiter(prefix).await,
        }
    }

    async fn copy_opts(&self, from: &Path, to: &Path, o: CopyOptions) -> Result<()> {
        self.0.copy_opts(from, to, o).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, o: RenameOptions) -> Result<()> {
        self.0.rename_opts(from, to, o).await
    }
}
