//! A data file the snapshot lists but the store no longer holds fails the query (503,
//! naming the file), never answers as if the file were empty (`sql/listed_files.rs`:
//! DataFusion would list a missing file's path as a prefix and find nothing; its
//! metadata now comes from the snapshot, so the read finds it missing).
//! Found by the cluster fault suite, where a restarted compactor deleted a file a
//! lagging querier still listed and the querier's counts came out short.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{logs, state};
use osprey_query::QueryError;
use osprey_storage::Signal;
use osprey_storage::schema::logs_batch;

#[tokio::test]
async fn a_listed_file_missing_from_the_store_fails_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let rows = logs();
    for part in [&rows[..3], &rows[3..]] {
        st.storage
            .append("default", Signal::Logs, logs_batch(part).unwrap())
            .await
            .unwrap();
        st.storage.flush().await.unwrap();
    }
    let files = st.storage.files();
    assert_eq!(files.len(), 2);
    let count = "SELECT count(*) FROM logs";
    let sql = |q: &'static str| osprey_query::sql::run(&st, "default", q);
    // Warm: the footers are cached, and the count could come from their statistics.
    let r = sql(count).await.unwrap();
    assert_eq!(r.rows[0][0].as_i64().unwrap(), rows.len() as i64);

    std::fs::remove_file(dir.path().join(&files[1].path)).unwrap();
    // The count may come from the cached footers' statistics, which hold the file's
    // rows as the snapshot lists them: then it is whole. Never short.
    match sql(count).await {
        Ok(r) => assert_eq!(r.rows[0][0].as_i64().unwrap(), rows.len() as i64),
        Err(e) => assert!(matches!(e, QueryError::Unavailable(_)), "{e:?}"),
    }
    // Reading the rows needs the file.
    let q = "SELECT body FROM logs ORDER BY timestamp DESC LIMIT 100";
    let e = sql(q).await.unwrap_err();
    assert!(matches!(e, QueryError::Unavailable(_)), "{e:?}");
    assert_eq!(e.status(), 503);
    let m = e.to_string();
    assert!(m.contains(&files[1].path) && m.contains("retry"), "{m}");
}
