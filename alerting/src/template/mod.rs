//! Prometheus' template language for rule labels and annotations: Go's `text/template`
//! (the `gotmpl` crate, a port of it) with Prometheus' data and functions.
//!
//! Each value is expanded on its own, as Prometheus does: the text is prefixed with
//! `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL :=
//! .ExternalURL}}{{$value := .Value}}`, the data holds the query result's labels
//! (`__name__` included when the result has one), the external labels and URL and the
//! sample value, and a failure becomes `<error expanding template: …>`.
//!
//! What Go prints differently from `gotmpl` is fixed up after parsing: every printed
//! pipeline gets a last command, `__print`, that writes floats as Go's `%v` does
//! (`1.234567e+06`, see `gofmt.rs`) and a missing label as the empty string (Go's
//! `missingkey=zero` on a `map[string]string`).

mod funcs;
/// Go's number and time formatting (shared with LogQL's templates).
pub use osprey_logql::gotemplate::gofmt;

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::parse::{ListNode, Parser};
use gotmpl::{Template, Value};
use osprey_logql::gotemplate::append_print;

pub use funcs::{QueryFn, Sample};
/// Go's `url.QueryEscape` (space as `+`), as `gotmpl` implements it for `urlquery`.
pub use gotmpl::url_encode as query_escape;

/// The variables Prometheus defines in front of every rule template.
const DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// What a rule's templates can see besides the sample.
#[derive(Clone, Default)]
pub struct Context {
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`; `externalURL`/`pathPrefix` fail without one, as in promtool.
    pub external_url: Option<String>,
    /// Runs `query` at the evaluation time; `None`: `query` fails.
    pub query: Option<QueryFn>,
}

/// Whether `text` parses as a rule template (what `osprey rules check` reports).
pub fn check(text: &str) -> Result<(), String> {
    parse("check", text).map(|_| ())
}

/// Expands `text` for one sample; an error is written into the result as Prometheus
/// writes it.
pub fn expand(
    ctx: &Context,
    name: &str,
    text: &str,
    labels: &[(String, String)],
    value: f64,
) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    match try_expand(ctx, name, text, labels, value) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

fn try_expand(
    ctx: &Context,
    name: &str,
    text: &str,
    labels: &[(String, String)],
    value: f64,
) -> Result<String, String> {
    let (tree, defines) = parse(name, text)?;
    let mut t = Template::new("__osprey").funcs(funcs::map(ctx));
    for d in defines {
        t = t.add_parse_tree(&d.name, d.body);
    }
    t = t.add_parse_tree(name, tree);
    let data = data(ctx, labels, value);
    t.execute_template_to_string(name, &data)
        .map_err(|e| format!("error executing template {name}: {e}"))
}

/// The template's tree with `__print` appended to every printed pipeline, and its
/// `{{define}}`s.
fn parse(name: &str, text: &str) -> Result<(ListNode, Vec<gotmpl::parse::DefineNode>), String> {
    let src = format!("{DEFS}{text}");
    let parser = Parser::with_name(Some(name), &src, "{{", "}}").map_err(|e| e.to_string())?;
    let (mut tree, mut defines) = parser.parse().map_err(|e| e.to_string())?;
    append_print(&mut tree, funcs::PRINT);
    for d in &mut defines {
        append_print(&mut d.body, funcs::PRINT);
    }
    // Every function must exist, as Go checks at parse time.
    funcs::check_names(&tree, &defines)?;
    Ok((tree, defines))
}

fn data(ctx: &Context, labels: &[(String, String)], value: f64) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Labels".into(), funcs::string_map(labels.iter().cloned()));
    m.insert(
        "ExternalLabels".into(),
        funcs::string_map(ctx.external_labels.clone()),
    );
    m.insert(
        "ExternalURL".into(),
        Value::String(ctx.external_url.clone().unwrap_or_default().into()),
    );
    m.insert("Value".into(), Value::Float(value));
    Value::Map(Arc::new(m))
}

#[cfg(test)]
mod tests;
