//! LogQL's syntax tree: log queries (a stream selector and its pipeline) and metric
//! queries over them (range aggregations, vector aggregations, binary operations).

use std::collections::BTreeMap;

use regex::Regex;

/// Label name → value, sorted by name (the order Loki prints them in).
pub type Labels = BTreeMap<String, String>;

/// A parsed LogQL query.
#[derive(Debug, Clone)]
pub enum Query {
    /// `{app="api"} |= "timeout" | json`: log lines.
    Log(LogExpr),
    /// `rate({app="api"}[5m])`, `sum by (level) (...)`, `... > 10`: samples.
    Metric(MetricExpr),
}

/// A stream selector and the stages its lines pass through.
#[derive(Debug, Clone)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub pipeline: Vec<Stage>,
}

impl LogExpr {
    /// Whether a stream with these labels is selected (an absent label is empty).
    pub fn selects(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
    }

    /// The line filters before the first stage that changes the line or the labels: what
    /// an index can answer before any line is parsed.
    pub fn leading_line_filters(&self) -> impl Iterator<Item = &LineFilter> {
        self.pipeline.iter().map_while(|s| match s {
            Stage::LineFilter(f) => Some(f),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Neq,
    Re,
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// `name="value"`, `name=~"re"`: regular expressions match the whole value.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Anchored (`^(?:value)$`) for `=~` and `!~`.
    pub re: Option<Regex>,
}

impl Matcher {
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Neq, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::Nre, Some(re)) => !re.is_match(v),
            (_, None) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Regex,
    /// `!~`
    NotRegex,
    /// `|>`: a pattern (`pattern.rs`) the line matches
    Pattern,
    /// `!>`
    NotPattern,
}

/// `|= "a" or "b"`: one operator, any of its values (for the negative operators: none
/// of them).
#[derive(Debug, Clone)]
pub struct LineFilter {
    pub op: LineOp,
    pub values: Vec<String>,
    /// Unanchored, one per value, for `|~` and `!~`.
    pub res: Vec<Regex>,
    /// One per value, for `|>` and `!>`.
    pub patterns: Vec<super::pattern::Pattern>,
}

#[derive(Debug, Clone)]
pub enum Stage {
    LineFilter(LineFilter),
    /// `| json` (every field) or `| json a="x.y", b` (the named paths).
    Json(Vec<(String, Vec<PathPart>)>),
    /// `| logfmt`, `| logfmt --strict --keep-empty`, `| logfmt a, b="c"`.
    Logfmt {
        strict: bool,
        keep_empty: bool,
        fields: Vec<(String, String)>,
    },
    /// `| regexp "(?P<name>...)"`: one label per named group.
    Regexp(Regex),
    LabelFilter(LabelFilter),
    /// `| drop a, b="x"`
    Drop(Vec<(String, Option<Matcher>)>),
    /// `| keep a, b="x"`
    Keep(Vec<(String, Option<Matcher>)>),
    /// `| decolorize`: strips ANSI colour sequences from the line.
    Decolorize,
    /// `| pattern "<ip> <_> <status>"`: one label per named capture.
    Pattern(super::pattern::Pattern),
    /// `| unpack`: a JSON object's string fields as labels; `_entry` becomes the line.
    Unpack,
    /// `| line_format "{{.level}} {{__line__}}"`: the line becomes the template's text.
    LineFormat(super::format::Template),
    /// `| label_format dst=src, dst="{{…}}"`
    LabelFormat(Vec<super::format::LabelFmt>),
}

/// One step of a `| json` parameter's path: `a.b[0]["c d"]`.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Neq => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// `| level="error"`, `| status >= 500`, `| latency > 250ms`, `| size < 1KB`, joined with
/// `and` (or `,` or a space) and `or`.
#[derive(Debug, Clone)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    String(Matcher),
    /// A number, a duration (seconds) or a byte size, compared as a number.
    Number {
        name: String,
        op: CmpOp,
        value: f64,
        kind: NumberKind,
    },
}

impl LabelFilter {
    /// The label names the filter reads.
    pub fn names(&self) -> Vec<&str> {
        match self {
            LabelFilter::And(a, b) | LabelFilter::Or(a, b) => {
                let mut v = a.names();
                v.extend(b.names());
                v
            }
            LabelFilter::String(m) => vec![m.name.as_str()],
            LabelFilter::Number { name, .. } => vec![name.as_str()],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    Number,
    Duration,
    Bytes,
}

/// `| unwrap latency`, `| unwrap duration(took)`, `| unwrap bytes(size)`, then label
/// filters on the sample's labels (`| __error__=""`).
#[derive(Debug, Clone)]
pub struct Unwrap {
    pub label: String,
    pub kind: NumberKind,
    pub post_filters: Vec<LabelFilter>,
}

/// A log query over a time range: `{…} | … [5m] offset 1h`.
#[derive(Debug, Clone)]
pub struct LogRange {
    /// Numbers the query's ranges in order, so an evaluation's data can be keyed by it.
    pub id: usize,
    pub log: LogExpr,
    pub unwrap: Option<Unwrap>,
    pub range_ns: i64,
    pub offset_ns: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    RateCounter,
    BytesOverTime,
    BytesRate,
    AbsentOverTime,
    SumOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    FirstOverTime,
    LastOverTime,
}

pub const RANGE_OPS: &[(&str, RangeOp)] = &[
    ("count_over_time", RangeOp::CountOverTime),
    ("rate", RangeOp::Rate),
    ("rate_counter", RangeOp::RateCounter),
    ("bytes_over_time", RangeOp::BytesOverTime),
    ("bytes_rate", RangeOp::BytesRate),
    ("absent_over_time", RangeOp::AbsentOverTime),
    ("sum_over_time", RangeOp::SumOverTime),
    ("avg_over_time", RangeOp::AvgOverTime),
    ("min_over_time", RangeOp::MinOverTime),
    ("max_over_time", RangeOp::MaxOverTime),
    ("stddev_over_time", RangeOp::StddevOverTime),
    ("stdvar_over_time", RangeOp::StdvarOverTime),
    ("quantile_over_time", RangeOp::QuantileOverTime),
    ("first_over_time", RangeOp::FirstOverTime),
    ("last_over_time", RangeOp::LastOverTime),
];

impl RangeOp {
    pub fn name(self) -> &'static str {
        RANGE_OPS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(n, _)| n)
    }

    /// Whether the function reads unwrapped values (and so requires `| unwrap`).
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }

    /// Whether the function also accepts `| unwrap` (rate sums unwrapped values;
    /// absent_over_time ignores them).
    pub fn allows_unwrap(self) -> bool {
        self.needs_unwrap() || matches!(self, RangeOp::Rate | RangeOp::AbsentOverTime)
    }

    /// Whether `by`/`without` may follow it (Loki's list).
    pub fn allows_grouping(self) -> bool {
        matches!(
            self,
            RangeOp::AvgOverTime
                | RangeOp::StddevOverTime
                | RangeOp::StdvarOverTime
                | RangeOp::QuantileOverTime
                | RangeOp::MinOverTime
                | RangeOp::MaxOverTime
                | RangeOp::FirstOverTime
                | RangeOp::LastOverTime
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

pub const AGG_OPS: &[(&str, AggOp)] = &[
    ("sum", AggOp::Sum),
    ("avg", AggOp::Avg),
    ("min", AggOp::Min),
    ("max", AggOp::Max),
    ("count", AggOp::Count),
    ("stddev", AggOp::Stddev),
    ("stdvar", AggOp::Stdvar),
    ("topk", AggOp::Topk),
    ("bottomk", AggOp::Bottomk),
    ("sort", AggOp::Sort),
    ("sort_desc", AggOp::SortDesc),
];

/// `by (a, b)` or `without (a, b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

impl Grouping {
    /// The labels a series keeps in its group.
    pub fn group_labels(&self, l: &Labels) -> Labels {
        l.iter()
            .filter(|(k, _)| self.labels.contains(k) != self.without)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn comparison(self) -> Option<CmpOp> {
        Some(match self {
            BinOp::Eq => CmpOp::Eq,
            BinOp::Neq => CmpOp::Neq,
            BinOp::Gt => CmpOp::Gt,
            BinOp::Ge => CmpOp::Ge,
            BinOp::Lt => CmpOp::Lt,
            BinOp::Le => CmpOp::Le,
            _ => return None,
        })
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// `on (a)` / `ignoring (a)`, optionally with `group_left (b)` / `group_right (b)`, on
/// a binary operation between two vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    pub on: bool,
    pub labels: Vec<String>,
    /// `None`: one-to-one.
    pub group: Option<Group>,
}

/// `group_left` (many-to-one) or `group_right` (one-to-many) and the labels copied from
/// the "one" side.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub left: bool,
    pub include: Vec<String>,
}

impl VectorMatching {
    /// The labels two series are matched on.
    pub fn signature(m: Option<&VectorMatching>, l: &Labels) -> Labels {
        match m {
            None => l.clone(),
            Some(m) => l
                .iter()
                .filter(|(k, _)| m.labels.contains(k) == m.on)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum MetricExpr {
    Range {
        op: RangeOp,
        /// `quantile_over_time`'s φ.
        param: Option<f64>,
        range: LogRange,
        grouping: Option<Grouping>,
    },
    Aggregate {
        op: AggOp,
        /// `topk`'s k.
        param: Option<f64>,
        grouping: Option<Grouping>,
        inner: Box<MetricExpr>,
    },
    Binary {
        op: BinOp,
        return_bool: bool,
        matching: Option<VectorMatching>,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
    },
    Number(f64),
    /// `vector(1)`: one sample without labels.
    Vector(f64),
    /// `-expr`
    Negate(Box<MetricExpr>),
    /// `label_replace(inner, dst, replacement, src, regex)`; `regex` anchored.
    LabelReplace {
        inner: Box<MetricExpr>,
        dst: String,
        replacement: String,
        src: String,
        regex: Regex,
    },
}

impl MetricExpr {
    /// Every log range in the query, in order of [`LogRange::id`].
    pub fn ranges(&self) -> Vec<&LogRange> {
        let mut out = Vec::new();
        self.collect_ranges(&mut out);
        out
    }

    fn collect_ranges<'a>(&'a self, out: &mut Vec<&'a LogRange>) {
        match self {
            MetricExpr::Range { range, .. } => out.push(range),
            MetricExpr::Aggregate { inner, .. }
            | MetricExpr::Negate(inner)
            | MetricExpr::LabelReplace { inner, .. } => inner.collect_ranges(out),
            MetricExpr::Binary { lhs, rhs, .. } => {
                lhs.collect_ranges(out);
                rhs.collect_ranges(out);
            }
            MetricExpr::Number(_) | MetricExpr::Vector(_) => {}
        }
    }
}
