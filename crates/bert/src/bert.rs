//! The BERT encoder, mirroring Hugging Face Transformers' `modeling_bert.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/bert/modeling_bert.py>).
//!
//! `BertModel` is embeddings, [`Layer`]s and a pooler; the embeddings and layers are the shared
//! ones of [`crate::layers`] (RoBERTa and ELECTRA use them too), the pooler (dense + tanh on
//! `[CLS]`) and the sequence head on its output are BERT's.
//!
//! Variables are created with HF's initialisation (`BertPreTrainedModel._init_weights`):
//! N(0, initializer_range) for linear and embedding weights, zero biases, LayerNorm 1/0. A
//! checkpoint overwrites them; what it does not cover (new heads, re-initialised layers) keeps
//! this initialisation, drawn from LibTorch's generator after `tch::manual_seed(init_seed)`.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::EncoderConfig;
use crate::encoder::{Encoder, EncoderOutput, Family, SequenceHead};
use crate::heads::PooledLinearHead;
use crate::layers::{linear, mask_bias, run_layers, Dropouts, Embeddings, EncoderInput, Layer};
use crate::params::ParamGroup;
use crate::ModelError;

/// What the encoder returns.
pub struct BertOutput {
    /// [batch, seq, hidden]
    pub last_hidden_state: Tensor,
    /// [batch, hidden]: tanh(W·h_CLS + b)
    pub pooled_output: Tensor,
    /// On request: the embedding output followed by every layer's output (L + 1 tensors).
    pub hidden_states: Option<Vec<Tensor>>,
}

/// `BertModel`: embeddings, encoder, pooler.
#[derive(Debug)]
pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    pooler: nn::Linear,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl BertModel {
    /// Creates the variables under `p` (the checkpoint's root, or `bert` for task models).
    pub fn new(p: nn::Path, config: &EncoderConfig) -> Self {
        let layer_root = &p / "encoder" / "layer";
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::new(&layer_root / i, config))
            .collect();
        BertModel {
            embeddings: Embeddings::new(&p / "embeddings", config, config.hidden_size),
            layers,
            pooler: linear(
                &p / "pooler" / "dense",
                config.hidden_size,
                config.hidden_size,
                config.initializer_range,
            ),
            dropouts: Dropouts::from_config(config),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Overrides the dropout probabilities of the encoder.
    pub fn set_dropouts(&mut self, dropouts: Dropouts) {
        self.dropouts = dropouts;
    }

    pub fn dropouts(&self) -> Dropouts {
        self.dropouts
    }

    /// Forward pass. With `all_hidden_states`, also returns embeddings + every layer.
    pub fn forward_t(
        &self,
        input: &EncoderInput,
        train: bool,
        all_hidden_states: bool,
    ) -> BertOutput {
        let ids = input.input_ids;
        let zeros;
        let type_ids = match input.token_type_ids {
            Some(t) => t,
            None => {
                zeros = ids.zeros_like();
                &zeros
            }
        };
        let d = self.dropouts;
        let positions = Tensor::arange(ids.size()[1], (Kind::Int64, ids.device())).unsqueeze(0);
        let h = self
            .embeddings
            .forward_t(ids, type_ids, &positions, d.hidden, train);
        let mask_bias = mask_bias(input.attention_mask, ids, h.kind());
        let (h, hidden_states) = run_layers(h, &self.layers, all_hidden_states, |layer, h| {
            layer.forward_t(h, &mask_bias, &d, train)
        });
        let pooled_output = self.pooler.forward(&h.select(1, 0)).tanh();
        BertOutput {
            last_hidden_state: h,
            pooled_output,
            hidden_states,
        }
    }
}

/// The BERT family (`model_type = "bert"`).
#[derive(Debug)]
pub struct Bert;

impl Family for Bert {
    fn model_types(&self) -> &'static [&'static str] {
        &["bert"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "bert"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        // `BertForPreTraining`'s MLM and next-sentence heads.
        &["cls."]
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        _raw: &serde_json::Value,
        _path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        Ok(Box::new(BertModel::new(p, config)))
    }
}

impl Encoder for BertModel {
    fn model_type(&self) -> &'static str {
        "bert"
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
        let out = BertModel::forward_t(self, input, train, all_hidden_states);
        EncoderOutput {
            last_hidden_state: out.last_hidden_state,
            pooled_output: Some(out.pooled_output),
            hidden_states: out.hidden_states,
        }
    }
    fn param_group(&self, name: &str) -> ParamGroup {
        ParamGroup::of(name)
    }
    /// `BertForSequenceClassification`: dropout on the pooled output, then `classifier`.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead> {
        Box::new(PooledLinearHead::new(
            p,
            self.config.hidden_size,
            outputs,
            dropout,
            self.config.initializer_range,
        ))
    }
}
