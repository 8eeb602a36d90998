//! Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text: samples out,
//! metadata and exemplars skipped. Hand-written: no maintained crate parses both
//! formats into plain samples without pulling in a client library's data model.

/// One sample line: metric name, labels in the order given, value, optional time (ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Scraped {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A metric family's `# TYPE`, `# HELP` and `# UNIT` lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyMeta {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// Each family's name and metadata, in the order first seen.
pub type Families = Vec<(String, FamilyMeta)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: timestamps in integer milliseconds.
    Text,
    /// `application/openmetrics-text`: timestamps in (fractional) seconds, `# EOF` required.
    OpenMetrics,
}

impl Format {
    pub fn from_content_type(ct: &str) -> Format {
        if ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/openmetrics-text")
        }) {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole exposition; the first bad line fails the scrape, as in Prometheus.
pub fn parse(body: &str, format: Format) -> Result<Vec<Scraped>, ParseError> {
    parse_with_metadata(body, format).map(|(s, _)| s)
}

/// [`parse`], with each family's `# TYPE`/`# HELP`/`# UNIT` lines.
pub fn parse_with_metadata(
    body: &str,
    format: Format,
) -> Result<(Vec<Scraped>, Families), ParseError> {
    let mut meta: Families = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut eof = false;
    for (i, raw) in body.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if eof {
            if line.trim().is_empty() {
                continue;
            }
            return Err(err("content after # EOF".into()));
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if format == Format::OpenMetrics && comment.trim() == "EOF" {
                eof = true;
            }
            let mut words = comment.trim_start().splitn(3, ' ');
            if let (Some(kw @ ("TYPE" | "HELP" | "UNIT")), Some(name)) =
                (words.next(), words.next())
            {
                let rest = words.next().unwrap_or("").trim().to_string();
                let i = *index.entry(name.to_string()).or_insert_with(|| {
                    meta.push((name.to_string(), FamilyMeta::default()));
                    meta.len() - 1
                });
                let m = &mut meta[i].1;
                match kw {
                    "TYPE" => m.kind = rest,
                    "HELP" => m.help = unescape_help(&rest),
                    _ => m.unit = rest,
                }
            }
            continue;
        }
        out.push(sample_line(trimmed, format).map_err(err)?);
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ParseError {
            line: body.lines().count(),
            message: "OpenMetrics exposition does not end with # EOF".into(),
        });
    }
    Ok((out, meta))
}

/// `\\` and `\n` (and OpenMetrics' `\"`) in a HELP text, in one left-to-right pass.
fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn sample_line(line: &str, format: Format) -> Result<Scraped, String> {
    let name_end = line
        .char_indices()
        .find(|&(i, c)| {
            if i == 0 {
                !is_name_start(c)
            } else {
                !is_name_char(c)
            }
        })
        .map_or(line.len(), |(i, _)| i);
    if name_end == 0 {
        return Err(format!("expected a metric name, found {line:?}"));
    }
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = label_set(r, &mut labels)?;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("expected a space before the value of {name}"));
    }
    // OpenMetrics exemplars follow " # ": not samples.
    let rest = rest.split(" # ").next().unwrap_or(rest);
    let mut fields = rest.split_ascii_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("missing value for {name}"))?;
    let value = parse_value(value_text).ok_or_else(|| format!("invalid value {value_text:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(match format {
            Format::Text => t
                .parse::<i64>()
                .map_err(|_| format!("invalid timestamp {t:?}"))?,
            Format::OpenMetrics => {
                let secs: f64 = t.parse().map_err(|_| format!("invalid timestamp {t:?}"))?;
                if !secs.is_finite() {
                    return Err(format!("invalid timestamp {t:?}"));
                }
                (secs * 1000.0).round() as i64
            }
        }),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the sample of {name}"));
    }
    Ok(Scraped {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Reads `name="value", ...}` and returns what follows the `}`.
fn label_set<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(r) = s.strip_prefix('}') {
            return Ok(r);
        }
        let end = s
            .char_indices()
            .find(|&(i, c)| {
                if i == 0 {
                    !is_name_start(c)
                } else {
                    !is_name_char(c) || c == ':'
                }
            })
            .map_or(s.len(), |(i, _)| i);
        if end == 0 {
            return Err(format!("expected a label name at {s:?}"));
        }
        let name = s[..end].to_string();
        s = s[end..].trim_start();
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label {name}"))?
            .trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to open the value of label {name}"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {name}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value of label {name}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _)| *n == name) {
            return Err(format!("duplicate label {name}"));
        }
        labels.push((name, value));
        s = s[close + 1..].trim_start();
        if let Some(r) = s.strip_prefix(',') {
            s = r;
        } else if !s.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {s:?}"));
        }
    }
}

/// Go's `strconv.ParseFloat` for the values expositions use.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
            http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
            http_requests_total{method=\"post\",code=\"400\",} 3\n\
            msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
            metric_without_labels +Inf\n  \n\
            rpc_duration_seconds{quantile=\"0.5\"} NaN\n";
        let s = parse(body, Format::Text).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].timestamp_ms, Some(1_395_066_363_000));
        assert_eq!(s[0].labels[1], ("code".into(), "200".into()));
        assert_eq!(s[1].labels.len(), 2);
        assert_eq!(s[2].labels[0].1, "C:\\DIR\\FILE.TXT");
        assert_eq!(s[2].labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(s[3].value, f64::INFINITY);
        assert!(s[4].value.is_nan());
    }

    #[test]
    fn family_metadata() {
        let body = "# HELP http_requests_total The total number\\nof requests.\n# TYPE http_requests_total counter\nhttp_requests_total 1\n";
        let (s, meta) = parse_with_metadata(body, Format::Text).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(meta.len(), 1);
        assert_eq!(meta[0].0, "http_requests_total");
        assert_eq!(meta[0].1.kind, "counter");
        assert_eq!(meta[0].1.help, "The total number\nof requests.");
        assert_eq!(unescape_help("a\\\\nb"), "a\\nb"); // an escaped backslash, then n
    }

    #[test]
    fn openmetrics_with_exemplars_and_eof() {
        let body = "# TYPE foo counter\nfoo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
            foo_created 1520430000.123\n# EOF\n";
        let s = parse(body, Format::OpenMetrics).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].timestamp_ms, Some(1_520_879_607_789));
        assert_eq!(s[0].value, 17.0);
        assert!(parse("foo 1\n", Format::OpenMetrics).is_err());
    }

    #[test]
    fn bad_lines_name_the_problem() {
        let e = parse("ok 1\nbad{a=\"x} 1\n", Format::Text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse("x{a=\"1\",a=\"2\"} 1", Format::Text).is_err());
        assert!(parse("x 1 2 3", Format::Text).is_err());
        assert!(parse("x abc", Format::Text).is_err());
        assert!(parse("{a=\"1\"} 1", Format::Text).is_err());
    }
}
