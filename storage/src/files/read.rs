//! Reading Parquet files back: whole files, chosen columns and rows, footers (and
//! the bounded cache of them) for readers that come back to a file.

use std::sync::Arc;

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::Blobs;
use crate::StorageError;

/// Reads a whole Parquet file back into batches.
pub fn read_file(blobs: &Blobs, rel: &str) -> Result<Vec<RecordBatch>, StorageError> {
    read_rows(blobs, None, rel, None, None)
}

/// Parsed footers (schema, row groups, page indexes) and sizes of the files read most
/// recently: a search opens the same few files twice (candidates' timestamps, then the
/// page's records), and every search opens the newest ones again. Files are never
/// rewritten under the same name, so an entry cannot go stale.
#[derive(Default)]
pub struct FooterCache {
    files: std::sync::Mutex<std::collections::HashMap<String, (u64, ArrowReaderMetadata)>>,
}

/// Files whose footers the cache keeps (a logs file's is tens of KiB with its page
/// index); past it the cache starts over.
const FOOTER_CACHE_FILES: usize = 256;

impl FooterCache {
    fn get(&self, rel: &str) -> Option<(u64, ArrowReaderMetadata)> {
        self.files.lock().ok()?.get(rel).cloned()
    }

    fn put(&self, rel: &str, size: u64, meta: ArrowReaderMetadata) {
        if let Ok(mut m) = self.files.lock() {
            if m.len() >= FOOTER_CACHE_FILES {
                m.clear();
            }
            m.insert(rel.to_string(), (size, meta));
        }
    }

    /// Drops a deleted file's entry.
    pub fn forget(&self, rel: &str) {
        if let Ok(mut m) = self.files.lock() {
            m.remove(rel);
        }
    }
}

/// Reads `columns` (all when `None`) of a Parquet file, only the rows numbered in
/// `rows` (ascending) when given. Pages without a selected row are skipped (page
/// index).
pub fn read_rows(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    columns: Option<&[&str]>,
    rows: Option<&[u32]>,
) -> Result<Vec<RecordBatch>, StorageError> {
    read_rows_as(blobs, footers, rel, columns, rows, &[])
}

/// [`read_rows`], with the string columns named in `dictionary` read as
/// `Dictionary(Int32, Utf8)`: their Parquet dictionary is kept instead of a string
/// being copied out per row (a service column, say).
pub fn read_rows_as(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    columns: Option<&[&str]>,
    rows: Option<&[u32]>,
    dictionary: &[&str],
) -> Result<Vec<RecordBatch>, StorageError> {
    read_selected(blobs, footers, rel, columns, dictionary, |total| {
        rows.map(|r| row_selection(r, total))
    })
}

/// [`read_rows`] of the rows in `ranges` (ascending, not overlapping): no row
/// number list is built, however many rows they hold.
pub fn read_row_ranges(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    columns: Option<&[&str]>,
    ranges: &[std::ops::Range<usize>],
    dictionary: &[&str],
) -> Result<Vec<RecordBatch>, StorageError> {
    read_selected(blobs, footers, rel, columns, dictionary, |total| {
        Some(
            parquet::arrow::arrow_reader::RowSelection::from_consecutive_ranges(
                ranges.iter().map(|r| r.start.min(total)..r.end.min(total)),
                total,
            ),
        )
    })
}

fn read_selected(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    columns: Option<&[&str]>,
    dictionary: &[&str],
    selection: impl FnOnce(usize) -> Option<parquet::arrow::arrow_reader::RowSelection>,
) -> Result<Vec<RecordBatch>, StorageError> {
    use futures::TryStreamExt;
    use parquet::arrow::arrow_reader::ArrowReaderOptions;
    use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    blobs.wait(async {
        let (reader, metadata) = open_with_footer(blobs, footers, rel, options.clone()).await?;
        let metadata = with_dictionaries(metadata, options, dictionary)?;
        let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata);
        // Columns added to the layout after this file was written (`layout::
        // ADDED_COLUMNS`) that the read wants: not read, filled in empty below. Files
        // written since have them all, and this costs one lookup per added column.
        let file_fields = builder.schema().clone();
        let missing: Vec<&str> = crate::files::layout::ADDED_COLUMNS
            .iter()
            .copied()
            .filter(|c| file_fields.index_of(c).is_err())
            .filter(|c| match columns {
                Some(cols) => cols.contains(c),
                None => crate::files::layout::signal_of(&file_fields)
                    .is_some_and(|s| crate::files::layout::file_schema(s).index_of(c).is_ok()),
            })
            .collect();
        if let Some(columns) = columns {
            let indices = columns
                .iter()
                .filter(|c| !missing.iter().any(|m| m == *c))
                .map(|c| builder.schema().index_of(c))
                .collect::<Result<Vec<_>, _>>()?;
            let mask =
                ProjectionMask::roots(builder.metadata().file_metadata().schema_descr(), indices);
            builder = builder.with_projection(mask);
        }
        let total = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        builder = builder.with_batch_size(64 * 1024);
        if let Some(sel) = selection(total) {
            builder = builder.with_row_selection(sel);
        }
        let batches = builder.build()?.try_collect::<Vec<_>>().await?;
        if missing.is_empty() {
            return Ok::<_, StorageError>(batches);
        }
        let Some(first) = batches.first() else {
            return Ok(batches);
        };
        // The columns in the order asked for: the projection, or the current layout.
        let layout =
            crate::files::layout::signal_of(&file_fields).map(crate::files::layout::file_schema);
        let wanted: Vec<&str> = match (columns, &layout) {
            (Some(c), _) => c.to_vec(),
            (None, Some(l)) => l.fields().iter().map(|f| f.name().as_str()).collect(),
            (None, None) => return Ok(batches),
        };
        let target = crate::files::layout::with_added(&first.schema(), &wanted);
        batches
            .iter()
            .map(|b| crate::files::layout::fill_added(b, &target))
            .collect()
    })
}

/// `metadata` reading as dictionaries the string columns named in `dictionary` and
/// the stored schema's (`schema::dictionary_columns`: files written before them say
/// `Utf8`, and a read hands on the current layout whatever the file's age).
fn with_dictionaries(
    metadata: ArrowReaderMetadata,
    options: parquet::arrow::arrow_reader::ArrowReaderOptions,
    dictionary: &[&str],
) -> Result<ArrowReaderMetadata, StorageError> {
    use arrow::datatypes::{Field, Schema};
    let layout = crate::files::layout::signal_of(metadata.schema())
        .map(crate::schema::dictionary_columns)
        .unwrap_or_default();
    let fields: Vec<Field> = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().as_str();
            let f = f.as_ref().clone();
            if dictionary.contains(&name) || layout.contains(&name) {
                let t = as_dictionary(f.data_type());
                f.with_data_type(t)
            } else {
                f
            }
        })
        .collect();
    if fields
        .iter()
        .eq(metadata.schema().fields().iter().map(|f| f.as_ref()))
    {
        return Ok(metadata);
    }
    Ok(ArrowReaderMetadata::try_new(
        Arc::clone(metadata.metadata()),
        options.with_schema(Arc::new(Schema::new(fields))),
    )?)
}

/// A reader of `rel` and its parsed footer (with the page index), from the cache when
/// there.
pub(crate) async fn open_with_footer(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    options: parquet::arrow::arrow_reader::ArrowReaderOptions,
) -> Result<(crate::files::blobs::BlobReader, ArrowReaderMetadata), StorageError> {
    if let Some((size, metadata)) = footers.and_then(|c| c.get(rel)) {
        return Ok((blobs.parquet_reader_of_size(rel, size), metadata));
    }
    let mut reader = blobs.parquet_reader(rel).await?;
    let metadata = ArrowReaderMetadata::load_async(&mut reader, options).await?;
    if let Some(c) = footers {
        c.put(rel, reader.size(), metadata.clone());
    }
    Ok((reader, metadata))
}

/// The parsed footer of `rel` (page index included), cached.
pub fn footer(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
) -> Result<ArrowReaderMetadata, StorageError> {
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    blobs.wait(async { Ok(open_with_footer(blobs, footers, rel, options).await?.1) })
}

/// A string type as `Dictionary(Int32, Utf8)`; a map's keys and values likewise.
fn as_dictionary(t: &arrow::datatypes::DataType) -> arrow::datatypes::DataType {
    use arrow::datatypes::{DataType, Field, Fields};
    match t {
        DataType::Utf8 => crate::schema::dictionary_type(),
        DataType::Map(entries, sorted) => match entries.data_type() {
            DataType::Struct(fields) => {
                let fields: Fields = fields
                    .iter()
                    .map(|f| {
                        f.as_ref()
                            .clone()
                            .with_data_type(as_dictionary(f.data_type()))
                    })
                    .collect();
                let entries = Field::new(
                    entries.name(),
                    DataType::Struct(fields),
                    entries.is_nullable(),
                );
                DataType::Map(Arc::new(entries), *sorted)
            }
            _ => t.clone(),
        },
        _ => t.clone(),
    }
}

/// The number of rows a Parquet file's footer declares.
pub fn footer_rows(blobs: &Blobs, rel: &str) -> Result<u64, StorageError> {
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    blobs.wait(async {
        let builder =
            ParquetRecordBatchStreamBuilder::new(blobs.parquet_reader(rel).await?).await?;
        Ok::<_, StorageError>(
            u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0),
        )
    })
}

/// The selection of `rows` (ascending row numbers) among `total`.
pub fn row_selection(rows: &[u32], total: usize) -> parquet::arrow::arrow_reader::RowSelection {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for &r in rows {
        let r = r as usize;
        if r >= total {
            break;
        }
        match ranges.last_mut() {
            Some(last) if last.end == r => last.end = r + 1,
            _ => ranges.push(r..r + 1),
        }
    }
    parquet::arrow::arrow_reader::RowSelection::from_consecutive_ranges(ranges.into_iter(), total)
}
