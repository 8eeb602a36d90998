//! Loading: TOML file → `OSPREY_*` env overrides → flag overrides → typed `Config`,
//! collecting every problem instead of stopping at the first.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::{Table, Value};

use crate::Config;

/// One thing wrong with a configuration, tied to the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key (`server.http_addr`), or the file for syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// Loads `path` (or nothing: all defaults), then applies `overrides` in order.
///
/// `overrides` are `(dotted key, raw value)` pairs, e.g. from `OSPREY_SERVER_HTTP_ADDR` or
/// `--http-addr`; the raw value is read as a TOML value when it parses as one (numbers,
/// booleans) and as a string otherwise.
pub fn load(path: Option<&Path>, overrides: &[(String, String)]) -> Result<Config, ConfigError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
            path: p.display().to_string(),
            source,
        })?,
        None => String::new(),
    };
    let mut config = load_str(&text, overrides)?;
    if let Some(dir) = path.and_then(Path::parent) {
        config.base_dir = dir.to_path_buf();
    }
    Ok(config)
}

/// Like [`load`], from the file's text.
pub fn load_str(text: &str, overrides: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut table: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            return Err(ConfigError::Invalid(vec![Problem {
                key: "file".into(),
                message: format!("not valid TOML: {}", e.message()),
            }]));
        }
    };
    let mut problems = Vec::new();
    for (key, raw) in overrides {
        if let Err(p) = set_dotted(&mut table, key, raw) {
            problems.push(p);
        }
    }
    problems.extend(check_keys_and_values(&table));
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let config = Config::deserialize(Value::Table(table)).map_err(|e| {
        ConfigError::Invalid(vec![Problem {
            key: "file".into(),
            message: e.to_string(),
        }])
    })?;
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Environment variables `OSPREY_<SECTION>_<KEY>` for the known sections, as overrides.
/// Variables of other names (`OSPREY_LOG`, say) are not configuration and are ignored,
/// and so are the ones Kubernetes sets for a Service named `osprey-<section>` (its
/// service links: `OSPREY_QUERY_SERVICE_HOST`, `OSPREY_QUERY_PORT_9800_TCP`, ...).
pub fn env_overrides(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let sections = known_sections();
    let mut out: Vec<(String, String)> = vars
        .filter_map(|(name, value)| {
            let rest = name.strip_prefix("OSPREY_")?.to_ascii_lowercase();
            let (section, key) = rest.split_once('_')?;
            (sections.contains_key(section) && !is_service_link(key))
                .then(|| (format!("{section}.{key}"), value))
        })
        .collect();
    out.sort();
    out
}

/// Whether `key` (after `OSPREY_<SECTION>_`) has the shape of a Kubernetes service
/// link variable; no setting is named like one.
fn is_service_link(key: &str) -> bool {
    key == "service_host"
        || key == "service_port"
        || key.starts_with("service_port_")
        || key == "port"
        || key
            .strip_prefix("port_")
            .is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()))
}

fn known_sections() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

fn set_dotted(table: &mut Table, key: &str, raw: &str) -> Result<(), Problem> {
    let Some((section, field)) = key.split_once('.') else {
        return Err(Problem {
            key: key.into(),
            message: "expected <section>.<key>".into(),
        });
    };
    let value = parse_raw(raw);
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    match entry {
        Value::Table(t) => {
            t.insert(field.to_string(), value);
            Ok(())
        }
        _ => Err(Problem {
            key: section.into(),
            message: "expected a table".into(),
        }),
    }
}

fn parse_raw(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, Value::Table(_)))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Rejects unknown sections and keys, and type-checks every key on its own so that
/// one bad value does not hide the next.
fn check_keys_and_values(table: &Table) -> Vec<Problem> {
    let defaults = known_sections();
    let mut problems = Vec::new();
    for (section, value) in table {
        let Some(Value::Table(default_section)) = defaults.get(section) else {
            problems.push(Problem {
                key: section.clone(),
                message: format!(
                    "unknown section; expected one of: {}",
                    defaults.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
            continue;
        };
        let Value::Table(user_section) = value else {
            problems.push(Problem {
                key: section.clone(),
                message: "expected a table ([section])".into(),
            });
            continue;
        };
        // Sections whose keys are all optional (`limits`) or names (`overrides.<tenant>`)
        // have none in the defaults; serde names their unknown keys in the probe below.
        let open = matches!(section.as_str(), "limits" | "overrides");
        for (key, v) in user_section {
            let dotted = format!("{section}.{key}");
            if !open && !default_section.contains_key(key) {
                problems.push(Problem {
                    key: dotted,
                    message: format!(
                        "unknown key; expected one of: {}",
                        default_section
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                continue;
            }
            let mut probe = defaults.clone();
            if let Some(Value::Table(s)) = probe.get_mut(section) {
                s.insert(key.clone(), v.clone());
            }
            if let Err(e) = Config::deserialize(Value::Table(probe)) {
                problems.push(Problem {
                    key: dotted,
                    message: describe(key, &e.to_string()),
                });
            }
        }
    }
    problems
}

/// Adds the expected form to serde's message for the typed fields.
fn describe(key: &str, serde_message: &str) -> String {
    let expected = match key {
        k if k.ends_with("_addr") => "expected a socket address like \"127.0.0.1:9800\"",
        k if k.ends_with("_size") || k.ends_with("_limit") => {
            "expected a size like \"16MiB\" or a number of bytes"
        }
        k if k.ends_with("_interval")
            || k.ends_with("_timeout")
            || k.ends_with("_delta")
            || k.starts_with("retention_")
            || k == "partition" =>
        {
            "expected a duration like \"30s\", \"5m\" or \"1h\""
        }
        "timeout" => "expected a duration like \"30s\"",
        _ => "",
    };
    let msg = serde_message.lines().next().unwrap_or(serde_message).trim();
    if expected.is_empty() {
        msg.to_string()
    } else {
        format!("{msg} ({expected})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match load_str(text, &[]) {
            Err(ConfigError::Invalid(p)) => p,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(load_str("", &[]).unwrap(), Config::default());
    }

    #[test]
    fn reports_every_problem() {
        let p = problems(
            "[server]\nbogus = 1\nhttp_addr = \"not an addr\"\n[storage]\nflush_interval = \"soon\"\n[nope]\nx = 1\n",
        );
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"server.bogus"), "{p:?}");
        assert!(keys.contains(&"server.http_addr"), "{p:?}");
        assert!(keys.contains(&"storage.flush_interval"), "{p:?}");
        assert!(keys.contains(&"nope"), "{p:?}");
        let addr = p.iter().find(|p| p.key == "server.http_addr").unwrap();
        assert!(addr.message.contains("socket address"), "{addr}");
    }

    #[test]
    fn sizes_and_durations_parse() {
        let c = load_str(
            "[server]\nmax_body_size = \"1MiB\"\n[storage]\nflush_interval = \"5s\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.server.max_body_size.as_u64(), 1024 * 1024);
        assert_eq!(c.storage.flush_interval.as_secs(), 5);
    }

    #[test]
    fn overrides_apply_in_order_and_are_typed() {
        let env = env_overrides(
            [
                (
                    "OSPREY_SERVER_HTTP_ADDR".to_string(),
                    "127.0.0.1:1".to_string(),
                ),
                ("OSPREY_STORAGE_WAL_FSYNC".into(), "false".into()),
                ("OSPREY_BIN".into(), "/x".into()),
                // Kubernetes' service links of a Service named `osprey-query`.
                ("OSPREY_QUERY_SERVICE_HOST".into(), "10.0.0.1".into()),
                ("OSPREY_QUERY_SERVICE_PORT_HTTP".into(), "9800".into()),
                ("OSPREY_QUERY_PORT".into(), "tcp://10.0.0.1:9800".into()),
                ("OSPREY_QUERY_PORT_9800_TCP_ADDR".into(), "10.0.0.1".into()),
            ]
            .into_iter(),
        );
        assert_eq!(env.len(), 2);
        let c = load_str("", &env).unwrap();
        assert_eq!(c.server.http_addr.port(), 1);
        assert!(!c.storage.wal_fsync);
    }

    #[test]
    fn semantic_validation() {
        let p = problems("[storage]\nflush_size = \"1GiB\"\nmemtable_limit = \"1MiB\"\n");
        assert_eq!(p[0].key, "storage.memtable_limit");
        let p =
            problems("[server]\nhttp_addr = \"127.0.0.1:5\"\notlp_http_addr = \"127.0.0.1:5\"\n");
        assert_eq!(p[0].key, "server.otlp_http_addr");
        // A memory bound that leaves a flush no room is refused, naming what it needs.
        let p = problems("[server]\nmemory_limit = \"512MiB\"\n");
        assert_eq!(p[0].key, "server.memory_limit");
        assert!(
            p[0].message.contains("storage.flush_size 64.0 MiB"),
            "{}",
            p[0].message
        );
        assert!(
            p[0].message.contains("at least 768.0 MiB"),
            "{}",
            p[0].message
        );
        assert!(load_str("[server]\nmemory_limit = \"768MiB\"\n", &[]).is_ok());
    }

    #[test]
    fn object_store_locations() {
        use crate::StoreLocation;
        let c = load_str("[storage]\nobject_store = \"s3://osprey-data/a/b/\"\n", &[]).unwrap();
        assert_eq!(
            c.storage.store_location(),
            Ok(StoreLocation::S3 {
                bucket: "osprey-data".into(),
                prefix: "a/b".into()
            })
        );
        assert_eq!(
            load_str("", &[]).unwrap().storage.store_location(),
            Ok(StoreLocation::Local)
        );
        for bad in ["gs://x/y", "s3://", "s3://UPPER", "s3://a"] {
            let p = problems(&format!("[storage]\nobject_store = \"{bad}\"\n"));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert_eq!(p[0].key, "storage.object_store");
        }
        let p = problems("[storage]\ns3_endpoint = \"127.0.0.1:9000\"\n");
        assert_eq!(p[0].key, "storage.s3_endpoint");
    }
}
