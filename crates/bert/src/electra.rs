//! The ELECTRA discriminator, mirroring HF Transformers' `modeling_electra.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/electra/modeling_electra.py>).
//!
//! BERT's layers on factorised embeddings: embeddings of width `embedding_size`, projected to
//! `hidden_size` by `embeddings_project` when the two differ (hidden state 0 is the projected
//! one, as HF's). No pooler: `ElectraForSequenceClassification` classifies the first token
//! with `ElectraClassificationHead` (dropout → `classifier.dense` → GELU → dropout →
//! `classifier.out_proj`). Generator and replaced-token-detection heads of pre-training
//! checkpoints are ignored on load.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::EncoderConfig;
use crate::encoder::{Encoder, EncoderOutput, Family, SequenceHead};
use crate::heads::FirstTokenHead;
use crate::layers::{
    linear, mask_bias, run_layers, type_ids_or_zeros, Dropouts, Embeddings, EncoderInput, Layer,
};
use crate::params::ParamGroup;
use crate::ModelError;

/// The ELECTRA family (`model_type = "electra"`).
#[derive(Debug)]
pub struct Electra;

impl Family for Electra {
    fn model_types(&self) -> &'static [&'static str] {
        &["electra"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "electra"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        &[
            "discriminator_predictions.",
            "generator_predictions.",
            "generator_lm_head.",
        ]
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        _raw: &serde_json::Value,
        _path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        Ok(Box::new(ElectraModel::new(p, config)))
    }
}

/// `ElectraModel`.
#[derive(Debug)]
pub struct ElectraModel {
    embeddings: Embeddings,
    embeddings_project: Option<nn::Linear>,
    layers: Vec<Layer>,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl ElectraModel {
    pub fn new(p: nn::Path, config: &EncoderConfig) -> Self {
        let e = config.embedding_size.unwrap_or(config.hidden_size);
        let layer_root = &p / "encoder" / "layer";
        ElectraModel {
            embeddings: Embeddings::new(&p / "embeddings", config, e),
            embeddings_project: (e != config.hidden_size).then(|| {
                linear(
                    &p / "embeddings_project",
                    e,
                    config.hidden_size,
                    config.initializer_range,
                )
            }),
            layers: (0..config.num_hidden_layers)
                .map(|i| Layer::new(&layer_root / i, config))
                .collect(),
            dropouts: Dropouts::from_config(config),
            config: config.clone(),
        }
    }
}

impl Encoder for ElectraModel {
    fn model_type(&self) -> &'static str {
        "electra"
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
        let positions = Tensor::arange(ids.size()[1], (Kind::Int64, ids.device())).unsqueeze(0);
        let type_ids = type_ids_or_zeros(input);
        let mut h = self
            .embeddings
            .forward_t(ids, &type_ids, &positions, d.hidden, train);
        if let Some(project) = &self.embeddings_project {
            h = project.forward(&h);
        }
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
        ParamGroup::of_bert_layout(name, &["embeddings_project."])
    }
    /// `ElectraClassificationHead` on the first token.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead> {
        Box::new(FirstTokenHead::new(
            p,
            self.config.hidden_size,
            outputs,
            dropout,
            self.config.initializer_range,
            true,
        ))
    }
}
