//! The logs of one trace: the trace-id bloom filters of a logs file skip the row
//! groups that cannot hold the id, and only matching rows come back.

use super::*;

/// 3000 lines in row groups of 1024, each with its own trace id (`{i:032x}`), every
/// tenth without one.
async fn traced_file(dir: &std::path::Path) -> (Storage, FileMeta) {
    let mut config = cfg();
    config.row_group_rows = 1024;
    let s = Storage::open(dir, config).unwrap();
    let rows: Vec<LogRow> = (0..3000)
        .map(|i| LogRow {
            service: "svc".into(),
            timestamp_ns: i,
            body: format!("line {i}"),
            trace_id: if i % 10 == 9 {
                String::new()
            } else {
                format!("{:032x}", i + 1)
            },
            ..Default::default()
        })
        .collect();
    s.append("default", Signal::Logs, logs_batch(&rows).unwrap())
        .await
        .unwrap();
    s.flush().await.unwrap();
    let file = s.snapshot("default", Signal::Logs).files[0].clone();
    (s, file)
}

#[tokio::test]
async fn bloom_filters_skip_the_row_groups_without_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (s, file) = traced_file(dir.path()).await;
    let id = |i: u64| -> [u8; 16] { u128::from(i + 1).to_be_bytes() };
    let ranges = |ids: &[[u8; 16]]| {
        let values: Vec<&[u8]> = ids.iter().map(|v| v.as_slice()).collect();
        crate::files::pruning::bloom_row_ranges(
            &s.inner.blobs,
            None,
            &file.path,
            "trace_id",
            &values,
        )
        .unwrap()
        .expect("logs files carry trace-id bloom filters")
    };
    // Row 2500 is in the third row group only.
    assert_eq!(ranges(&[id(2500)]), vec![2048..3000]);
    assert_eq!(ranges(&[id(10), id(2500)]), vec![0..1024, 2048..3000]);
    assert!(ranges(&[id(1_000_000)]).is_empty());

    let hex = |i: u64| format!("{:032x}", i + 1);
    let rows = s.rows_with_trace_ids(&file, &[hex(2500)]).unwrap();
    assert_eq!(rows, Some(vec![2500]));
    let rows = s
        .rows_with_trace_ids(&file, &[hex(10), hex(1500), hex(2500).to_uppercase()])
        .unwrap();
    assert_eq!(rows, Some(vec![10, 1500, 2500]));
    // Never stored: not hex, or the wrong width.
    assert_eq!(
        s.rows_with_trace_ids(&file, &["xyz".into()]).unwrap(),
        Some(vec![])
    );
    // An empty id (records without one) has no bound.
    assert_eq!(
        s.rows_with_trace_ids(&file, &[String::new()]).unwrap(),
        None
    );
}
