//! `| line_format "…"` and `| label_format dst=src, dst="…"`: Go templates over a
//! line's labels, as Loki runs them (`pkg/logql/log/fmt.go`).
//!
//! - A template sees the line's current labels as a string map; a label it names that
//!   the line lacks is the empty string (Go's `missingkey=zero` on a string map), and
//!   `{{ __line__ }}` / `{{ __timestamp__ }}` are the line as it enters the stage and
//!   its time.
//! - A template that fails on a line sets `__error__="TemplateFormatErr"` (and
//!   `__error_details__`), replacing an earlier error, and leaves the line (or the
//!   label) as it was.
//! - `label_format` applies its entries in order: a rename copies the source's live
//!   value and removes the source (nothing happens when the line lacks it); every
//!   template of the stage reads the labels as they were at its first template.
//! - A bad template or a repeated destination fails the query's parse with Loki's
//!   `parse error : stage '…' : …` message.
//!
//! Functions: `funcs/` (strings, numbers, times); arguments as Go passes them:
//! `args.rs`. Printing and checks shared with the alerting templates:
//! `crate::gotemplate`.

mod args;
mod funcs;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use gotmpl::Value;
use gotmpl::parse::Parser;

use super::ast::{Labels, Stage};
use crate::gotemplate::{self, append_print};

pub const TEMPLATE_ERROR: &str = "TemplateFormatErr";

/// A compiled template and its source.
#[derive(Clone)]
pub struct Template {
    pub src: String,
    /// `line` or `label`: Go's template name, shown in errors.
    kind: &'static str,
    tmpl: gotmpl::Template,
    /// Root fields it reads (each is "" when the line lacks it).
    fields: Vec<String>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.src)
    }
}

impl Template {
    /// Parses `src` as Go would: a syntax error or an unknown function fails, as
    /// `template: line:1: …` (Go gives the line, not the column).
    pub fn compile(kind: &'static str, src: &str) -> Result<Self, String> {
        let parser = Parser::with_name(Some(kind), src, "{{", "}}").map_err(|e| go_parse(&e))?;
        let (mut tree, mut defines) = parser.parse().map_err(|e| go_parse(&e))?;
        let names = gotemplate::names(&tree, &defines);
        let known = funcs::map();
        if let Some(f) = gotemplate::undefined_function(&names, |f| known.contains_key(f)) {
            return Err(format!("template: {kind}:1: function {f:?} not defined"));
        }
        append_print(&mut tree, funcs::PRINT);
        for d in &mut defines {
            append_print(&mut d.body, funcs::PRINT);
        }
        let mut tmpl = gotmpl::Template::new(kind).funcs(known);
        for d in defines {
            tmpl = tmpl.add_parse_tree(&d.name, d.body);
        }
        let mut fields = names.root_fields;
        fields.sort();
        fields.dedup();
        Ok(Template {
            src: src.to_string(),
            kind,
            tmpl: tmpl.add_parse_tree(kind, tree),
            fields,
        })
    }

    /// The template over `labels`, for a line `line` at `ts_ns`; Go's error text.
    pub fn render(&self, data: &Value, line: &str, ts_ns: i64) -> Result<String, String> {
        funcs::with_line(line, ts_ns, || {
            self.tmpl.execute_template_to_string(self.kind, data)
        })
        .map_err(|e| {
            let msg = e.to_string();
            let msg = msg.strip_prefix("execution error: ").unwrap_or(&msg);
            format!("template: {}: executing {:?}: {msg}", self.kind, self.kind)
        })
    }

    /// The labels as the template's data: a string map, with "" for each field the
    /// template names that the line lacks.
    pub fn data(&self, labels: &Labels) -> Value {
        let mut m: BTreeMap<Arc<str>, Value> = labels
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.as_str().into())))
            .collect();
        for f in &self.fields {
            m.entry(Arc::from(f.as_str()))
                .or_insert_with(|| Value::String("".into()));
        }
        Value::Map(Arc::new(m))
    }
}

/// A gotmpl parse error as Go writes it: `template: NAME:LINE: msg` (no column).
fn go_parse(e: &gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Parse {
            name,
            line,
            message,
            ..
        }
        | gotmpl::TemplateError::Lex {
            name,
            line,
            message,
            ..
        } => format!(
            "template: {}:{line}: {}",
            name.as_deref().unwrap_or(""),
            go_parse_message(message)
        ),
        other => other.to_string(),
    }
}

/// gotmpl's wording of the common parse errors in Go's.
fn go_parse_message(m: &str) -> String {
    if m.contains("unclosed action") {
        return "unclosed action".into();
    }
    if m.contains("unexpected") && m.contains("End") {
        return "unexpected {{end}}".into();
    }
    m.to_string()
}

/// `| label_format`'s entries.
#[derive(Debug, Clone)]
pub enum LabelFmt {
    /// `dst=src`
    Rename { dst: String, src: String },
    /// `dst="template"`
    Template { dst: String, tmpl: Template },
}

impl LabelFmt {
    pub fn dst(&self) -> &str {
        match self {
            LabelFmt::Rename { dst, .. } | LabelFmt::Template { dst, .. } => dst,
        }
    }
}

/// Checks a `label_format`'s destinations as Loki does.
pub fn check_destinations<'a>(dsts: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for dst in dsts {
        if dst == super::pipeline::ERROR_LABEL {
            return Err("__error__ cannot be formatted".into());
        }
        if !seen.insert(dst) {
            return Err(format!(
                "multiple label name '{dst}' not allowed in a single format operation"
            ));
        }
    }
    Ok(())
}

/// `label_format`'s entries as written: a rename's source name, or a template's text.
pub type RawLabelFmt = (String, Result<String, String>);

/// How Loki prints a stage in its errors: `| line_format "…"` (`line`), or
/// `| label_format a=b,c="…"`, with Go's `strconv.Quote` of each template.
pub fn stage_text(line: Option<&str>, labels: &[RawLabelFmt]) -> String {
    match line {
        Some(src) => format!("| line_format {}", go_quote(src)),
        None => {
            let parts: Vec<String> = labels
                .iter()
                .map(|(dst, src)| match src {
                    Ok(name) => format!("{dst}={name}"),
                    Err(text) => format!("{dst}={}", go_quote(text)),
                })
                .collect();
            format!("| label_format {}", parts.join(","))
        }
    }
}

/// Loki's `removeLineformat`: in a range aggregation that does not count bytes, a
/// `line_format` that no later parser or line filter reads changes nothing the
/// aggregation sees, so it is not run (nor can it fail).
pub fn drop_unread_line_formats(stages: &mut Vec<Stage>) {
    let mut read_later = false;
    let mut keep = vec![true; stages.len()];
    for (i, s) in stages.iter().enumerate().rev() {
        match s {
            Stage::LineFormat(_) if !read_later => keep[i] = false,
            Stage::LineFilter(_)
            | Stage::Json(_)
            | Stage::Logfmt { .. }
            | Stage::Regexp(_)
            | Stage::Pattern(_)
            | Stage::Unpack => read_later = true,
            _ => {}
        }
    }
    let mut k = keep.into_iter();
    stages.retain(|_| k.next().unwrap_or(true));
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
