//! A query written back as Loki writes it: [`text`] is the canonical one-line form
//! (Loki's `Expr.String()`), [`pretty`] the indented form of `/loki/api/v1/format_query`
//! (Loki's `syntax.Prettify`): a node whose one-line form is longer than
//! [`MAX_LINE`] characters is split, its parts indented two spaces a level, pipeline
//! stages one per line, aggregations and binary operations around their operands.
//! The rules (including Loki's quirks: a space before a range's `[`, none before a
//! `decolorize`'s indent, a trailing space after `on (…)` without a group modifier)
//! are those of Loki's `pkg/logql/syntax/prettier.go`.

use super::ast::*;
use super::format::{self, LabelFmt, go_quote};
use super::pattern::{Node, Pattern};
use super::units::humanize_bytes;

/// Loki's `MaxCharsPerLine`.
pub const MAX_LINE: usize = 100;

/// The query's canonical one-line form.
pub fn text(q: &Query) -> String {
    match q {
        Query::Log(l) => log_text(l),
        Query::Metric(m) => metric_text(m),
    }
}

/// The query as `format_query` answers it.
pub fn pretty(q: &Query) -> String {
    pretty_with(q, MAX_LINE)
}

/// [`pretty`] with another line length (Loki's own tests use 20).
pub fn pretty_with(q: &Query, max: usize) -> String {
    let p = Printer { max };
    match q {
        Query::Log(l) => p.log(l, 0),
        Query::Metric(m) => p.metric(m, 0),
    }
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// A duration as Prometheus' `model.Duration` writes it (`1h30m`, `5m`, `250ms`).
fn model_duration(ns: i64) -> String {
    let mut ms = ns / 1_000_000;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 31_536_000_000),
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A duration as Go's `time.Duration.String()` writes it (`20m0s`, `1h0m0s`, `1.5s`).
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (v, unit) = if u < 1000 {
            (u as f64, "ns")
        } else if u < 1_000_000 {
            (u as f64 / 1e3, "µs")
        } else {
            (u as f64 / 1e6, "ms")
        };
        format!("{v}{unit}")
    } else {
        let (h, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
        let s = rest as f64 / 1e9;
        match (h, m) {
            (0, 0) => format!("{s}s"),
            (0, m) => format!("{m}m{s}s"),
            (h, m) => format!("{h}h{m}m{s}s"),
        }
    };
    if neg { format!("-{body}") } else { body }
}

fn matchers_text(ms: &[Matcher]) -> String {
    let parts: Vec<String> = ms
        .iter()
        .map(|m| format!("{}{}{}", m.name, m.op.as_str(), go_quote(&m.value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn line_filter_text(f: &LineFilter) -> String {
    let op = match f.op {
        LineOp::Contains => "|=",
        LineOp::NotContains => "!=",
        LineOp::Regex => "|~",
        LineOp::NotRegex => "!~",
        LineOp::Pattern => "|>",
        LineOp::NotPattern => "!>",
    };
    let values: Vec<String> = f.values.iter().map(|v| go_quote(v)).collect();
    format!("{op} {}", values.join(" or "))
}

fn path_text(parts: &[PathPart]) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        match p {
            PathPart::Index(n) => s.push_str(&format!("[{n}]")),
            PathPart::Key(k) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathPart::Key(k) => s.push_str(&format!("[{}]", go_quote(k))),
        }
    }
    s
}

fn pattern_text(p: &Pattern) -> String {
    p.nodes
        .iter()
        .map(|n| match n {
            Node::Literal(l) => l.clone(),
            Node::Capture(None) => "<_>".into(),
            Node::Capture(Some(name)) => format!("<{name}>"),
        })
        .collect()
}

fn cmp_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Neq => "!=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
    }
}

fn label_filter_text(f: &LabelFilter) -> String {
    match f {
        LabelFilter::And(a, b) => {
            format!("( {} , {} )", label_filter_text(a), label_filter_text(b))
        }
        LabelFilter::Or(a, b) => {
            format!("( {} or {} )", label_filter_text(a), label_filter_text(b))
        }
        LabelFilter::String(m) => match m.op {
            MatchOp::Re | MatchOp::Nre if !m.value.contains('`') => {
                format!("{}{}`{}`", m.name, m.op.as_str(), m.value)
            }
            _ => format!("{}{}{}", m.name, m.op.as_str(), go_quote(&m.value)),
        },
        LabelFilter::Number {
            name,
            op,
            value,
            kind,
        } => {
            let v = match kind {
                NumberKind::Number => number(*value),
                NumberKind::Duration => go_duration((value * 1e9).round() as i64),
                NumberKind::Bytes => humanize_bytes(*value as u64),
            };
            format!("{name}{}{v}", cmp_text(*op))
        }
    }
}

fn names_text(params: &[(String, Option<Matcher>)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .map(|(n, m)| match m {
            Some(m) => format!("{n}{}{}", m.op.as_str(), go_quote(&m.value)),
            None => n.clone(),
        })
        .collect();
    parts.join(",")
}

fn stage_text(s: &Stage) -> String {
    match s {
        Stage::LineFilter(f) => line_filter_text(f),
        Stage::Json(params) if params.is_empty() => "| json".into(),
        Stage::Json(params) => {
            let parts: Vec<String> = params
                .iter()
                .map(|(l, p)| format!("{l}={}", go_quote(&path_text(p))))
                .collect();
            format!("| json {}", parts.join(","))
        }
        Stage::Logfmt {
            strict,
            keep_empty,
            fields,
        } => {
            let mut s = "| logfmt".to_string();
            if *strict {
                s.push_str(" --strict");
            }
            if *keep_empty {
                s.push_str(" --keep-empty");
            }
            if !fields.is_empty() {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(l, k)| format!("{l}={}", go_quote(k)))
                    .collect();
                s.push(' ');
                s.push_str(&parts.join(","));
            }
            s
        }
        Stage::Regexp(re) => format!("| regexp {}", go_quote(re.as_str())),
        Stage::Pattern(p) => format!("| pattern {}", go_quote(&pattern_text(p))),
        Stage::Unpack => "| unpack".into(),
        Stage::Decolorize => "| decolorize".into(),
        Stage::LabelFilter(f) => format!("| {}", label_filter_text(f)),
        Stage::Drop(n) => format!("| drop {}", names_text(n)),
        Stage::Keep(n) => format!("| keep {}", names_text(n)),
        Stage::LineFormat(t) => format::stage_text(Some(&t.src), &[]),
        Stage::LabelFormat(entries) => {
            let raw: Vec<format::RawLabelFmt> = entries
                .iter()
                .map(|e| match e {
                    LabelFmt::Rename { dst, src } => (dst.clone(), Ok(src.clone())),
                    LabelFmt::Template { dst, tmpl } => (dst.clone(), Err(tmpl.src.clone())),
                })
                .collect();
            format::stage_text(None, &raw)
        }
    }
}

fn log_text(l: &LogExpr) -> String {
    let mut s = matchers_text(&l.matchers);
    for st in &l.pipeline {
        s.push(' ');
        s.push_str(&stage_text(st));
    }
    s
}

/// `| unwrap x`, `| unwrap duration(x)`, `| unwrap bytes(x)`.
fn unwrap_head(u: &Unwrap) -> String {
    match u.kind {
        NumberKind::Number => format!("| unwrap {}", u.label),
        NumberKind::Duration => format!("| unwrap duration({})", u.label),
        NumberKind::Bytes => format!("| unwrap bytes({})", u.label),
    }
}

fn unwrap_text(u: &Unwrap) -> String {
    let mut s = unwrap_head(u);
    for f in &u.post_filters {
        s.push_str(&format!(" | {}", label_filter_text(f)));
    }
    s
}

fn range_text(r: &LogRange) -> String {
    let mut s = log_text(&r.log);
    if let Some(u) = &r.unwrap {
        s.push(' ');
        s.push_str(&unwrap_text(u));
    }
    s.push_str(&format!("[{}]", model_duration(r.range_ns)));
    if r.offset_ns != 0 {
        s.push_str(&format!(" offset {}", go_duration(r.offset_ns)));
    }
    s
}

fn grouping_text(g: &Option<Grouping>, compact: bool) -> String {
    match g {
        None => String::new(),
        Some(g) if g.labels.is_empty() && !g.without => String::new(),
        Some(g) => {
            let kw = if g.without { "without" } else { "by" };
            let sep = if compact { "," } else { ", " };
            if g.labels.is_empty() {
                format!(" {kw}")
            } else {
                format!(" {kw} ({})", g.labels.join(sep))
            }
        }
    }
}

fn agg_name(op: AggOp) -> &'static str {
    AGG_OPS
        .iter()
        .find(|(_, o)| *o == op)
        .map_or("", |(n, _)| n)
}

fn bin_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Pow => "^",
        BinOp::Eq => "==",
        BinOp::Neq => "!=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Unless => "unless",
    }
}

/// The operator with its modifiers; `sep` joins label lists.
fn bin_op_text(op: BinOp, return_bool: bool, m: &Option<VectorMatching>, sep: &str) -> String {
    let mut s = bin_name(op).to_string();
    if return_bool {
        s.push_str(" bool");
    }
    if let Some(m) = m {
        let group = match &m.group {
            None => String::new(),
            Some(g) => {
                let kw = if g.left { "group_left" } else { "group_right" };
                if g.include.is_empty() {
                    kw.to_string()
                } else {
                    format!("{kw} ({})", g.include.join(sep))
                }
            }
        };
        let on = if m.on { "on" } else { "ignoring" };
        s.push_str(&format!(" {on} ({}) {group}", m.labels.join(sep)));
    }
    s
}

fn label_replace_args(
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &regex::Regex,
) -> [String; 4] {
    let re = regex.as_str();
    let re = re
        .strip_prefix("^(?s:")
        .and_then(|r| r.strip_suffix(")$"))
        .unwrap_or(re);
    [
        go_quote(dst),
        go_quote(replacement),
        go_quote(src),
        go_quote(re),
    ]
}

fn metric_text(m: &MetricExpr) -> String {
    match m {
        MetricExpr::Range {
            op,
            param,
            range,
            grouping,
        } => {
            let p = param.map(|p| format!("{},", number(p))).unwrap_or_default();
            format!(
                "{}({p}{}){}",
                op.name(),
                range_text(range),
                grouping_text(grouping, true)
            )
        }
        MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner,
        } => {
            let p = param.map(|p| format!("{},", number(p))).unwrap_or_default();
            format!(
                "{}{}({p}{})",
                agg_name(*op),
                grouping_text(grouping, true),
                metric_text(inner)
            )
        }
        MetricExpr::Binary {
            op,
            return_bool,
            matching,
            lhs,
            rhs,
        } => format!(
            "({} {} {})",
            metric_text(lhs),
            bin_op_text(*op, *return_bool, matching, ","),
            metric_text(rhs)
        ),
        MetricExpr::Number(n) => number(*n),
        MetricExpr::Vector(n) => format!("vector({})", number(*n)),
        MetricExpr::Negate(inner) => format!("-{}", metric_text(inner)),
        MetricExpr::LabelReplace {
            inner,
            dst,
            replacement,
            src,
            regex,
        } => {
            let args = label_replace_args(dst, replacement, src, regex);
            format!("label_replace({},{})", metric_text(inner), args.join(","))
        }
    }
}

struct Printer {
    max: usize,
}

impl Printer {
    fn log(&self, l: &LogExpr, level: usize) -> String {
        let one = log_text(l);
        if one.len() <= self.max || l.pipeline.is_empty() {
            return format!("{}{one}", indent(level));
        }
        let mut s = format!("{}{}", indent(level), matchers_text(&l.matchers));
        for st in &l.pipeline {
            s.push('\n');
            // Loki's quirk: `decolorize` is written without its indent.
            if !matches!(st, Stage::Decolorize) {
                s.push_str(&indent(level + 1));
            }
            s.push_str(&stage_text(st));
        }
        s
    }

    fn range(&self, r: &LogRange, level: usize) -> String {
        let mut s = self.log(&r.log, level);
        if let Some(u) = &r.unwrap {
            s.push('\n');
            s.push_str(&indent(level + 1));
            s.push_str(&unwrap_head(u));
            for f in &u.post_filters {
                s.push('\n');
                s.push_str(&format!("{}| {}", indent(level + 1), label_filter_text(f)));
            }
        }
        s.push_str(&format!(" [{}]", model_duration(r.range_ns)));
        if r.offset_ns != 0 {
            s.push_str(&format!(" offset {}", model_duration(r.offset_ns)));
        }
        s
    }

    fn metric(&self, m: &MetricExpr, level: usize) -> String {
        let one = metric_text(m);
        if one.len() <= self.max {
            return format!("{}{one}", indent(level));
        }
        let (i, i1) = (indent(level), indent(level + 1));
        match m {
            MetricExpr::Range {
                op,
                param,
                range,
                grouping,
            } => {
                let mut s = format!("{i}{}(\n", op.name());
                if let Some(p) = param {
                    s.push_str(&format!("{i1}{},\n", number(*p)));
                }
                s.push_str(&self.range(range, level + 1));
                s.push_str(&format!("\n{i}){}", grouping_text(grouping, false)));
                s
            }
            MetricExpr::Aggregate {
                op,
                param,
                grouping,
                inner,
            } => {
                let mut args = Vec::new();
                if let Some(p) = param {
                    args.push(format!("{i1}{}", number(*p)));
                }
                args.push(self.metric(inner, level + 1));
                format!(
                    "{i}{}{}(\n{}\n{i})",
                    agg_name(*op),
                    grouping_text(grouping, false),
                    args.join(",\n")
                )
            }
            MetricExpr::Binary {
                op,
                return_bool,
                matching,
                lhs,
                rhs,
            } => format!(
                "{}\n{i}{}\n{}",
                self.metric(lhs, level + 1),
                bin_op_text(*op, *return_bool, matching, ", "),
                self.metric(rhs, level + 1)
            ),
            MetricExpr::LabelReplace {
                inner,
                dst,
                replacement,
                src,
                regex,
            } => {
                let mut args = vec![self.metric(inner, level + 1)];
                for a in label_replace_args(dst, replacement, src, regex) {
                    args.push(format!("{i1}{a}"));
                }
                format!("{i}label_replace(\n{}\n{i})", args.join(",\n"))
            }
            _ => format!("{i}{one}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn p20(q: &str) -> String {
        pretty_with(&parse(q).expect("parses"), 20)
    }

    /// Cases of Loki's `prettier_test.go` (its tests set the line length to 20).
    #[test]
    fn formats_as_lokis_prettier_tests() {
        assert_eq!(
            p20(r#"{job="loki", instance="localhost"}|logfmt|level="error""#),
            "{job=\"loki\", instance=\"localhost\"}\n  | logfmt\n  | level=\"error\""
        );
        assert_eq!(
            p20(r#"count_over_time({job="loki", instance="localhost"}|= "error"[5m] offset 20m)"#),
            "count_over_time(\n  {job=\"loki\", instance=\"localhost\"}\n    |= \"error\" [5m] offset 20m\n)"
        );
        assert_eq!(
            p20(
                r#"quantile_over_time(0.99,{container="ingress-nginx",service="hosted-grafana"}| json| unwrap response_latency_seconds| __error__=""[1m]) by (cluster)"#
            ),
            "quantile_over_time(\n  0.99,\n  {container=\"ingress-nginx\", service=\"hosted-grafana\"}\n    | json\n    | unwrap response_latency_seconds\n    | __error__=\"\" [1m]\n) by (cluster)"
        );
        assert_eq!(
            p20(
                r#"{job="loki", namespace="loki-prod", container="nginx-ingress"}| json first_server="servers[0]", ua="request.headers[\"User-Agent\"]" | level="error""#
            ),
            "{job=\"loki\", namespace=\"loki-prod\", container=\"nginx-ingress\"}\n  | json first_server=\"servers[0]\",ua=\"request.headers[\\\"User-Agent\\\"]\"\n  | level=\"error\""
        );
        assert_eq!(
            p20(
                r#"topk(5, count_over_time({foo="bar",namespace="loki",instance="localhost"}[5m])) by (container)"#
            ),
            "topk by (container)(\n  5,\n  count_over_time(\n    {foo=\"bar\", namespace=\"loki\", instance=\"localhost\"} [5m]\n  )\n)"
        );
        assert_eq!(
            p20(
                r#"sum(rate({job="loki"}[5m])) * on(instance, job) group_left (node) sum(rate({job="loki-prod"}[5m]))"#
            ),
            "  sum(\n    rate(\n      {job=\"loki\"} [5m]\n    )\n  )\n* on (instance, job) group_left (node)\n  sum(\n    rate(\n      {job=\"loki-prod\"} [5m]\n    )\n  )"
        );
        assert_eq!(
            p20(
                r#"sum(rate({job="loki"}[5m])) + sum(rate({job="loki-dev"}[5m])) / sum(rate({job="loki-prod"}[5m]))"#
            ),
            "  sum(\n    rate(\n      {job=\"loki\"} [5m]\n    )\n  )\n+\n    sum(\n      rate(\n        {job=\"loki-dev\"} [5m]\n      )\n    )\n  /\n    sum(\n      rate(\n        {job=\"loki-prod\"} [5m]\n      )\n    )"
        );
        assert_eq!(
            p20(
                r#"label_replace(rate({job="api-server",service="a:c"}|= "err" [5m]), "foo", "$1", "service", "(.*):.*")"#
            ),
            "label_replace(\n  rate(\n    {job=\"api-server\", service=\"a:c\"}\n      |= \"err\" [5m]\n  ),\n  \"foo\",\n  \"$1\",\n  \"service\",\n  \"(.*):.*\"\n)"
        );
    }

    #[test]
    fn one_line_forms_and_what_they_parse_back_to() {
        let t = |q: &str| text(&parse(q).expect("parses"));
        assert_eq!(
            t(r#"sum(count_over_time({app="foo"} |= "err" [5m])) by (level)"#),
            r#"sum by (level)(count_over_time({app="foo"} |= "err"[5m]))"#
        );
        assert_eq!(
            t(r#"rate({a="b"}[5m]) / rate({a="c"}[5m])"#),
            r#"(rate({a="b"}[5m]) / rate({a="c"}[5m]))"#
        );
        assert_eq!(
            t(r##"{a="b"} | logfmt | took > 50ms and size >= 3KB or status=~"5..""##),
            r#"{a="b"} | logfmt | ( ( took>50ms , size>=3.0kB ) or status=~`5..` )"#
        );
        // The printed query parses to one that prints the same.
        for q in [
            r#"sum by (level) (count_over_time({app="foo"} | json | line_format "{{.msg}}" | drop a, b="x" [1h] offset 5m))"#,
            r#"topk(3, rate({a="b"} |> "<_> error <code>" | pattern "<ip> - <_>" [1m])) > bool 2"#,
            r#"label_replace(vector(1), "x", "$1", "y", "(.*)") or on (a) -vector(2)"#,
        ] {
            let once = t(q);
            assert_eq!(t(&once), once, "{q}");
        }
    }
}
