//! RoBERTa, mirroring HF Transformers' `modeling_roberta.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/roberta/modeling_roberta.py>).
//!
//! The layers are BERT's ([`crate::layers::Layer`]); what differs:
//! - position ids come from the input ids as `create_position_ids_from_input_ids` makes them:
//!   non-padding tokens are numbered from `pad_token_id + 1`, padding tokens get
//!   `pad_token_id`. A model therefore takes at most `max_position_embeddings − pad_token_id − 1`
//!   tokens (512 for roberta-base's 514), which [`crate::Checkpoint::check_limits`] enforces;
//! - one token type (`type_vocab_size = 1`): the tokenizer's type ids are zeroed
//!   ([`crate::Checkpoint::tokenizer`]);
//! - no pooler: `RobertaForSequenceClassification` builds `RobertaModel` without one and
//!   classifies `<s>` with `RobertaClassificationHead` (dropout → `classifier.dense` → tanh →
//!   dropout → `classifier.out_proj`). A pooler in a pre-trained checkpoint is ignored on load.

use tch::nn;
use tch::{Kind, Tensor};

use crate::config::EncoderConfig;
use crate::encoder::{Encoder, EncoderOutput, Family, SequenceHead};
use crate::heads::FirstTokenHead;
use crate::layers::{
    mask_bias, run_layers, type_ids_or_zeros, Dropouts, Embeddings, EncoderInput, Layer,
};
use crate::params::ParamGroup;
use crate::ModelError;

/// The RoBERTa family (`model_type = "roberta"`).
#[derive(Debug)]
pub struct Roberta;

impl Family for Roberta {
    fn model_types(&self) -> &'static [&'static str] {
        &["roberta"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "roberta"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        // The MLM head, and the pooler `RobertaModel` carries but no classification uses.
        &["lm_head.", "pooler."]
    }
    /// One token type by design: the template's second-segment type ids are zeroed.
    fn zero_type_ids(&self, _config: &EncoderConfig) -> bool {
        true
    }
    fn max_positions(&self, config: &EncoderConfig) -> i64 {
        config.max_position_embeddings - config.pad_token_id - 1
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        _raw: &serde_json::Value,
        _path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        Ok(Box::new(RobertaModel::new(p, config)))
    }
}

/// `RobertaModel` without pooler.
#[derive(Debug)]
pub struct RobertaModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl RobertaModel {
    pub fn new(p: nn::Path, config: &EncoderConfig) -> Self {
        let layer_root = &p / "encoder" / "layer";
        RobertaModel {
            embeddings: Embeddings::new(&p / "embeddings", config, config.hidden_size),
            layers: (0..config.num_hidden_layers)
                .map(|i| Layer::new(&layer_root / i, config))
                .collect(),
            dropouts: Dropouts::from_config(config),
            config: config.clone(),
        }
    }
}

/// fairseq's `make_positions`: padding tokens get `pad`, the others `pad + 1, pad + 2, …`.
pub(crate) fn position_ids_from_input_ids(ids: &Tensor, pad: i64) -> Tensor {
    let mask = ids.ne(pad).to_kind(Kind::Int64);
    mask.cumsum(1, Kind::Int64) * &mask + pad
}

impl Encoder for RobertaModel {
    fn model_type(&self) -> &'static str {
        "roberta"
    }
    fn config(&self) -> &EncoderConfig {
        &self.config
    }
    fn num_layers(&self) -> usize {
        self.layers.len()
    }
    fn dropouts(&self) -> Dropouts {
        self.dropouts
    }
    fn set_dropouts(&mut self, dropouts: Dropouts) {
        self.dropouts = dropouts;
    }
    fn forward_t(
        &self,
        input: &EncoderInput,
        train: bool,
        all_hidden_states: bool,
    ) -> EncoderOutput {
        let ids = input.input_ids;
        let d = self.dropouts;
        let positions = position_ids_from_input_ids(ids, self.config.pad_token_id);
        let type_ids = type_ids_or_zeros(input);
        let h = self
            .embeddings
            .forward_t(ids, &type_ids, &positions, d.hidden, train);
        let bias = mask_bias(input.attention_mask, ids, h.kind());
        let (h, hidden_states) = run_layers(h, &self.layers, all_hidden_states, |layer, h| {
            layer.forward_t(h, &bias, &d, train)
        });
        EncoderOutput {
            last_hidden_state: h,
            pooled_output: None,
            hidden_states,
        }
    }
    fn param_group(&self, name: &str) -> ParamGroup {
        ParamGroup::of(name)
    }
    /// `RobertaClassificationHead` on `<s>`.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead> {
        Box::new(FirstTokenHead::new(
            p,
            self.config.hidden_size,
            outputs,
            dropout,
            self.config.initializer_range,
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_start_after_the_padding_index_and_padding_keeps_it() {
        let ids = Tensor::from_slice(&[0i64, 5, 6, 2, 1, 1]).view([1, 6]);
        let pos = position_ids_from_input_ids(&ids, 1);
        assert_eq!(
            Vec::<i64>::try_from(pos.view([-1])).unwrap(),
            [2, 3, 4, 5, 1, 1]
        );
    }
}
