//! The fuzz target of dashboard JSON, called by the libFuzzer target in `fuzz/` and by
//! the stable run in the test command (`fuzz/stable.rs`).

/// A dashboard body as the API reads it: JSON, then Grafana's model's title and tags,
/// or a refusal that says why.
pub fn dashboard(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let inner = v.get("dashboard").cloned().unwrap_or(v);
    match crate::dashboards::describe(&inner) {
        Ok((title, tags)) => {
            assert!(!title.is_empty(), "a dashboard without a title accepted");
            assert!(tags.iter().all(|t| !t.is_empty()), "an empty tag kept");
        }
        Err(e) => assert!(!e.to_string().is_empty(), "a refusal without a reason"),
    }
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_dashboard() {
        super::stable::run("dashboard", super::dashboard);
    }
}
