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
    let rows: usize = s
        .snapshot("t", Signal::Logs)
        .batches
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(
        rows, 7,
        "the identified record's rows are replayed like any others"
    );
}
