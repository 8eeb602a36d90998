//! No crate but this one reads the tenant header: handlers take the tenant from the
//! request context the listeners' layers attach (issue 14, item 3). Crates' `src/`
//! folders are searched; clients that *send* the header (the capture clients, the
//! demo, the load generator, a querier asking ingesters) and tests, which send it as
//! clients do, are allowed.

use std::path::{Path, PathBuf};

/// Source folders that may name the header because they send it, as clients.
const SENDERS: &[&str] = &[
    "ingest/src/capture",
    "ingest/src/demo",
    "benches/",
    "query/src/cluster/",
    "ingest/src/cluster/mod.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != "node_modules" && name != ".git" {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_other_crate_reads_x_scope_orgid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    rust_files(root, &mut files);
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    let mut readers = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let crate_source = rel.starts_with("src/") || rel.contains("/src/");
        if !crate_source || rel.starts_with("auth/") || SENDERS.iter().any(|s| rel.starts_with(s)) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.to_ascii_lowercase().contains("x-scope-orgid") {
                readers.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "only osprey-auth reads the tenant header; take the tenant from RequestContext:\n{}",
        readers.join("\n")
    );
}
