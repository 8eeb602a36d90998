//! The indexes beside data files, each kept consistent with its file (written before
//! the file is renamed into place, rebuilt by compaction, deleted with it):
//! `fulltext` (tantivy index of a logs file's bodies and attributes, `<file>.fts`, with
//! the `| json` labels of its bodies, `json_fields`),
//! `tag_index` (`key=value` → rows of a spans file, `<file>.tags`), `trace_index`
//! (sorted trace ids of a spans file, `<file>.tids`), `terms` (a full-text
//! index's body terms laid flat for substring lookups, derived in memory) and `cache`
//! (the byte-budgeted cache of opened indexes).

pub mod cache;
pub mod fulltext;
pub mod json_fields;
pub mod tag_index;
pub mod terms;
pub mod trace_index;
