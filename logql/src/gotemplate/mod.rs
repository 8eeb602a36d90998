//! What Go's `text/template` prints and checks that the `gotmpl` crate (a port of it)
//! does differently, shared by LogQL's `line_format`/`label_format` and the alerting
//! templates:
//!
//! - [`append_print`]: a last command on every printed pipeline, so values print as
//!   Go's `%v` does ([`go_value`]: floats as `1.234567e+06`, times as `Time.String()`).
//! - [`names`]: the functions and root fields a template uses, for Go's parse-time
//!   `function "x" not defined` and for Loki's `missingkey=zero` on label maps.
//! - Times: `gotmpl` has no time type, so a time is a map with one reserved key
//!   ([`time_value`], [`as_time`]).
//! - `gofmt.rs` (Go's float formatting), `gotime.rs` (Go's time layouts).

pub mod gofmt;
pub mod gotime;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gotmpl::Value;
use gotmpl::parse::{CommandNode, DefineNode, Expr, ListNode, Node, PipeNode};

/// Go's own template functions, which `gotmpl` provides.
pub const BUILTINS: [&str; 19] = [
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "call",
];

/// Appends `{{… | print_fn}}` to every pipeline whose value is printed.
pub fn append_print(list: &mut ListNode, print_fn: &str) {
    for node in &mut list.nodes {
        match node {
            Node::Action(a) if a.pipe.decl.is_empty() => {
                let pos = a.pipe.pos;
                a.pipe.commands.push(CommandNode {
                    pos,
                    args: vec![Expr::Identifier(pos, print_fn.into())],
                });
            }
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                append_print(&mut b.body, print_fn);
                if let Some(e) = b.else_body.as_mut() {
                    append_print(e, print_fn);
                }
            }
            Node::List(l) => append_print(l, print_fn),
            _ => {}
        }
    }
}

/// What a template refers to.
#[derive(Debug, Default)]
pub struct Names {
    /// Function identifiers, in order of appearance.
    pub functions: Vec<String>,
    /// The first name of each field path on dot or `$` (`.a.b` → `a`).
    pub root_fields: Vec<String>,
}

/// The functions and root fields of a template and its `{{define}}`s.
pub fn names(tree: &ListNode, defines: &[DefineNode]) -> Names {
    let mut n = Names::default();
    walk_list(tree, &mut n);
    for d in defines {
        walk_list(&d.body, &mut n);
    }
    n
}

/// The first function `known` does not hold (Go fails the parse with it).
pub fn undefined_function(n: &Names, known: impl Fn(&str) -> bool) -> Option<&str> {
    n.functions
        .iter()
        .map(String::as_str)
        .find(|f| !known(f) && !BUILTINS.contains(f))
}

fn walk_list(l: &ListNode, n: &mut Names) {
    for node in &l.nodes {
        match node {
            Node::Action(a) => walk_pipe(&a.pipe, n),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                walk_pipe(&b.pipe, n);
                walk_list(&b.body, n);
                if let Some(e) = &b.else_body {
                    walk_list(e, n);
                }
            }
            Node::List(l) => walk_list(l, n),
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    walk_pipe(p, n);
                }
            }
            _ => {}
        }
    }
}

fn walk_pipe(p: &PipeNode, n: &mut Names) {
    for c in &p.commands {
        for a in &c.args {
            walk_expr(a, n);
        }
    }
}

fn walk_expr(e: &Expr, n: &mut Names) {
    match e {
        Expr::Identifier(_, name) => n.functions.push(name.to_string()),
        Expr::Field(_, path) => n.root_fields.extend(path.first().map(|f| f.to_string())),
        Expr::Variable(_, var, path) if var == "$" => {
            n.root_fields.extend(path.first().map(|f| f.to_string()));
        }
        Expr::Pipe(_, inner) => walk_pipe(inner, n),
        Expr::Chain(_, inner, _) => walk_expr(inner, n),
        _ => {}
    }
}

/// The reserved key of a time value's map: its instant in nanoseconds since 1970
/// (an `i64` covers the years 1678 to 2262; earlier times, such as Go's zero time, are
/// kept as seconds under [`TIME_SECS_KEY`]).
const TIME_KEY: &str = "\u{0}time_ns";
const TIME_SECS_KEY: &str = "\u{0}time_s";

/// A time as a template value.
pub fn time_value(t: DateTime<Utc>) -> Value {
    let mut m = BTreeMap::new();
    match t.timestamp_nanos_opt() {
        Some(ns) => m.insert(Arc::from(TIME_KEY), Value::Int(ns)),
        None => m.insert(Arc::from(TIME_SECS_KEY), Value::Int(t.timestamp())),
    };
    Value::Map(Arc::new(m))
}

/// The time a value holds, when it is one.
pub fn as_time(v: &Value) -> Option<DateTime<Utc>> {
    let Value::Map(m) = v else { return None };
    if m.len() != 1 {
        return None;
    }
    match (m.get(TIME_KEY), m.get(TIME_SECS_KEY)) {
        (Some(Value::Int(ns)), _) => Some(DateTime::from_timestamp_nanos(*ns)),
        (_, Some(Value::Int(s))) => DateTime::from_timestamp(*s, 0),
        _ => None,
    }
}

/// A value as Go's `fmt.Fprint` writes it: floats as `%v`, times as `Time.String()`,
/// nil as `<no value>` (what `text/template` prints for a nil interface).
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Float(f) => gofmt::v(*f),
        Value::Nil => "<no value>".into(),
        Value::String(s) => s.to_string(),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(go_value).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(m) => match as_time(v) {
            Some(t) => gotime::time_string(t),
            None => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, x)| format!("{k}:{}", go_value(x)))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
        },
        other => other.to_string(),
    }
}
