//! One interface for every encoder family: [`Encoder`] (a built model) and [`Family`] (how a
//! family is recognised, configured, built and loaded).
//!
//! Training and feature extraction need the same few things from any BERT-like encoder: every
//! layer's hidden states, the input of the family's sequence-classification head, which
//! parameters are the embeddings / layer i / pooler / head (freezing, layer-wise learning-rate
//! decay and re-initialisation act on that classification), the number of layers, and a few
//! configuration facts. [`Encoder`] is that interface; [`crate::BertModel`] is one
//! implementation of it among the others ([`crate::roberta`], [`crate::electra`],
//! [`crate::albert`], [`crate::deberta_v2`], [`crate::modernbert`]).
//!
//! A family is chosen from `config.json`'s `model_type` by [`crate::registry::family_for`],
//! which reads the table [`crate::registry::FAMILIES`]. The table lives in its own module so
//! that the graph stays acyclic: family files import this module and [`crate::layers`], the
//! registry imports the families, and nothing imports the registry but the checkpoint code.
//!
//! Design decisions:
//! - Every encoder is built at the variable store's root with HF's *base model* names
//!   (`embeddings.word_embeddings.weight`, `encoder.layer.0…`); the task model's prefix
//!   (`roberta.`, `electra.`, `albert.`…) is stripped when loading ([`crate::load_checkpoint`]),
//!   and heads live beside the encoder under HF's names (`classifier.dense`, `classifier.out_proj`
//!   for RoBERTa/ELECTRA), so a fine-tuned HF task checkpoint loads as it is.
//! - The family's own classification head ([`Encoder::sequence_head`]) is what HF's
//!   `<Family>ForSequenceClassification` computes, initialised like HF (N(0, range), zero
//!   biases) from the caller's seed.
//! - Shared layers (ALBERT) are one parameter set used by every layer: "layer k" of the
//!   parameter classification is then [`ParamGroup::SharedLayers`], and knobs that act on some
//!   layers but not others are refused by [`Encoder::check_layer_knobs`] instead of silently
//!   touching all of them.

use std::fmt::Debug;
use std::path::Path;

use tch::nn;
use tch::Tensor;

use crate::config::EncoderConfig;
use crate::layers::{Dropouts, EncoderInput};
use crate::params::ParamGroup;
use crate::ModelError;

/// What an encoder returns.
pub struct EncoderOutput {
    /// [batch, seq, hidden]
    pub last_hidden_state: Tensor,
    /// [batch, hidden]: the pooler's output where the family has a pre-trained pooler inside
    /// the encoder (BERT, ALBERT); `None` otherwise (RoBERTa, ELECTRA: their heads pool).
    pub pooled_output: Option<Tensor>,
    /// On request: the input of the first layer followed by every layer's output (L + 1
    /// tensors), as HF's `output_hidden_states=True`.
    pub hidden_states: Option<Vec<Tensor>>,
}

/// The layer-wise knobs of a run, checked against the encoder's structure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerKnobs {
    /// Freeze the embeddings and the bottom k layers (0: none).
    pub freeze_layers: usize,
    /// Re-initialise the top k layers (0: none).
    pub reinit_layers: usize,
    /// Layer-wise learning-rate decay ξ (1: none).
    pub layerwise_lr_decay: f64,
}

impl LayerKnobs {
    /// Refuses layer counts beyond the `layers` a `model_type` model has: the check every
    /// family makes ([`Encoder::check_layer_knobs`]'s default), before its own.
    pub fn check_counts(&self, model_type: &str, layers: usize) -> Result<(), ModelError> {
        for (field, k) in [
            ("freeze_layers", self.freeze_layers),
            ("reinit_layers", self.reinit_layers),
        ] {
            if k > layers {
                return Err(ModelError::Unsupported(format!(
                    "{field} = {k} but the {model_type} model has {layers} layers"
                )));
            }
        }
        Ok(())
    }
}

/// A sequence-classification (or regression) head on top of an encoder.
pub trait SequenceHead: Debug {
    /// [batch, outputs] logits from the encoder's output.
    fn forward_t(&self, out: &EncoderOutput, train: bool) -> Tensor;
}

/// A BERT-like encoder; see the module docs.
pub trait Encoder: Debug {
    /// HF's `model_type` (`bert`, `roberta`…).
    fn model_type(&self) -> &'static str;

    /// The configuration facts training needs (sizes, dropouts, initializer range…), in BERT's
    /// vocabulary whatever the family.
    fn config(&self) -> &EncoderConfig;

    /// Number of encoder layers L (hidden states are L + 1).
    fn num_layers(&self) -> usize;

    fn hidden_size(&self) -> i64 {
        self.config().hidden_size
    }

    fn dropouts(&self) -> Dropouts;

    /// Overrides the dropout probabilities of the encoder.
    fn set_dropouts(&mut self, dropouts: Dropouts);

    /// Forward pass; with `all_hidden_states`, also every layer's input/output.
    fn forward_t(
        &self,
        input: &EncoderInput,
        train: bool,
        all_hidden_states: bool,
    ) -> EncoderOutput;

    /// The group of the variable `name` (a path in the variable store, `.`-separated):
    /// embeddings, layer i, shared layers, pooler or head. Freezing, layer-wise learning-rate
    /// decay and re-initialisation read only this.
    fn param_group(&self, name: &str) -> ParamGroup;

    /// Refuses layer-wise knobs that the structure gives no meaning (default: only counts
    /// beyond the number of layers).
    fn check_layer_knobs(&self, knobs: &LayerKnobs) -> Result<(), ModelError> {
        knobs.check_counts(self.model_type(), self.num_layers())
    }

    /// The family's sequence-classification head as HF's `<Family>ForSequenceClassification`
    /// builds it, with `outputs` outputs and classifier dropout `dropout`, created under `p`
    /// (the encoder's root). Its variables are the ones [`Encoder::head_prefixes`] names.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead>;

    /// Variable-name prefixes of [`Encoder::sequence_head`]'s variables (allowed to be missing
    /// from a pre-trained checkpoint).
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["classifier."]
    }
}

/// How a family is recognised, configured, built and loaded.
pub trait Family: Debug + Sync {
    /// HF's `model_type` values of the family.
    fn model_types(&self) -> &'static [&'static str];

    /// The prefix of the base model in HF task checkpoints (`bert`, `roberta`…), stripped on
    /// load.
    fn checkpoint_prefix(&self) -> &'static str;

    /// Prefixes (after stripping [`Family::checkpoint_prefix`]) of tensors in pre-training
    /// checkpoints that no stab model uses (MLM heads, discriminator heads…): ignored on load.
    /// Any other unused tensor is an error.
    fn ignored_prefixes(&self) -> &'static [&'static str];

    /// Parses `config.json` into the common configuration; `path` for error messages.
    fn config(&self, path: &Path, raw: &serde_json::Value) -> Result<EncoderConfig, ModelError> {
        EncoderConfig::from_json(path, &raw.to_string())
    }

    /// The number of positions an input may have (RoBERTa loses `pad_token_id + 1` of its
    /// `max_position_embeddings` to its position offset).
    fn max_positions(&self, config: &EncoderConfig) -> i64 {
        config.max_position_embeddings
    }

    /// Whether the tokenizer's type ids are replaced by zeros: for models that have no token
    /// types by design (RoBERTa's single row, ModernBERT, DeBERTa-v3's `type_vocab_size = 0`),
    /// whose HF tokenizers may still number the second segment 1. A BERT with one token type
    /// keeps them, so that sentence pairs are refused rather than silently merged.
    fn zero_type_ids(&self, config: &EncoderConfig) -> bool {
        config.type_vocab_size == 0
    }

    /// Builds the encoder's variables under `p` (HF initialisation).
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        raw: &serde_json::Value,
        path: &Path,
    ) -> Result<Box<dyn Encoder>, ModelError>;
}

/// Whether `name` is a parameter of a normalisation layer (`LayerNorm`, `norm`, `attn_norm`,
/// `final_norm`, ALBERT's `full_layer_layer_norm`…): such weights are re-initialised to 1 and
/// biases to 0, and get no weight decay (HF's `no_decay`, which names `LayerNorm.weight`).
pub fn is_norm_param(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(module, _)| module.to_ascii_lowercase().ends_with("norm"))
}

/// Whether `name`, a variable of `dims` dimensions, is the weight of a linear layer (what HF
/// builds as `nn.Linear`): a 2-D `…weight` whose module is not an embedding table
/// (`word_embeddings`, `rel_embeddings`, `tok_embeddings`…). Mixout acts on exactly these, as
/// Zhang et al.'s `run_glue.py` replaces every `nn.Linear`. ELECTRA's `embeddings_project` and
/// ALBERT's `embedding_hidden_mapping_in` are linear layers.
pub fn is_linear_weight(name: &str, dims: usize) -> bool {
    dims == 2
        && name.rsplit_once('.').is_some_and(|(module, leaf)| {
            leaf == "weight" && !module.to_ascii_lowercase().ends_with("embeddings")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_weights_are_told_from_embeddings_in_every_family() {
        for n in [
            "encoder.layer.0.attention.self.query.weight",
            "embeddings_project.weight",
            "encoder.embedding_hidden_mapping_in.weight",
            "encoder.albert_layer_groups.0.albert_layers.0.ffn.weight",
            "layers.0.attn.Wqkv.weight",
            "pooler.dense.weight",
            "classifier.out_proj.weight",
        ] {
            assert!(is_linear_weight(n, 2), "{n}");
        }
        for (n, d) in [
            ("embeddings.word_embeddings.weight", 2),
            ("encoder.rel_embeddings.weight", 2),
            ("embeddings.tok_embeddings.weight", 2),
            ("embeddings.LayerNorm.weight", 1),
            ("classifier.bias", 1),
        ] {
            assert!(!is_linear_weight(n, d), "{n}");
        }
    }

    #[test]
    fn norm_parameters_are_recognised_in_every_family() {
        for n in [
            "embeddings.LayerNorm.weight",
            "encoder.layer.0.output.LayerNorm.bias",
            "encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight",
            "layers.1.attn_norm.weight",
            "final_norm.weight",
            "head.norm.weight",
        ] {
            assert!(is_norm_param(n), "{n}");
        }
        for n in [
            "encoder.layer.0.output.dense.weight",
            "classifier.weight",
            "pooler.weight",
        ] {
            assert!(!is_norm_param(n), "{n}");
        }
    }
}
