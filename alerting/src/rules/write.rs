//! Rule groups written through the API (the ruler configuration API of Cortex and
//! Mimir: `POST /config/v1/rules/{namespace}` with one group in YAML, `DELETE
//! /config/v1/rules/{namespace}/{group}`), into the tenant's rules directory:
//! `<rules.tenant_dir>/<tenant>/<namespace>.yml`, read back like any rule file.
//!
//! A group is checked as a file's would be before anything is written; the file is
//! replaced atomically (a temporary file, fsynced, renamed, the directory fsynced),
//! so a crash leaves the old file or the new one. The caller reloads, and puts the
//! previous text back when the reload refuses the new set.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::file::{GroupSpec, RuleFile, parse};
use super::load::{Language, check_expr};
use super::validate::validate;
use crate::error::AlertingError;

/// `<base>/<tenant_dir>/<tenant>/<namespace>.yml`; an error when rules cannot be
/// written (no `tenant_dir`) or the namespace is not a plain file name.
pub fn group_file(
    base: &Path,
    tenant_dir: &str,
    tenant: &str,
    namespace: &str,
) -> Result<PathBuf, AlertingError> {
    if tenant_dir.is_empty() {
        return Err(AlertingError::Invalid(
            "rule groups cannot be written: set [rules] tenant_dir to the directory of the tenants' rule files".into(),
        ));
    }
    let ok = !namespace.is_empty()
        && namespace.len() <= 100
        && !namespace.starts_with('.')
        && !namespace.ends_with(".logql")
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        return Err(AlertingError::Invalid(format!(
            "namespace {namespace:?} must be 1 to 100 letters, digits, '-', '_' or '.' (not starting with '.', not ending with \".logql\")"
        )));
    }
    Ok(base
        .join(tenant_dir)
        .join(tenant)
        .join(format!("{namespace}.yml")))
}

/// One PromQL rule group from its YAML, checked as a rule file's group is.
/// Aliases may repeat a scalar; expanded, a group's scalars may take at most this many
/// times its body (at least [`MIN_SCALAR_BYTES`]): a 132 KB body whose aliases made a
/// 13 MB rule file was accepted before.
const SCALAR_AMPLIFICATION: usize = 4;
const MIN_SCALAR_BYTES: usize = 256 * 1024;

pub fn parse_group(body: &str) -> Result<GroupSpec, AlertingError> {
    let most = body
        .len()
        .saturating_mul(SCALAR_AMPLIFICATION)
        .max(MIN_SCALAR_BYTES);
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_total_scalar_bytes: most },
    };
    let group: GroupSpec = serde_saphyr::from_str_with_options(body, options).map_err(|e| {
        let e = e.to_string();
        AlertingError::Invalid(if e.contains("budget breached") {
            format!("the rule group expands past {most} bytes (its aliases repeat too much): {e}")
        } else {
            format!("the rule group is not valid YAML: {e}")
        })
    })?;
    let file = RuleFile {
        groups: vec![group],
    };
    let problems = validate(&file, &|e| check_expr(Language::PromQL, e));
    if !problems.is_empty() {
        return Err(AlertingError::Invalid(problems.join("; ")));
    }
    file.groups
        .into_iter()
        .next()
        .ok_or_else(|| AlertingError::Invalid("no rule group".into()))
}

/// The file's text now (None: there is no file).
pub fn current(path: &Path) -> Result<Option<String>, AlertingError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

fn io(path: &Path, e: std::io::Error) -> AlertingError {
    // Refused as a full disk (507), not as a broken file.
    if osprey_storage::is_no_space(&e) {
        return AlertingError::DiskFull {
            file: path.display().to_string(),
        };
    }
    AlertingError::RuleFile {
        file: path.display().to_string(),
        message: e.to_string(),
    }
}

fn groups_of(path: &Path, text: Option<&str>) -> Result<Vec<GroupSpec>, AlertingError> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => parse(t)
            .map(|f| f.groups)
            .map_err(|message| AlertingError::RuleFile {
                file: path.display().to_string(),
                message,
            }),
    }
}

/// Replaces the group of the same name in the file (or appends it).
pub fn upsert(path: &Path, previous: Option<&str>, group: GroupSpec) -> Result<(), AlertingError> {
    let mut groups = groups_of(path, previous)?;
    match groups.iter_mut().find(|g| g.name == group.name) {
        Some(g) => *g = group,
        None => groups.push(group),
    }
    write_groups(path, groups)
}

/// Removes group `name` from the file (the file goes with its last group).
pub fn remove(path: &Path, previous: Option<&str>, name: &str) -> Result<(), AlertingError> {
    let mut groups = groups_of(path, previous)?;
    let before = groups.len();
    groups.retain(|g| g.name != name);
    if groups.len() == before {
        return Err(AlertingError::NotFound(format!(
            "no rule group {name:?} in this namespace"
        )));
    }
    if groups.is_empty() {
        return std::fs::remove_file(path).map_err(|e| io(path, e));
    }
    write_groups(path, groups)
}

/// Puts `previous` back (or removes the file it did not exist before).
pub fn restore(path: &Path, previous: Option<&str>) -> Result<(), AlertingError> {
    match previous {
        Some(t) => write_atomic(path, t),
        None => match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(path, e)),
        },
    }
}

/// The groups as a rule file. JSON is YAML, and serde writes it without another crate.
fn write_groups(path: &Path, groups: Vec<GroupSpec>) -> Result<(), AlertingError> {
    let text = serde_json::to_string_pretty(&RuleFile { groups }).map_err(|e| {
        AlertingError::RuleFile {
            file: path.display().to_string(),
            message: e.to_string(),
        }
    })?;
    write_atomic(path, &format!("{text}\n"))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), AlertingError> {
    let dir = path
        .parent()
        .ok_or_else(|| io(path, std::io::Error::other("no parent directory")))?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = path.with_extension("yml.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_added_replaced_and_removed_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = group_file(dir.path(), "tenants", "t1", "dashboards").expect("path");
        let g = parse_group("name: red\nrules:\n  - alert: Slow\n    expr: vector(1) > 0\n    for: 5m\n    labels: {severity: page}\n").expect("group");
        upsert(&path, None, g.clone()).expect("write");
        let text = current(&path).expect("read").expect("file");
        assert_eq!(parse(&text).expect("parses").groups, vec![g.clone()]);
        let mut g2 = g.clone();
        g2.name = "use".into();
        upsert(&path, Some(&text), g2).expect("append");
        let text = current(&path).expect("read").expect("file");
        assert_eq!(parse(&text).expect("parses").groups.len(), 2);
        remove(&path, Some(&text), "red").expect("remove");
        let text = current(&path).expect("read").expect("file");
        assert_eq!(parse(&text).expect("parses").groups[0].name, "use");
        assert!(matches!(
            remove(&path, Some(&text), "red"),
            Err(AlertingError::NotFound(_))
        ));
        remove(&path, Some(&text), "use").expect("last group");
        assert!(current(&path).expect("read").is_none());
    }

    #[test]
    fn bad_input_is_named() {
        let base = Path::new("/x");
        assert!(
            matches!(group_file(base, "", "t", "n"), Err(AlertingError::Invalid(m)) if m.contains("tenant_dir"))
        );
        for ns in ["../etc", ".hidden", "a/b", "", "x.logql"] {
            assert!(group_file(base, "d", "t", ns).is_err(), "{ns}");
        }
        let e =
            parse_group("name: g\nrules:\n  - alert: A\n    expr: sum(\n").expect_err("bad expr");
        assert!(e.to_string().contains("A"), "{e}");
        assert!(parse_group("name: [").is_err());
    }
}
