//! ALBERT, mirroring HF Transformers' `modeling_albert.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/albert/modeling_albert.py>).
//!
//! Factorised embeddings (width `embedding_size`) mapped to `hidden_size` by
//! `encoder.embedding_hidden_mapping_in` (hidden state 0 is the mapped one, as HF's), then
//! `num_hidden_layers` applications of `num_hidden_groups` layer groups of `inner_group_num`
//! layers each: layer i runs group ⌊i·G/L⌋. Released ALBERTs have G = 1: **one parameter set
//! applied L times**. The pooler is `pooler` (a linear layer + tanh), the sequence head
//! `AlbertForSequenceClassification`'s dropout (`classifier_dropout_prob`) + `classifier`.
//!
//! What the layer-wise knobs mean when layers share parameters (G < L):
//! - every parameter of the shared groups has [`ParamGroup::SharedLayers`]: "layer k" has no
//!   parameters of its own;
//! - `freeze_layers = k` freezes the embeddings and the bottom k layers. For 0 < k < L this
//!   would freeze the parameters the top layers use too; it is refused. k = L (embeddings and
//!   every layer frozen, only heads train) is allowed;
//! - `reinit_layers = k` re-initialises the top k layers: 0 < k < L is refused for the same
//!   reason, k = L re-initialises the shared group(s);
//! - layer-wise learning-rate decay gives each layer its own rate; a parameter used by every
//!   layer has none, so ξ ≠ 1 is refused.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::EncoderConfig;
use crate::encoder::{Encoder, EncoderOutput, Family, LayerKnobs, SequenceHead};
use crate::heads::PooledLinearHead;
use crate::layers::{
    activate, layer_norm, linear, mask_bias, run_layers, type_ids_or_zeros, Dropouts, Embeddings,
    EncoderInput,
};
use crate::params::ParamGroup;
use crate::ModelError;

/// The ALBERT family (`model_type = "albert"`).
#[derive(Debug)]
pub struct Albert;

#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct AlbertExtra {
    #[serde(default = "one")]
    num_hidden_groups: i64,
    #[serde(default = "one")]
    inner_group_num: i64,
    #[serde(default)]
    classifier_dropout_prob: Option<f64>,
}

fn one() -> i64 {
    1
}

fn extra(path: &std::path::Path, raw: &serde_json::Value) -> Result<AlbertExtra, ModelError> {
    let e: AlbertExtra = serde_json::from_value(raw.clone()).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if e.num_hidden_groups < 1 || e.inner_group_num < 1 {
        return Err(ModelError::Config {
            path: path.to_path_buf(),
            message: "num_hidden_groups and inner_group_num must be at least 1".into(),
        });
    }
    Ok(e)
}

impl Family for Albert {
    fn model_types(&self) -> &'static [&'static str] {
        &["albert"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "albert"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        // `AlbertForPreTraining`'s MLM and sentence-order heads.
        &["predictions.", "sop_classifier."]
    }
    fn config(
        &self,
        path: &std::path::Path,
        raw: &serde_json::Value,
    ) -> Result<EncoderConfig, ModelError> {
        let mut c = EncoderConfig::from_json(path, &raw.to_string())?;
        let e = extra(path, raw)?;
        if c.num_hidden_layers % e.num_hidden_groups != 0 {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                message: format!(
                    "num_hidden_layers {} is not a multiple of num_hidden_groups {}",
                    c.num_hidden_layers, e.num_hidden_groups
                ),
            });
        }
        // ALBERT calls its classifier dropout `classifier_dropout_prob`.
        c.classifier_dropout = c.classifier_dropout.or(e.classifier_dropout_prob);
        Ok(c)
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        raw: &serde_json::Value,
        path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        let e = extra(path, raw)?;
        Ok(Box::new(AlbertModel::new(
            p,
            config,
            e.num_hidden_groups,
            e.inner_group_num,
        )))
    }
}

/// `AlbertAttention` (query/key/value/dense/LayerNorm side by side) + `AlbertLayer`.
#[derive(Debug)]
struct AlbertLayer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    dense: nn::Linear,
    attention_layer_norm: nn::LayerNorm,
    ffn: nn::Linear,
    ffn_output: nn::Linear,
    full_layer_layer_norm: nn::LayerNorm,
    heads: i64,
    head_dim: i64,
}

impl AlbertLayer {
    fn new(p: nn::Path, c: &EncoderConfig) -> Self {
        let (h, r, eps) = (c.hidden_size, c.initializer_range, c.layer_norm_eps);
        let a = &p / "attention";
        AlbertLayer {
            query: linear(&a / "query", h, h, r),
            key: linear(&a / "key", h, h, r),
            value: linear(&a / "value", h, h, r),
            dense: linear(&a / "dense", h, h, r),
            attention_layer_norm: layer_norm(&a / "LayerNorm", h, eps),
            ffn: linear(&p / "ffn", h, c.intermediate_size, r),
            ffn_output: linear(&p / "ffn_output", c.intermediate_size, h, r),
            full_layer_layer_norm: layer_norm(&p / "full_layer_layer_norm", h, eps),
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
        }
    }

    fn forward_t(
        &self,
        x: &Tensor,
        bias: &Tensor,
        c: &EncoderConfig,
        d: &Dropouts,
        train: bool,
    ) -> Tensor {
        let (b, t, hidden) = x.size3().expect("hidden states are [batch, seq, hidden]");
        let split = |y: Tensor| y.view([b, t, self.heads, self.head_dim]).transpose(1, 2);
        let ctx = Tensor::scaled_dot_product_attention(
            &split(self.query.forward(x)),
            &split(self.key.forward(x)),
            &split(self.value.forward(x)),
            Some(bias),
            if train { d.attention } else { 0.0 },
            false,
            None::<f64>,
            false,
        )
        .transpose(1, 2)
        .contiguous()
        .view([b, t, hidden]);
        let a = self
            .attention_layer_norm
            .forward(&(x + self.dense.forward(&ctx).dropout(d.hidden, train)));
        // HF's AlbertLayer has no dropout after the feed-forward block.
        let f = self
            .ffn_output
            .forward(&activate(&self.ffn.forward(&a), c.hidden_act));
        self.full_layer_layer_norm.forward(&(f + a))
    }
}

/// `AlbertModel` with its pooler.
#[derive(Debug)]
pub struct AlbertModel {
    embeddings: Embeddings,
    mapping_in: nn::Linear,
    /// groups[g][j]: inner layer j of group g.
    groups: Vec<Vec<AlbertLayer>>,
    pooler: nn::Linear,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl AlbertModel {
    pub fn new(p: nn::Path, config: &EncoderConfig, groups: i64, inner: i64) -> Self {
        let e = config.embedding_size.unwrap_or(config.hidden_size);
        let r = config.initializer_range;
        let enc = &p / "encoder";
        let group_root = &enc / "albert_layer_groups";
        AlbertModel {
            embeddings: Embeddings::new(&p / "embeddings", config, e),
            mapping_in: linear(
                &enc / "embedding_hidden_mapping_in",
                e,
                config.hidden_size,
                r,
            ),
            groups: (0..groups)
                .map(|g| {
                    let layers = &group_root / g / "albert_layers";
                    (0..inner)
                        .map(|j| AlbertLayer::new(&layers / j, config))
                        .collect()
                })
                .collect(),
            pooler: linear(&p / "pooler", config.hidden_size, config.hidden_size, r),
            dropouts: Dropouts::from_config(config),
            config: config.clone(),
        }
    }

    /// Whether some parameters are used by more than one layer.
    fn shared(&self) -> bool {
        self.groups.len() as i64 != self.config.num_hidden_layers
    }
}

impl Encoder for AlbertModel {
    fn model_type(&self) -> &'static str {
        "albert"
    }
    fn config(&self) -> &EncoderConfig {
        &self.config
    }
    fn num_layers(&self) -> usize {
        self.config.num_hidden_layers as usize
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
        let e = self
            .embeddings
            .forward_t(ids, &type_ids, &positions, d.hidden, train);
        let h = self.mapping_in.forward(&e);
        let bias = mask_bias(input.attention_mask, ids, h.kind());
        let l = self.config.num_hidden_layers as usize;
        let g = self.groups.len();
        // Layer i applies shared group i·g/l (HF's `AlbertTransformer`).
        let (h, hidden_states) = run_layers(h, 0..l, all_hidden_states, |i, h| {
            let mut h = h.shallow_clone();
            for layer in &self.groups[i * g / l] {
                h = layer.forward_t(&h, &bias, &self.config, &d, train);
            }
            h
        });
        let pooled = self.pooler.forward(&h.select(1, 0)).tanh();
        EncoderOutput {
            last_hidden_state: h,
            pooled_output: Some(pooled),
            hidden_states,
        }
    }
    fn param_group(&self, name: &str) -> ParamGroup {
        if name.starts_with("embeddings.")
            || name.starts_with("encoder.embedding_hidden_mapping_in.")
        {
            return ParamGroup::Embeddings;
        }
        if name.starts_with("pooler.") {
            return ParamGroup::Pooler;
        }
        if let Some(rest) = name.strip_prefix("encoder.albert_layer_groups.") {
            if !self.shared() {
                // One group of one layer per layer: group g is layer g.
                if let Some(Ok(i)) = rest.split('.').next().map(str::parse) {
                    return ParamGroup::Layer(i);
                }
            }
            return ParamGroup::SharedLayers;
        }
        ParamGroup::Head
    }
    fn check_layer_knobs(&self, knobs: &LayerKnobs) -> Result<(), ModelError> {
        let l = self.num_layers();
        knobs.check_counts(self.model_type(), l)?;
        for (field, k) in [
            ("freeze_layers", knobs.freeze_layers),
            ("reinit_layers", knobs.reinit_layers),
        ] {
            if self.shared() && k != 0 && k != l {
                return Err(ModelError::Unsupported(format!(
                    "{field} = {k}: this ALBERT's {l} layers share {} parameter group(s), so \
                     {k} of them have no parameters of their own to {}; use 0 or {l} (all layers)",
                    self.groups.len(),
                    if field == "freeze_layers" {
                        "freeze"
                    } else {
                        "re-initialise"
                    }
                )));
            }
        }
        if self.shared() && knobs.layerwise_lr_decay != 1.0 {
            return Err(ModelError::Unsupported(format!(
                "layerwise_lr_decay = {}: this ALBERT's layers share their parameters, which \
                 therefore have no layer of their own to take a rate from; use 1.0",
                knobs.layerwise_lr_decay
            )));
        }
        Ok(())
    }
    /// `AlbertForSequenceClassification`: dropout on the pooled output, then `classifier`.
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
