//! Finding and reading rule files: globs relative to the config file's directory (as
//! Prometheus joins `rule_files` with its config's directory), parsed and checked.
//! Loading is all or nothing: one bad file fails the whole set, and the caller keeps
//! the rules it had.

use std::path::{Path, PathBuf};

use super::file::{GroupSpec, parse};
use super::validate::validate;

/// The query language of a rule file's expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Prometheus rule files.
    PromQL,
    /// Loki-ruler files: LogQL metric queries over logs.
    LogQL,
}

/// One group as loaded, with the file it came from (the path as Prometheus shows it).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedGroup {
    pub file: String,
    pub spec: GroupSpec,
    pub language: Language,
}

/// `pattern` joined to `base` as Go's `filepath.Join` does (a `.` base adds nothing).
pub fn resolve(base: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() || base.as_os_str().is_empty() || base == Path::new(".") {
        return pattern.to_string();
    }
    base.join(pattern).to_string_lossy().into_owned()
}

/// The files the patterns name, each once, in pattern order then name order. A pattern
/// without glob characters must name an existing file.
pub fn expand(base: &Path, patterns: &[String]) -> Result<Vec<String>, Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for p in patterns {
        let full = resolve(base, p);
        let is_glob = p.contains(['*', '?', '[']);
        match glob::glob(&full) {
            Ok(paths) => {
                let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                found.sort();
                if found.is_empty() && !is_glob {
                    errors.push(format!("{full}: no such file"));
                }
                for f in found {
                    let s = f.to_string_lossy().into_owned();
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
            Err(e) => errors.push(format!("{p}: invalid pattern: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Checks an expression of `language`.
pub fn check_expr(language: Language, expr: &str) -> Result<(), String> {
    match language {
        Language::PromQL => osprey_promql::parse(expr)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        // The Loki ruler evaluates metric queries only.
        Language::LogQL => match osprey_logql::logql::parse(expr) {
            Ok(osprey_logql::logql::Query::Metric(_)) => Ok(()),
            Ok(osprey_logql::logql::Query::Log(_)) => Err(
                "a log query cannot be a rule: use a metric query such as count_over_time({…}[5m])"
                    .to_string(),
            ),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Reads and checks one file: its groups, or every problem, each prefixed with the
/// file's name as promtool prints them.
pub fn load_file(file: &str, language: Language) -> Result<Vec<LoadedGroup>, Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("{file}: {e}")])?;
    let parsed = parse(&text).map_err(|e| vec![format!("{file}: {e}")])?;
    let problems = validate(&parsed, &|e| check_expr(language, e));
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|p| format!("{file}: {p}"))
            .collect());
    }
    Ok(parsed
        .groups
        .into_iter()
        .map(|spec| LoadedGroup {
            file: file.to_string(),
            spec,
            language,
        })
        .collect())
}

/// Osprey's own RED and USE rules (`alerting/builtin/`), shipped in the binary.
const BUILTIN: [(&str, &str); 2] = [
    ("builtin/red.yml", include_str!("../../builtin/red.yml")),
    ("builtin/use.yml", include_str!("../../builtin/use.yml")),
];

/// The built-in rule groups (`[rules] builtin = true`).
pub fn builtin() -> Result<Vec<LoadedGroup>, Vec<String>> {
    let mut out = Vec::new();
    for (file, text) in BUILTIN {
        let parsed = parse(text).map_err(|e| vec![format!("{file}: {e}")])?;
        let problems = validate(&parsed, &|e| check_expr(Language::PromQL, e));
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|p| format!("{file}: {p}"))
                .collect());
        }
        out.extend(parsed.groups.into_iter().map(|spec| LoadedGroup {
            file: file.to_string(),
            spec,
            language: Language::PromQL,
        }));
    }
    Ok(out)
}

/// Every group of every file the patterns name, or every problem found.
pub fn load_all(
    base: &Path,
    patterns: &[String],
    language: Language,
) -> Result<Vec<LoadedGroup>, Vec<String>> {
    let files = expand(base, patterns)?;
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(&f, language) {
            Ok(mut g) => groups.append(&mut g),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_relative_to_the_config_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(
            dir.path().join("rules/a.yml"),
            "groups:\n  - name: a\n    rules:\n      - record: x:y\n        expr: sum(up)\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("rules/b.yml"),
            "groups:\n  - name: b\n    rules:\n      - alert: B\n        expr: up ==\n",
        )
        .unwrap();
        let base = dir.path();
        let ok = load_all(base, &["rules/a.yml".into()], Language::PromQL).unwrap();
        assert_eq!(ok.len(), 1);
        assert!(ok[0].file.ends_with("rules/a.yml"));
        let errs = load_all(base, &["rules/*.yml".into()], Language::PromQL).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("b.yml: group \"b\", rule 1, \"B\": could not parse expression"));
        let builtin = builtin().unwrap();
        let names: Vec<&str> = builtin.iter().map(|g| g.spec.name.as_str()).collect();
        assert_eq!(names, ["osprey-red", "osprey-use"]);
        let errs = load_all(base, &["rules/none.yml".into()], Language::PromQL).unwrap_err();
        assert!(errs[0].contains("no such file"), "{errs:?}");
        assert_eq!(resolve(Path::new("."), "r.yml"), "r.yml");
        assert_eq!(resolve(Path::new(""), "r.yml"), "r.yml");
        assert_eq!(
            resolve(Path::new("/etc/osprey"), "r.yml"),
            "/etc/osprey/r.yml"
        );
    }
}
