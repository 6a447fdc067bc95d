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
    EncodeInput, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::BertError;

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

/// A BERT tokenizer with stab's padding/truncation policy.
pub struct BertTokenizer {
    inner: Tokenizer,
    max_length: usize,
    pad_id: i64,
    /// Zero every token type id (models with one token type).
    zero_type_ids: bool,
}

impl BertTokenizer {
    /// Loads `tokenizer.json` from `dir`, else builds WordPiece from `vocab.txt`.
    pub fn from_dir(dir: &Path, lowercase: bool, max_length: usize) -> Result<Self, BertError> {
        let json = dir.join("tokenizer.json");
        let inner = if json.exists() {
            Tokenizer::from_file(&json).map_err(|e| BertError::Tokenizer {
                path: json.clone(),
                message: e.to_string(),
            })?
        } else {
            Self::from_vocab(&dir.join("vocab.txt"), lowercase)?
        };
        Self::new(inner, max_length, dir)
    }

    fn from_vocab(vocab: &Path, lowercase: bool) -> Result<Tokenizer, BertError> {
        let err = |message: String| BertError::Tokenizer {
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
        let mut tok = Tokenizer::new(model);
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

    fn new(mut inner: Tokenizer, max_length: usize, dir: &Path) -> Result<Self, BertError> {
        inner
            .with_padding(None)
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| BertError::Tokenizer {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        let pad_id = inner.token_to_id("[PAD]").unwrap_or(0) as i64;
        Ok(BertTokenizer {
            inner,
            max_length,
            pad_id,
            zero_type_ids: false,
        })
    }

    /// Pads with `pad_id` (the model's `pad_token_id`) instead of the tokenizer's `[PAD]`.
    pub fn with_pad_id(mut self, pad_id: i64) -> Self {
        self.pad_id = pad_id;
        self
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
    pub fn encode(&self, a: &str, b: Option<&str>) -> Result<Encoded, BertError> {
        let input: EncodeInput = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        let enc = self
            .inner
            .encode(input, true)
            .map_err(|e| BertError::Encode(e.to_string()))?;
        Ok(self.convert(&enc))
    }

    /// Encodes many inputs in parallel (rayon, inside `tokenizers`).
    pub fn encode_batch(&self, inputs: &[(&str, Option<&str>)]) -> Result<Vec<Encoded>, BertError> {
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
            .map_err(|e| BertError::Encode(e.to_string()))?;
        Ok(encs.iter().map(|e| self.convert(e)).collect())
    }

    /// Encodes pre-tokenised words (CoNLL), keeping the word index of every sub-token.
    pub fn encode_words(&self, words: &[String]) -> Result<Encoded, BertError> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let enc = self
            .inner
            .encode(words.as_slice(), true)
            .map_err(|e| BertError::Encode(e.to_string()))?;
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
