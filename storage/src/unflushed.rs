//! A node's unflushed rows, for the queriers of a cluster (`storage/docs/format/
//! cluster.md`, "Read path"): what a querier holding a snapshot must read from this
//! node's memory so that it counts every acknowledged row once.
//!
//! A record of WAL segment `s` of a tenant is in files exactly when `s` is at or below
//! the tenant's effective checkpoint, `max(wal_checkpoint, flushed_ahead[tenant])`
//! (`Manifest::covers`). This node's memory holds exactly the records above its own
//! committed effective checkpoint `E`: frozen memtables stay until the commit that
//! lists their files, and are dropped in the same step. A querier whose snapshot says
//! `after` for this node and tenant therefore gets the memtables above `after` — all
//! of them when `after == E`, fewer when it saw a commit this node has not swapped in
//! yet (`after > E`) — and a `Stale` error when its snapshot is older (`after < E`):
//! rows between the two are in files it does not list, and no longer in memory.

use arrow::array::RecordBatch;

use crate::manifest::Manifest;
use crate::{Signal, Storage, StorageError};

impl Manifest {
    /// The segment up to which `tenant`'s records are in this manifest's files.
    pub fn effective_checkpoint(&self, tenant: &str) -> u64 {
        self.flushed_ahead
            .iter()
            .filter(|a| a.tenant == tenant)
            .map(|a| a.segment)
            .fold(self.wal_checkpoint, u64::max)
    }
}

/// A memtable's batches of one table, named by the WAL segment the memtable belongs to.
/// Its batches only ever grow (the active memtable) or stay as they are (a frozen
/// one; a tenant's own flush empties that tenant's), so an asker may keep them and
/// ask for the ones after those it holds.
#[derive(Debug, Clone)]
pub struct MemtableRows {
    pub segment: u64,
    pub batches: Vec<RecordBatch>,
}

impl Storage {
    /// `tenant`'s `signal` rows in memory above `after` (the checkpoint for this node
    /// in the asker's snapshot), by memtable, oldest first, with this node's own
    /// committed checkpoint.
    pub fn unflushed(
        &self,
        tenant: &str,
        signal: Signal,
        after: u64,
    ) -> Result<(Vec<MemtableRows>, u64), StorageError> {
        let state = self
            .inner
            .state
            .read()
            .map_err(|_| StorageError::Closed("state lock poisoned".into()))?;
        let committed = state.manifest.effective_checkpoint(tenant);
        if after < committed {
            return Err(StorageError::StaleSnapshot { after, committed });
        }
        let key = (tenant.to_string(), signal);
        let rows =
            |segment: u64, tables: &std::collections::HashMap<_, Vec<RecordBatch>>| MemtableRows {
                segment,
                batches: tables.get(&key).cloned().unwrap_or_default(),
            };
        let mut out: Vec<MemtableRows> = state
            .frozen
            .iter()
            .filter(|f| f.segment > after)
            .map(|f| rows(f.segment, &f.tables))
            .collect();
        out.push(rows(state.active.segment, &state.active.tables));
        Ok((out, committed))
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{cfg, logs};
    use crate::{Signal, Storage, StorageError};

    fn rows(m: &[super::MemtableRows]) -> usize {
        m.iter()
            .flat_map(|m| &m.batches)
            .map(|b| b.num_rows())
            .sum()
    }

    /// Every acknowledged row is counted once whether the asker's snapshot is the
    /// node's own, or one commit ahead of what the node has swapped in; an older
    /// snapshot is refused.
    #[tokio::test]
    async fn rows_above_the_askers_checkpoint_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("t", Signal::Logs, logs(4, "a")).await.unwrap();
        let (mem, at0) = s.unflushed("t", Signal::Logs, 0).unwrap();
        assert_eq!((rows(&mem), at0), (4, 0));
        s.flush().await.unwrap();
        s.append("t", Signal::Logs, logs(3, "b")).await.unwrap();
        s.append("u", Signal::Logs, logs(9, "c")).await.unwrap();
        let e = s.snapshot("t", Signal::Logs);
        let in_files: u64 = e.files.iter().map(|f| f.rows).sum();
        // The snapshot of before the flush is stale now: its 4 rows left memory.
        let err = s.unflushed("t", Signal::Logs, 0).unwrap_err();
        assert!(
            matches!(err, StorageError::StaleSnapshot { after: 0, .. }),
            "{err}"
        );
        let StorageError::StaleSnapshot { committed, .. } = err else {
            unreachable!()
        };
        let (mem, _) = s.unflushed("t", Signal::Logs, committed).unwrap();
        assert_eq!(in_files + rows(&mem) as u64, 7);
        // A tenant's own flush moves only its checkpoint.
        s.flush_tenant("t").await.unwrap();
        let (mem_u, _) = s.unflushed("u", Signal::Logs, committed).unwrap();
        assert_eq!(rows(&mem_u), 9);
        let err = s.unflushed("t", Signal::Logs, committed).unwrap_err();
        let StorageError::StaleSnapshot {
            committed: t_at, ..
        } = err
        else {
            panic!("{err}")
        };
        assert!(t_at > committed);
        assert_eq!(rows(&s.unflushed("t", Signal::Logs, t_at).unwrap().0), 0);
        // New rows are above every checkpoint.
        s.append("t", Signal::Logs, logs(2, "d")).await.unwrap();
        assert_eq!(rows(&s.unflushed("t", Signal::Logs, t_at).unwrap().0), 2);
    }
}
