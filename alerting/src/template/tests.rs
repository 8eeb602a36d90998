//! Expansions as Prometheus 2.42 gives them (pinned with promtool, see
//! `alerting/docs/semantics.md` §4 and §2.7).

use std::sync::Arc;

use super::*;

fn labels() -> Vec<(String, String)> {
    vec![
        ("__name__".into(), "node_memory_bytes".into()),
        ("instance".into(), "host1.example.com:9100".into()),
        ("job".into(), "node".into()),
    ]
}

fn ctx() -> Context {
    Context {
        external_labels: [("cluster".to_string(), "c1".to_string())].into(),
        external_url: Some("http://prom.example:9090/pfx".into()),
        query: Some(Arc::new(|q: &str| {
            if q == "up" {
                Ok(vec![
                    Sample {
                        labels: vec![("__name__".into(), "up".into()), ("job".into(), "b".into())],
                        value: 1.0,
                    },
                    Sample {
                        labels: vec![("__name__".into(), "up".into()), ("job".into(), "a".into())],
                        value: 0.0,
                    },
                ])
            } else {
                Ok(Vec::new())
            }
        })),
    }
}

fn x(text: &str, value: f64) -> String {
    expand(&ctx(), "__alert_A", text, &labels(), value)
}

#[test]
fn variables_and_values_print_like_go() {
    assert_eq!(
        x("{{ $labels.instance }} is {{ $value }}", 1234567.0),
        "host1.example.com:9100 is 1.234567e+06"
    );
    assert_eq!(x("{{ $value }}", 3.5), "3.5");
    assert_eq!(x("{{ $labels.__name__ }}", 0.0), "node_memory_bytes");
    assert_eq!(x("[{{ $labels.missing }}]", 0.0), "[]");
    assert_eq!(x("{{ $externalLabels.cluster }}", 0.0), "c1");
    assert_eq!(x("{{ $externalURL }}", 0.0), "http://prom.example:9090/pfx");
    assert_eq!(x("{{ .Value }}", 100000.0), "100000");
    assert_eq!(x("no template", 1.0), "no template");
}

#[test]
fn functions_and_control_flow() {
    assert_eq!(x("{{ $value | humanize }}B", 1234567.0), "1.235MB");
    assert_eq!(x("{{ humanizePercentage $value }}", 0.12345), "12.35%");
    assert_eq!(x("{{ printf \"%.2f\" $value }}", 1.0 / 3.0), "0.33");
    assert_eq!(
        x("{{ if gt $value 10.0 }}high{{ else }}low{{ end }}", 11.0),
        "high"
    );
    assert_eq!(x("{{ $labels.instance | stripDomain }}", 0.0), "host1:9100");
    assert_eq!(
        x(
            "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
            0.0
        ),
        "host1.example.com"
    );
    assert_eq!(
        x(
            "{{ range query \"up\" | sortByLabel \"job\" }}{{ .Labels.job }}={{ .Value }} {{ end }}",
            0.0
        ),
        "a=0 b=1 "
    );
    assert_eq!(
        x(
            "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
            0.0
        ),
        "1"
    );
    assert_eq!(x("{{ pathPrefix }}", 0.0), "/pfx");
    assert_eq!(
        x("{{ graphLink \"m > 0\" }}", 0.0),
        "/graph?g0.expr=m+%3E+0&g0.tab=0"
    );
    assert_eq!(x("{{ toUpper \"a\" }}{{ title \"b c\" }}", 0.0), "AB C");
}

#[test]
fn errors_are_written_into_the_result() {
    let got = x("{{ query \"nothing\" | first }}", 0.0);
    assert!(got.starts_with("<error expanding template: "), "{got}");
    assert!(
        got.contains("first() called on vector with no elements"),
        "{got}"
    );
    assert!(check("{{ $labels.x ").is_err());
    let e = check("{{ nosuchfunc 1 }}").unwrap_err();
    assert!(e.contains("\"nosuchfunc\" not defined"), "{e}");
    assert!(check("{{ $value | humanize }} {{ $labels.job }}").is_ok());
}
