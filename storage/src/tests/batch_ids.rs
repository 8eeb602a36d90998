//! Forwarded batches (code 6, identified records): their ids are remembered across a
//! crash and a restart, so a retry after either is stored once.

use super::*;
use crate::batch_ids::Begin;

#[tokio::test]
async fn a_forwarded_batch_is_remembered_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let id = 0xfeed_u128 << 64 | 7;
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        let Begin::New(storing) = s.batch_ids().begin(id) else {
            panic!("a new batch")
        };
        s.append_as(Some(id), "t", Signal::Logs, logs(4, "fwd"))
            .await
            .unwrap();
        storing.stored();
        s.append("t", Signal::Logs, logs(3, "plain")).await.unwrap();
        assert!(matches!(s.batch_ids().begin(id), Begin::Stored));
        // Dropped without close: a crash after the acknowledgements.
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert!(matches!(s.batch_ids().begin(id), Begin::Stored));
    assert_eq!(
        s.batch_ids().len(),
        1,
        "only the identified record names a batch"
    );
    assert_eq!(
        rows_in(&s, "t"),
        (7, 0),
        "the identified record's rows are replayed like any others"
    );
}

/// Says it holds the one batch it was built with.
struct Holds(u128);

impl crate::batch_ids::BatchPeers for Holds {
    fn held_elsewhere(&self, ids: &[u128]) -> Vec<u128> {
        ids.iter().copied().filter(|i| *i == self.0).collect()
    }

    fn held_for_me(&self) -> Vec<u128> {
        Vec::new()
    }
}

/// Says it stored the one batch it was built with in the asking ingester's place.
struct StoredForYou(u128);

impl crate::batch_ids::BatchPeers for StoredForYou {
    fn held_elsewhere(&self, _: &[u128]) -> Vec<u128> {
        Vec::new()
    }

    fn held_for_me(&self) -> Vec<u128> {
        vec![self.0]
    }
}

#[tokio::test]
async fn a_batch_another_stored_in_its_place_while_it_was_down_is_not_stored_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = osprey_config::ClusterConfig::default();
    let s = Storage::open_ingester(
        dir.path(),
        cfg(),
        &cluster,
        std::sync::Arc::new(StoredForYou(21)),
    )
    .unwrap();
    // The client's retry of the request reaches this node, the part's owner, now up.
    assert!(matches!(s.batch_ids().begin(21), Begin::Stored));
    assert!(!s.batch_ids().holds(21), "the other holds the rows");
    assert!(matches!(s.batch_ids().begin(22), Begin::New(_)));
}

#[tokio::test]
async fn a_batch_another_ingester_stored_in_its_place_is_left_out_on_replay() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = osprey_config::ClusterConfig::default();
    let (taken, kept) = (11u128, 12u128);
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        for (id, n) in [(taken, 4), (kept, 2)] {
            s.append_as(Some(id), "t", Signal::Logs, logs(n, "fwd"))
                .await
                .unwrap();
        }
        s.append("t", Signal::Logs, logs(3, "plain")).await.unwrap();
        // Dropped without close: the crash before its answers went out.
    }
    let peers = std::sync::Arc::new(Holds(taken));
    let s = Storage::open_ingester(dir.path(), cfg(), &cluster, peers).unwrap();
    assert_eq!(
        rows_in(&s, "t"),
        (2 + 3, 0),
        "the batch held elsewhere is not counted here too"
    );
    // A retry of it is acknowledged without storing it (the other ingester has it).
    assert!(matches!(s.batch_ids().begin(taken), Begin::Stored));
    // Asked in turn, it says it does not hold it: the other keeps its copy.
    assert!(!s.batch_ids().holds(taken));
    assert!(s.batch_ids().holds(kept));
}

#[tokio::test]
async fn after_a_wal_flush_a_batch_left_out_is_not_asked_about_again() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = osprey_config::ClusterConfig::default();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append_as(Some(5), "t", Signal::Logs, logs(4, "fwd"))
            .await
            .unwrap();
    }
    let s =
        Storage::open_ingester(dir.path(), cfg(), &cluster, std::sync::Arc::new(Holds(5))).unwrap();
    assert_eq!(s.batch_ids().held_elsewhere(), 1);
    // Nothing is buffered, yet the checkpoint moves past the segment holding it.
    s.flush_wal().await.unwrap();
    s.close().await.unwrap();
    drop(s);
    // The other ingester has forgotten by now: the copy must be gone from here.
    let s =
        Storage::open_ingester(dir.path(), cfg(), &cluster, std::sync::Arc::new(Holds(0))).unwrap();
    assert_eq!(rows_in(&s, "t"), (0, 0));
}
