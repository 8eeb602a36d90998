//! The WAL writer thread: group commit, then memtable insert, then acknowledgement.
//!
//! One thread owns the current segment. It takes every append that is waiting, writes
//! them all, fsyncs once, inserts them into the memtable and acknowledges them. A rotate
//! command freezes the memtable and starts a new segment in the same step, so a frozen
//! memtable always covers whole segments.
//!
//! A full disk (or quota) while writing a group is not fatal: the segment is cut back
//! to where the group started, the group is refused with [`StorageError::DiskFull`],
//! and the next group tries again, so writes resume by themselves once space is freed.
//! Any other write error, and any fsync error, is fatal: after it the page cache
//! cannot be trusted, so every later append fails until a restart (which replays what
//! did reach the disk).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;

use crate::memtable::Frozen;
use crate::series::Series;
use crate::series::exemplars::Exemplar;
use crate::wal::SegmentWriter;
use crate::{Inner, Signal, StorageError};

/// Why writes are refused after a fatal WAL error (clients read it).
pub(crate) const FAILED: &str =
    "an earlier WAL write failed; writes are refused until the server restarts";

/// Largest number of appends committed with one fsync.
const MAX_GROUP: usize = 4096;

pub enum Cmd {
    Append {
        record: Vec<u8>,
        tenant: String,
        signal: Signal,
        /// Metrics: the stored schema.
        batch: RecordBatch,
        /// Metrics: the series the record defines (the index learns them on commit).
        series: Vec<Series>,
        bytes: u64,
        ack: oneshot::Sender<Result<(), StorageError>>,
    },
    /// A record of exemplars; acknowledged with how many the ring took.
    Exemplars {
        record: Vec<u8>,
        exemplars: Vec<Exemplar>,
        ack: oneshot::Sender<Result<usize, StorageError>>,
    },
    Rotate {
        /// Rotate even when the active memtable is empty (its segments hold only rows
        /// already elsewhere: the checkpoint must still move past them).
        even_empty: bool,
        ack: oneshot::Sender<Result<(), StorageError>>,
    },
}

enum Pending {
    Rows {
        tenant: String,
        signal: Signal,
        batch: RecordBatch,
        series: Vec<Series>,
        bytes: u64,
        ack: oneshot::Sender<Result<(), StorageError>>,
    },
    Exemplars {
        exemplars: Vec<Exemplar>,
        ack: oneshot::Sender<Result<usize, StorageError>>,
    },
}

pub fn spawn(
    inner: Arc<Inner>,
    rx: Receiver<Cmd>,
    segment: SegmentWriter,
    wal_dir: PathBuf,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("osprey-wal".into())
        .spawn(move || run(&inner, &rx, segment, &wal_dir))
}

fn run(inner: &Inner, rx: &Receiver<Cmd>, mut segment: SegmentWriter, wal_dir: &std::path::Path) {
    while let Ok(first) = rx.recv() {
        let mut group: Vec<Pending> = Vec::new();
        let mut rotate = None;
        let start = segment.written();
        // A cluster ingester whose lease ran out writes nothing more (`lease.rs`).
        let lease_error = inner.lease.check().err().map(|e| e.to_string());
        let mut write_error: Option<StorageError> = None;
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            let (record, pending) = match cmd {
                Cmd::Append {
                    record,
                    tenant,
                    signal,
                    batch,
                    series,
                    bytes,
                    ack,
                } => (
                    record,
                    Pending::Rows {
                        tenant,
                        signal,
                        batch,
                        series,
                        bytes,
                        ack,
                    },
                ),
                Cmd::Exemplars {
                    record,
                    exemplars,
                    ack,
                } => (record, Pending::Exemplars { exemplars, ack }),
                Cmd::Rotate { even_empty, ack } => {
                    rotate = Some((even_empty, ack));
                    break;
                }
            };
            if write_error.is_none()
                && lease_error.is_none()
                && let Err(e) = segment.append(&record)
            {
                write_error = Some(e);
            }
            group.push(pending);
            if group.len() >= MAX_GROUP {
                break;
            }
            next = rx.try_recv().ok();
        }
        if let Some(why) = &lease_error {
            refuse_group(inner, std::mem::take(&mut group), || {
                StorageError::Closed(why.clone())
            });
        }
        if !group.is_empty() {
            match write_group_outcome(inner, &mut segment, start, write_error) {
                Outcome::Written => commit_group(inner, group),
                Outcome::DiskFull => refuse_group(inner, group, || StorageError::DiskFull),
                Outcome::Failed(msg) => {
                    refuse_group(inner, group, || StorageError::Closed(msg.clone()))
                }
            }
        }
        if let Some((even_empty, ack)) = rotate {
            let _ = ack.send(rotate_segment(inner, &mut segment, wal_dir, even_empty));
        } else if active_full(inner)
            && let Err(e) = rotate_segment(inner, &mut segment, wal_dir, false)
        {
            tracing::warn!(error = %e, "could not freeze a full memtable; the flusher will");
        }
    }
    // Channel closed: make what was written durable even with wal_fsync off.
    let _ = segment.sync();
}

/// What became of a group's records.
enum Outcome {
    /// On disk (and fsynced, when configured).
    Written,
    /// Refused: the disk is full; the segment is as it was before the group.
    DiskFull,
    /// Refused, and storage refuses every later write (message for clients).
    Failed(String),
}

/// Finishes a group's write: fsync, or roll back a write the full disk cut short.
fn write_group_outcome(
    inner: &Inner,
    segment: &mut SegmentWriter,
    start: u64,
    write_error: Option<StorageError>,
) -> Outcome {
    let error = match write_error {
        Some(e) if e.is_disk_full() => match segment.rollback(start) {
            Ok(()) => {
                if !inner.disk_full.swap(true, Ordering::SeqCst) {
                    tracing::error!(error = %e, "disk full: refusing writes until space is freed");
                }
                inner.metrics.set_disk_full(true);
                return Outcome::DiskFull;
            }
            Err(rollback) => {
                tracing::error!(error = %rollback, "cannot cut the WAL back after a full disk");
                e
            }
        },
        Some(e) => e,
        None if inner.config.wal_fsync => {
            let t = Instant::now();
            let synced = crate::faults::point("wal.fsync").and_then(|()| segment.sync());
            inner.metrics.observe_fsync(t.elapsed());
            match synced {
                Ok(()) => return written(inner),
                Err(e) => e,
            }
        }
        None => return written(inner),
    };
    inner.failed.store(true, Ordering::SeqCst);
    tracing::error!(error = %error, "WAL write failed; refusing further writes until restart");
    Outcome::Failed(format!(
        "WAL write failed ({}); writes are refused until the server restarts",
        error.client_message()
    ))
}

fn written(inner: &Inner) -> Outcome {
    if inner.disk_full.swap(false, Ordering::SeqCst) {
        tracing::info!("disk space available again: writes resumed");
        inner.metrics.set_disk_full(false);
    }
    Outcome::Written
}

impl Pending {
    /// Bytes counted in flight (rows only).
    fn bytes(&self) -> u64 {
        match self {
            Pending::Rows { bytes, .. } => *bytes,
            Pending::Exemplars { .. } => 0,
        }
    }
}

fn refuse_group(inner: &Inner, group: Vec<Pending>, error: impl Fn() -> StorageError) {
    let total: u64 = group.iter().map(Pending::bytes).sum();
    inner.in_flight.fetch_sub(total, Ordering::SeqCst);
    for p in group {
        match p {
            Pending::Rows { ack, .. } => {
                let _ = ack.send(Err(error()));
            }
            Pending::Exemplars { ack, .. } => {
                let _ = ack.send(Err(error()));
            }
        }
    }
}

fn commit_group(inner: &Inner, group: Vec<Pending>) {
    let total: u64 = group.iter().map(Pending::bytes).sum();
    let mut acks = Vec::with_capacity(group.len());
    let mut exemplar_acks = Vec::new();
    let mut rows = 0u64;
    // Live tail: no subscriber, no cost; a slow one lags and is told so.
    let tail = inner.tail.has_subscribers().then_some(&inner.tail);
    if let Ok(mut state) = inner.state.write() {
        for p in group {
            let (tenant, signal, batch, series, ack) = match p {
                Pending::Rows {
                    tenant,
                    signal,
                    batch,
                    series,
                    ack,
                    ..
                } => (tenant, signal, batch, series, ack),
                Pending::Exemplars { exemplars, ack } => {
                    exemplar_acks.push((ack, inner.series.exemplars.add(exemplars)));
                    continue;
                }
            };
            rows += batch.num_rows() as u64;
            if signal == Signal::Metrics {
                // After the record's write: see `wal/samples.rs` for why.
                inner.series.index.observe_series(&tenant, series, true);
                inner.series.head.insert(&tenant, &batch);
            }
            if signal == Signal::Logs
                && let Some(tail) = &tail
            {
                tail.publish(Arc::new((tenant.clone(), batch.clone())));
            }
            state.active.insert(tenant, signal, batch);
            acks.push(ack);
        }
        let buffered = state.active.bytes + state.frozen.iter().map(|f| f.bytes).sum::<u64>();
        inner.metrics.set_memtable_bytes(buffered);
        if state.active.bytes >= inner.config.flush_size.as_u64() {
            inner.flush_wanted.notify_one();
        }
    }
    inner.in_flight.fetch_sub(total, Ordering::SeqCst);
    inner.metrics.add_wal_rows(rows);
    for ack in acks {
        let _ = ack.send(Ok(()));
    }
    for (ack, stored) in exemplar_acks {
        let _ = ack.send(Ok(stored));
    }
}

/// Whether the active memtable has reached `flush_size`. The writer freezes it at once
/// (instead of waiting for the flusher, which may be busy writing an earlier one), so
/// no frozen memtable is much larger than `flush_size` and a flush's working set (one
/// sorted copy of a frozen memtable, see `files::sort_batches`) stays near it.
fn active_full(inner: &Inner) -> bool {
    inner
        .state
        .read()
        .is_ok_and(|s| s.active.bytes >= inner.config.flush_size.as_u64())
}

fn rotate_segment(
    inner: &Inner,
    segment: &mut SegmentWriter,
    wal_dir: &std::path::Path,
    even_empty: bool,
) -> Result<(), StorageError> {
    if inner.failed.load(Ordering::SeqCst) {
        return Err(StorageError::Closed(crate::wal::writer::FAILED.into()));
    }
    let mut state = inner
        .state
        .write()
        .map_err(|_| StorageError::Closed("state lock poisoned".into()))?;
    if state.active.is_empty() && !even_empty {
        return Ok(());
    }
    segment.sync()?;
    let next = SegmentWriter::create(wal_dir, segment.id + 1)?;
    let next_id = next.id;
    let old = std::mem::replace(segment, next);
    let fresh = crate::memtable::Memtable {
        segment: next_id,
        ..Default::default()
    };
    let active = std::mem::replace(&mut state.active, fresh);
    state.frozen.push(Arc::new(Frozen {
        segment: old.id,
        tables: active.tables,
        bounds: active.bounds,
        bytes: active.bytes,
        series: inner.series.index.take_pending(),
        oldest: active.oldest,
        partial: false,
    }));
    Ok(())
}
