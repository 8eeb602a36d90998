use super::super::pipeline::{ERROR_DETAILS_LABEL, ERROR_LABEL, process};
use super::super::{Labels, Query, parse};

const TS: i64 = 1_654_560_000_123_000_000; // 2022-06-07T00:00:00.123Z

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The line and labels a log query leaves of `line` in a stream `{app="api"}` with the
/// given structured metadata.
fn run(pipeline: &str, line: &str, metadata: &[(&str, &str)]) -> (Labels, String) {
    let q = format!(r#"{{app="api"}} {pipeline}"#);
    let Ok(Query::Log(log)) = parse(&q) else {
        panic!("{q}: {:?}", parse(&q))
    };
    let meta: Vec<(String, String)> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    process(&log, &labels(&[("app", "api")]), (TS, line), &meta).expect("kept")
}

fn line(pipeline: &str, l: &str) -> String {
    run(pipeline, l, &[]).1
}

fn parse_error(q: &str) -> String {
    match parse(q) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{q} parsed"),
    }
}

#[test]
fn line_format_reads_labels_the_line_and_its_time() {
    assert_eq!(
        line(
            r#"| logfmt | line_format "{{.level}}: {{.msg}}""#,
            "level=warn msg=slow"
        ),
        "warn: slow"
    );
    // A missing label is empty, not `<no value>`; the app label is a stream label.
    assert_eq!(
        line(r#"| line_format "[{{.nope}}] {{.app}}""#, "x"),
        "[] api"
    );
    assert_eq!(
        line(r#"| line_format "{{ __line__ | ToUpper }}!""#, "hi"),
        "HI!"
    );
    assert_eq!(
        line(
            r#"| line_format "{{ __timestamp__ | date \"2006-01-02T15:04:05.000Z07:00\" }}""#,
            "x"
        ),
        "2022-06-07T00:00:00.123Z"
    );
    assert_eq!(
        line(
            r#"| line_format "{{ __timestamp__ | unixEpochMillis }}""#,
            "x"
        ),
        "1654560000123"
    );
    // Backticks hold a template without escapes; a later filter sees the new line.
    assert_eq!(
        line(
            r#"| json | line_format `{{.a}}-{{.b}}` |= "1-""#,
            r#"{"a":1,"b":"x"}"#
        ),
        "1-x"
    );
    // Structured metadata is a label like the others.
    assert_eq!(
        run(
            r#"| line_format "{{.trace_id}}""#,
            "x",
            &[("trace_id", "abc")]
        )
        .1,
        "abc"
    );
}

#[test]
fn template_functions_follow_go_and_sprig() {
    for (tmpl, want) in [
        (
            r#"{{ div 7 2 }} {{ divf 7 2 }} {{ mulf 1000000 3 }} {{ add 1 "2" 3.9 }}"#,
            "3 3.5 3e+06 6",
        ),
        (
            r#"{{ Replace "a-b-c" "-" "+" 1 }} {{ "a-b-c" | replace "-" "/" }}"#,
            "a+b-c a/b/c",
        ),
        (
            r#"{{ regexReplaceAll "(\\d+)" "id 42" "<$1>" }} {{ count "a|b" "abab" }}"#,
            "id <42> 4",
        ),
        (
            r#"{{ "hello world" | trunc 5 }} {{ "hello" | substr 1 3 }} {{ title "hi there" }}"#,
            "hello el Hi There",
        ),
        (
            r#"{{ alignLeft 4 "ab" }}|{{ alignRight 3 "hello" }}|{{ "x" | b64enc }}"#,
            "ab  |llo|eA==",
        ),
        (
            r#"{{ bytes "3 kB" }} {{ duration "1m30s" }} {{ "1.5" | float64 | ceil }}"#,
            "3000 90 2",
        ),
        (
            r#"{{ toDateInZone "2006-01-02" "Europe/Berlin" "2022-06-07" | unixEpoch }}"#,
            "1654552800",
        ),
        (
            r#"{{ .missing | default "-" }} {{ round 2.567 2 }} {{ (fromJson "{\"a\":[1,2]}").a }}"#,
            "- 2.57 [1 2]",
        ),
        (
            r#"{{ if contains "wor" "hello world" }}yes{{ end }} {{ urldecode "a%20b+c" }}"#,
            "yes a b c",
        ),
        (
            r#"{{ unixToTime "1654560000" }}"#,
            "2022-06-07 00:00:00 +0000 UTC",
        ),
    ] {
        let q = format!("| line_format {}", super::go_quote(tmpl));
        assert_eq!(line(&q, "x"), want, "{tmpl}");
    }
}

#[test]
fn a_failing_template_sets_the_error_and_keeps_the_line() {
    let (l, text) = run(r#"| line_format "{{ .app | now }}""#, "kept", &[]);
    assert_eq!(text, "kept");
    assert_eq!(
        l.get(ERROR_LABEL).map(String::as_str),
        Some("TemplateFormatErr")
    );
    let details = &l[ERROR_DETAILS_LABEL];
    assert!(
        details.contains("wrong number of args for now: want 0 got 1"),
        "{details}"
    );
    // It replaces a parser's error, as Loki's SetErr does.
    let (l, _) = run(r#"| json | line_format "{{ div 1 0 }}""#, "not json", &[]);
    assert_eq!(l[ERROR_LABEL], "TemplateFormatErr");
    assert!(l[ERROR_DETAILS_LABEL].contains("integer divide by zero"));
    // And a label filter drops the line like any other error.
    let q = r#"{app="api"} | line_format "{{ div 1 0 }}" | __error__="""#;
    let Ok(Query::Log(log)) = parse(q) else {
        panic!()
    };
    assert!(process(&log, &labels(&[("app", "api")]), (TS, "x"), &[]).is_none());
}

#[test]
fn label_format_renames_in_order_and_templates_read_the_first_snapshot() {
    // Loki's own case: the template sees bar before the rename replaced it.
    let (l, _) = run(
        r#"| logfmt | label_format blip="{{.foo}} and {{.bar}}", bar=foo"#,
        "foo=blip bar=blop",
        &[],
    );
    assert_eq!(
        l,
        labels(&[("app", "api"), ("bar", "blip"), ("blip", "blip and blop")])
    );
    // A rename of a missing label does nothing; a template sees the line.
    let (l, _) = run(
        r#"| label_format x=nope, size="{{ __line__ | len }}""#,
        "12345",
        &[],
    );
    assert_eq!(l, labels(&[("app", "api"), ("size", "5")]));
    // Templates of one stage do not see each other.
    let (l, _) = run(r#"| label_format a="1", b="{{.a}}x""#, "l", &[]);
    assert_eq!((l["a"].as_str(), l["b"].as_str()), ("1", "x"));
}

#[test]
fn bad_formats_fail_the_parse_as_loki_words_it() {
    for (q, want) in [
        (
            r#"{app="a"} | label_format x="{{ .pod""#,
            r#"parse error : stage '| label_format x="{{ .pod"' : invalid template for label 'x': template: label:1: unclosed action"#,
        ),
        (
            r#"{app="a"} | label_format x="{{ nofunc .pod }}""#,
            r#"parse error : stage '| label_format x="{{ nofunc .pod }}"' : invalid template for label 'x': template: label:1: function "nofunc" not defined"#,
        ),
        (
            r#"{app="a"} | label_format x="a", x="b""#,
            r#"parse error : stage '| label_format x="a",x="b"' : multiple label name 'x' not allowed in a single format operation"#,
        ),
        (
            r#"{app="a"} | label_format __error__="a""#,
            r#"parse error : stage '| label_format __error__="a"' : __error__ cannot be formatted"#,
        ),
        (
            r#"{app="a"} | line_format "{{ .pod""#,
            r#"parse error : stage '| line_format "{{ .pod"' : invalid line template: template: line:1: unclosed action"#,
        ),
        (
            r#"{app="a"} | line_format "{{ nofunc .pod }}""#,
            r#"parse error : stage '| line_format "{{ nofunc .pod }}"' : invalid line template: template: line:1: function "nofunc" not defined"#,
        ),
    ] {
        assert_eq!(parse_error(q), want, "{q}");
    }
    let e = parse_error(r#"{app="a"} | label_format x"#);
    assert!(e.starts_with("parse error at line 1, col 27:"), "{e}");
    let e = parse_error(r#"{app="a"} | label_format x=1"#);
    assert!(e.contains("IDENTIFIER or STRING"), "{e}");
    let e = parse_error(r#"{app="a"} | line_format"#);
    assert!(e.contains("STRING"), "{e}");
}

#[test]
fn metric_queries_use_formatted_labels_and_skip_unread_line_formats() {
    use super::super::{MetricExpr, Stage};
    let stages = |q: &str| match parse(q) {
        Ok(Query::Metric(MetricExpr::Range { range, .. })) => range.log.pipeline.len(),
        other => panic!("{q}: {other:?}"),
    };
    // Counted lines do not depend on their text: the line_format is not run.
    assert_eq!(
        stages(r#"count_over_time({a="b"} | line_format "{{ div 1 0 }}" [1m])"#),
        0
    );
    // Read by a later parser, or counted as bytes: kept.
    assert_eq!(
        stages(r#"count_over_time({a="b"} | line_format "{{.x}}" | logfmt [1m])"#),
        2
    );
    assert_eq!(
        stages(r#"bytes_over_time({a="b"} | line_format "{{.x}}" [1m])"#),
        1
    );
    assert_eq!(
        stages(r#"count_over_time({a="b"} | label_format y="{{.x}}" | line_format "a" [1m])"#),
        1
    );
    let Ok(Query::Metric(MetricExpr::Range { range, .. })) =
        parse(r#"count_over_time({a="b"} | label_format y=x [1m])"#)
    else {
        panic!()
    };
    assert!(matches!(range.log.pipeline[0], Stage::LabelFormat(_)));
}
