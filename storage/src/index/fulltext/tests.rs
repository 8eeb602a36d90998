//! Tests of the full-text index: lookups, tokens, corruption, the cache.
use super::*;
use crate::schema::{LogRow, logs_batch};

proptest::proptest! {
    /// The languages (`osprey_logql::tokens`, no tantivy) cut any text into the
    /// same words as the index's analyzer, or searches would miss what is indexed.
    #[test]
    fn the_languages_cut_words_as_the_index_does(text in "\\PC{0,60}") {
        proptest::prop_assert_eq!(osprey_logql::tokens(&text), tokens(&text));
    }

    #[test]
    fn the_same_on_mixed_scripts_and_punctuation(
        text in "[a-zA-Z0-9 _.,:;!?()\\-/ÄäÖößÉéİıΣσςДдЖж東京⅓²①\u{0345}\u{1E9E}\u{2126}]{0,40}"
    ) {
        proptest::prop_assert_eq!(osprey_logql::tokens(&text), tokens(&text));
    }
}

fn row(service: &str, sev: i32, body: &str, attrs: &[(&str, &str)]) -> LogRow {
    LogRow {
        service: service.into(),
        severity_number: sev,
        body: body.into(),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn t(s: &str) -> TextQuery {
    TextQuery::Token(s.into())
}

#[test]
fn finds_rows_by_token_service_level_attr() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::local(dir.path()).unwrap();
    let parquet = "f.parquet";
    let rows = vec![
        row(
            "api",
            9,
            "GET /api/items 200 in 12ms",
            &[("http.method", "GET")],
        ),
        row(
            "api",
            17,
            "Payment FAILED: card declined",
            &[("order.id", "17")],
        ),
        row("db", 13, "slow query on orders_pkey", &[]),
        row("db", 9, "ünïcödé ✓ payload", &[("big", &"x".repeat(200))]),
    ];
    let batch = logs_batch(&rows).unwrap();
    let bytes = write_sidecar(&blobs, parquet, &batch, true).unwrap();
    assert!(bytes > 0);
    let idx = TextIndex::open(&blobs, parquet).unwrap();
    assert_eq!(idx.rows(&t("payment")).unwrap(), vec![1]);
    assert_eq!(
        idx.rows(&t("Payment")).unwrap(),
        Vec::<u32>::new(),
        "tokens are lowercase"
    );
    assert_eq!(idx.rows(&t("ünïcödé")).unwrap(), vec![3]);
    assert_eq!(idx.rows(&t("orders")).unwrap(), vec![2]);
    // A token's inside: "payment" only; "ay" is in "payment" and "payload".
    assert_eq!(
        idx.rows(&TextQuery::Contains("ymen".into())).unwrap(),
        vec![1]
    );
    assert_eq!(
        idx.rows(&TextQuery::Contains("ay".into())).unwrap(),
        vec![1, 3]
    );
    assert_eq!(
        idx.rows(&TextQuery::Prefix("pay".into())).unwrap(),
        vec![1, 3]
    );
    assert_eq!(
        idx.rows(&TextQuery::Service("db".into())).unwrap(),
        vec![2, 3]
    );
    // Whole names, as LogQL's anchored `=~`; a regex the automaton cannot express
    // keeps every row (the rows are checked).
    let matching = |re: &str| idx.rows(&TextQuery::ServiceMatches(re.into())).unwrap();
    assert_eq!(matching("d."), vec![2, 3]);
    assert_eq!(matching("a|db"), vec![2, 3]);
    assert_eq!(matching("(?i)API|DB"), vec![0, 1, 2, 3]);
    assert_eq!(matching("d"), Vec::<u32>::new());
    assert_eq!(matching(r"^db\b"), vec![0, 1, 2, 3]);
    assert_eq!(
        idx.rows(&TextQuery::Levels { min: 4, max: 6 }).unwrap(),
        vec![1, 2]
    );
    let attr = |k: &str, v: &str| TextQuery::Attr {
        key: k.into(),
        value: v.into(),
    };
    assert_eq!(idx.rows(&attr("order.id", "17")).unwrap(), vec![1]);
    assert!(idx.rows(&attr("big", &"x".repeat(200))).unwrap().is_empty());
    let q = TextQuery::And(vec![
        TextQuery::Service("api".into()),
        TextQuery::Not(Box::new(t("payment"))),
    ]);
    assert_eq!(idx.rows(&q).unwrap(), vec![0]);
    let q = TextQuery::Not(Box::new(TextQuery::Service("api".into())));
    assert_eq!(idx.rows(&q).unwrap(), vec![2, 3]);
    assert_eq!(
        idx.rows(&TextQuery::And(vec![q.clone()])).unwrap(),
        vec![2, 3]
    );
    let q = TextQuery::Or(vec![t("slow"), t("declined")]);
    assert_eq!(idx.rows(&q).unwrap(), vec![1, 2]);
    assert_eq!(idx.rows(&TextQuery::All).unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn tokens_match_the_index() {
    assert_eq!(
        tokens("Payment FAILED: orders_pkey/ID-42 ünï"),
        vec!["payment", "failed", "orders", "pkey", "id", "42", "ünï"]
    );
}

#[test]
fn corrupt_index_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::local(dir.path()).unwrap();
    let batch = logs_batch(&[row("a", 9, "hello world", &[])]).unwrap();
    write_sidecar(&blobs, "f.parquet", &batch, true).unwrap();
    let path = dir.path().join(sidecar_path("f.parquet"));
    let mut data = std::fs::read(&path).unwrap();
    data[20] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let e = TextIndex::open(&blobs, "f.parquet")
        .unwrap_err()
        .to_string();
    assert!(e.contains("checksum"), "{e}");
    std::fs::write(&path, b"short").unwrap();
    assert!(TextIndex::open(&blobs, "f.parquet").is_err());
}

#[test]
fn cache_evicts_to_budget() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::local(dir.path()).unwrap();
    let batch = logs_batch(&[row("a", 9, "hello world", &[])]).unwrap();
    let paths: Vec<String> = (0..3)
        .map(|i| {
            let p = format!("{i}.parquet");
            write_sidecar(&blobs, &p, &batch, true).unwrap();
            p
        })
        .collect();
    // Sizes differ by a few bytes (segment ids, offsets in the table of contents).
    let largest = paths
        .iter()
        .map(|p| TextIndex::open(&blobs, p).unwrap().bytes())
        .max()
        .unwrap();
    let cache = TextIndexCache::new(largest * 2);
    for p in &paths {
        assert_eq!(
            cache
                .get(p, || TextIndex::open(&blobs, p))
                .unwrap()
                .rows(&t("hello"))
                .unwrap(),
            vec![0]
        );
    }
    // The budget holds two of the three: the cache never holds more.
    assert!((1..=2).contains(&cache.len()), "{}", cache.len());
    assert!(cache.bytes() <= (largest * 2) as u64);
    // A substring lookup lays the body terms flat, and keeps them while the term
    // budget has room; either way it answers.
    let last = paths.last().unwrap();
    let tight = TermBudget::new(10);
    let index = TextIndex::open(&blobs, last)
        .unwrap()
        .with_term_budget(tight.clone());
    assert_eq!(
        index.rows(&TextQuery::Contains("ell".into())).unwrap(),
        vec![0]
    );
    assert_eq!(tight.held(), 0);
    let roomy = TermBudget::new(1 << 20);
    let index = TextIndex::open(&blobs, last)
        .unwrap()
        .with_term_budget(roomy.clone());
    assert_eq!(
        index.rows(&TextQuery::Contains("ell".into())).unwrap(),
        vec![0]
    );
    assert_eq!(
        index.rows(&TextQuery::Contains("orl".into())).unwrap(),
        vec![0]
    );
    assert!(
        index
            .rows(&TextQuery::Contains("zzz".into()))
            .unwrap()
            .is_empty()
    );
    assert!(roomy.held() > 0);
    drop(index);
    assert_eq!(roomy.held(), 0, "given back with the index");
}
