//! Unit tests of the SQL nesting bound: the limit itself, the inputs that used to
//! crash the server, and ordinary statements well under it.

use super::*;

fn d(sql: &str) -> usize {
    depth("generic", sql).unwrap_or(usize::MAX)
}

fn terms(op: &str, n: usize) -> String {
    format!("SELECT {}", vec!["1"; n].join(op))
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("SELECT {}{inner}{}", open.repeat(n), close.repeat(n))
}

fn refused(sql: &str) -> bool {
    check("generic", sql).is_err()
}

#[test]
fn counts_chains_groups_and_relations() {
    assert_eq!(d("SELECT 1"), 0);
    assert_eq!(d(&terms(" + ", 41)), 40);
    assert_eq!(d("SELECT -1"), UNARY);
    assert_eq!(d("SELECT a - 1 FROM logs"), 1);
    assert_eq!(d("SELECT abs(1)"), 5);
    assert_eq!(d("SELECT (1)"), 3);
    assert_eq!(d("SELECT CASE WHEN a = 1 THEN 2 ELSE 3 END FROM t"), 6);
    assert_eq!(d("SELECT (SELECT 1)"), 9);
    assert_eq!(d("SELECT 1 FROM a JOIN b ON a.x = b.x, c"), 3 + 2 + 1);
    assert_eq!(d("SELECT 1 UNION ALL SELECT 1"), 1);
    // The select list, the join condition and the filter are separate expressions.
    assert_eq!(d("SELECT a + b, c * d FROM t WHERE x = 1 AND y = 2"), 2);
    // A WHERE of 30 conditions: 29 ANDs over one comparison.
    let wide: Vec<String> = (0..30).map(|i| format!("body <> 'x{i}'")).collect();
    assert_eq!(
        d(&format!(
            "SELECT count(*) FROM logs WHERE {}",
            wide.join(" AND ")
        )),
        30
    );
    // The AND of a BETWEEN is not a boolean one.
    assert_eq!(d("SELECT 1 WHERE x BETWEEN 1 AND 2 AND y = 1"), 1 + SPECIAL);
    // OR over ANDs: the costliest OR operand counts once.
    assert_eq!(
        d("SELECT 1 WHERE a = 1 AND b = 2 OR c = 3 AND d = 4 AND e = 5"),
        1 + 2 + 1
    );
}

#[test]
fn strings_identifiers_and_comments_are_not_code() {
    assert_eq!(
        d("SELECT '((((+++', \"a((+-\", E'\\'(((', /* ((( /* +++ */ ))) */ 1 -- ((((\n"),
        0
    );
    assert_eq!(d("SELECT $$((((+++$$"), 0);
    // A statement that does not tokenize is left to the parser's message.
    assert_eq!(depth("generic", "SELECT 'open"), None);
    assert!(check("generic", "SELECT 'open").is_ok());
}

#[test]
fn the_limit_is_accepted_and_one_more_refused() {
    for op in [" + ", " OR ", " AND ", " || "] {
        assert!(!refused(&terms(op, MAX_DEPTH + 1)), "{op}");
        assert!(refused(&terms(op, MAX_DEPTH + 2)), "{op}");
    }
    let union = |n: usize| vec!["SELECT 1"; n].join(" UNION ALL ");
    assert!(!refused(&union(MAX_DEPTH + 1)));
    assert!(refused(&union(MAX_DEPTH + 2)));
    // abs( costs 5: 12 levels fit (60), 13 do not (65).
    assert!(!refused(&nested("abs(", "1", ")", 12)));
    assert!(refused(&nested("abs(", "1", ")", 13)));
    assert!(!refused(&nested("NOT ", "true", "", 16)));
    assert!(refused(&nested("NOT ", "true", "", 17)));
    let message = check("generic", &terms(" + ", 1000))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("nested too deeply: more than 64 levels"),
        "{message}"
    );
}

#[test]
fn the_crash_inputs_are_refused() {
    for op in [" + ", " OR ", " AND ", " || "] {
        assert!(refused(&terms(op, 1000)), "{op}");
    }
    assert!(refused(&vec!["SELECT 1"; 1000].join(" UNION ALL ")));
    // Each of these crashed the debug build at the depth given.
    let cases = [
        nested("NOT ", "true", "", 21),
        nested("- ", "1", "", 29),
        nested("abs(", "1", ")", 17),
        nested("1 + (", "1", ")", 22),
        nested("CASE WHEN true THEN ", "1", " END", 20),
        format!("SELECT 1{}", "::int".repeat(31)),
        format!("SELECT 1{}", " IS NULL".repeat(33)),
        format!("SELECT 'a'{}", " LIKE 'a'".repeat(31)),
        format!("SELECT 1{}", " BETWEEN 0 AND 2".repeat(33)),
        nested("(SELECT ", "1", ")", 14),
        format!(
            "SELECT * FROM {}logs{}",
            "(SELECT * FROM ".repeat(10),
            ")".repeat(10)
        ),
        format!(
            "SELECT 1 WHERE {}true{}",
            "EXISTS (SELECT 1 WHERE ".repeat(13),
            ")".repeat(13)
        ),
        format!(
            "SELECT 1 FROM logs t0{}",
            (1..=39)
                .map(|i| format!(" JOIN logs t{i} ON true"))
                .collect::<String>()
        ),
        format!(
            "SELECT 1 FROM logs t0{}",
            (1..=57).map(|i| format!(", logs t{i}")).collect::<String>()
        ),
        format!(
            "WITH c0 AS (SELECT 1 AS x){} SELECT x FROM c36",
            (1..=36)
                .map(|i| format!(", c{i} AS (SELECT x FROM c{})", i - 1))
                .collect::<String>()
        ),
        // Unclosed groups count too.
        "SELECT ".to_string() + &"(".repeat(10_000),
    ];
    for sql in cases {
        assert!(refused(&sql), "{} {}", d(&sql), &sql[..sql.len().min(80)]);
    }
}
