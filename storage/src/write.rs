//! The write path's front: validation, room under `memtable_limit`, handing a batch
//! to the WAL writer thread (`wal/writer.rs`) and waiting for its acknowledgement; what
//! is buffered; live-tail subscriptions.

use std::sync::atomic::Ordering;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;

use crate::series::Series;
use crate::wal::writer::Cmd;
use crate::{Signal, Storage, StorageError, memtable, schema, validate_tenant, wal};

impl Storage {
    /// True while the disk is full: the last WAL write was refused for lack of space.
    /// Queries go on; writes resume by themselves with the first that fits.
    pub fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::SeqCst)
    }

    /// Appends a batch durably. Returns once the batch is fsynced (if configured) and
    /// visible to queries. A metrics batch (the ingest schema, with every row's name
    /// and labels) is stored as [`Self::append_samples`] stores samples.
    pub async fn append(
        &self,
        tenant: &str,
        signal: Signal,
        batch: RecordBatch,
    ) -> Result<(), StorageError> {
        self.append_as(None, tenant, signal, batch).await
    }

    /// [`Self::append`], in an identified WAL record when `id` names a batch another
    /// ingester forwarded (its id is remembered on replay: [`Self::batch_ids`]).
    pub async fn append_as(
        &self,
        id: Option<u128>,
        tenant: &str,
        signal: Signal,
        batch: RecordBatch,
    ) -> Result<(), StorageError> {
        validate_tenant(tenant)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.schema() != schema::schema(signal) {
            return Err(StorageError::Arrow(arrow::error::ArrowError::SchemaError(
                format!("batch does not have the {signal} schema"),
            )));
        }
        if signal == Signal::Metrics {
            let unknown = self.unknown_series(tenant, &batch);
            let series = crate::series::definitions(&batch, &unknown)?;
            let stored = schema::to_stored(signal, &batch)?;
            let record = identified(id, wal::encode_samples(tenant, &series, &stored)?)?;
            return self
                .send_append(tenant, signal, stored, series, record)
                .await;
        }
        let record = identified(id, wal::encode(tenant, signal, &batch)?)?;
        // The WAL keeps the ingest schema; the memtable the stored one (span kinds
        // and status codes as dictionaries).
        let batch = schema::to_stored(signal, &batch)?;
        self.send_append(tenant, signal, batch, Vec::new(), record)
            .await
    }

    /// The ids of the forwarded batches stored recently (a cluster's ingesters).
    pub fn batch_ids(&self) -> &crate::batch_ids::BatchIds {
        &self.inner.batch_ids
    }

    /// Appends metric samples durably: `batch` has the stored metrics schema
    /// (`series_id`, `timestamp`, `value`) and `series` names and labels the series
    /// among them that the series index may not hold yet (others may be left out, and
    /// extra ones are ignored). Samples of a series the index does not hold and
    /// `series` does not give are refused, all of them, with
    /// [`StorageError::UndefinedSeries`].
    pub async fn append_samples(
        &self,
        tenant: &str,
        series: Vec<Series>,
        batch: RecordBatch,
    ) -> Result<(), StorageError> {
        self.append_samples_as(None, tenant, series, batch).await
    }

    /// [`Self::append_samples`] as [`Self::append_as`] stores a forwarded batch.
    pub async fn append_samples_as(
        &self,
        id: Option<u128>,
        tenant: &str,
        series: Vec<Series>,
        batch: RecordBatch,
    ) -> Result<(), StorageError> {
        validate_tenant(tenant)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.schema() != schema::stored_schema(Signal::Metrics) {
            return Err(StorageError::Arrow(arrow::error::ArrowError::SchemaError(
                "samples batch does not have the stored metrics schema".into(),
            )));
        }
        let unknown = self.unknown_series(tenant, &batch);
        let mut defined = std::collections::HashSet::with_capacity(unknown.len());
        let series: Vec<Series> = series
            .into_iter()
            .filter(|s| unknown.contains(&s.id) && defined.insert(s.id))
            .collect();
        let count = unknown.len() - defined.len();
        if count > 0 {
            return Err(StorageError::UndefinedSeries { count });
        }
        let record = identified(id, wal::encode_samples(tenant, &series, &batch)?)?;
        self.send_append(tenant, Signal::Metrics, batch, series, record)
            .await
    }

    /// Hands an encoded record and its batch to the WAL writer and waits for the
    /// acknowledgement (after the fsync and the memtable insert).
    async fn send_append(
        &self,
        tenant: &str,
        signal: Signal,
        batch: RecordBatch,
        series: Vec<Series>,
        record: Vec<u8>,
    ) -> Result<(), StorageError> {
        let bytes = batch.get_array_memory_size() as u64;
        let limit = self.inner.config.memtable_limit.as_u64();
        if bytes > limit {
            return Err(StorageError::BatchTooLarge {
                rows: batch.num_rows(),
                bytes,
                limit,
            });
        }
        self.check_room(bytes)?;
        let (ack, done) = oneshot::channel();
        self.inner.in_flight.fetch_add(bytes, Ordering::SeqCst);
        let sent = self.send(Cmd::Append {
            record,
            tenant: tenant.to_string(),
            signal,
            batch,
            series,
            bytes,
            ack,
        });
        if let Err(e) = sent {
            self.inner.in_flight.fetch_sub(bytes, Ordering::SeqCst);
            return Err(e);
        }
        done.await
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))?
    }

    /// The series of a metrics batch (either schema) that the index does not hold:
    /// its WAL record defines them (see `wal/samples.rs` for why the others need not
    /// be).
    fn unknown_series(&self, tenant: &str, batch: &RecordBatch) -> std::collections::HashSet<u64> {
        use arrow::array::AsArray;
        let ids = batch
            .column_by_name("series_id")
            .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt64Type>());
        match ids {
            Some(ids) => self.inner.series.index.unknown(tenant, ids.values()),
            None => Default::default(),
        }
    }

    /// Appends exemplars durably (a WAL record) and adds them to the ring; returns how
    /// many the ring took (repeats of recent ones and over-long label sets are not).
    pub async fn append_exemplars(
        &self,
        exemplars: Vec<crate::series::exemplars::Exemplar>,
    ) -> Result<usize, StorageError> {
        if exemplars.is_empty() {
            return Ok(0);
        }
        for e in &exemplars {
            validate_tenant(&e.tenant)?;
        }
        let record = wal::encode_exemplars(&exemplars)?;
        let (ack, done) = oneshot::channel();
        self.send(Cmd::Exemplars {
            record,
            exemplars,
            ack,
        })?;
        done.await
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))?
    }

    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), StorageError> {
        if self.inner.failed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed(crate::wal::writer::FAILED.into()));
        }
        if self.is_fenced() {
            return Err(StorageError::Closed(
                "this process was fenced: a newer one with its node id owns its writes".into(),
            ));
        }
        let guard = self
            .inner
            .tx
            .lock()
            .map_err(|_| StorageError::Closed("writer lock poisoned".into()))?;
        let tx = guard
            .as_ref()
            .ok_or_else(|| StorageError::Closed("storage closed".into()))?;
        tx.send(cmd)
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))
    }

    /// Whether `bytes` more would fit under `memtable_limit` now (memtables plus writes
    /// in flight); `Backpressure` if not. Ingest asks before reading and decoding a
    /// request, so an overloaded server refuses at once.
    pub fn check_room(&self, bytes: u64) -> Result<(), StorageError> {
        let limit = self.inner.config.memtable_limit.as_u64();
        let used = self.buffered_bytes() + self.inner.in_flight.load(Ordering::SeqCst);
        if used.saturating_add(bytes) > limit {
            self.inner.flush_wanted.notify_one();
            return Err(StorageError::Backpressure { used, limit });
        }
        Ok(())
    }

    /// Bytes held in memtables (active + being flushed).
    pub fn buffered_bytes(&self) -> u64 {
        self.inner
            .state
            .read()
            .map(|s| s.active.bytes + s.frozen.iter().map(|f| f.bytes).sum::<u64>())
            .unwrap_or(0)
    }

    /// Bytes of `tenant`'s rows held in memtables (active + being flushed).
    pub fn buffered_bytes_of(&self, tenant: &str) -> u64 {
        let Ok(s) = self.inner.state.read() else {
            return 0;
        };
        let of = |tables: &std::collections::HashMap<memtable::TableKey, Vec<RecordBatch>>| -> u64 {
            tables
                .iter()
                .filter(|((t, _), _)| t == tenant)
                .flat_map(|(_, batches)| batches)
                .map(|b| b.get_array_memory_size() as u64)
                .sum()
        };
        of(&s.active.tables) + s.frozen.iter().map(|f| of(&f.tables)).sum::<u64>()
    }

    /// Logs batches as they are acknowledged (and visible to queries), every tenant's.
    /// A subscriber that falls behind the kept batches ([`crate::tail`]: 1024 batches,
    /// 64 MiB) skips to the oldest and is told how many (`RecvError::Lagged`).
    pub fn subscribe_logs(&self) -> crate::tail::TailReceiver {
        self.inner.tail.subscribe()
    }

    /// Ends every live tail (their streams finish), so that a graceful shutdown does not
    /// wait for clients that would listen forever.
    pub fn end_tails(&self) {
        self.inner.tail.close();
        if let Ok(relays) = self.inner.relays.lock() {
            relays
                .iter()
                .filter_map(std::sync::Weak::upgrade)
                .for_each(|f| f.close());
        }
    }
}

/// `record` as the identified record of batch `id`, or as it is without one.
fn identified(id: Option<u128>, record: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    match id {
        Some(id) => wal::identify(&record, id),
        None => Ok(record),
    }
}
