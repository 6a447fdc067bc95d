//! BERT-family encoders on tch (LibTorch) that compute what Hugging Face Transformers computes.
//!
//! - [`encoder`]: the [`Encoder`] and [`Family`] interfaces every family implements.
//! - [`registry`]: the one table that picks a family from `config.json`'s `model_type`
//!   ([`registry::FAMILIES`]).
//! - [`layers`]: the layers the families share (HF-initialised linear/LayerNorm/embedding,
//!   BERT's embeddings, attention, feed-forward and layer, the encoder loop, attention masks,
//!   [`Dropouts`], the input type [`EncoderInput`]). It imports no family.
//! - [`bert`], [`roberta`], [`electra`], [`albert`], [`deberta_v2`], [`modernbert`]: the
//!   families, each importing [`encoder`], [`layers`] and [`heads`], never each other.
//! - [`config`]: `config.json` with HF field names ([`EncoderConfig`], BERT's vocabulary for
//!   every family).
//! - [`tokenizer`]: WordPiece via the `tokenizers` crate, stab's truncation/padding policy.
//! - [`heads`]: task heads initialised like HF from an explicit seed (the linear head, and the
//!   sequence heads on the pooled output or the first token that several families share).
//! - [`params`]: which part of a model (embeddings, layer i, layers shared by all, pooler, head)
//!   a parameter is — the one classification every family's [`Encoder::param_group`] returns.
//! - [`load`]: strict `model.safetensors` loading (the family's prefix, legacy names; unknown
//!   tensors are errors unless they are a known pre-training head).
//! - [`checkpoint`]: a checkpoint directory as a whole, and writing random ones for tests.
//!
//! Parity with HF (`BertModel`, eval mode) is tested against golden values produced by
//! `tests/golden/make_golden.py`, on all-MiniLM-L6-v2 and on a tiny random configuration; the
//! other families against tiny random HF checkpoints made by `tests/fixtures/make_fixtures.py`
//! (hidden states, classification logits, one training step's loss and gradient norm).

use std::path::PathBuf;

pub mod albert;
pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod deberta_v2;
pub mod electra;
pub mod encoder;
pub mod heads;
pub mod layers;
pub mod load;
pub mod modernbert;
pub mod params;
pub mod registry;
pub mod roberta;
pub mod tokenizer;

pub use bert::{BertModel, BertOutput};
pub use checkpoint::Checkpoint;
pub use config::{Activation, EncoderConfig};
pub use encoder::{
    is_linear_weight, is_norm_param, Encoder, EncoderOutput, Family, LayerKnobs, SequenceHead,
};
pub use heads::LinearHead;
pub use layers::{Dropouts, EncoderInput};
pub use load::{load_checkpoint, load_safetensors, LoadReport};
pub use params::ParamGroup;
pub use registry::family_for;
pub use tokenizer::{Encoded, Tokenizer};

/// Errors of the model crate; every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the model path is empty: give a Hugging Face checkpoint directory (BERT, RoBERTa, ELECTRA, ALBERT, DeBERTa-v2/v3, ModernBERT)")]
    EmptyModelPath,
    #[error("model config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("tokenisation failed: {0}")]
    Encode(String),
    #[error("no weights at {path} (expected model.safetensors; convert pytorch_model.bin checkpoints to safetensors)")]
    NoWeights { path: PathBuf },
    #[error("weights file {path} could not be read (corrupt or not safetensors): {message}")]
    Weights { path: PathBuf, message: String },
    #[error("weights file {path} lacks {} tensor(s) the model needs: {}", names.len(), names.join(", "))]
    MissingWeights { path: PathBuf, names: Vec<String> },
    #[error("weights file {path} has {} tensor(s) a {model_type} model does not have: {}", names.len(), names.join(", "))]
    UnexpectedWeights {
        path: PathBuf,
        model_type: String,
        names: Vec<String>,
    },
    /// A run setting the model's structure gives no meaning (e.g. freezing one of ALBERT's
    /// shared layers).
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "weights file {path}: tensor `{name}` has shape {found:?}, the model expects {expected:?}"
    )]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    /// An input limit beyond what the model was built for (it would index past an embedding
    /// table inside LibTorch).
    #[error("{field} = {value} does not fit the model's {limit_name} = {limit} ({})", path.display())]
    Limit {
        field: String,
        value: i64,
        limit_name: &'static str,
        limit: i64,
        path: PathBuf,
    },
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
