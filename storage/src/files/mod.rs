//! Immutable Parquet files: sort by the table's key columns, encode, write to a temp
//! name, fsync, rename into place. Publishing them is the manifest's job.
//!
//! Submodules: `layout` (how each signal's columns are stored, both directions),
//! `runs` and `run_codec` (samples: one row per series and file, its samples coded
//! together), `decimal` (the samples layout before runs, read to migrate old files),
//! `encoding` (compression, encodings and page sizes per signal),
//! `pruning` (row ranges from a column's page index), `read` (reading files back:
//! footers and their cache, whole files, chosen rows), `blobs` (object-store access to
//! data files).

pub mod blobs;
mod bloom;
pub mod compact_runs;
pub mod decimal;
mod encoding;
pub mod layout;
pub(crate) mod pruning;
mod read;
pub(crate) mod run_codec;
pub mod runs;
pub mod volumes;

pub use read::*;
pub use runs::SeriesOrder;

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, interleave_record_batch, lexsort_to_indices,
};
use parquet::arrow::ArrowWriter;

use crate::files::blobs::Blobs;
use crate::manifest::FileMeta;
use crate::schema::sort_columns;
use crate::{Signal, StorageError};

/// The time column a signal's partitions and pruning use.
pub fn time_column(signal: Signal) -> &'static str {
    match signal {
        Signal::Spans => "start_time",
        Signal::Logs | Signal::Metrics => "timestamp",
    }
}

/// How a file is written.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub row_group_rows: usize,
    pub zstd_level: i32,
    /// The zstd level of a spans file's tag index (`tag_index.rs`): its many rare
    /// values (a cache key per span) compress 8 % better at 16 than at 3, for about
    /// 0.2 s per 460k spans, which only compaction spends.
    pub tag_index_zstd_level: i32,
    /// Logs files' full-text index keeps token positions (exact phrases).
    pub text_positions: bool,
}

impl WriteOptions {
    /// Flushes favour speed: ingest waits for memtable space.
    pub fn flush(config: &osprey_config::StorageConfig) -> Self {
        Self {
            row_group_rows: config.row_group_rows,
            zstd_level: 3,
            tag_index_zstd_level: 3,
            text_positions: config.text_index_positions,
        }
    }

    /// Compaction runs in the background and writes the long-lived files: it spends
    /// more CPU for fewer bytes.
    pub fn compaction(config: &osprey_config::StorageConfig) -> Self {
        Self {
            row_group_rows: config.row_group_rows,
            zstd_level: 9,
            tag_index_zstd_level: 16,
            text_positions: config.text_index_positions,
        }
    }
}

/// A low-cardinality string column (service) as the rank of each value among the
/// sorted distinct values: the same order, compared as integers instead of by memcmp
/// (string compares were 12% of ingest CPU in a profile of the traces workload).
fn rank_strings(column: &arrow::array::ArrayRef) -> arrow::array::ArrayRef {
    use arrow::array::AsArray;
    if column.data_type() != &arrow::datatypes::DataType::Utf8 || column.null_count() > 0 {
        return Arc::clone(column);
    }
    let strings = column.as_string::<i32>();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for s in strings.iter().flatten() {
        seen.insert(s);
        if seen.len() > 4096 {
            return Arc::clone(column);
        }
    }
    let mut distinct: Vec<&str> = seen.into_iter().collect();
    distinct.sort_unstable();
    let rank: std::collections::HashMap<&str, u32> = distinct
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let ranks: arrow::array::UInt32Array = strings
        .iter()
        .map(|s| s.and_then(|s| rank.get(s).copied()))
        .collect();
    Arc::new(ranks)
}

/// Sorts the rows of `batches` by the signal's key columns into one batch. Only the
/// key columns are concatenated; the rows are then gathered from the input batches
/// in order (`interleave`), so a flush holds the memtable and one sorted copy, not a
/// concatenated copy besides.
pub fn sort_batches(signal: Signal, batches: &[RecordBatch]) -> Result<RecordBatch, StorageError> {
    let Some(first) = batches.first() else {
        return Ok(RecordBatch::new_empty(crate::schema::stored_schema(signal)));
    };
    let key_batch = concat_columns(first, batches, sort_columns(signal))?;
    let indices = match signal {
        Signal::Metrics => sort_samples(&key_batch),
        _ => None,
    };
    let indices = match indices {
        Some(i) => i,
        None => {
            let columns: Vec<SortColumn> = sort_columns(signal)
                .iter()
                .filter_map(|name| key_batch.column_by_name(name))
                .map(|c| SortColumn {
                    values: rank_strings(c),
                    options: None,
                })
                .collect();
            lexsort_to_indices(&columns, None)?
        }
    };
    // Row `i` of the virtual concatenation is row `i - starts[b]` of batch `b`.
    let mut starts = Vec::with_capacity(batches.len());
    let mut total = 0usize;
    for b in batches {
        starts.push(total);
        total += b.num_rows();
    }
    let order: Vec<(usize, usize)> = indices
        .values()
        .iter()
        .map(|&i| {
            let i = i as usize;
            let b = starts.partition_point(|&s| s <= i) - 1;
            (b, i - starts[b])
        })
        .collect();
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    Ok(interleave_record_batch(&refs, &order)?)
}

/// The columns named `names` (those the schema has) of `batches`, concatenated.
fn concat_columns(
    first: &RecordBatch,
    batches: &[RecordBatch],
    names: &[&str],
) -> Result<RecordBatch, StorageError> {
    let schema = first.schema();
    let picked: Vec<usize> = names
        .iter()
        .filter_map(|n| schema.index_of(n).ok())
        .collect();
    let projected: Vec<RecordBatch> = batches
        .iter()
        .map(|b| b.project(&picked))
        .collect::<Result<_, _>>()?;
    Ok(concat_batches(
        &Arc::new(schema.project(&picked)?),
        &projected,
    )?)
}

/// Sort order of a samples batch by (series_id, timestamp), stable (of two samples of
/// one series and time, the later-written stays later). A typed sort of (u64, i64)
/// keys: arrow's `lexsort` compares through dynamic comparators, which was a fifth
/// of remote_write ingest CPU.
fn sort_samples(batch: &RecordBatch) -> Option<arrow::array::UInt32Array> {
    use arrow::array::AsArray;
    let ids = batch
        .column_by_name("series_id")?
        .as_primitive_opt::<arrow::datatypes::UInt64Type>()?;
    let ts = batch
        .column_by_name("timestamp")?
        .as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>()?;
    let (ids, ts) = (ids.values(), ts.values());
    let mut keys: Vec<(u64, i64, u32)> =
        (0..ids.len()).map(|i| (ids[i], ts[i], i as u32)).collect();
    keys.sort_by_key(|&(id, t, _)| (id, t));
    Some(keys.into_iter().map(|(_, _, i)| i).collect())
}

fn time_range(signal: Signal, batch: &RecordBatch) -> (i64, i64) {
    let col = batch
        .column_by_name(time_column(signal))
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>());
    let Some(col) = col else { return (0, 0) };
    let min = arrow::compute::min(col).unwrap_or(0);
    let max = arrow::compute::max(col).unwrap_or(0);
    (min, max)
}

/// The partition (start, in ns) of a timestamp.
pub fn partition_of(ts_ns: i64, partition_ns: i64) -> i64 {
    ts_ns.div_euclid(partition_ns) * partition_ns
}

/// Directory name of a partition: its UTC start, `2026-11-22T13`.
pub fn partition_dir(partition_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(partition_ns)
        .format("%Y-%m-%dT%H")
        .to_string()
}

/// Splits `batches` by time partition, ascending: each partition's rows, as batches
/// (the input batches themselves when they lie in one partition, so nothing is copied
/// in the usual case).
pub fn split_by_partition(
    signal: Signal,
    batches: &[RecordBatch],
    partition_ns: i64,
) -> Result<Vec<(i64, Vec<RecordBatch>)>, StorageError> {
    let mut parts: std::collections::BTreeMap<i64, Vec<RecordBatch>> = Default::default();
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        let col = batch
            .column_by_name(time_column(signal))
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
            .ok_or_else(|| {
                StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
                    "{signal} batch has no time column"
                )))
            })?;
        let keys: Vec<i64> = col
            .values()
            .iter()
            .map(|t| partition_of(*t, partition_ns))
            .collect();
        let distinct: std::collections::BTreeSet<i64> = keys.iter().copied().collect();
        if let (1, Some(&only)) = (distinct.len(), distinct.first()) {
            parts.entry(only).or_default().push(batch.clone());
            continue;
        }
        for k in distinct {
            let mask: BooleanArray = keys.iter().map(|x| Some(*x == k)).collect();
            parts
                .entry(k)
                .or_default()
                .push(filter_record_batch(batch, &mask)?);
        }
    }
    Ok(parts.into_iter().collect())
}

/// Writes `batches` (memory layout) as one sorted Parquet object at `rel_path`
/// (durably, with its index sidecars first) and returns its metadata; samples runs
/// go in `order`. The file is not live until a manifest lists it.
pub fn write_file(
    blobs: &Blobs,
    rel_path: &str,
    tenant: &str,
    signal: Signal,
    batches: &[RecordBatch],
    opts: WriteOptions,
    order: SeriesOrder<'_>,
) -> Result<FileMeta, StorageError> {
    if signal == Signal::Metrics {
        // A flush's samples are coded into runs a group of series at a time; runs
        // (compaction's) are written as they are.
        return write_runs(blobs, rel_path, tenant, opts, |emit| match batches {
            [b] if runs::is_runs(b) => emit(b.clone()),
            _ => runs::encode_batches(batches, order, emit),
        });
    }
    let sorted = sort_batches(signal, batches)?;
    let (min_time_ns, max_time_ns) = time_range(signal, &sorted);
    let rows = sorted.num_rows() as u64;
    let stream_volumes = match signal {
        Signal::Logs => volumes::compute(&sorted)?,
        _ => None,
    };
    let batch = crate::files::layout::to_file(signal, sorted, order)?;
    let trace_index = signal == Signal::Spans;
    let text_index = signal == Signal::Logs;
    // The sidecar (a full-text index is as much work as the Parquet encoding) is built
    // on a second thread while this one encodes; the Parquet file is put only once the
    // sidecar is durable, so a live file always has its sidecar.
    let sidecar = || -> Result<(), StorageError> {
        if trace_index {
            crate::index::trace_index::write_sidecar(blobs, rel_path, &batch)?;
            let level = opts.tag_index_zstd_level;
            crate::index::tag_index::write_sidecar(blobs, rel_path, &batch, level)?;
        }
        if text_index {
            crate::index::fulltext::write_sidecar(blobs, rel_path, &batch, opts.text_positions)?;
        }
        Ok(())
    };
    let small_values = text_index && encoding::small_attribute_values(&batch);
    let encode = || -> Result<Vec<u8>, StorageError> {
        let mut w = ArrowWriter::try_new(
            Vec::new(),
            batch.schema(),
            Some(encoding::writer_properties(signal, opts, small_values)),
        )?;
        if let Some(v) = &stream_volumes {
            let json = serde_json::to_string(v).map_err(|e| {
                StorageError::Arrow(arrow::error::ArrowError::ExternalError(Box::new(e)))
            })?;
            w.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
                volumes::KEY.to_string(),
                json,
            ));
        }
        w.write(&batch)?;
        Ok(w.into_inner()?)
    };
    let (sidecar_done, bytes) = std::thread::scope(|s| {
        let side = s.spawn(sidecar);
        let bytes = encode();
        let sidecar_done = side
            .join()
            .unwrap_or_else(|_| Err(StorageError::Closed("sidecar writer panicked".into())));
        (sidecar_done, bytes)
    });
    sidecar_done?;
    let bytes = bytes?;
    let size = bytes.len() as u64;
    blobs.put(rel_path, bytes)?;
    Ok(FileMeta {
        tenant: tenant.to_string(),
        signal,
        path: rel_path.to_string(),
        rows,
        runs: 0,
        bytes: size,
        min_time_ns,
        max_time_ns,
        partition_ns: 0,
        trace_index,
        text_index,
        tag_index: trace_index,
    })
}

/// Writes the runs batches `produce` emits (in series order) as one samples file at
/// `rel_path`, handing each to the Parquet writer as it comes: a large file is never
/// held as Arrow arrays besides its coded Parquet bytes.
pub fn write_runs(
    blobs: &Blobs,
    rel_path: &str,
    tenant: &str,
    opts: WriteOptions,
    produce: impl FnOnce(runs::Emit<'_>) -> Result<(), StorageError>,
) -> Result<FileMeta, StorageError> {
    let signal = Signal::Metrics;
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        runs::schema(),
        Some(encoding::writer_properties(signal, opts, false)),
    )?;
    let (mut rows, mut run_count) = (0u64, 0u64);
    let mut range: Option<(i64, i64)> = None;
    produce(&mut |b: RecordBatch| {
        if b.num_rows() == 0 {
            return Ok(());
        }
        rows += runs::sample_count(&b).unwrap_or(0);
        run_count += b.num_rows() as u64;
        let (lo, hi) = runs::time_range(&b)?;
        range = Some(range.map_or((lo, hi), |(a, z)| (a.min(lo), z.max(hi))));
        w.write(&b)?;
        Ok(())
    })?;
    let bytes = w.into_inner()?;
    let size = bytes.len() as u64;
    blobs.put(rel_path, bytes)?;
    let (min_time_ns, max_time_ns) = range.unwrap_or((0, 0));
    Ok(FileMeta {
        tenant: tenant.to_string(),
        signal,
        path: rel_path.to_string(),
        rows,
        runs: run_count,
        bytes: size,
        min_time_ns,
        max_time_ns,
        partition_ns: 0,
        trace_index: false,
        text_index: false,
        tag_index: false,
    })
}

/// Relative path of the file `name` of a partition (`<seq:012>` on a single node,
/// `<node>-<epoch:06>-<seq:012>` with bucket snapshots: `cluster.md`).
pub fn file_path(tenant: &str, signal: Signal, partition: i64, name: &str) -> String {
    format!(
        "tables/{tenant}/{}/{}/{name}.parquet",
        signal.table(),
        partition_dir(partition)
    )
}

/// Which new file to write: `name` (`Inner::new_file_name`) of a tenant's table, in
/// `partition`.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    pub name: &'a str,
    pub tenant: &'a str,
    pub signal: Signal,
    pub partition: i64,
}

/// Writes a new file (with its trace-id sidecar for spans, its full-text index for
/// logs). The caller publishes it by committing a manifest that lists it.
pub fn write_new(
    blobs: &Blobs,
    file: NewFile<'_>,
    batches: &[RecordBatch],
    opts: WriteOptions,
    order: SeriesOrder<'_>,
) -> Result<FileMeta, StorageError> {
    let NewFile {
        name,
        tenant,
        signal,
        partition,
    } = file;
    let rel = file_path(tenant, signal, partition, name);
    let mut meta = write_file(blobs, &rel, tenant, signal, batches, opts, order)?;
    meta.partition_ns = partition;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SampleRow, samples_batch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn splits_by_partition() {
        let hour = 3_600_000_000_000i64;
        let rows: Vec<SampleRow> = [0, hour - 1, hour, 3 * hour + 5, -1]
            .iter()
            .map(|t| SampleRow {
                metric: "m".into(),
                timestamp_ns: *t,
                ..Default::default()
            })
            .collect();
        let stored =
            crate::schema::to_stored(Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap();
        let parts = split_by_partition(Signal::Metrics, &[stored], hour).unwrap();
        let summary: Vec<(i64, usize)> = parts
            .iter()
            .map(|(k, b)| (*k, b.iter().map(|b| b.num_rows()).sum()))
            .collect();
        assert_eq!(summary, vec![(-hour, 1), (0, 2), (hour, 1), (3 * hour, 1)]);
        assert_eq!(partition_dir(hour), "1970-01-01T01");
    }

    /// A spans file written before `attribute_types`/`resource_types` existed reads
    /// as if they were empty maps: whole (the current layout, so compaction's concat
    /// and trace fetches work), and when a projection names them; a WAL record of the
    /// old schema likewise.
    #[test]
    fn files_and_records_from_before_added_columns_read_with_empty_maps() {
        use crate::schema::{SpanRow, spans_batch};
        use arrow::array::{Array, AsArray};
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let rows: Vec<SpanRow> = (0..3)
            .map(|i| SpanRow {
                service: "s".into(),
                trace_id: format!("{:032x}", i + 1),
                span_id: format!("{:016x}", i + 1),
                attributes: vec![("n".into(), i.to_string())],
                attribute_types: vec![("n".into(), "int".into())],
                ..Default::default()
            })
            .collect();
        let stored = crate::schema::to_stored(Signal::Spans, &spans_batch(&rows).unwrap()).unwrap();
        let now = crate::files::layout::to_file(Signal::Spans, stored, &|_| ()).unwrap();
        // A batch as it was before the added columns: the same columns without them.
        let without_added = |b: &RecordBatch| {
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|i| {
                    !crate::files::layout::ADDED_COLUMNS
                        .contains(&b.schema().field(*i).name().as_str())
                })
                .collect();
            b.project(&keep).unwrap()
        };
        let old = without_added(&now);
        let mut w = ArrowWriter::try_new(Vec::new(), old.schema(), None).unwrap();
        w.write(&old).unwrap();
        blobs.put("old.parquet", w.into_inner().unwrap()).unwrap();

        let whole = read_rows(&blobs, None, "old.parquet", None, None).unwrap();
        assert_eq!(
            whole[0].schema(),
            crate::files::layout::file_schema(Signal::Spans)
        );
        let types = whole[0].column_by_name("attribute_types").unwrap().as_map();
        assert_eq!((types.len(), types.entries().len()), (3, 0));
        let some = read_rows(
            &blobs,
            None,
            "old.parquet",
            Some(&["span_id", "resource_types", "attributes"]),
            Some(&[1]),
        )
        .unwrap();
        let names: Vec<_> = some[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["span_id", "resource_types", "attributes"]);
        assert_eq!(some[0].num_rows(), 1);
        // A WAL record of the old memory schema.
        let record = without_added(&spans_batch(&rows).unwrap());
        let stored = crate::schema::to_stored(Signal::Spans, &record).unwrap();
        assert_eq!(stored.schema(), crate::schema::stored_schema(Signal::Spans));
        // Any other missing column is an error, not an invented value.
        let no_name = record.project(&[0, 1]).unwrap();
        assert!(crate::schema::to_stored(Signal::Spans, &no_name).is_err());
    }

    #[test]
    fn writes_sorted_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<SampleRow> = (0..100)
            .rev()
            .map(|i| SampleRow {
                metric: "m".into(),
                labels: vec![("i".into(), (i % 3).to_string())],
                timestamp_ns: i,
                value: i as f64 * 0.5,
            })
            .collect();
        let b = crate::schema::to_stored(Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let meta = write_file(
            &blobs,
            "tables/t/metrics/x.parquet",
            "t",
            Signal::Metrics,
            &[b],
            WriteOptions {
                row_group_rows: 1024,
                zstd_level: 3,
                tag_index_zstd_level: 3,
                text_positions: true,
            },
            &|ids: &mut Vec<u64>| ids.sort_unstable(),
        )
        .unwrap();
        assert_eq!((meta.rows, meta.runs), (100, 3));
        assert_eq!((meta.min_time_ns, meta.max_time_ns), (0, 99));
        let f = std::fs::File::open(dir.path().join(&meta.path)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        let all = concat_batches(&batches[0].schema(), &batches).unwrap();
        assert_eq!(all.num_rows(), 3);
        assert_eq!(crate::files::runs::sample_count(&all), Some(100));
        let sid = all
            .column_by_name("series_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .unwrap();
        assert!(sid.values().windows(2).all(|w| w[0] <= w[1]));
    }

    /// Logs attribute values are compressed only when a file holds enough of them
    /// (`encoding::small_attribute_values`); the body always is.
    #[test]
    fn logs_attribute_values_compressed_only_when_large() {
        use parquet::basic::Compression;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let compression = |name: &str, attr: &str| {
            let rows: Vec<crate::schema::LogRow> = (0..200)
                .map(|i| crate::schema::LogRow {
                    service: "svc".into(),
                    timestamp_ns: i,
                    body: format!("line {i}"),
                    attributes: if attr.is_empty() {
                        vec![]
                    } else {
                        vec![("k".into(), format!("{attr} {i}"))]
                    },
                    ..Default::default()
                })
                .collect();
            let b = crate::schema::logs_batch(&rows).unwrap();
            let b = crate::schema::to_stored(Signal::Logs, &b).unwrap();
            let opts = WriteOptions {
                row_group_rows: 1024,
                zstd_level: 3,
                tag_index_zstd_level: 3,
                text_positions: false,
            };
            let rel = format!("tables/t/logs/{name}.parquet");
            let order: SeriesOrder<'_> = &|ids: &mut Vec<u64>| ids.sort_unstable();
            let meta = write_file(&blobs, &rel, "t", Signal::Logs, &[b], opts, order).unwrap();
            let f = std::fs::File::open(dir.path().join(&meta.path)).unwrap();
            let r = SerializedFileReader::new(f).unwrap();
            let rg = r.metadata().row_group(0).clone();
            let of = |path: &str| {
                rg.columns()
                    .iter()
                    .find(|c| c.column_path().string() == path)
                    .map(|c| c.compression())
                    .unwrap()
            };
            (of("body"), of("attributes.entries.values"))
        };
        let (body, values) = compression("empty", "");
        assert!(matches!(body, Compression::ZSTD(_)), "{body:?}");
        assert_eq!(values, Compression::UNCOMPRESSED);
        let (_, values) = compression("long", "a value long enough to compress");
        assert!(matches!(values, Compression::ZSTD(_)), "{values:?}");
    }

    /// A logs file's row groups hold at most `LOGS_ROW_GROUP_ROWS` rows, whatever
    /// `storage.row_group_rows` says, and each has its own `trace_id` bloom filter, so
    /// a lookup by id reads one small group.
    #[test]
    fn logs_row_groups_are_small_and_each_has_a_trace_filter() {
        use parquet::file::properties::ReaderProperties;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::file::serialized_reader::ReadOptionsBuilder;
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let id = |i: i64| format!("{:032x}", (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15_f39c);
        let rows: Vec<crate::schema::LogRow> = (0..70_000)
            .map(|i| crate::schema::LogRow {
                service: "svc".into(),
                timestamp_ns: i,
                body: format!("line {i}"),
                trace_id: id(i),
                ..Default::default()
            })
            .collect();
        let b = crate::schema::logs_batch(&rows).unwrap();
        let b = crate::schema::to_stored(Signal::Logs, &b).unwrap();
        let opts = WriteOptions {
            row_group_rows: 256 * 1024,
            zstd_level: 3,
            tag_index_zstd_level: 3,
            text_positions: false,
        };
        let order: SeriesOrder<'_> = &|ids: &mut Vec<u64>| ids.sort_unstable();
        let rel = "tables/t/logs/groups.parquet";
        let meta = write_file(&blobs, rel, "t", Signal::Logs, &[b], opts, order).unwrap();
        let f = std::fs::File::open(dir.path().join(&meta.path)).unwrap();
        let props = ReaderProperties::builder()
            .set_read_bloom_filter(true)
            .build();
        let options = ReadOptionsBuilder::new()
            .with_reader_properties(props)
            .build();
        let r = SerializedFileReader::new_with_options(f, options).unwrap();
        let groups: Vec<i64> = r
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        let full = encoding::LOGS_ROW_GROUP_ROWS as i64;
        assert_eq!(groups, vec![full, full, 70_000 - 2 * full]);
        let column = r
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == "trace_id")
            .unwrap();
        // Row 40,000 is in the second group (rows keep their time order).
        let wanted = u128::from_str_radix(&id(40_000), 16).unwrap().to_be_bytes();
        let holding: Vec<usize> = (0..groups.len())
            .filter(|g| {
                let group = r.get_row_group(*g).unwrap();
                let filter = group.get_column_bloom_filter(column).expect("a filter");
                filter.check(&wanted[..])
            })
            .collect();
        assert_eq!(holding, vec![1]);
    }
}
