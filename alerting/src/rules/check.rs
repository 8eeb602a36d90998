//! `osprey rules check FILE…`: what `promtool check rules` prints and returns
//! (`alerting/docs/semantics.md` §1.3): per file `Checking <file>`, then
//! `  SUCCESS: <n> rules found` or `  FAILED:` and the problems on stderr, then a
//! blank line; the duplicate-rule lint; exit 0, 1 on any failure, 3 for a lint finding
//! with `--lint-fatal`.

use std::fmt::Write;

use super::file::{RuleFile, parse};
use super::load::{Language, check_expr};
use super::validate::validate;

/// What the command printed and its exit code.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// Which lints run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lint {
    pub duplicate_rules: bool,
    /// A lint finding fails the command (exit 3).
    pub fatal: bool,
}

impl Default for Lint {
    fn default() -> Self {
        Lint {
            duplicate_rules: true,
            fatal: false,
        }
    }
}

/// Checks every file (all of them, even after a failure).
pub fn check_files(files: &[String], language: Language, lint: Lint) -> Outcome {
    let mut out = Outcome::default();
    let (mut failed, mut lint_failed) = (false, false);
    for f in files {
        let _ = writeln!(out.stdout, "Checking {f}");
        match check_file(f, language) {
            Err(errors) => {
                failed = true;
                out.stderr.push_str("  FAILED:\n");
                for e in errors {
                    let _ = writeln!(out.stderr, "{e}");
                }
            }
            Ok(file) => {
                let dups = if lint.duplicate_rules {
                    duplicates(&file)
                } else {
                    Vec::new()
                };
                if dups.is_empty() {
                    let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
                    let _ = writeln!(out.stdout, "  SUCCESS: {n} rules found");
                } else {
                    lint_failed = true;
                    out.stderr.push_str("  FAILED:\n");
                    let _ = writeln!(out.stderr, "lint error {}", lint_message(&dups));
                }
            }
        }
        out.stdout.push('\n');
    }
    out.code = if failed {
        1
    } else if lint_failed && lint.fatal {
        3
    } else {
        0
    };
    out
}

fn check_file(file: &str, language: Language) -> Result<RuleFile, Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("{file}: {e}")])?;
    let parsed = parse(&text).map_err(|e| vec![format!("{file}: {e}")])?;
    let problems = validate(&parsed, &|e| check_expr(language, e));
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems
            .into_iter()
            .map(|p| format!("{file}: {p}"))
            .collect())
    }
}

/// Rules with the same name and the same labels anywhere in the file.
fn duplicates(file: &RuleFile) -> Vec<(String, Vec<(String, String)>)> {
    let mut all: Vec<(String, Vec<(String, String)>)> = file
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| {
            let labels = r
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            (r.name().to_string(), labels)
        })
        .collect();
    all.sort();
    all.windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0].clone())
        .collect()
}

fn lint_message(dups: &[(String, Vec<(String, String)>)]) -> String {
    let mut m = format!("{} duplicate rule(s) found.\n", dups.len());
    for (name, labels) in dups {
        let _ = writeln!(m, "Metric: {name}\nLabel(s):");
        for (k, v) in labels {
            let _ = writeln!(m, "\t{k}: {v}");
        }
    }
    m.push_str("Might cause inconsistency while recording expressions");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_exits_like_promtool() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str, text: &str| {
            let f = dir.path().join(name);
            std::fs::write(&f, text).unwrap();
            f.to_string_lossy().into_owned()
        };
        let good = p(
            "good.yml",
            "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: sum(up)\n      - alert: A\n        expr: up == 0\n",
        );
        let bad = p(
            "bad.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(\n",
        );
        let dup = p(
            "dup.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n  - name: h\n    rules:\n      - alert: A\n        expr: up == 1\n",
        );
        let o = check_files(
            std::slice::from_ref(&good),
            Language::PromQL,
            Lint::default(),
        );
        assert_eq!(
            o.stdout,
            format!("Checking {good}\n  SUCCESS: 2 rules found\n\n")
        );
        assert_eq!((o.stderr.as_str(), o.code), ("", 0));
        let o = check_files(
            &[bad.clone(), good.clone()],
            Language::PromQL,
            Lint::default(),
        );
        assert_eq!(o.code, 1);
        assert!(
            o.stdout
                .contains(&format!("Checking {bad}\n\nChecking {good}\n  SUCCESS")),
            "{}",
            o.stdout
        );
        assert!(o.stderr.starts_with("  FAILED:\n"), "{}", o.stderr);
        assert!(
            o.stderr
                .contains("group \"g\", rule 1, \"A\": could not parse expression")
        );
        let o = check_files(
            std::slice::from_ref(&dup),
            Language::PromQL,
            Lint::default(),
        );
        assert_eq!(o.code, 0);
        assert_eq!(
            o.stderr,
            "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: A\nLabel(s):\nMight cause inconsistency while recording expressions\n"
        );
        let fatal = Lint {
            fatal: true,
            ..Lint::default()
        };
        assert_eq!(
            check_files(std::slice::from_ref(&dup), Language::PromQL, fatal).code,
            3
        );
        let none = Lint {
            duplicate_rules: false,
            fatal: true,
        };
        let o = check_files(&[dup], Language::PromQL, none);
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("SUCCESS: 2 rules found"));
    }
}
