//! The log search language:
//!
//! | form | matches |
//! |---|---|
//! | `timeout` | a body token (case-insensitive runs of letters and digits) |
//! | `time*` | a body token starting with `time` |
//! | `"card declined"`, `orders_pkey` | consecutive body tokens (a phrase) |
//! | `service:checkout` | the service |
//! | `severity>=warn` (`>`, `<`, `<=`, `=`, `:`; also `level`) | severity levels trace < debug < info < warn < error < fatal |
//! | `trace_id:4bf9…`, `span_id:…` | the record's ids |
//! | `key:value`, `key:"a value"` | an attribute, exactly |
//! | `a b`, `a AND b` | both |
//! | `a OR b` | either |
//! | `NOT a`, `-a` | not |
//! | `( … )` | grouping |
//!
//! Precedence: NOT, then AND (juxtaposition), then OR. An empty query matches every
//! record. Parentheses and NOTs nest at most [`MAX_DEPTH`] levels deep.
//!
//! [`to_text_query`] turns an expression into a full-text index query that returns a
//! superset of the matches, and says whether it is exact; [`Expr::matches`] checks a
//! record.

use std::collections::HashMap;

use osprey_storage::fulltext::{MAX_ATTR_VALUE, TextQuery, Tokenizer, level_of, tokens};

use crate::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All,
    /// Consecutive body tokens (one token: a term).
    Tokens(Vec<String>),
    /// A body token prefix (lowercase).
    Prefix(String),
    Service(String),
    /// Severity levels in `min..=max` (`fulltext::level_of`).
    Levels {
        min: u64,
        max: u64,
    },
    TraceId(String),
    SpanId(String),
    Attr {
        key: String,
        value: String,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// The fields of a record an expression looks at.
pub struct Record<'a> {
    pub body: &'a str,
    pub service: &'a str,
    pub severity_number: i32,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub attributes: &'a HashMap<String, String>,
    /// Resource attributes (Loki's stream labels): `key:value` matches either map.
    pub resource: &'a HashMap<String, String>,
}

/// What [`Expr::matches`] needs besides the record: a tokenizer and the body's tokens,
/// computed once per record.
#[derive(Default)]
pub struct Scratch {
    tok: Tokenizer,
    tokens: Vec<String>,
    body_done: bool,
}

impl Scratch {
    fn body_tokens(&mut self, body: &str) -> &[String] {
        if !self.body_done {
            self.tokens.clear();
            let out = &mut self.tokens;
            self.tok.each(body, |t| {
                out.push(t.to_string());
                true
            });
            self.body_done = true;
        }
        &self.tokens
    }
}

impl Expr {
    /// Whether the record matches.
    pub fn matches(&self, r: &Record<'_>, s: &mut Scratch) -> bool {
        s.body_done = false;
        self.eval(r, s)
    }

    fn eval(&self, r: &Record<'_>, s: &mut Scratch) -> bool {
        match self {
            Expr::All => true,
            Expr::Tokens(want) => s
                .body_tokens(r.body)
                .windows(want.len())
                .any(|w| w == want.as_slice()),
            Expr::Prefix(p) => s.body_tokens(r.body).iter().any(|t| t.starts_with(p)),
            Expr::Service(x) => r.service == x,
            Expr::Levels { min, max } => (*min..=*max).contains(&level_of(r.severity_number)),
            Expr::TraceId(x) => r.trace_id.eq_ignore_ascii_case(x),
            Expr::SpanId(x) => r.span_id.eq_ignore_ascii_case(x),
            Expr::Attr { key, value } => {
                r.attributes.get(key).is_some_and(|v| v == value)
                    || r.resource.get(key).is_some_and(|v| v == value)
            }
            Expr::And(xs) => xs.iter().all(|x| x.eval(r, s)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(r, s)),
            Expr::Not(x) => !x.eval(r, s),
        }
    }

    /// Whether checking a record needs its attributes (reading them costs).
    pub fn uses_attributes(&self) -> bool {
        match self {
            Expr::Attr { .. } => true,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::uses_attributes),
            Expr::Not(x) => x.uses_attributes(),
            _ => false,
        }
    }
}

impl Expr {
    /// Whether a phrase (two or more consecutive tokens) is anywhere in it.
    fn has_phrase(&self) -> bool {
        match self {
            Expr::Tokens(t) => t.len() > 1,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::has_phrase),
            Expr::Not(x) => x.has_phrase(),
            _ => false,
        }
    }
}

/// What a file's full-text index holds, as far as queries care.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexCaps {
    /// Token positions: phrases are answered in the index; without them a phrase is
    /// its tokens, checked against the body.
    pub positions: bool,
    /// Resource attributes are among the `key=value` terms; without them a
    /// `key:value` condition is checked against the rows.
    pub resource: bool,
}

impl IndexCaps {
    /// What indexes written now hold.
    pub const CURRENT: IndexCaps = IndexCaps {
        positions: true,
        resource: true,
    };
}

/// An index query returning a superset of `e`'s matches, and whether it returns
/// exactly the matches, for an index that holds `caps`.
pub fn to_text_query(e: &Expr, caps: IndexCaps) -> (TextQuery, bool) {
    let positions = caps.positions;
    let sub = |x: &Expr| to_text_query(x, caps);
    match e {
        Expr::All => (TextQuery::All, true),
        Expr::Tokens(t) if t.len() == 1 => (TextQuery::Token(t[0].clone()), true),
        Expr::Tokens(t) if positions => (TextQuery::Phrase(t.clone()), true),
        // No positions in the index: all the tokens, then the body is checked.
        Expr::Tokens(t) => (
            TextQuery::And(t.iter().map(|x| TextQuery::Token(x.clone())).collect()),
            false,
        ),
        Expr::Prefix(p) => (TextQuery::Prefix(p.clone()), true),
        Expr::Service(s) => (TextQuery::Service(s.clone()), true),
        Expr::Levels { min, max } => (
            TextQuery::Levels {
                min: *min,
                max: *max,
            },
            true,
        ),
        // Ids are not in the index.
        Expr::TraceId(_) | Expr::SpanId(_) => (TextQuery::All, false),
        Expr::Attr { key, value } if value.len() <= MAX_ATTR_VALUE && caps.resource => (
            TextQuery::Attr {
                key: key.clone(),
                value: value.clone(),
            },
            true,
        ),
        Expr::Attr { .. } => (TextQuery::All, false),
        Expr::And(xs) => {
            let (qs, exact): (Vec<_>, Vec<_>) = xs.iter().map(sub).unzip();
            (TextQuery::And(qs), exact.into_iter().all(|x| x))
        }
        Expr::Or(xs) => {
            let (qs, exact): (Vec<_>, Vec<_>) = xs.iter().map(sub).unzip();
            (TextQuery::Or(qs), exact.into_iter().all(|x| x))
        }
        // The complement of a superset is not a superset: only an exact inner query
        // can be negated in the index.
        // tantivy's phrase scorer cannot be excluded (it panics when seeked back), so a
        // phrase under NOT is checked against the body instead.
        Expr::Not(x) if positions && x.has_phrase() => (TextQuery::All, false),
        Expr::Not(x) => match sub(x) {
            (q, true) => (TextQuery::Not(Box::new(q)), true),
            (_, false) => (TextQuery::All, false),
        },
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

fn level(name: &str) -> Option<u64> {
    let n = name.to_ascii_lowercase();
    let n = match n.as_str() {
        "warning" => "warn",
        "err" => "error",
        "critical" | "crit" => "fatal",
        other => other,
    };
    LEVELS.iter().position(|l| *l == n).map(|i| i as u64 + 1)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    LParen,
    RParen,
    Minus,
    /// `field` + operator (`:`, `=`, `>=`, `>`, `<=`, `<`).
    Field(String, &'static str),
}

fn lex(q: &str) -> Result<Vec<Tok>, QueryError> {
    let mut out = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == '-' && out_allows_prefix(&chars, i) {
            out.push(Tok::Minus);
            i += 1;
        } else if c == '"' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|c| *c == '"')
                .ok_or_else(|| QueryError::BadData("unterminated \"phrase\" in query".into()))?;
            out.push(Tok::Phrase(chars[start..start + end].iter().collect()));
            i = start + end + 1;
        } else {
            let start = i;
            let mut field = None;
            while i < chars.len() && !chars[i].is_whitespace() && !"()\"".contains(chars[i]) {
                // `field:`, `field>=` …: an identifier, then an operator.
                if let Some(op) = operator_at(&chars, i)
                    && i > start
                    && chars[start..i]
                        .iter()
                        .all(|c| c.is_alphanumeric() || "_.-".contains(*c))
                {
                    field = Some((chars[start..i].iter().collect::<String>(), op));
                    i += op.len();
                    break;
                }
                i += 1;
            }
            match field {
                Some((f, op)) => {
                    out.push(Tok::Field(f, op));
                    // The value: a phrase (next round) or everything up to a space.
                    if chars
                        .get(i)
                        .is_some_and(|c| *c != '"' && !c.is_whitespace())
                    {
                        let v = i;
                        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ')' {
                            i += 1;
                        }
                        out.push(Tok::Word(chars[v..i].iter().collect()));
                    }
                }
                None => out.push(Tok::Word(chars[start..i].iter().collect())),
            }
        }
    }
    Ok(out)
}

/// `-x` is "not x" at the start of a word (not inside `a-b`).
fn out_allows_prefix(chars: &[char], i: usize) -> bool {
    (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(')
        && chars.get(i + 1).is_some_and(|c| !c.is_whitespace())
}

fn operator_at(chars: &[char], i: usize) -> Option<&'static str> {
    match (chars[i], chars.get(i + 1)) {
        ('>', Some('=')) => Some(">="),
        ('<', Some('=')) => Some("<="),
        ('>', _) => Some(">"),
        ('<', _) => Some("<"),
        ('=', _) => Some("="),
        (':', _) => Some(":"),
        _ => None,
    }
}

/// Most levels of parentheses and NOT (`-`) a query may nest. The parser, matching,
/// and the index query all recurse once per level (the parser four frames per
/// parenthesis), on 2 MiB stacks.
///
/// Measured against the debug build on `/api/v1/logs/search` (last depth that worked /
/// first that crashed): nested parentheses 600/601, `NOT ` repeated 5181/5182. 100 is
/// a sixth of the first.
pub const MAX_DEPTH: usize = 100;

/// Parses a query.
pub fn parse(q: &str) -> Result<Expr, QueryError> {
    let toks = lex(q)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Ok(Expr::All);
    }
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(QueryError::BadData(format!(
            "unexpected {} in query",
            describe(&p.toks[p.pos])
        )));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Phrase(p) => format!("\"{p}\""),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Minus => "'-'".into(),
        Tok::Field(f, op) => format!("{f}{op}"),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Open parentheses and NOTs around the current position.
    depth: usize,
}

impl Parser {
    /// One level deeper, refused past [`MAX_DEPTH`] before recursing.
    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::BadData(format!(
                "query is nested too deeply: more than {MAX_DEPTH} levels of parentheses and NOT"
            )));
        }
        Ok(())
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut xs = vec![self.and()?];
        while self.is_word("OR") {
            self.pos += 1;
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut xs = vec![self.unary()?];
        loop {
            if self.is_word("AND") {
                self.pos += 1;
                xs.push(self.unary()?);
            } else if self.peek().is_some()
                && !self.is_word("OR")
                && self.peek() != Some(&Tok::RParen)
            {
                xs.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.is_word("NOT") || self.peek() == Some(&Tok::Minus) {
            self.pos += 1;
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err(QueryError::BadData(
                "query ends where a term was expected".into(),
            ));
        };
        self.pos += 1;
        match t {
            Tok::LParen => {
                self.enter()?;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError::BadData("missing ')' in query".into()));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Tok::RParen => Err(QueryError::BadData("unexpected ')' in query".into())),
            Tok::Minus => Err(QueryError::BadData("unexpected '-' in query".into())),
            Tok::Phrase(p) => body_term(&p, false),
            Tok::Word(w) => match w.strip_suffix('*') {
                Some(prefix) => body_term(prefix, true),
                None => body_term(&w, false),
            },
            Tok::Field(field, op) => {
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Word(v)) | Some(Tok::Phrase(v)) => {
                        self.pos += 1;
                        v
                    }
                    _ => {
                        return Err(QueryError::BadData(format!("{field}{op} needs a value")));
                    }
                };
                field_expr(&field, op, &value)
            }
        }
    }
}

fn body_term(text: &str, prefix: bool) -> Result<Expr, QueryError> {
    let t = tokens(text);
    if t.is_empty() {
        return Err(QueryError::BadData(format!(
            "search term {text:?} has no letters or digits; terms match whole words"
        )));
    }
    if prefix {
        if t.len() != 1 {
            return Err(QueryError::BadData(format!(
                "wildcard term {text:?}*: a prefix must be one word"
            )));
        }
        return Ok(Expr::Prefix(t[0].clone()));
    }
    Ok(Expr::Tokens(t))
}

fn field_expr(field: &str, op: &str, value: &str) -> Result<Expr, QueryError> {
    let equality = op == ":" || op == "=";
    match field {
        "service" if equality => Ok(Expr::Service(value.to_string())),
        "severity" | "level" => {
            let l = level(value).ok_or_else(|| {
                QueryError::BadData(format!(
                    "unknown severity {value:?}; expected one of {}",
                    LEVELS.join(", ")
                ))
            })?;
            let (min, max) = match op {
                ":" | "=" => (l, l),
                ">=" => (l, 6),
                ">" => (l + 1, 6),
                "<=" => (1, l),
                _ => (1, l.saturating_sub(1)),
            };
            Ok(Expr::Levels { min, max })
        }
        "trace_id" if equality => Ok(Expr::TraceId(value.to_string())),
        "span_id" if equality => Ok(Expr::SpanId(value.to_string())),
        _ if equality => Ok(Expr::Attr {
            key: field.to_string(),
            value: value.to_string(),
        }),
        _ => Err(QueryError::BadData(format!(
            "{field}{op}{value}: only severity compares with {op}; use {field}:{value}"
        ))),
    }
}

#[cfg(test)]
mod tests {
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

    proptest::proptest! {
        /// Any query string parses or is refused with a reason; a parsed one turns into an
        /// index query and checks records without panicking.
        #[test]
        fn any_query_parses_or_is_refused(q in "[ a-zA-Z0-9:<>=()\"*.\\-é_]{0,40}") {
            match parse(&q) {
                Ok(e) => {
                    for positions in [true, false] {
                        for resource in [true, false] {
                            let _ = to_text_query(&e, IndexCaps { positions, resource });
                        }
                    }
                    let attrs = HashMap::new();
                    let r = Record {
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

    #[test]
    fn index_queries_are_supersets_and_say_when_exact() {
        let no_positions = IndexCaps {
            positions: false,
            resource: true,
        };
        let (_, exact) = to_text_query(
            &parse("a b* service:x severity>=warn k:v").unwrap(),
            no_positions,
        );
        assert!(exact);
        // An index without resource attributes cannot answer k:v (it may be a label).
        let old = IndexCaps {
            positions: true,
            resource: false,
        };
        let (q, exact) = to_text_query(&parse("k:v").unwrap(), old);
        assert_eq!((q, exact), (TextQuery::All, false));
        let (_, exact) = to_text_query(
            &parse("a b* service:x severity>=warn k:v").unwrap(),
            IndexCaps::CURRENT,
        );
        assert!(exact);
        let (_, exact) = to_text_query(&parse(r#""a b""#).unwrap(), no_positions);
        assert!(!exact);
        let (q, exact) = to_text_query(&parse(r#"NOT "a b""#).unwrap(), no_positions);
        assert_eq!((q, exact), (TextQuery::All, false));
        // With positions a phrase is exact; under NOT it is checked against the body.
        let (q, exact) = to_text_query(&parse(r#""a b" c"#).unwrap(), IndexCaps::CURRENT);
        assert!(exact);
        assert_eq!(
            q,
            TextQuery::And(vec![
                TextQuery::Phrase(vec!["a".into(), "b".into()]),
                TextQuery::Token("c".into())
            ])
        );
        let (q, exact) = to_text_query(&parse(r#"NOT "a b""#).unwrap(), IndexCaps::CURRENT);
        assert_eq!((q, exact), (TextQuery::All, false));
        let (q, exact) = to_text_query(&parse("NOT a").unwrap(), no_positions);
        assert_eq!(
            (q, exact),
            (TextQuery::Not(Box::new(TextQuery::Token("a".into()))), true)
        );
    }
}
