//! Row ranges of a Parquet file that may hold wanted values, from the page index (per
//! page min/max of one column), or from row-group statistics when a file has no page
//! index. Files are sorted by their key columns (`schema::sort_columns`), so a key's
//! rows sit in a few pages and the rest of the file is never decoded.

use std::ops::Range;

use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;

use crate::error::StorageError;
use crate::files::blobs::Blobs;
use crate::files::{self, FooterCache, bloom};

/// Row ranges (ascending, merged) of `rel` where `page` (given a page's column index
/// and number) or, without a page index, `group` (given a row group's statistics)
/// does not rule the wanted values out. `None` from either means "unknown": read it.
pub(crate) fn row_ranges(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    column: &str,
    page: impl Fn(&ColumnIndexMetaData, usize) -> Option<bool>,
    group: impl Fn(&Statistics) -> Option<bool>,
) -> Result<Vec<Range<usize>>, StorageError> {
    let meta = files::footer(blobs, footers, rel)?;
    let pq = meta.metadata();
    let col = pq
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == column)
        .ok_or_else(|| StorageError::Index {
            path: rel.to_string(),
            reason: format!("no {column} column"),
        })?;
    let mut rows: Vec<Range<usize>> = Vec::new();
    let mut push = |from: u64, to: u64| {
        let (from, to) = (from as usize, to as usize);
        match rows.last_mut() {
            Some(last) if last.end == from => last.end = to,
            _ => rows.push(from..to),
        }
    };
    let mut first_row: u64 = 0;
    for (g, rg) in pq.row_groups().iter().enumerate() {
        let n = rg.num_rows() as u64;
        let pages = pq
            .column_index()
            .zip(pq.offset_index())
            .and_then(|(ci, oi)| Some((ci.get(g)?.get(col)?, oi.get(g)?.get(col)?)))
            .filter(|(index, _)| !matches!(index, ColumnIndexMetaData::NONE));
        match pages {
            Some((index, offsets)) => {
                let locs = offsets.page_locations();
                for p in 0..locs.len() {
                    if page(index, p) == Some(false) {
                        continue;
                    }
                    let start = locs[p].first_row_index as u64;
                    let end = locs.get(p + 1).map_or(n, |l| l.first_row_index as u64);
                    push(first_row + start, first_row + end);
                }
            }
            None => {
                let keep = rg.column(col).statistics().and_then(&group);
                if keep != Some(false) {
                    push(first_row, first_row + n);
                }
            }
        }
        first_row += n;
    }
    Ok(rows)
}

/// Whether `value` lies in `[min, max]` of a byte-array page or row group. Truncated
/// statistics stay bounds (a truncated min is a prefix, a truncated max is rounded up),
/// so the test never rules out a page that holds the value.
fn bytes_in(value: &[u8], min: Option<&[u8]>, max: Option<&[u8]>) -> Option<bool> {
    Some(min? <= value && value <= max?)
}

/// Row ranges of `rel` whose pages of the string column `column` may hold `value`.
pub(crate) fn string_eq(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    column: &str,
    value: &str,
) -> Result<Vec<Range<usize>>, StorageError> {
    let v = value.as_bytes();
    row_ranges(
        blobs,
        footers,
        rel,
        column,
        |index, p| match index {
            ColumnIndexMetaData::BYTE_ARRAY(ix) => bytes_in(v, ix.min_value(p), ix.max_value(p)),
            _ => None,
        },
        |stats| match stats {
            Statistics::ByteArray(s) => bytes_in(
                v,
                s.min_opt().map(|b| b.data()),
                s.max_opt().map(|b| b.data()),
            ),
            _ => None,
        },
    )
}

/// Row ranges (ascending, merged) of `rel` whose row group's bloom filter on
/// `column` may hold one of `values` (physical bytes). `None` when the file has no
/// bloom filter on it (written before they were): read it all.
pub(crate) fn bloom_row_ranges(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    column: &str,
    values: &[&[u8]],
) -> Result<Option<Vec<Range<usize>>>, StorageError> {
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    use parquet::arrow::async_reader::AsyncFileReader;
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    blobs.wait(async {
        let (reader, metadata) = files::open_with_footer(blobs, footers, rel, options).await?;
        let pq = std::sync::Arc::clone(metadata.metadata());
        let Some(col) = pq
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == column)
        else {
            return Ok(None);
        };
        let sizes = pq.row_groups().iter().map(|rg| rg.num_rows() as usize);
        // Only the block each value hashes to, when every filter records its length
        // (`bloom.rs`): a few bytes per row group instead of each whole filter.
        let bitsets: Option<Vec<(u64, u64)>> = pq
            .row_groups()
            .iter()
            .map(|rg| bloom::bitset(rg.column(col)))
            .collect();
        if let Some(bitsets) = bitsets {
            let mut reader = reader;
            let wanted: Vec<Range<u64>> = bitsets
                .iter()
                .flat_map(|b| values.iter().map(|v| bloom::block_of(v, *b)))
                .collect();
            let blocks = reader.get_byte_ranges(wanted).await?;
            let mut blocks = blocks.chunks(values.len().max(1));
            let kept = sizes.map(|n| {
                let group = blocks.next().unwrap_or_default();
                let hit = values
                    .iter()
                    .zip(group)
                    .any(|(v, block)| bloom::may_hold(block, v));
                (n, hit)
            });
            return Ok(Some(merge_groups(kept)));
        }
        let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata);
        let mut kept = Vec::with_capacity(pq.num_row_groups());
        for (g, n) in sizes.enumerate() {
            let Some(filter) = builder.get_row_group_column_bloom_filter(g, col).await? else {
                return Ok(None);
            };
            kept.push((n, values.iter().any(|v| filter.check(*v))));
        }
        Ok(Some(merge_groups(kept)))
    })
}

/// The row ranges (merged) of the row groups kept, given each group's rows in order.
fn merge_groups(groups: impl IntoIterator<Item = (usize, bool)>) -> Vec<Range<usize>> {
    let mut rows: Vec<Range<usize>> = Vec::new();
    let mut first_row = 0usize;
    for (n, keep) in groups {
        if keep {
            match rows.last_mut() {
                Some(last) if last.end == first_row => last.end = first_row + n,
                _ => rows.push(first_row..first_row + n),
            }
        }
        first_row += n;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_bounds() {
        assert_eq!(
            bytes_in(b"frontend", Some(b"cart"), Some(b"gateway")),
            Some(true)
        );
        assert_eq!(
            bytes_in(b"frontend", Some(b"frontend"), Some(b"frontend")),
            Some(true)
        );
        assert_eq!(
            bytes_in(b"frontend", Some(b"gateway"), Some(b"zeta")),
            Some(false)
        );
        assert_eq!(
            bytes_in(b"frontend", Some(b"ad"), Some(b"cart")),
            Some(false)
        );
        // A truncated min is a prefix of the real one.
        assert_eq!(bytes_in(b"frontend", Some(b"fr"), Some(b"fs")), Some(true));
        assert_eq!(bytes_in(b"frontend", None, Some(b"zeta")), None);
    }
}
