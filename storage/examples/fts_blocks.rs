//! Measures full-text index size when one document covers a block of rows:
//! `fts_blocks FILE.parquet...` (bodies of all files, in file order).
// A measuring tool run by hand: a bad argument panics with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use arrow::array::AsArray;
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};

fn main() {
    let mut bodies: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        let f = std::fs::File::open(&arg).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            let col = b.column_by_name("body").unwrap().as_string::<i32>();
            bodies.extend(col.iter().map(|s| s.unwrap_or("").to_string()));
        }
    }
    println!("{} rows", bodies.len());
    if std::env::var("NO_DIGITS").is_ok() {
        for b in bodies.iter_mut() {
            *b = osprey_storage::index::fulltext::tokens(b)
                .into_iter()
                .filter(|t| !t.chars().all(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    for block in [1usize, 64] {
        let mut sb = Schema::builder();
        let body = sb.add_text_field(
            "body",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("t")
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            ),
        );
        let index = tantivy::Index::create_in_ram(sb.build());
        index.tokenizers().register(
            "t",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
        let mut w = index
            .writer_with_num_threads::<tantivy::TantivyDocument>(1, 1 << 30)
            .unwrap();
        for chunk in bodies.chunks(block) {
            let mut doc = tantivy::TantivyDocument::new();
            for b in chunk {
                doc.add_text(body, b);
            }
            w.add_document(doc).unwrap();
        }
        w.commit().unwrap();
        let usage = index.reader().unwrap().searcher().space_usage().unwrap();
        let mut post = 0;
        let mut terms = 0;
        for s in usage.segments() {
            post += s.postings().total().get_bytes();
            terms += s.termdict().total().get_bytes();
        }
        println!(
            "block {block:>4}: postings {:.2} B/row, terms {:.2} B/row",
            post as f64 / bodies.len() as f64,
            terms as f64 / bodies.len() as f64
        );
    }
}
