use super::*;

const S: i64 = 1_000_000_000;

fn line(ts_ns: i64, text: String) -> Line {
    Line {
        ts_ns,
        line: text,
        metadata: Vec::new(),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn metric(q: &str) -> MetricExpr {
    match parse(q) {
        Ok(Query::Metric(m)) => m,
        other => panic!("{q}: {other:?}"),
    }
}

fn err(q: &str) -> String {
    match parse(q) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("{q} parsed: {other:?}"),
    }
}

/// Two streams: api (JSON lines) and web (logfmt lines), one line a second from t=1s.
fn data_for(m: &MetricExpr) -> Data {
    let api = Stream {
        labels: labels(&[("app", "api"), ("env", "prod")]),
        entries: (1..=10)
            .map(|i| {
                let level = if i % 3 == 0 { "error" } else { "info" };
                line(i * S, format!(r#"{{"level":"{level}","latency_ms":{},"req":{{"path":"/p{}"}},"took":"{i}00ms"}}"#, i * 10, i % 2))
            })
            .collect(),
    };
    let web = Stream {
        labels: labels(&[("app", "web"), ("env", "prod")]),
        entries: (1..=4)
            .map(|i| {
                line(
                    i * S,
                    format!(
                        "level=warn msg=\"slow request\" size={i}KB status={}",
                        200 + i * 100
                    ),
                )
            })
            .collect(),
    };
    m.ranges()
        .iter()
        .map(|r| {
            let streams = [&api, &web]
                .into_iter()
                .filter(|s| r.log.selects(&s.labels));
            (r.id, streams.cloned().collect())
        })
        .collect()
}

fn eval(q: &str, t_s: i64) -> Vec<(Labels, f64)> {
    let m = metric(q);
    match evaluate(&m, t_s * S, &data_for(&m)) {
        Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn parses_log_and_metric_queries() {
    let Ok(Query::Log(l)) =
        parse(r#"{app="api", env=~"prod|dev"} |= "timeout" != "debug" | json | level="error""#)
    else {
        panic!("log query")
    };
    assert_eq!(l.matchers.len(), 2);
    assert_eq!(l.pipeline.len(), 4);
    assert_eq!(l.leading_line_filters().count(), 2);
    for q in [
        r#"count_over_time({app="api"}[5m])"#,
        r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#,
        r#"sum(rate({app="api"} |~ "err.*" [5m])) by (app) > 10"#,
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (app)"#,
        r#"sum_over_time({app="api"} | logfmt --strict | unwrap duration(took) | __error__="" [1m] offset 1h)"#,
        r#"topk(3, sum by (app) (bytes_rate({app=~".+"}[1m])))"#,
        r#"count_over_time({app="api"}[5m]) / ignoring(level) count_over_time({app="api"}[5m]) * 100"#,
        r#"absent_over_time({app="gone"}[5m]) or vector(0)"#,
        r#"count_over_time({app="api"}[1m] | json | status >= 500 and latency > 250ms or size < 1KB)"#,
        "2 ^ 3 ^ 2",
        r#"count_over_time(({app="api"} |= "x")[5m])"#,
        r#"count_over_time(({app="api"} |= "x" [5m]))"#,
        r#"count_over_time({app="api"}[5m] offset 1h | json)"#,
    ] {
        metric(q);
    }
    // `^` is right-associative: 2^(3^2).
    let m = metric("2 ^ 3 ^ 2");
    assert_eq!(evaluate(&m, 0, &Data::new()), Ok(Value::Scalar(512.0)));
    assert_eq!(
        evaluate(&metric("1 + 2 * 3"), 0, &Data::new()),
        Ok(Value::Scalar(7.0))
    );
}

#[test]
fn errors_name_the_problem_and_its_position() {
    assert_eq!(
        err(r#"{app="api"} |= 5"#),
        "parse error at line 1, col 16: syntax error: unexpected NUMBER 5, expecting STRING"
    );
    assert!(err(r#"{app=~".*"}"#).contains("at least one regexp or equality matcher"));
    assert!(err(r#"sum_over_time({app="a"}[5m])"#).contains("sum_over_time without unwrap"));
    assert!(
        err(r#"count_over_time({app="a"} | unwrap x [5m])"#)
            .contains("count_over_time with unwrap")
    );
    assert!(err(r#"count_over_time({app="a"})"#).contains("expecting \"[\""));
    assert!(err(r#"sum(rate({app="a"}[1m])) / on (x) group_left (y"#).contains("expecting \")\""));
    assert!(err(r#"{app="a"} | pattern "<_> x""#).contains("at least one capture is required"));
    assert!(err(r#"{app="a"} |> "<a><b>""#).contains("separated by a literal"));
    assert!(err(r#"{app="a"} |~ "(""#).contains("invalid regular expression"));
    assert!(err(r#"rate({app="a"}[5x])"#).contains("invalid duration"));
    assert!(err("count_over_time(\n{app=\"a\"}[5m]").starts_with("parse error at line 2"));
    assert!(err("foo(1)").contains("unknown function \"foo\""));
    assert!(err(r#"{app="a""#).contains("unexpected end of query"));
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(
        parse(&deep).err(),
        Some(crate::LogQueryError::TooDeep { max: MAX_DEPTH })
    );
    // Long operator chains and unary runs nest the tree as deep: refused before it is
    // built (evaluating or dropping 10,000 levels overflowed the stack).
    let range = r#"count_over_time({app="a"}[1m])"#;
    for deep in [
        vec![range; 10_000].join(" + "),
        format!("{}{range}", "- ".repeat(10_000)),
        format!("{}{range}", "+ ".repeat(10_000)),
    ] {
        assert_eq!(
            parse(&deep).err(),
            Some(crate::LogQueryError::TooDeep { max: MAX_DEPTH }),
            "{}",
            &deep[..40]
        );
    }
    assert!(parse(&vec![range; 50].join(" + ")).is_ok());
    let negated = format!("{}{range}", "- ".repeat(50));
    assert!(parse(&negated).is_ok(), "{:?}", parse(&negated).err());
}

#[test]
fn counts_and_rates_over_a_window_that_excludes_its_start() {
    // Window (5s, 10s]: lines at 6..=10 for api, none for web (1..=4).
    let v = eval(r#"count_over_time({env="prod"}[5s])"#, 10);
    assert_eq!(v, vec![(labels(&[("app", "api"), ("env", "prod")]), 5.0)]);
    let v = eval(r#"rate({app="api"}[5s])"#, 10);
    assert_eq!(v[0].1, 1.0);
    let v = eval(r#"count_over_time({app="api"}[5s] offset 5s)"#, 10);
    assert_eq!(v[0].1, 5.0);
    // The same range written the other ways Loki reads.
    for q in [
        r#"count_over_time(({app="api"} |= "level")[5s] offset 5s)"#,
        r#"count_over_time(({app="api"} |= "level" [5s]) offset 5s)"#,
        r#"count_over_time({app="api"}[5s] offset 5s |= "level")"#,
    ] {
        assert_eq!(eval(q, 10)[0].1, 5.0, "{q}");
    }
    let v = eval(r#"count_over_time({app="api"} |= "error" [10s])"#, 10);
    assert_eq!(v[0].1, 3.0);
    let v = eval(
        r#"count_over_time({app="api"} != "error" |~ "p1" [10s])"#,
        10,
    );
    assert_eq!(v[0].1, 3.0, "odd i, not a multiple of 3: 1, 5, 7");
}

#[test]
fn json_and_logfmt_labels_group_and_filter() {
    let v = eval(
        r#"sum by (level) (count_over_time({app="api"} | json [10s]))"#,
        10,
    );
    assert_eq!(
        v,
        vec![
            (labels(&[("level", "error")]), 3.0),
            (labels(&[("level", "info")]), 7.0)
        ]
    );
    // Nested keys are joined with `_`.
    let v = eval(
        r#"count_over_time({app="api"} | json | req_path="/p0" [10s])"#,
        10,
    );
    assert_eq!(v.iter().map(|s| s.1).sum::<f64>(), 5.0);
    let v = eval(
        r#"sum(count_over_time({app="api"} | json | latency_ms >= 50 and level="info" [10s]))"#,
        10,
    );
    assert_eq!(v[0].1, 4.0, "50, 70, 80, 100");
    let v = eval(
        r#"sum(count_over_time({app="web"} | logfmt | size > 2KB or status == 300 [10s]))"#,
        10,
    );
    assert_eq!(v[0].1, 3.0, "size 3KB, 4KB, and status 300");
    let v = eval(
        r#"count_over_time({app="web"} | logfmt | msg="slow request" | keep app, msg [10s])"#,
        10,
    );
    assert_eq!(
        v,
        vec![(labels(&[("app", "web"), ("msg", "slow request")]), 4.0)]
    );
}

#[test]
fn unwrap_aggregates_values_and_errors_must_be_skipped() {
    let v = eval(
        r#"sum by (app) (sum_over_time({app="api"} | json | unwrap latency_ms [10s]))"#,
        10,
    );
    assert_eq!(v, vec![(labels(&[("app", "api")]), 550.0)]);
    let v = eval(
        r#"max_over_time({app="api"} | json | unwrap duration(took) [10s]) by (app)"#,
        10,
    );
    assert_eq!(v[0].1, 1.0);
    let v = eval(
        r#"quantile_over_time(0.5, {app="api"} | json | unwrap latency_ms [10s]) by (app)"#,
        10,
    );
    assert_eq!(v[0].1, 55.0);
    // web lines are not JSON: the query fails unless the error is filtered out.
    let m = metric(r#"sum(count_over_time({env="prod"} | json [10s]))"#);
    let e = evaluate(&m, 10 * S, &data_for(&m))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("pipeline error: 'JSONParserErr'"), "{e}");
    let v = eval(
        r#"sum(count_over_time({env="prod"} | json | __error__="" [10s]))"#,
        10,
    );
    assert_eq!(v[0].1, 10.0);
}

#[test]
fn aggregations_comparisons_and_set_operations() {
    let q = r#"sum by (app) (count_over_time({env="prod"}[10s]))"#;
    assert_eq!(
        eval(&format!("{q} > 5"), 10),
        vec![(labels(&[("app", "api")]), 10.0)]
    );
    assert_eq!(
        eval(&format!("{q} > bool 5"), 10)
            .iter()
            .map(|s| s.1)
            .collect::<Vec<_>>(),
        vec![1.0, 0.0]
    );
    assert_eq!(
        eval(&format!("topk(1, {q})"), 10),
        vec![(labels(&[("app", "api")]), 10.0)]
    );
    assert_eq!(eval(&format!("{q} / on(app) {q}"), 10).len(), 2);
    assert_eq!(eval(&format!("{q} * 2"), 10)[1].1, 8.0);
    assert_eq!(eval(&format!("sort_desc({q})"), 10)[0].1, 10.0);
    let absent = r#"absent_over_time({app="gone", env=~"p.*"}[10s])"#;
    assert_eq!(eval(absent, 10), vec![(labels(&[("app", "gone")]), 1.0)]);
    assert_eq!(eval(&format!("{absent} or vector(0)"), 10).len(), 2);
    assert!(eval(r#"absent_over_time({app="api"}[10s])"#, 10).is_empty());
    assert_eq!(eval(&format!("{q} unless {q} < 5"), 10).len(), 1);
    assert_eq!(eval(&format!("avg({q})"), 10), vec![(Labels::new(), 7.0)]);
}

#[test]
fn bytes_and_pipeline_stages() {
    let v = eval(r#"bytes_over_time({app="web"}[10s])"#, 10);
    let expected: usize = (1..=4)
        .map(|i| {
            format!(
                "level=warn msg=\"slow request\" size={i}KB status={}",
                200 + i * 100
            )
            .len()
        })
        .sum();
    assert_eq!(v[0].1, expected as f64);
    let Ok(Query::Log(l)) =
        parse(r#"{app="x"} | regexp "(?P<method>\\w+) (?P<path>\\S+)" | drop path | decolorize"#)
    else {
        panic!("log query")
    };
    let stream = labels(&[("app", "x"), ("method", "stream")]);
    let mut e = pipeline::Entry::new(&stream, "GET /index.html");
    assert!(pipeline::run(&l.pipeline, &mut e));
    assert_eq!(
        e.labels.get("method_extracted").map(String::as_str),
        Some("GET")
    );
    assert!(!e.labels.contains_key("path"));
    assert_eq!(
        pipeline::sanitize_label_name("http.status-code"),
        "http_status_code"
    );
    assert_eq!(pipeline::sanitize_label_name("1x"), "_1x");
}

#[test]
fn lokis_rules_for_missing_labels_errors_and_precedence() {
    // A line without the unwrapped label has no sample.
    assert!(
        eval(
            r#"sum_over_time({app="web"} | logfmt | unwrap latency [10s])"#,
            10
        )
        .is_empty()
    );
    // A number filter on a missing label drops the line, whatever the operator.
    assert!(
        eval(
            r#"count_over_time({app="web"} | logfmt | latency != 5 [10s])"#,
            10
        )
        .is_empty()
    );
    // `,` joins what follows whole: status=300 and (level="error" or status=400).
    assert!(eval(r#"count_over_time({app="web"} | logfmt | status=300, level="error" or status=400 [10s])"#, 10).is_empty());
    let v = eval(
        r#"count_over_time({app="web"} | logfmt | status=300 and level="error" or status=400 [10s])"#,
        10,
    );
    assert_eq!(v.iter().map(|s| s.1).sum::<f64>(), 1.0);
    // Signed numbers.
    let v = eval(
        r#"sum(count_over_time({app="web"} | logfmt | status > -1 [10s]))"#,
        10,
    );
    assert_eq!(v[0].1, 4.0);
    // `keep` keeps the error labels, so the error still fails the query.
    let m = metric(r#"count_over_time({env="prod"} | json | keep app [10s])"#);
    let got = evaluate(&m, 10 * S, &data_for(&m));
    assert!(
        matches!(got, Err(crate::LogQueryError::Pipeline(_))),
        "{got:?}"
    );
    // A zero divisor gives NaN.
    let v = eval("vector(1) / 0", 10);
    assert!(v[0].1.is_nan());
    assert!(
        err(r#"sum_over_time({app="a"} | unwrap x [5m]) by (app)"#)
            .contains("grouping not allowed for sum_over_time")
    );
    metric(r#"absent_over_time({app="a"} | unwrap x [5m])"#);
}

#[test]
fn structured_metadata_labels_the_line() {
    let m = metric(r#"sum by (user) (count_over_time({app="x"} | user="u-1" [10s]))"#);
    let stream = Stream {
        labels: labels(&[("app", "x")]),
        entries: vec![
            Line {
                ts_ns: S,
                line: "a".into(),
                metadata: vec![("user".into(), "u-1".into())],
            },
            Line {
                ts_ns: 2 * S,
                line: "b".into(),
                metadata: vec![("user".into(), "u-2".into())],
            },
        ],
    };
    let data: Data = m
        .ranges()
        .iter()
        .map(|r| (r.id, vec![stream.clone()]))
        .collect();
    assert_eq!(
        evaluate(&m, 10 * S, &data),
        Ok(Value::Vector(vec![Sample {
            labels: labels(&[("user", "u-1")]),
            value: 1.0
        }]))
    );
}

/// A range query: each line through its pipeline once (`prepare` over every step),
/// then the query at each step, gives what evaluating each step alone gives.
#[test]
fn range_steps_equal_instant_evaluations() {
    for q in [
        r#"count_over_time({app="api"}[3s])"#,
        r#"sum by (level) (count_over_time({app="api"} | json [2s]))"#,
        r#"rate({env="prod"}[4s] offset 1s)"#,
        r#"max_over_time({app="api"} | json | unwrap latency_ms [3s]) by (app)"#,
        r#"absent_over_time({app="web"}[2s]) or vector(0)"#,
        r#"sum(bytes_over_time({env="prod"}[2s])) / sum(count_over_time({env="prod"}[2s]))"#,
    ] {
        let m = metric(q);
        let data = data_for(&m);
        // Steps of 1 s and of 5 s (longer than some ranges: lines between windows).
        for step in [1, 5] {
            let steps: Vec<i64> = (0..=12).step_by(step).map(|t| t * S).collect();
            let prepared = prepare(&m, &data, &steps).unwrap();
            for &t in &steps {
                let alone = evaluate(&m, t, &data).unwrap();
                let ranged = evaluate_at(&m, t, &prepared).unwrap();
                assert_eq!(ranged, alone, "{q} at {t} (step {step} s)");
            }
        }
    }
    // A line outside every window is not run through the pipeline: its error does not
    // fail the query.
    let m = metric(r#"count_over_time({app="web"} | json [1s])"#);
    let data = data_for(&m);
    let far = [100 * S];
    assert_eq!(
        evaluate_at(&m, 100 * S, &prepare(&m, &data, &far).unwrap()),
        Ok(Value::Vector(Vec::new()))
    );
    assert!(
        evaluate(&m, 2 * S, &data).is_err(),
        "web lines are not JSON"
    );
}

#[test]
fn pattern_parser_pattern_filters_and_unpack() {
    let by = |q: &str| -> Vec<(Labels, f64)> { eval(q, 20) };
    // web lines: `level=warn msg="slow request" size={i}KB status={200 + 100 i}`, i = 1..=4.
    let got = by(
        r#"sum by (status) (count_over_time({app="web"} | pattern "level=<level> msg=<_> size=<size> status=<status>" [20s]))"#,
    );
    let statuses: Vec<&str> = got.iter().map(|(l, _)| l["status"].as_str()).collect();
    assert_eq!(statuses, ["300", "400", "500", "600"]);
    assert!(got.iter().all(|(_, v)| *v == 1.0));
    assert_eq!(
        by(r#"count_over_time({app="web"} |> "<_> status=<_>00" [20s])"#)[0].1,
        4.0
    );
    assert_eq!(
        by(r#"count_over_time({app="web"} !> "<_> size=1KB <_>" [20s])"#)[0].1,
        3.0
    );
    // Unpack: string fields become labels, `_entry` the line (then filtered).
    let m = metric(r#"sum by (pod) (count_over_time({app="packed"} | unpack |= "GET" [10s]))"#);
    let packed = Stream {
        labels: labels(&[("app", "packed")]),
        entries: (1..=4)
            .map(|i| {
                let verb = if i % 2 == 0 { "GET" } else { "POST" };
                line(
                    i * S,
                    format!(r#"{{"_entry":"{verb} /x","pod":"p-{}","n":{i}}}"#, i % 2),
                )
            })
            .collect(),
    };
    let data: Data = m
        .ranges()
        .iter()
        .map(|r| (r.id, vec![packed.clone()]))
        .collect();
    let Ok(Value::Vector(v)) = evaluate(&m, 10 * S, &data) else {
        panic!("unpack query")
    };
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].labels["pod"].as_str(), v[0].value), ("p-0", 2.0));
}

#[test]
fn label_replace_follows_promql() {
    let got = eval(
        r#"label_replace(sum by (app) (count_over_time({env="prod"}[20s])), "short", "$1", "app", "(a|w).*")"#,
        20,
    );
    let shorts: Vec<(&str, &str)> = got
        .iter()
        .map(|(l, _)| (l["app"].as_str(), l["short"].as_str()))
        .collect();
    assert_eq!(shorts, [("api", "a"), ("web", "w")]);
    // No match: unchanged; an empty replacement removes the label.
    let got = eval(
        r#"label_replace(sum by (app) (count_over_time({env="prod"}[20s])), "app", "", "app", "api")"#,
        20,
    );
    assert!(got.iter().any(|(l, _)| !l.contains_key("app")));
    assert!(
        got.iter()
            .any(|(l, _)| l.get("app").map(String::as_str) == Some("web"))
    );
    assert!(err(r#"label_replace(vector(1), "1x", "", "a", "b")"#).contains("invalid destination"));
}

/// `sum by`/`max by` straight over an additive (or the same) range function cut each
/// line's labels to the group at once: the answer equals the uncut evaluation (here
/// forced by a `+ 0` between them).
#[test]
fn label_reduction_under_an_aggregation_changes_nothing() {
    for (cut, whole) in [
        (
            r#"sum by (level) (count_over_time({app="api"} | json [5s]))"#,
            r#"sum by (level) (count_over_time({app="api"} | json [5s]) + 0)"#,
        ),
        (
            r#"sum by (app) (bytes_rate({env="prod"} |= "e" [4s]))"#,
            r#"sum by (app) (bytes_rate({env="prod"} |= "e" [4s]) + 0)"#,
        ),
        (
            r#"max by (level) (max_over_time({app="api"} | json | unwrap latency_ms [5s]))"#,
            r#"max by (level) (max_over_time({app="api"} | json | unwrap latency_ms [5s]) + 0)"#,
        ),
    ] {
        for t in [3, 6, 10, 12] {
            assert_eq!(eval(cut, t), eval(whole, t), "{cut} at {t}");
        }
    }
}

#[test]
fn group_left_and_group_right_follow_promql() {
    // Per (app, level) line counts against per-app totals: many-to-one.
    let by_level = r#"sum by (app, level) (count_over_time({env="prod"} | json | drop __error__, __error_details__ | logfmt | drop __error__, __error_details__ [10s]))"#;
    let by_app = r#"sum by (app) (count_over_time({env="prod"}[10s]))"#;
    let mut shares = eval(&format!("{by_level} / on (app) group_left {by_app}"), 10);
    shares.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        shares,
        vec![
            (labels(&[("app", "api"), ("level", "error")]), 0.3),
            (labels(&[("app", "api"), ("level", "info")]), 0.7),
            (labels(&[("app", "web"), ("level", "warn")]), 1.0),
        ]
    );
    // group_right: the same pairs from the other side, operands in query order.
    let mut inverse = eval(&format!("{by_app} / on (app) group_right {by_level}"), 10);
    inverse.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        inverse[0],
        (labels(&[("app", "api"), ("level", "error")]), 10.0 / 3.0)
    );
    // Included labels are copied from the "one" side.
    let env = r#"sum by (app, env) (count_over_time({env="prod"}[10s]))"#;
    let copied = eval(&format!("{by_level} * on (app) group_left (env) {env}"), 10);
    assert!(
        copied
            .iter()
            .all(|(l, _)| l.get("env").map(String::as_str) == Some("prod"))
    );
    // Without grouping, a many-to-one match is an error naming the fix.
    let m = metric(&format!("{by_level} / on (app) {by_app}"));
    let e = evaluate(&m, 10 * S, &data_for(&m)).unwrap_err().to_string();
    assert!(e.contains("many-to-one matching must be explicit"), "{e}");
    // The "one" side must be unique per match group.
    let m = metric(
        &format!("{by_app} / on (app) group_right {by_level}").replace("group_right", "group_left"),
    );
    let e = evaluate(&m, 10 * S, &data_for(&m)).unwrap_err().to_string();
    assert!(e.contains("many-to-many matching not allowed"), "{e}");
}

/// Lines fed to forks of an extractor (as the engine's scan threads do, each a share of
/// the files) and merged give what one extractor fed every line gives.
#[test]
fn forked_extractors_merged_equal_one() {
    for q in [
        r#"sum by (level) (count_over_time({app="api"} | json [3s]))"#,
        r#"sum by (req_path) (bytes_over_time({app="api"} | json [4s]))"#,
        r#"sum by (app) (count_over_time({env="prod"} | json | __error__="" [4s]))"#,
        r#"max_over_time({app="api"} | json | unwrap latency_ms [3s]) by (app)"#,
        r#"count_over_time({env="prod"} | logfmt | level="warn" [5s])"#,
    ] {
        let m = metric(q);
        let data = data_for(&m);
        let steps: Vec<i64> = (0..=12).map(|t| t * S).collect();
        let whole = prepare(&m, &data, &steps).unwrap();
        for mut x in extractors(&m, &steps) {
            let id = x.range().id;
            let mut forks = [x.fork(), x.fork(), x.fork()];
            // Line i of each stream to fork i % 3, as files split a stream's lines.
            for s in data.get(&id).map_or(&[][..], Vec::as_slice) {
                for (i, l) in s.entries.iter().enumerate() {
                    let f = &mut forks[i % 3];
                    f.set_stream(&s.labels);
                    f.push(l.ts_ns, &l.line, &l.metadata).unwrap();
                }
            }
            for f in forks {
                x.merge(f);
            }
            let merged = std::collections::HashMap::from([(id, x.finish())]);
            for &t in &steps {
                assert_eq!(
                    evaluate_at(&m, t, &merged),
                    evaluate_at(&m, t, &whole),
                    "{q} at {t}"
                );
            }
        }
    }
}

/// Under `sum by (level)` only `level` can reach a sample: other structured metadata
/// may be left out, and a nested object's fields are skipped unless one is read.
#[test]
fn cut_to_a_group_reads_only_what_the_group_needs() {
    let m = metric(r#"sum by (level, req_path) (count_over_time({app="api"} | json [3s]))"#);
    let steps = [10 * S];
    let x = extractors(&m, &steps).remove(0);
    assert!(x.wants_metadata("level") && x.wants_metadata("req_path"));
    assert!(
        x.wants_metadata("req.path"),
        "sanitized, it is a group label"
    );
    assert!(!x.wants_metadata("trace_id") && !x.wants_metadata("detected_level"));
    let all = metric(r#"count_over_time({app="api"} | json [3s])"#);
    assert!(extractors(&all, &steps)[0].wants_metadata("trace_id"));
    // Nested objects: read when a group label lies under them, and only then.
    let got = eval(
        r#"sum by (req_path) (count_over_time({app="api"} | json [10s]))"#,
        10,
    );
    assert_eq!(
        got,
        vec![
            (labels(&[("req_path", "/p0")]), 5.0),
            (labels(&[("req_path", "/p1")]), 5.0)
        ]
    );
}

/// Which ranges may be fed lines already parsed by `| json`, and the labels they need.
#[test]
fn parsed_json_labels_only_where_the_line_is_not_read() {
    let steps = [0, 60 * S];
    let needs = |q: &str| {
        let m = metric(q);
        extractors(&m, &steps)[0].parsed_json_labels()
    };
    let names = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(
        needs(r#"sum by (level) (count_over_time({app="a"} | json [1m]))"#),
        names(&["level"])
    );
    assert_eq!(
        needs(
            r#"sum by (level) (count_over_time({app="a"} | json | __error__="" | status_extracted>=500 | drop msg [1m]))"#
        ),
        names(&["level", "status", "status_extracted"])
    );
    assert_eq!(
        needs(r#"max by (svc) (max_over_time({app="a"} | json | unwrap latency [1m]))"#),
        names(&["latency", "svc"])
    );
    assert_eq!(
        needs(r#"sum(count_over_time({app="a"} | json | status >= 500 [5m]))"#),
        names(&["status"])
    );
    for q in [
        // No group cutting lines to known labels.
        r#"count_over_time({app="a"} | json [1m])"#,
        r#"sum without (x) (count_over_time({app="a"} | json [1m]))"#,
        // The line is read after `| json`, or its size is the value.
        // (A `line_format` that cannot change the sample is left out when parsed.)
        r#"sum by (lvl) (count_over_time({app="a"} | json | label_format lvl="{{.level}}" [1m]))"#,
        r#"sum by (level) (count_over_time({app="a"} | json | logfmt [1m]))"#,
        r#"sum by (level) (count_over_time({app="a"} | json |= "x" [1m]))"#,
        r#"sum by (level) (bytes_over_time({app="a"} | json [1m]))"#,
        // Not a parameterless `| json` first; the error's details are read.
        r#"sum by (level) (count_over_time({app="a"} | json level="lvl" [1m]))"#,
        r#"sum by (level) (count_over_time({app="a"} |= "x" | json [1m]))"#,
        r#"sum by (level) (count_over_time({app="a"} | json | __error_details__="" [1m]))"#,
    ] {
        assert_eq!(needs(q), None, "{q}");
    }
    let reads = |q: &str| extractors(&metric(q), &steps)[0].reads_line();
    assert!(!reads(r#"count_over_time({app="a"} [1m])"#));
    assert!(!reads(r#"sum(rate({app="a"} | level="x" | drop y [1m]))"#));
    assert!(reads(r#"bytes_over_time({app="a"} [1m])"#));
    assert!(reads(r#"count_over_time({app="a"} |= "x" [1m])"#));
    assert!(reads(
        r#"sum by (level) (count_over_time({app="a"} | json [1m]))"#
    ));
}
