//! Severity levels: trace (1) < debug < info < warn < error < fatal (6); 0 is unset.
//! The full-text index stores a record's level and the languages compare levels, so
//! both take them from here.

/// Level names, in order from 1.
pub const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

/// Severity number (OTLP, 1–24) to level: 1 trace, 2 debug, 3 info, 4 warn, 5 error,
/// 6 fatal; 0 when unset or out of range.
pub fn level_of(severity_number: i32) -> u64 {
    if (1..=24).contains(&severity_number) {
        ((severity_number - 1) / 4 + 1) as u64
    } else {
        0
    }
}

/// A level by name, case-insensitive, with the usual aliases (`warning`, `err`,
/// `crit`, `critical`).
pub fn level_named(name: &str) -> Option<u64> {
    let n = name.to_ascii_lowercase();
    let n = match n.as_str() {
        "warning" => "warn",
        "err" => "error",
        "critical" | "crit" => "fatal",
        other => other,
    };
    LEVELS.iter().position(|l| *l == n).map(|i| i as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_map_to_levels() {
        assert_eq!(level_of(0), 0);
        assert_eq!(level_of(1), 1);
        assert_eq!(level_of(9), 3);
        assert_eq!(level_of(17), 5);
        assert_eq!(level_of(24), 6);
        assert_eq!(level_of(25), 0);
        assert_eq!(level_named("WARNING"), Some(4));
        assert_eq!(level_named("crit"), Some(6));
        assert_eq!(level_named("loud"), None);
    }
}
