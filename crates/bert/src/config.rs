//! `config.json` of a Hugging Face BERT checkpoint.
//!
//! Field names are HF's (`EncoderConfig` in `configuration_bert.py`). Unknown keys are tolerated
//! (checkpoints carry many), missing required ones are an error naming the key and the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Activation of the intermediate (feed-forward) layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU, x·Φ(x) (HF `gelu`).
    Gelu,
    /// tanh approximation of GELU (HF `gelu_new`, `gelu_pytorch_tanh`).
    #[serde(alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluNew,
    Relu,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_type_vocab_size() -> i64 {
    2
}
fn default_pad_token_id() -> i64 {
    0
}

/// BERT hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: i64,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_pad_token_id")]
    pub pad_token_id: i64,
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    #[serde(default)]
    pub num_labels: Option<i64>,
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Tokenizer hint used only when there is no tokenizer.json (vocab.txt fallback).
    #[serde(default)]
    pub do_lower_case: Option<bool>,
    /// HF's `model_type` (`bert`, `roberta`, `electra`, `albert`…): picks the family
    /// ([`crate::encoder::family_for`]); absent in old BERT checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Width of the token embeddings where it differs from `hidden_size` (ELECTRA, ALBERT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_size: Option<i64>,
}

const REQUIRED: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
];

impl EncoderConfig {
    /// Reads `config.json`.
    pub fn from_file(path: &Path) -> Result<EncoderConfig, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &text)
    }

    /// Parses config JSON; `path` is used in error messages.
    pub fn from_json(path: &Path, text: &str) -> Result<EncoderConfig, ModelError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Config {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let obj = value.as_object().ok_or_else(|| ModelError::Config {
            path: path.to_path_buf(),
            message: "expected a JSON object".into(),
        })?;
        if let Some(missing) = REQUIRED.iter().find(|k| !obj.contains_key(**k)) {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                message: format!("missing required key `{missing}`"),
            });
        }
        let config: EncoderConfig =
            serde_json::from_value(value).map_err(|e| ModelError::Config {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if config.hidden_size % config.num_attention_heads != 0 {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                message: format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    config.hidden_size, config.num_attention_heads
                ),
            });
        }
        Ok(config)
    }

    /// A tiny random configuration for tests (2 layers, hidden 32).
    pub fn tiny(vocab_size: i64) -> EncoderConfig {
        EncoderConfig {
            vocab_size,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            classifier_dropout: None,
            num_labels: None,
            id2label: None,
            do_lower_case: None,
            model_type: None,
            embedding_size: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_key_is_named_with_the_file() {
        let err = EncoderConfig::from_json(
            Path::new("m/config.json"),
            r#"{"vocab_size": 10, "hidden_size": 8}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("num_hidden_layers"), "{err}");
        assert!(err.contains("m/config.json"), "{err}");
    }

    #[test]
    fn unknown_keys_are_tolerated_and_activations_parse() {
        let mut v = serde_json::to_value(EncoderConfig::tiny(100)).unwrap();
        v["hidden_act"] = "gelu_new".into();
        v["gradient_checkpointing"] = false.into();
        let c = EncoderConfig::from_json(Path::new("c.json"), &v.to_string()).unwrap();
        assert_eq!(c.hidden_act, Activation::GeluNew);
    }
}
