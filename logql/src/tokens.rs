//! Words of a text: maximal runs of alphanumeric characters (`char::is_alphanumeric`),
//! lowercased character by character (`char::to_lowercase`: a final `Σ` becomes `σ`,
//! not the `ς` that `str::to_lowercase` would give).
//!
//! This is the rule of the full-text index (tantivy's `SimpleTokenizer` followed by its
//! `LowerCaser`), written here without tantivy so that the languages need no index
//! library; `storage/src/index/fulltext.rs` has the property test that keeps the two
//! equal on arbitrary Unicode.

/// The words of `text`.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    Tokenizer::default().each(text, |t| {
        out.push(t.to_string());
        true
    });
    out
}

/// Cuts many texts with one reusable buffer (checking rows one by one).
#[derive(Default)]
pub struct Tokenizer {
    buf: String,
}

impl Tokenizer {
    /// Calls `f` with each word of `text`, in order, until it returns false.
    pub fn each(&mut self, text: &str, mut f: impl FnMut(&str) -> bool) {
        let mut rest = text;
        while let Some(start) = rest.find(char::is_alphanumeric) {
            let run = &rest[start..];
            let end = run
                .find(|c: char| !c.is_alphanumeric())
                .unwrap_or(run.len());
            let word = &run[..end];
            rest = &run[end..];
            self.buf.clear();
            if word.is_ascii() {
                self.buf.push_str(word);
                self.buf.make_ascii_lowercase();
            } else {
                self.buf.extend(word.chars().flat_map(char::to_lowercase));
            }
            if !f(&self.buf) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            tokens("Payment FAILED: card_declined (ord-17)"),
            ["payment", "failed", "card", "declined", "ord", "17"]
        );
        assert_eq!(
            tokens("Ünïcode ÉTÉ 東京 x²"),
            ["ünïcode", "été", "東京", "x²"]
        );
        assert!(tokens(" --- ").is_empty());
        let mut first = Vec::new();
        Tokenizer::default().each("a b c", |t| {
            first.push(t.to_string());
            false
        });
        assert_eq!(first, ["a"]);
    }
}
