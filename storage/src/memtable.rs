//! In-memory tables: acknowledged record batches per tenant and signal, not yet in files.

use std::collections::HashMap;
use std::time::Instant;

use arrow::array::RecordBatch;

use crate::Signal;

pub type TableKey = (String, Signal);

/// Each batch's (min, max) of its time column, beside `tables` in the same order: a
/// read of a time range skips the batches outside it without touching their rows.
pub type Bounds = HashMap<TableKey, Vec<(i64, i64)>>;

/// The (min, max) of a batch's time column ((0, -1), an empty range, without one).
pub fn bounds_of(signal: Signal, batch: &RecordBatch) -> (i64, i64) {
    use arrow::array::AsArray;
    let col = batch
        .column_by_name(crate::files::time_column(signal))
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>());
    match col {
        Some(c) => (
            arrow::compute::min(c).unwrap_or(0),
            arrow::compute::max(c).unwrap_or(-1),
        ),
        None => (i64::MIN, i64::MAX),
    }
}

/// The memtable that the WAL writer appends to.
#[derive(Default)]
pub struct Memtable {
    /// The WAL segment its records are appended to now, which it keeps as `Frozen`
    /// (a segment and a memtable are rotated together): unique within a WAL's life.
    pub segment: u64,
    pub tables: HashMap<TableKey, Vec<RecordBatch>>,
    pub bounds: Bounds,
    pub bytes: u64,
    /// When the oldest batch arrived (drives the age-based flush).
    pub oldest: Option<Instant>,
}

impl Memtable {
    pub fn insert(&mut self, tenant: String, signal: Signal, batch: RecordBatch) {
        self.bytes += batch.get_array_memory_size() as u64;
        self.oldest.get_or_insert_with(Instant::now);
        let bounds = bounds_of(signal, &batch);
        self.bounds
            .entry((tenant.clone(), signal))
            .or_default()
            .push(bounds);
        self.tables.entry((tenant, signal)).or_default().push(batch);
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// A memtable being flushed: read-only, still served to queries until its files are live.
pub struct Frozen {
    /// The WAL segment it was frozen at: it holds every record of segments ≤ this id.
    pub segment: u64,
    pub tables: HashMap<TableKey, Vec<RecordBatch>>,
    pub bounds: Bounds,
    pub bytes: u64,
    /// Series first seen in this memtable, per tenant, to be persisted with its files.
    pub series: Vec<(String, Vec<std::sync::Arc<crate::series::Series>>)>,
    /// When its oldest batch arrived (a partial one is flushed by age, like the active).
    pub oldest: Option<Instant>,
    /// Some tenant's rows were flushed ahead (`Storage::flush_tenant`): what remains
    /// waits for its own size or age instead of being flushed at once.
    pub partial: bool,
}

impl Frozen {
    /// The same frozen memtable without `tenant`'s tables and series, marked partial.
    pub fn without_tenant(&self, tenant: &str) -> Frozen {
        let tables: HashMap<TableKey, Vec<RecordBatch>> = self
            .tables
            .iter()
            .filter(|((t, _), _)| t != tenant)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bounds: Bounds = self
            .bounds
            .iter()
            .filter(|((t, _), _)| t != tenant)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bytes = tables
            .values()
            .flatten()
            .map(|b| b.get_array_memory_size() as u64)
            .sum();
        Frozen {
            segment: self.segment,
            tables,
            bounds,
            bytes,
            series: self
                .series
                .iter()
                .filter(|(t, _)| t != tenant)
                .cloned()
                .collect(),
            oldest: self.oldest,
            partial: true,
        }
    }
}
