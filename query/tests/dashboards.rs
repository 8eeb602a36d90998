//! Stored dashboards through the engine: generated ids, the versions kept (the newest
//! `KEEP_VERSIONS` before the current one), and everything still there after the
//! storage is closed and opened again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use osprey_query::dashboards::{self, KEEP_VERSIONS};
use serde_json::json;

#[tokio::test]
async fn versions_are_kept_bounded_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    // No uid: one is made up, and set in the stored JSON.
    let s = dashboards::create(&st, "t1", json!({"title": "Hosts", "panels": []}))
        .await
        .unwrap();
    assert!(dashboards::valid_id(&s.id), "{}", s.id);
    assert_eq!(s.dashboard["uid"], json!(s.id));
    assert_eq!(s.dashboard["version"], json!(1));
    let mut cur = s.version;
    let saves = KEEP_VERSIONS + 5;
    for i in 0..saves {
        let d = json!({"title": format!("Hosts {i}"), "panels": []});
        cur = dashboards::update(&st, "t1", &s.id, cur, d)
            .await
            .unwrap()
            .version;
    }
    assert_eq!(cur, saves + 1);
    let versions = dashboards::versions(&st, "t1", &s.id).await.unwrap();
    assert_eq!(versions.len() as u64, KEEP_VERSIONS + 1);
    assert_eq!(versions[0].version, cur);
    assert_eq!(versions.last().unwrap().version, cur - KEEP_VERSIONS);
    assert!(dashboards::version(&st, "t1", &s.id, 1).await.is_err());

    st.storage.close().await.unwrap();
    drop(st);
    let st = common::state(dir.path());
    let got = dashboards::get(&st, "t1", &s.id).await.unwrap();
    assert_eq!(
        (got.version, got.title.as_str()),
        (cur, format!("Hosts {}", saves - 1).as_str())
    );
    let stored = |l: Vec<dashboards::Summary>| l.into_iter().filter(|s| !s.builtin).count();
    assert_eq!(
        stored(dashboards::list(&st, "t1", "", &[]).await.unwrap()),
        1
    );
    assert_eq!(
        stored(dashboards::list(&st, "t2", "", &[]).await.unwrap()),
        0
    );
}

#[tokio::test]
async fn builtin_dashboards_are_listed_read_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    let all = dashboards::list(&st, "t1", "", &[]).await.unwrap();
    let ids: Vec<&str> = all
        .iter()
        .filter(|s| s.builtin)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        ids.len(),
        dashboards::builtin::all().len(),
        "every built-in is listed: {ids:?}"
    );
    for id in [
        "osprey-red-by-service",
        "osprey-use-by-host",
        "osprey-itself",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
        let d = dashboards::get(&st, "t1", id).await.unwrap();
        assert_eq!(d.dashboard["uid"], json!(id));
        let denied = dashboards::update(&st, "t1", id, 1, json!({"title": "x"})).await;
        assert!(
            matches!(denied, Err(osprey_query::QueryError::Forbidden(_))),
            "{denied:?}"
        );
        let denied = dashboards::delete(&st, "t1", id).await;
        assert!(matches!(
            denied,
            Err(osprey_query::QueryError::Forbidden(_))
        ));
        // Its uid cannot be taken by an import.
        let taken = dashboards::create(&st, "t1", json!({"uid": id, "title": "mine"})).await;
        assert!(matches!(taken, Err(osprey_query::QueryError::Conflict(_))));
    }
    // Search covers them like the stored ones.
    let red = dashboards::list(&st, "t1", "red by", &[]).await.unwrap();
    assert_eq!(
        red.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["osprey-red-by-service"]
    );
}
