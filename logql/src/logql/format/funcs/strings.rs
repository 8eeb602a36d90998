//! The string functions: Loki's own (Go's `strings` package with its argument order:
//! `Replace`, `Trim…`, `ToLower`, regex replacement, `count`, URL and alignment) and
//! sprig's allowed ones (`lower`, `title`, `trunc`, `substr`, `contains`, `indent`, …
//! with the piped value last).

use base64::Engine;
use gotmpl::Value;
use regex::Regex;

use super::super::args::{R, calling, fail, int, string, text, want};
use super::Funcs;

/// Longest string `repeat`, `indent` and `alignLeft` may build (Go has no limit; a
/// template must not take a query's memory).
const MAX_LEN: usize = 1 << 20;

pub(super) fn register(f: &mut Funcs) {
    f.add("ToLower", |a| one(a, "ToLower", go_lower));
    f.add("ToUpper", |a| one(a, "ToUpper", go_upper));
    f.add("lower", |a| one(a, "lower", go_lower));
    f.add("upper", |a| one(a, "upper", go_upper));
    f.add("title", |a| one(a, "title", title));
    f.add("TrimSpace", |a| {
        one(a, "TrimSpace", |s| s.trim().to_string())
    });
    f.add("trim", |a| one(a, "trim", |s| s.trim().to_string()));
    f.add("urlencode", |a| one(a, "urlencode", gotmpl::url_encode));
    f.add("b64enc", |a| {
        one(a, "b64enc", |s| {
            base64::engine::general_purpose::STANDARD.encode(s)
        })
    });
    f.add("b64dec", |a| one(a, "b64dec", b64dec));
    f.add("urldecode", |a| {
        want("urldecode", a, 1)?;
        query_unescape(string(a, 0)?).map_or_else(|e| Err(calling("urldecode", e)), text)
    });
    f.add("Replace", |a| {
        want("Replace", a, 4)?;
        let (s, old, new, n) = (string(a, 0)?, string(a, 1)?, string(a, 2)?, int(a, 3)?);
        text(match usize::try_from(n) {
            Ok(n) => s.replacen(old, new, n),
            Err(_) => s.replace(old, new),
        })
    });
    f.add("replace", |a| {
        want("replace", a, 3)?;
        text(string(a, 2)?.replace(string(a, 0)?, string(a, 1)?))
    });
    f.add("Trim", |a| {
        two(a, "Trim", |s, cut| {
            s.trim_matches(|c| cut.contains(c)).into()
        })
    });
    f.add("TrimLeft", |a| {
        two(a, "TrimLeft", |s, cut| {
            s.trim_start_matches(|c| cut.contains(c)).into()
        })
    });
    f.add("TrimRight", |a| {
        two(a, "TrimRight", |s, cut| {
            s.trim_end_matches(|c| cut.contains(c)).into()
        })
    });
    f.add("trimAll", |a| {
        two(a, "trimAll", |cut, s| {
            s.trim_matches(|c| cut.contains(c)).into()
        })
    });
    f.add("TrimPrefix", |a| {
        two(a, "TrimPrefix", |s, p| {
            s.strip_prefix(p).unwrap_or(s).into()
        })
    });
    f.add("TrimSuffix", |a| {
        two(a, "TrimSuffix", |s, p| {
            s.strip_suffix(p).unwrap_or(s).into()
        })
    });
    f.add("trimPrefix", |a| {
        two(a, "trimPrefix", |p, s| {
            s.strip_prefix(p).unwrap_or(s).into()
        })
    });
    f.add("trimSuffix", |a| {
        two(a, "trimSuffix", |p, s| {
            s.strip_suffix(p).unwrap_or(s).into()
        })
    });
    f.add("contains", |a| test(a, "contains", |x, s| s.contains(x)));
    f.add("hasPrefix", |a| {
        test(a, "hasPrefix", |x, s| s.starts_with(x))
    });
    f.add("hasSuffix", |a| test(a, "hasSuffix", |x, s| s.ends_with(x)));
    f.add("regexReplaceAll", |a| {
        regex_replace(a, "regexReplaceAll", false)
    });
    f.add("regexReplaceAllLiteral", |a| {
        regex_replace(a, "regexReplaceAllLiteral", true)
    });
    f.add("count", |a| {
        want("count", a, 2)?;
        let re = Regex::new(string(a, 0)?).map_err(|e| calling("count", e))?;
        Ok(Value::Int(re.find_iter(string(a, 1)?).count() as i64))
    });
    f.add("trunc", |a| {
        want("trunc", a, 2)?;
        text(trunc(int(a, 0)?, string(a, 1)?))
    });
    f.add("substr", |a| {
        want("substr", a, 3)?;
        substr(int(a, 0)?, int(a, 1)?, string(a, 2)?)
            .map_or_else(|e| Err(calling("substr", e)), text)
    });
    f.add("repeat", |a| {
        want("repeat", a, 2)?;
        let (n, s) = (int(a, 0)?, string(a, 1)?);
        let n =
            usize::try_from(n).map_err(|_| calling("repeat", "strings: negative Repeat count"))?;
        if s.len().saturating_mul(n) > MAX_LEN {
            return Err(calling("repeat", "the result would be longer than 1 MiB"));
        }
        text(s.repeat(n))
    });
    f.add("indent", |a| {
        want("indent", a, 2)?;
        indent(int(a, 0)?, string(a, 1)?).map_or_else(|e| Err(calling("indent", e)), text)
    });
    f.add("nindent", |a| {
        want("nindent", a, 2)?;
        let s = indent(int(a, 0)?, string(a, 1)?).map_err(|e| calling("nindent", e))?;
        text(format!("\n{s}"))
    });
    f.add("alignLeft", |a| align(a, "alignLeft", true));
    f.add("alignRight", |a| align(a, "alignRight", false));
}

fn one(a: &[Value], name: &str, f: impl Fn(&str) -> String) -> R {
    want(name, a, 1)?;
    text(f(string(a, 0)?))
}

fn two(a: &[Value], name: &str, f: impl Fn(&str, &str) -> String) -> R {
    want(name, a, 2)?;
    text(f(string(a, 0)?, string(a, 1)?))
}

fn test(a: &[Value], name: &str, f: impl Fn(&str, &str) -> bool) -> R {
    want(name, a, 2)?;
    Ok(Value::Bool(f(string(a, 0)?, string(a, 1)?)))
}

/// Go's `strings.ToLower`: each character's simple (one-character) mapping.
fn go_lower(s: &str) -> String {
    s.chars().map(|c| simple(c, c.to_lowercase())).collect()
}

fn go_upper(s: &str) -> String {
    s.chars().map(|c| simple(c, c.to_uppercase())).collect()
}

fn simple(c: char, mut mapped: impl ExactSizeIterator<Item = char>) -> char {
    match mapped.len() {
        1 => mapped.next().unwrap_or(c),
        _ => c,
    }
}

/// Go's `strings.Title`: a letter after a separator is title-cased. Separators are
/// ASCII characters other than letters, digits and `_`, and spaces.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                simple(c, c.to_uppercase())
            } else {
                c
            };
            prev_sep = if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '_')
            } else {
                c.is_whitespace()
            };
            out
        })
        .collect()
}

/// sprig's `b64dec`: the decoded text, or the error's text in its place.
fn b64dec(s: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(s) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            _ => format!("illegal base64 data at input byte {}", s.len()),
        },
    }
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(&b[i..end])
                    ));
                };
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn regex_replace(a: &[Value], name: &str, literal: bool) -> R {
    want(name, a, 3)?;
    let re = Regex::new(string(a, 0)?).map_err(|e| calling(name, e))?;
    let (s, repl) = (string(a, 1)?, string(a, 2)?);
    text(if literal {
        re.replace_all(s, regex::NoExpand(repl)).into_owned()
    } else {
        re.replace_all(s, repl).into_owned()
    })
}

/// Bytes `from..to` of `s` as text (Go slices bytes; a cut through a character is
/// written as the replacement character).
fn bytes_of(s: &str, from: usize, to: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[from..to]).into_owned()
}

/// sprig's `trunc`: the first `c` bytes, or with a negative `c` the last `-c`.
fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i64;
    if c < 0 && len + c > 0 {
        bytes_of(s, (len + c) as usize, s.len())
    } else if c >= 0 && len > c {
        bytes_of(s, 0, c as usize)
    } else {
        s.to_string()
    }
}

/// sprig's `substr`: bytes `start..end` (`start < 0`: from 0; `end < 0` or past the
/// end: to the end); a range Go cannot slice fails as its runtime does.
fn substr(start: i64, end: i64, s: &str) -> Result<String, String> {
    let len = s.len() as i64;
    let (from, to) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    if from < 0 || to < 0 || from > to || to > len {
        return Err(format!(
            "runtime error: slice bounds out of range [{from}:{to}] with length {len}"
        ));
    }
    Ok(bytes_of(s, from as usize, to as usize))
}

fn indent(n: i64, s: &str) -> Result<String, String> {
    let n = usize::try_from(n).map_err(|_| "strings: negative Repeat count".to_string())?;
    if n.saturating_mul(s.lines().count() + 1)
        .saturating_add(s.len())
        > MAX_LEN
    {
        return Err("the result would be longer than 1 MiB".into());
    }
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Loki's `alignLeft`/`alignRight`: the text padded with spaces or cut to `count`
/// characters (on the right for `alignLeft`, keeping the end for `alignRight`).
fn align(a: &[Value], name: &str, left: bool) -> R {
    want(name, a, 2)?;
    let (count, src) = (int(a, 0)?, string(a, 1)?);
    let chars = src.chars().count();
    let Ok(count) = usize::try_from(count) else {
        return text(src);
    };
    if count > MAX_LEN {
        return Err(fail(format!("error calling {name}: count is over 1 MiB")));
    }
    text(match (chars < count, left) {
        (true, true) => format!("{src}{}", " ".repeat(count - chars)),
        (true, false) => format!("{}{src}", " ".repeat(count - chars)),
        (false, true) => src.chars().take(count).collect(),
        (false, false) => src.chars().skip(chars - count).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_string_rules() {
        assert_eq!(title("it's a hello-world_x"), "It'S A Hello-World_x");
        assert_eq!(go_upper("straße"), "STRAßE");
        assert_eq!(trunc(-5, "hello world"), "world");
        assert_eq!(trunc(-20, "x"), "x");
        assert_eq!(trunc(3, "hello"), "hel");
        assert_eq!(substr(1, 3, "hello").as_deref(), Ok("el"));
        assert_eq!(substr(-1, 2, "hello").as_deref(), Ok("he"));
        assert_eq!(substr(2, -1, "hello").as_deref(), Ok("llo"));
        assert!(substr(4, 2, "hello").is_err());
        assert_eq!(query_unescape("a+b%21").as_deref(), Ok("a b!"));
        assert_eq!(
            query_unescape("%zz"),
            Err("invalid URL escape \"%zz\"".into())
        );
        assert_eq!(b64dec("aGk="), "hi");
        assert_eq!(b64dec("a$"), "illegal base64 data at input byte 1");
        assert_eq!(indent(2, "a\nb").as_deref(), Ok("  a\n  b"));
    }
}
