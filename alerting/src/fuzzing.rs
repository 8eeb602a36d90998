//! The fuzz targets of the alerting inputs (rule files and the ruler API's groups, rule
//! unit-test files, alertmanager.yml): one function per target, called by the
//! libFuzzer targets in `fuzz/` and by the stable run in the test command
//! (`fuzz/stable.rs`). Every refusal must say why.

use crate::rules::load::{Language, check_expr};

/// A rule file (both languages), a ruler-API group and a rule unit-test file.
pub fn rule_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::rules::file::parse(&text) {
        Ok(file) => {
            for language in [Language::PromQL, Language::LogQL] {
                let problems =
                    crate::rules::validate::validate(&file, &|e| check_expr(language, e));
                assert!(problems.iter().all(|p| !p.is_empty()), "an empty problem");
            }
        }
        Err(e) => assert!(!e.is_empty(), "a refusal without a reason"),
    }
    if let Err(e) = crate::rules::write::parse_group(&text) {
        assert!(!e.to_string().is_empty(), "a refusal without a reason");
    }
    if let Err(e) = crate::unittest::file::parse(&text) {
        assert!(!e.is_empty(), "a refusal without a reason");
    }
}

/// An alertmanager.yml: parsed, then compiled (routes, matchers, time intervals,
/// templates) unless it names files, which a fuzz input must not make the test read.
pub fn alertmanager(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::notify::config::parse(&text) {
        Ok(_) if !text.contains("_file") => {
            if let Err(e) = crate::notify::compile(&text) {
                assert!(!e.is_empty(), "a refusal without a reason");
            }
        }
        Ok(_) => {}
        Err(e) => assert!(!e.is_empty(), "a refusal without a reason"),
    }
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_rule_file() {
        super::stable::run("rule_file", super::rule_file);
    }

    #[test]
    fn fuzz_alertmanager() {
        super::stable::run("alertmanager", super::alertmanager);
    }
}
