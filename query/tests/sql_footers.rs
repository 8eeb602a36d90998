//! SQL keeps parsed Parquet footers across queries (`QueryState::sql_footers`), one
//! cache per storage: two storages in one process hold files under the same relative
//! paths, and each query still reads its own storage's files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{logs, state};
use osprey_storage::Signal;
use osprey_storage::schema::logs_batch;

#[tokio::test]
async fn footers_are_kept_per_storage() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (state(a_dir.path()), state(b_dir.path()));
    let rows = logs();
    // The same first file name in both, with different rows.
    a.storage
        .append("default", Signal::Logs, logs_batch(&rows[..3]).unwrap())
        .await
        .unwrap();
    b.storage
        .append("default", Signal::Logs, logs_batch(&rows).unwrap())
        .await
        .unwrap();
    a.storage.flush().await.unwrap();
    b.storage.flush().await.unwrap();
    assert_eq!(a.storage.files()[0].path, b.storage.files()[0].path);
    let count = |st| async move {
        let r = osprey_query::sql::run(st, "default", "SELECT count(*) FROM logs")
            .await
            .unwrap();
        r.rows[0][0].as_i64().unwrap()
    };
    assert!(a.sql_footers.is_empty());
    for _ in 0..2 {
        assert_eq!(count(&a).await, 3);
        assert_eq!(count(&b).await, rows.len() as i64);
    }
    assert_eq!(a.sql_footers.len(), 1, "the first query's footer is kept");
    assert_eq!(b.sql_footers.len(), 1);
}
