//! Prints where the bytes of full-text indexes go: `fts_usage FILE.parquet...`.
fn main() {
    for arg in std::env::args().skip(1) {
        match osprey_storage::fulltext::TextIndex::open(std::path::Path::new(&arg)) {
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
