//! The fuzz target of the PromQL parser, called by the libFuzzer target in `fuzz/` and
//! by the stable run in the test command (`fuzz/stable.rs`).

/// PromQL: parsed (with the 2.42 function set's checks) or refused with a reason.
pub fn promql(data: &[u8]) {
    if let Err(e) = crate::parse(&String::from_utf8_lossy(data)) {
        assert!(!e.to_string().is_empty(), "an error without a reason");
    }
}

#[cfg(test)]
#[path = "../../fuzz/stable.rs"]
mod stable;

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_promql() {
        super::stable::run("promql", super::promql);
    }
}
