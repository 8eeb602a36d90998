//! How each signal's Parquet files are encoded (`writer_properties`): compression,
//! dictionaries, column encodings and page sizes, each choice with the measurement
//! behind it. Writer choices only: any Parquet reader reads every combination.

use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use super::WriteOptions;
use crate::Signal;

/// Data page size: zstd compresses a page at a time, so bigger pages compress better;
/// pruning by page index gets coarser. Measured on the logs workload.
const PAGE_BYTES: usize = 4 << 20;

/// Pages of the logs columns a search reads for a few rows (body, ids): a search
/// that fetches 100 records decompresses one page per record and column. Bodies of
/// the logs workload (zstd 9): 4 MiB pages 11.25 B/line, 256 KiB 11.56, 128 KiB
/// 12.05, 64 KiB 12.63; ids are random, so their page size costs nothing. At 10M
/// lines, 256 KiB pages still left a term search's fetch mostly in zstd (benches/).
const FETCH_PAGE_BYTES: usize = 64 << 10;

/// Most rows in a page of a spans file. Reading a few rows of a column still decodes
/// the levels or deltas of every row before them in their page.
const PAGE_ROWS: usize = 8192;

/// Most rows in a page of a logs file. A needle search reads a row or two per file,
/// and in each of its columns decodes the levels or deltas of every row before it in
/// its page: the resource map's repetition levels (a few entries a row, so bit-packed
/// even where one stream runs for thousands of rows) were 6 % of the needle's profile
/// at 8192 rows. At 2048 the page index of the small columns grows: logs files
/// measured 38.94 → 39.23 B/line on the 10M-line workload (benches/README.md).
const LOGS_PAGE_ROWS: usize = 2048;

/// Most rows in a row group of a logs file (`storage.row_group_rows` when smaller).
/// "The logs of one trace" reads the `trace_id` column of every row group whose bloom
/// filter may hold the id and tests each of its rows: at 256k rows that was 4 MiB of
/// ids and 262k comparisons for one line (10 of the SQL query's 14 ms at 1M lines).
/// At 32k rows the SQL lookup took 0.61–0.66× its time and the `trace_id:` search
/// 0.36–0.43×. The filters cost the same bytes at any size (each is folded to the ids
/// its row group holds), and the files measured 67.16 B/line against 67.24–67.31. The
/// price: a term search fetching 100 rows spread over the file opens the column chunks
/// of more row groups, 1.26× its time (64k rows measured the same; benches/README.md).
pub(crate) const LOGS_ROW_GROUP_ROWS: usize = 32 * 1024;

/// Attribute values below this many bytes per row on average are left uncompressed:
/// zstd could save little on them, and every read of a compressed column chunk costs
/// parquet-rs a zstd compressor and decompressor (with no attributes, half the
/// contexts a needle search created).
const SMALL_VALUES_PER_ROW: usize = 1;
/// Pages of a samples file's `times` and `values`: a selector of a few series reads
/// the pages that hold their runs (a page holds a few hundred series' runs of an hour
/// at 15 s); bigger pages compress better under zstd.
const RUN_PAGE_BYTES: usize = 64 << 10;

/// Pages of spans files (trace lookups fetch a few rows of every column).
const SPAN_PAGE_BYTES: usize = 256 << 10;

/// Pages of log timestamps, read for every candidate row of a search to order it:
/// delta-packed already, so small pages cost nothing and spare decoding 256k values
/// to read a few.
const TIME_PAGE_BYTES: usize = 64 << 10;

/// False-positive rate of the logs' trace-id bloom filters.
const TRACE_ID_FPP: f64 = 0.01;

/// The logs columns compressed (with zstd); the others are not. Measured at 10M
/// lines (B/line, zstd → none): `trace_id` 13.77 → 13.77 and `span_id` 6.96 → 6.96
/// (random), `timestamp` 3.38 → 3.45 (delta-packed), severity, service, resource and
/// scope ≤ 0.2 → ≤ 0.26 (dictionary codes), about +0.3 B/line in all. Reading rows
/// then creates no zstd context for those columns: parquet-rs makes a compressor
/// *and* a decompressor for every compressed column chunk it opens, which was a
/// quarter of a needle search's time. Attribute values can be long free text, and
/// arrival times (`observed_timestamp`, 0.32 → 3.66 B/line over NDJSON) repeat
/// their deltas, which zstd finds and delta packing does not.
const LOGS_COMPRESSED: [&str; 3] = ["body", "attributes.entries.values", "observed_timestamp"];

/// Whether a logs batch (file layout) has so few attribute-value bytes that they are
/// stored uncompressed ([`SMALL_VALUES_PER_ROW`]).
pub(super) fn small_attribute_values(batch: &arrow::array::RecordBatch) -> bool {
    use arrow::array::AsArray;
    let Some(map) = batch
        .column_by_name("attributes")
        .and_then(|c| c.as_map_opt())
    else {
        return false;
    };
    let Some(values) = map.values().as_string_opt::<i32>() else {
        return false;
    };
    values.value_data().len() < batch.num_rows().max(1) * SMALL_VALUES_PER_ROW
}

/// Writer properties of a `signal` file; `small_values`: a logs file whose attribute
/// values are stored uncompressed ([`small_attribute_values`]).
pub(super) fn writer_properties(
    signal: Signal,
    opts: WriteOptions,
    small_values: bool,
) -> WriterProperties {
    let row_group_rows = opts.row_group_rows;
    let zstd = Compression::ZSTD(ZstdLevel::try_new(opts.zstd_level).unwrap_or_default());
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(zstd)
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_data_page_size_limit(PAGE_BYTES);
    // Timestamps: delta encoding instead of a dictionary.
    for col in [
        "timestamp",
        "observed_timestamp",
        "start_time",
        "end_time",
        "duration_ns",
    ] {
        let path = ColumnPath::from(col);
        b = b
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    match signal {
        Signal::Metrics => {
            // Runs are coded already (run_codec.rs): no dictionary, PLAIN, zstd only.
            for col in ["times", "values"] {
                let path = ColumnPath::from(col);
                b = b
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path.clone(), Encoding::PLAIN)
                    .set_column_data_page_size_limit(path, RUN_PAGE_BYTES);
            }
            for col in ["min_time", "max_time"] {
                let path = ColumnPath::from(col);
                b = b
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
        }
        Signal::Logs => {
            // Bodies are nearly all distinct and ids are random: a dictionary page is
            // written and thrown away, and the fallback (DELTA_BYTE_ARRAY) compresses
            // worse under zstd than PLAIN. Measured on the logs workload: body 12.8 →
            // 11.3 B/line with PLAIN and no dictionary.
            for col in ["body", "trace_id", "span_id"] {
                let path = ColumnPath::from(col);
                b = b
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path.clone(), Encoding::PLAIN)
                    .set_column_data_page_size_limit(path, FETCH_PAGE_BYTES);
            }
            // "The logs of one trace" skips every row group whose filter rules the id
            // out (1 % false positives; folded to the ids a row group holds, about
            // 1-2 B per traced line). Ids are random, so statistics cannot.
            b = b.set_compression(Compression::UNCOMPRESSED);
            for col in LOGS_COMPRESSED {
                if small_values && col == "attributes.entries.values" {
                    continue;
                }
                let parts = col.split('.').map(str::to_string).collect();
                b = b.set_column_compression(ColumnPath::new(parts), zstd);
            }
            let trace_id = ColumnPath::from("trace_id");
            let group_rows = row_group_rows.clamp(1, LOGS_ROW_GROUP_ROWS);
            b = b
                .set_max_row_group_row_count(Some(group_rows))
                .set_column_bloom_filter_enabled(trace_id.clone(), true)
                .set_column_bloom_filter_fpp(trace_id.clone(), TRACE_ID_FPP)
                .set_column_bloom_filter_max_ndv(trace_id, group_rows as u64)
                .set_column_data_page_size_limit(ColumnPath::from("timestamp"), TIME_PAGE_BYTES)
                .set_data_page_row_count_limit(LOGS_PAGE_ROWS);
        }
        Signal::Spans => {
            // No bloom filter on trace_id: trace lookups go through the trace-id sidecar
            // (trace_index.rs), which names the files to open, and ids are binary in
            // files, so a filter on the hex column cannot use one anyway.
            // A trace lookup reads a few rows of every column: pages of at most
            // SPAN_PAGE_BYTES and PAGE_ROWS keep that from decoding whole 4 MiB pages.
            b = b
                .set_data_page_size_limit(SPAN_PAGE_BYTES)
                .set_data_page_row_count_limit(PAGE_ROWS);
            // Span ids are random and unique: a dictionary filled up and was dropped
            // for DELTA_BYTE_ARRAY, 9.17 B/span for 8-byte ids; PLAIN stores 8.00, and
            // zstd has nothing to find. A parent id repeats for each child of a span,
            // near each other (rows in time order per service): PLAIN under zstd 6.64
            // against 6.77 with the dictionary (2.26M spans of the traces workload).
            let span_id = ColumnPath::from("span_id");
            b = b
                .set_column_dictionary_enabled(span_id.clone(), false)
                .set_column_encoding(span_id.clone(), Encoding::PLAIN)
                .set_column_compression(span_id, Compression::UNCOMPRESSED);
            let parent = ColumnPath::from("parent_span_id");
            b = b
                .set_column_dictionary_enabled(parent.clone(), false)
                .set_column_encoding(parent, Encoding::PLAIN);
            // `duration_ns` stays delta-packed: as BYTE_STREAM_SPLIT it took 0.18
            // B/span less (3.69 → 3.51), but parquet-rs decodes that 5× slower and RED
            // per service, which reads every duration, took 21 % longer.
        }
    }
    b.build()
}
