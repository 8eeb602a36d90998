//! The fuzz target of the configuration, called by the libFuzzer target in `fuzz/` and
//! by the stable run in the test command (`fuzz/stable.rs`).

/// A config file's text, with the lines after a `---` line read as `KEY=value`
/// environment overrides: loaded, or refused with every problem named.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (file, env) = text.split_once("\n---\n").unwrap_or((&text, ""));
    let vars = env.lines().filter_map(|l| {
        l.split_once('=')
            .map(|(k, v)| (format!("OSPREY_{k}"), v.to_string()))
    });
    let overrides = crate::env_overrides(vars);
    match crate::load_str(file, &overrides) {
        Ok(c) => assert!(c.validate().is_empty(), "a config accepted with problems"),
        Err(e) => assert!(!e.to_string().is_empty(), "a refusal without a reason"),
    }
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_config() {
        super::stable::run("config", super::config);
    }
}
