//! CoNLL-2003 column format: `token POS chunk NER` per line, blank lines between sentences,
//! `-DOCSTART-` document markers skipped. Tags are normalised to IOB2.

use std::path::Path;

use crate::read::{lines, read_text};
use crate::{DataError, TaggedSentence};

/// The fixed NER tag vocabulary, in Hugging Face's `conll2003` order.
pub const CONLL_LABELS: [&str; 9] = [
    "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC",
];

/// A parsed CoNLL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConllFile {
    pub sentences: Vec<TaggedSentence>,
    /// Number of tokens over all sentences.
    pub tokens: usize,
    /// Number of `-DOCSTART-` markers.
    pub documents: usize,
    /// Number of tags rewritten from IOB1 to IOB2 (0 for a file already in IOB2).
    pub converted: usize,
}

/// Rewrites IOB1 tags to IOB2 in place and returns how many tags changed.
///
/// In IOB1 an entity starts with `I-` and `B-` only separates two adjacent entities of the
/// same type; in IOB2 every entity starts with `B-`. An `I-X` whose predecessor is neither
/// `B-X` nor `I-X` becomes `B-X`. Valid IOB2 input is left unchanged, so the conversion is safe
/// to apply to any file.
pub fn iob1_to_iob2(tags: &mut [String]) -> usize {
    let mut changed = 0;
    for i in 0..tags.len() {
        let Some(ty) = tags[i].strip_prefix("I-") else {
            continue;
        };
        let continues = i > 0 && {
            let prev = &tags[i - 1];
            prev.len() > 2 && (prev.starts_with("B-") || prev.starts_with("I-")) && &prev[2..] == ty
        };
        if !continues {
            tags[i] = format!("B-{ty}");
            changed += 1;
        }
    }
    changed
}

/// Reads a CoNLL column file. The token is the first field and the tag the last; every token
/// line must have the same number of space-separated fields (at least two). Tags are converted
/// from IOB1 to IOB2 where needed and mapped to ids of `labels`.
pub fn read_conll(path: &Path, labels: &[String]) -> Result<ConllFile, DataError> {
    let text = read_text(path)?;
    let rows = lines(&text);
    if rows.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.into(),
            expected: "CoNLL lines `token POS chunk NER` with blank lines between sentences".into(),
        });
    }
    let mut out = ConllFile {
        sentences: Vec::new(),
        tokens: 0,
        documents: 0,
        converted: 0,
    };
    let mut nfields: Option<usize> = None;
    let mut sentence = Sentence::default();
    for &(line, row) in &rows {
        if row.trim().is_empty() {
            sentence.flush(path, labels, &mut out)?;
            continue;
        }
        let fields: Vec<&str> = row.split_whitespace().collect();
        let expected = *nfields.get_or_insert(fields.len().max(2));
        if fields.len() != expected {
            return Err(DataError::FieldCount {
                path: path.into(),
                line,
                expected,
                found: fields.len(),
                sep: "space",
            });
        }
        if fields[0] == "-DOCSTART-" {
            // A document marker also ends any sentence before it.
            sentence.flush(path, labels, &mut out)?;
            out.documents += 1;
            continue;
        }
        sentence.push(fields[0], fields[expected - 1], line);
    }
    sentence.flush(path, labels, &mut out)?;
    if out.sentences.is_empty() {
        return Err(DataError::NoRows {
            path: path.into(),
            expected: "at least one sentence besides -DOCSTART- markers".into(),
        });
    }
    Ok(out)
}

/// The sentence being read: its tokens, their tags and the line of each tag (for errors).
#[derive(Default)]
struct Sentence {
    tokens: Vec<String>,
    tags: Vec<String>,
    tag_lines: Vec<usize>,
}

impl Sentence {
    fn push(&mut self, token: &str, tag: &str, line: usize) {
        self.tokens.push(token.to_string());
        self.tags.push(tag.to_string());
        self.tag_lines.push(line);
    }

    /// Ends the sentence (if any): IOB1 tags become IOB2, tags become label ids, and the
    /// sentence joins `out`.
    fn flush(
        &mut self,
        path: &Path,
        labels: &[String],
        out: &mut ConllFile,
    ) -> Result<(), DataError> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        out.converted += iob1_to_iob2(&mut self.tags);
        let ids = self
            .tags
            .iter()
            .zip(self.tag_lines.iter())
            .map(|(t, &line)| {
                labels
                    .iter()
                    .position(|l| l == t)
                    .ok_or_else(|| DataError::UnknownLabel {
                        path: path.into(),
                        line,
                        label: t.clone(),
                        expected: labels.to_vec(),
                    })
            })
            .collect::<Result<Vec<usize>, _>>()?;
        out.tokens += self.tokens.len();
        out.sentences.push(TaggedSentence {
            tokens: std::mem::take(&mut self.tokens),
            tags: ids,
        });
        self.tags.clear();
        self.tag_lines.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn iob1_becomes_iob2() {
        let mut t = s(&[
            "I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "I-MISC",
        ]);
        assert_eq!(iob1_to_iob2(&mut t), 4);
        assert_eq!(
            t,
            s(&["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG", "B-MISC"])
        );
        let mut iob2 = s(&["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]);
        let before = iob2.clone();
        assert_eq!(iob1_to_iob2(&mut iob2), 0);
        assert_eq!(iob2, before);
    }
}
