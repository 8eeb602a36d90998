// A measuring tool run by hand: a bad argument panics with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Prints where the bytes of full-text indexes go: `fts_usage FILE.parquet...`.
fn main() {
    let root = osprey_storage::files::blobs::Blobs::local(std::path::Path::new("/")).expect("root");
    for arg in std::env::args().skip(1) {
        let abs = std::fs::canonicalize(&arg).expect("path");
        let rel = abs.to_string_lossy().trim_start_matches('/').to_string();
        match osprey_storage::index::fulltext::TextIndex::open(&root, &rel) {
            Ok(index) => {
                println!("{arg}: {} bytes", index.bytes());
                for (what, bytes) in index.space_usage() {
                    println!("  {what:<24} {bytes:>12}");
                }
            }
            Err(e) => eprintln!("{arg}: {e}"),
        }
    }
}
