//! Whole traces by id, without a scan: the trace-id sidecars name the files that may
//! hold each trace; of those files only the `trace_id` column is read to find the
//! traces' rows, then only those rows of every column (Parquet row selection, small
//! spans pages). Files are read in parallel (`readahead.rs`); memtable rows are
//! matched in memory. Several traces are fetched in one pass (a search's page).

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};

use crate::readahead;
use crate::{QueryError, QueryState};
use osprey_storage::index::trace_index::{TraceId, parse_trace_id};
use osprey_storage::schema::stored_schema;
use osprey_storage::{Signal, Storage};

fn storage_err(e: osprey_storage::StorageError) -> QueryError {
    QueryError::Internal(e.to_string())
}

fn internal(e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(e.to_string())
}

/// The spans (stored schema) of each of `ids` (32 hex digits, lowercase) that has any.
pub async fn find_traces(
    st: &QueryState,
    tenant: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<RecordBatch>>, QueryError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let (storage, tenant, ids) = (st.storage.clone(), tenant.to_string(), ids.to_vec());
    st.blocking("trace fetch", move || fetch(&storage, &tenant, &ids))
        .await
}

fn fetch(
    storage: &Storage,
    tenant: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<RecordBatch>>, QueryError> {
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let snap = storage.traces_snapshot(tenant, &id_refs)?;
    let wanted_hex: HashSet<&str> = id_refs.iter().copied().collect();
    let wanted_bin: HashSet<TraceId> = ids.iter().filter_map(|i| parse_trace_id(i)).collect();
    // A file's every id is checked: first its leading 8 bytes against the wanted ones
    // (a binary search in a few integers), hashing only the rare candidates.
    let prefix =
        |id: &TraceId| u64::from_be_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]);
    let mut prefixes: Vec<u64> = wanted_bin.iter().map(prefix).collect();
    prefixes.sort_unstable();
    let schema = stored_schema(Signal::Spans);
    let mut out: HashMap<String, Vec<RecordBatch>> = HashMap::new();

    // Memtables: hex ids.
    for b in &snap.batches {
        let col = b
            .column_by_name("trace_id")
            .ok_or_else(|| internal("memtable batch without trace_id"))?;
        let col = col.as_string::<i32>();
        let rows: Vec<u32> = (0..col.len())
            .filter(|i| col.is_valid(*i) && wanted_hex.contains(col.value(*i)))
            .map(|i| i as u32)
            .collect();
        if !rows.is_empty() {
            let picked =
                arrow::compute::take_record_batch(b, &UInt32Array::from(rows)).map_err(internal)?;
            split_by_trace(&picked, &mut out)?;
        }
    }

    // Files: binary ids; read the id column, then the matching rows in full.
    let read = |f: &osprey_storage::FileMeta| -> Result<Option<RecordBatch>, QueryError> {
        let ids = storage
            .read_rows(f, Some(&["trace_id"]), None)
            .map_err(storage_err)?;
        let mut rows = Vec::new();
        let mut base = 0u32;
        for b in &ids {
            let col = b
                .column_by_name("trace_id")
                .ok_or_else(|| internal("spans file without trace_id"))?
                .as_fixed_size_binary();
            for i in 0..col.len() {
                if col.is_valid(i)
                    && let Ok(id) = <TraceId>::try_from(col.value(i))
                    && prefixes.binary_search(&prefix(&id)).is_ok()
                    && wanted_bin.contains(&id)
                {
                    rows.push(base + i as u32);
                }
            }
            base += b.num_rows() as u32;
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let batches = storage
            .read_rows(f, None, Some(&rows))
            .map_err(storage_err)?;
        let batch = arrow::compute::concat_batches(
            &osprey_storage::files::layout::file_schema(Signal::Spans),
            &batches,
        )
        .map_err(internal)?;
        Ok(Some(crate::sql::provider::convert(
            Signal::Spans,
            &batch,
            &schema,
        )?))
    };
    readahead::in_order(&snap.files, read, |i, batch, _| {
        let batch = match batch {
            Some(b) => b?,
            None => read(&snap.files[i])?,
        };
        if let Some(b) = batch {
            split_by_trace(&b, &mut out)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Adds the rows of `b` (stored schema, hex ids) to their traces' lists.
fn split_by_trace(
    b: &RecordBatch,
    out: &mut HashMap<String, Vec<RecordBatch>>,
) -> Result<(), QueryError> {
    let col = b
        .column_by_name("trace_id")
        .ok_or_else(|| internal("batch without trace_id"))?
        .as_string::<i32>();
    let mut rows: HashMap<&str, Vec<u32>> = HashMap::new();
    for i in 0..col.len() {
        rows.entry(col.value(i)).or_default().push(i as u32);
    }
    for (id, r) in rows {
        let picked =
            arrow::compute::take_record_batch(b, &UInt32Array::from(r)).map_err(internal)?;
        out.entry(id.to_string()).or_default().push(picked);
    }
    Ok(())
}
