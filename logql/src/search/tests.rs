//! The search language: what parses to what, what is refused and why, what matches.

use std::collections::HashMap;

use super::*;

fn toks(s: &[&str]) -> Expr {
    Expr::Tokens(s.iter().map(|x| x.to_string()).collect())
}

#[test]
fn parses_the_language() {
    assert_eq!(parse("").unwrap(), Expr::All);
    assert_eq!(parse("Error").unwrap(), toks(&["error"]));
    assert_eq!(
        parse(r#"error "card declined""#).unwrap(),
        Expr::And(vec![toks(&["error"]), toks(&["card", "declined"])])
    );
    assert_eq!(parse("orders_pkey").unwrap(), toks(&["orders", "pkey"]));
    assert_eq!(
        parse("a OR b c").unwrap(),
        Expr::Or(vec![
            toks(&["a"]),
            Expr::And(vec![toks(&["b"]), toks(&["c"])])
        ])
    );
    assert_eq!(
        parse("(a OR b) AND NOT c").unwrap(),
        Expr::And(vec![
            Expr::Or(vec![toks(&["a"]), toks(&["b"])]),
            Expr::Not(Box::new(toks(&["c"])))
        ])
    );
    assert_eq!(
        parse("-c time*").unwrap(),
        Expr::And(vec![
            Expr::Not(Box::new(toks(&["c"]))),
            Expr::Prefix("time".into())
        ])
    );
    assert_eq!(parse("ord-17").unwrap(), toks(&["ord", "17"]));
    assert_eq!(
        parse("service:checkout severity>=warn").unwrap(),
        Expr::And(vec![
            Expr::Service("checkout".into()),
            Expr::Levels { min: 4, max: 6 }
        ])
    );
    assert_eq!(
        parse("level<info").unwrap(),
        Expr::Levels { min: 1, max: 2 }
    );
    assert_eq!(
        parse("severity:ERROR").unwrap(),
        Expr::Levels { min: 5, max: 5 }
    );
    assert_eq!(
        parse(r#"http.route:"/api/items" user.id=u-1"#).unwrap(),
        Expr::And(vec![
            Expr::Attr {
                key: "http.route".into(),
                value: "/api/items".into()
            },
            Expr::Attr {
                key: "user.id".into(),
                value: "u-1".into()
            }
        ])
    );
    assert_eq!(parse("trace_id:ABC").unwrap(), Expr::TraceId("ABC".into()));
}

#[test]
fn rejects_bad_queries_with_reasons() {
    for (q, want) in [
        (r#""open"#, "unterminated"),
        ("(a OR b", "missing ')'"),
        ("a )", "unexpected ')'"),
        ("severity>=loud", "unknown severity"),
        ("service>=x", "only severity"),
        ("service:", "needs a value"),
        ("--", "no letters"),
        ("a OR", "query ends"),
    ] {
        let e = parse(q).unwrap_err().to_string();
        assert!(e.contains(want), "{q}: {e}");
    }
}

#[test]
fn nesting_is_bounded() {
    let parens = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}a", "NOT ".repeat(n));
    let minuses = |n: usize| format!("{}a{}", "-(".repeat(n), ")".repeat(n));
    assert_eq!(parse(&parens(50)).unwrap(), toks(&["a"]));
    assert_eq!(parse(&parens(MAX_DEPTH)).unwrap(), toks(&["a"]));
    assert!(parse(&nots(MAX_DEPTH)).is_ok());
    // Siblings do not add up.
    let wide = vec![parens(MAX_DEPTH / 2); 10].join(" OR ");
    assert!(parse(&format!("({wide}) {}", nots(MAX_DEPTH / 2))).is_ok());
    // Mixed: each parenthesis and each NOT is a level.
    let mixed = format!(
        "{}a{}",
        "NOT (".repeat(MAX_DEPTH / 2),
        ")".repeat(MAX_DEPTH / 2)
    );
    assert!(parse(&mixed).is_ok());
    let mixed = format!("({mixed})");
    for q in [
        parens(MAX_DEPTH + 1),
        nots(MAX_DEPTH + 1),
        mixed,
        // The inputs that used to crash the server, and one that never closes.
        parens(3000),
        nots(10_000),
        "(".repeat(100_000),
    ] {
        let e = parse(&q).unwrap_err().to_string();
        assert!(e.contains("nested too deeply: more than 100 levels"), "{e}");
    }
    // `-x` is NOT too: `-(` is two levels.
    assert!(parse(&minuses(MAX_DEPTH / 2)).is_ok());
    assert!(parse(&minuses(MAX_DEPTH / 2 + 1)).is_err());
}

#[test]
fn matches_records() {
    let attrs: HashMap<String, String> = [("order.id".to_string(), "17".to_string())].into();
    let res: HashMap<String, String> = [("env".to_string(), "prod".to_string())].into();
    let r = Record {
        ts_ns: 0,
        body: "Payment FAILED: card declined (timeout)",
        service: "payment",
        severity_number: 17,
        trace_id: "abc",
        span_id: "",
        attributes: &attrs,
        resource: &res,
    };
    let mut s = Scratch::default();
    for (q, want) in [
        (r#""card declined""#, true),
        (r#""declined card""#, false),
        ("time*", true),
        ("times*", false),
        ("service:payment severity>=error order.id:17", true),
        ("severity<error", false),
        ("NOT payment", false),
        ("nothing OR failed", true),
        ("trace_id:ABC", true),
        ("order.id:18", false),
        ("env:prod order.id:17", true),
        ("env:dev", false),
    ] {
        assert_eq!(parse(q).unwrap().matches(&r, &mut s), want, "{q}");
    }
}

/// A service regex's answers are remembered per service (records come in runs of
/// one), for each regex apart, and stay right past the memo's size.
#[test]
fn service_regexes_answer_per_service() {
    let empty = HashMap::new();
    let regex = |p: &str| {
        Expr::ServiceMatches(ServiceRegex {
            pattern: p.into(),
            anchored: regex::Regex::new(&format!("^(?:{p})$")).unwrap(),
        })
    };
    let e = Expr::Or(vec![regex("api|web"), regex("db-[0-9]+")]);
    let only_db = regex("db-[0-9]+");
    let mut s = Scratch::default();
    let mut t = Scratch::default();
    for round in 0..3 {
        for i in 0..40 {
            let service = match i % 4 {
                0 => "api".to_string(),
                1 => format!("db-{i}"),
                2 => format!("cache-{round}"),
                _ => "web".to_string(),
            };
            let r = Record {
                ts_ns: 0,
                body: "",
                service: &service,
                severity_number: 9,
                trace_id: "",
                span_id: "",
                attributes: &empty,
                resource: &empty,
            };
            assert_eq!(e.matches(&r, &mut s), i % 4 != 2, "{service}");
            assert_eq!(only_db.matches(&r, &mut t), i % 4 == 1, "{service}");
        }
    }
}

proptest::proptest! {
    /// Any query string parses or is refused with a reason; a parsed one checks
    /// records without panicking.
    #[test]
    fn any_query_parses_or_is_refused(q in "[ a-zA-Z0-9:<>=()\"*.\\-é_]{0,40}") {
        match parse(&q) {
            Ok(e) => {
                let attrs = HashMap::new();
                let r = Record {
                    ts_ns: 0,
                    body: "a b c",
                    service: "s",
                    severity_number: 9,
                    trace_id: "",
                    span_id: "",
                    attributes: &attrs,
                    resource: &attrs,
                };
                let _ = e.matches(&r, &mut Scratch::default());
            }
            Err(e) => proptest::prop_assert!(!e.to_string().is_empty()),
        }
    }
}
