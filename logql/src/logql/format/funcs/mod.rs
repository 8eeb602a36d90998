//! The functions `line_format` and `label_format` templates may call: Loki's own
//! (`pkg/logql/log/fmt.go`'s `functionMap`), the sprig functions Loki allows, the
//! line's `__line__` and `__timestamp__`, and Go's builtins (from `gotmpl`). Any other
//! name fails the query's parse, as in Loki.
//!
//! `__line__` and `__timestamp__` read the line being formatted from a thread-local
//! set around each execution ([`with_line`]): a template's functions are fixed when it
//! is parsed, while the line changes with every execution.

mod numbers;
mod strings;
mod time;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use gotmpl::{FuncMap, Value};

use super::args::{R, string, text, want, want_at_least};
use crate::gotemplate::go_value;

/// The function appended to every printed pipeline (`gotemplate::append_print`).
pub const PRINT: &str = "__osprey_print";

/// A function map under construction.
pub(super) struct Funcs(FuncMap);

impl Funcs {
    fn add(&mut self, name: &str, f: impl Fn(&[Value]) -> R + Send + Sync + 'static) {
        self.0.insert(name.to_string(), Arc::new(f));
    }
}

/// Every function, built once.
pub fn map() -> FuncMap {
    static MAP: LazyLock<FuncMap> = LazyLock::new(|| {
        let mut f = Funcs(FuncMap::new());
        strings::register(&mut f);
        numbers::register(&mut f);
        time::register(&mut f);
        f.add("fromJson", |a| {
            want("fromJson", a, 1)?;
            Ok(serde_json::from_str(string(a, 0)?).map_or(Value::Nil, json_value))
        });
        f.add("default", |a| {
            want_at_least("default", a, 1)?;
            Ok(match a.get(1) {
                Some(given) if !empty(given) => given.clone(),
                _ => a[0].clone(),
            })
        });
        f.add("__line__", |a| {
            want("__line__", a, 0)?;
            CURRENT.with(|c| text(c.borrow().0.as_str()))
        });
        f.add("__timestamp__", |a| {
            want("__timestamp__", a, 0)?;
            time::timestamp(CURRENT.with(|c| c.borrow().1))
        });
        f.add(PRINT, |a| match a.last() {
            Some(v) => text(go_value(v)),
            None => text(""),
        });
        f.0
    });
    MAP.clone()
}

thread_local! {
    /// The line (as it enters the stage) and its timestamp, while a template runs.
    static CURRENT: RefCell<(String, i64)> = const { RefCell::new((String::new(), 0)) };
}

/// Runs `f` with `line` and `ts_ns` as what `__line__` and `__timestamp__` answer.
pub fn with_line<T>(line: &str, ts_ns: i64, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| {
        let mut cur = c.borrow_mut();
        cur.0.clear();
        cur.0.push_str(line);
        cur.1 = ts_ns;
    });
    f()
}

/// sprig's `empty`: nil, `""`, 0, false, an empty list or map (a time never is).
fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::String(s) => s.is_empty(),
        Value::Int(n) => *n == 0,
        Value::Uint(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        Value::Bool(b) => !b,
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Function(_) => false,
    }
}

/// A JSON value as Go's `json.Unmarshal` into `interface{}` gives it (numbers as
/// float64).
fn json_value(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::String(s.into()),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(json_value).collect()),
        serde_json::Value::Object(o) => {
            let m: BTreeMap<Arc<str>, Value> = o
                .into_iter()
                .map(|(k, v)| (Arc::from(k), json_value(v)))
                .collect();
            Value::Map(Arc::new(m))
        }
    }
}
