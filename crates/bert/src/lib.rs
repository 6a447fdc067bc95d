//! BERT on tch (LibTorch) that computes what Hugging Face Transformers computes.
//!
//! - [`config`]: `config.json` with HF field names.
//! - [`tokenizer`]: WordPiece via the `tokenizers` crate, stab's truncation/padding policy.
//! - [`model`]: embeddings, encoder layers, pooler; every hidden state on request.
//! - [`heads`]: task heads initialised like HF from an explicit seed.
//! - [`params`]: which part of the model (embeddings, layer i, pooler, head) a parameter name is.
//! - [`load`]: strict `model.safetensors` loading (optional `bert.` prefix, legacy names).
//! - [`checkpoint`]: a checkpoint directory as a whole, and writing random ones for tests.
//!
//! Parity with HF (`BertModel`, eval mode) is tested against golden values produced by
//! `tests/golden/make_golden.py`, on all-MiniLM-L6-v2 and on a tiny random configuration.

use std::path::PathBuf;

pub mod checkpoint;
pub mod config;
pub mod heads;
pub mod load;
pub mod model;
pub mod params;
pub mod tokenizer;

pub use checkpoint::Checkpoint;
pub use config::{Activation, BertConfig};
pub use heads::LinearHead;
pub use load::{load_safetensors, LoadReport};
pub use model::{BertInput, BertModel, BertOutput, Dropouts};
pub use params::ParamGroup;
pub use tokenizer::{BertTokenizer, Encoded};

/// Errors of the model crate; every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the model path is empty: give a Hugging Face BERT checkpoint directory")]
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
