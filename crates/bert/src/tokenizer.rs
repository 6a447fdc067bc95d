//! WordPiece tokenisation through the `tokenizers` crate (the engine of HF's fast tokenizers).
//!
//! Checkpoints ship `tokenizer.json` with padding and truncation baked in (all-MiniLM-L6-v2:
//! pad and truncate to 128). stab overrides both: padding is disabled (batches are padded
//! dynamically by the trainer) and truncation is longest-first at the run's `max_length`, as
//! HF's `tokenizer(a, b, truncation=True, max_length=L)`. Without a tokenizer.json, a BERT
//! WordPiece pipeline is built from `vocab.txt`, lower-casing as the config says.

use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    EncodeInput, Tokenizer as HfTokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::ModelError;

/// One encoded input: ids, token type ids and attention mask (all ones: no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    /// For each token, the index of the input word it came from (pre-tokenised input only).
    pub word_ids: Vec<Option<u32>>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The id a tokenizer pads with by its own files: `tokenizer.json`'s padding settings, else its
/// `[PAD]` (WordPiece, SentencePiece of DeBERTa-v3) or `<pad>` (byte-level BPE of RoBERTa) token.
fn own_pad_id(t: &HfTokenizer) -> Option<i64> {
    t.get_padding()
        .map(|p| p.pad_id)
        .or_else(|| t.token_to_id("[PAD]"))
        .or_else(|| t.token_to_id("<pad>"))
        .map(i64::from)
}

/// A tokenizer (any family's) with stab's padding/truncation policy.
pub struct Tokenizer {
    inner: HfTokenizer,
    max_length: usize,
    pad_id: i64,
    /// Zero every token type id (models with one token type).
    zero_type_ids: bool,
}

impl Tokenizer {
    /// Loads `tokenizer.json` from `dir`, else builds WordPiece from `vocab.txt`.
    ///
    /// Batches are padded with `pad_id` where the caller knows it (a checkpoint's
    /// `pad_token_id`), else with the tokenizer's own padding id: the one `tokenizer.json`'s
    /// padding settings name, else the id of its `[PAD]` or `<pad>` token. A tokenizer with
    /// none of these is an error naming its file: padding with a guessed id would feed the
    /// model tokens it never saw as padding.
    pub fn from_dir(
        dir: &Path,
        lowercase: bool,
        max_length: usize,
        pad_id: Option<i64>,
    ) -> Result<Self, ModelError> {
        let json = dir.join("tokenizer.json");
        let (inner, file) = if json.exists() {
            let inner = HfTokenizer::from_file(&json).map_err(|e| ModelError::Tokenizer {
                path: json.clone(),
                message: e.to_string(),
            })?;
            (inner, json)
        } else {
            let vocab = dir.join("vocab.txt");
            (Self::from_vocab(&vocab, lowercase)?, vocab)
        };
        Self::new(inner, max_length, pad_id, &file)
    }

    fn from_vocab(vocab: &Path, lowercase: bool) -> Result<HfTokenizer, ModelError> {
        let err = |message: String| ModelError::Tokenizer {
            path: vocab.to_path_buf(),
            message,
        };
        if !vocab.exists() {
            return Err(err(
                "neither tokenizer.json nor vocab.txt found in the model directory".into(),
            ));
        }
        let model = WordPiece::from_file(&vocab.to_string_lossy())
            .unk_token("[UNK]".into())
            .build()
            .map_err(|e| err(e.to_string()))?;
        let mut tok = HfTokenizer::new(model);
        let id = |t: &str| {
            tok.token_to_id(t)
                .ok_or_else(|| err(format!("vocabulary has no {t} token")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        tok.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(BertProcessing::new(
                ("[SEP]".into(), sep),
                ("[CLS]".into(), cls),
            )));
        Ok(tok)
    }

    /// `file`: the tokenizer's file, for error messages.
    fn new(
        mut inner: HfTokenizer,
        max_length: usize,
        pad_id: Option<i64>,
        file: &Path,
    ) -> Result<Self, ModelError> {
        let pad_id = match pad_id.or_else(|| own_pad_id(&inner)) {
            Some(id) => id,
            None => {
                return Err(ModelError::Tokenizer {
                    path: file.to_path_buf(),
                    message: "no pad id: the tokenizer has no padding settings and no [PAD] or \
                              <pad> token, and the model's config.json gives no pad_token_id"
                        .into(),
                })
            }
        };
        inner
            .with_padding(None)
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| ModelError::Tokenizer {
                path: file.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Tokenizer {
            inner,
            max_length,
            pad_id,
            zero_type_ids: false,
        })
    }

    /// Type ids of zero for every token: for models with a single token type (RoBERTa's
    /// template gives the second segment type 1, which its one-row embedding cannot take).
    pub fn without_type_ids(mut self) -> Self {
        self.zero_type_ids = true;
        self
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The largest id the tokenizer can produce (added tokens included).
    pub fn max_token_id(&self) -> Option<u32> {
        self.inner.get_vocab(true).into_values().max()
    }

    /// Encodes a single sentence or a pair.
    pub fn encode(&self, a: &str, b: Option<&str>) -> Result<Encoded, ModelError> {
        let input: EncodeInput = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        let enc = self
            .inner
            .encode(input, true)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        Ok(self.convert(&enc))
    }

    /// Encodes many inputs in parallel (rayon, inside `tokenizers`).
    pub fn encode_batch(
        &self,
        inputs: &[(&str, Option<&str>)],
    ) -> Result<Vec<Encoded>, ModelError> {
        let inputs: Vec<EncodeInput> = inputs
            .iter()
            .map(|(a, b)| match b {
                Some(b) => (*a, *b).into(),
                None => (*a).into(),
            })
            .collect();
        let encs = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        Ok(encs.iter().map(|e| self.convert(e)).collect())
    }

    /// Encodes pre-tokenised words (CoNLL), keeping the word index of every sub-token.
    pub fn encode_words(&self, words: &[String]) -> Result<Encoded, ModelError> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let enc = self
            .inner
            .encode(words.as_slice(), true)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        Ok(self.convert(&enc))
    }

    fn convert(&self, enc: &tokenizers::Encoding) -> Encoded {
        let widen = |v: &[u32]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
        let mut type_ids = widen(enc.get_type_ids());
        if self.zero_type_ids {
            type_ids.iter_mut().for_each(|t| *t = 0);
        }
        Encoded {
            ids: widen(enc.get_ids()),
            type_ids,
            attention_mask: widen(enc.get_attention_mask()),
            word_ids: enc.get_word_ids().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab_dir(tokens: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vocab.txt"), tokens.join("\n") + "\n").unwrap();
        dir
    }

    #[test]
    fn a_tokenizer_without_a_pad_token_or_pad_id_is_an_error_naming_its_file() {
        let dir = vocab_dir(&["[UNK]", "[CLS]", "[SEP]", "hello"]);
        let err = Tokenizer::from_dir(dir.path(), true, 16, None)
            .err()
            .expect("no pad id anywhere");
        let msg = err.to_string();
        assert!(msg.contains("vocab.txt"), "{msg}");
        assert!(msg.contains("pad"), "{msg}");
    }

    #[test]
    fn the_pad_id_comes_from_the_caller_else_from_the_pad_token() {
        let with_pad = vocab_dir(&["[UNK]", "[CLS]", "[SEP]", "[PAD]", "hello"]);
        let tok = Tokenizer::from_dir(with_pad.path(), true, 16, None).unwrap();
        assert_eq!(tok.pad_id(), 3);
        let tok = Tokenizer::from_dir(with_pad.path(), true, 16, Some(1)).unwrap();
        assert_eq!(tok.pad_id(), 1);
        let without = vocab_dir(&["[UNK]", "[CLS]", "[SEP]", "hello"]);
        let tok = Tokenizer::from_dir(without.path(), true, 16, Some(0)).unwrap();
        assert_eq!(tok.pad_id(), 0);
    }
}
