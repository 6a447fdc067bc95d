//! ModernBERT, mirroring HF Transformers' `modeling_modernbert.py` (eager/sdpa path, padded
//! batches; v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/modernbert/modeling_modernbert.py>).
//!
//! Pre-norm layers without absolute positions: `embeddings.tok_embeddings` → `embeddings.norm`;
//! each layer adds `attn(attn_norm(h))` (no `attn_norm` in layer 0) and `mlp(mlp_norm(h))`;
//! `final_norm` at the end. Attention is rotary (`rotate_half` convention) on a fused `Wqkv`;
//! every `global_attn_every_n_layers`-th layer (0, n, 2n…) attends globally with
//! `global_rope_theta`, the others within ±`local_attention`/2 tokens with `local_rope_theta`.
//! The MLP is a GLU: `Wi` → (input, gate) → act(input)·gate → `Wo`. Biases and LayerNorm biases
//! follow `attention_bias`, `mlp_bias`, `norm_bias`, `classifier_bias`.
//!
//! Decisions and differences:
//! - hidden states are HF's: the embeddings' output, then every layer's output, the last one
//!   *before* `final_norm`; `last_hidden_state` is after it (what the head reads);
//! - the sequence head is `ModernBertForSequenceClassification`'s: `classifier_pooling`
//!   (`cls` or masked `mean`) → `head.dense` → `classifier_activation` → `head.norm` → dropout
//!   → `classifier`. `head.*` is in HF's pre-trained MLM checkpoints too (HF reuses it for
//!   classification, and so does stab); the MLM `decoder` is ignored;
//! - ModernBERT has three dropouts; stab's two map onto them: `hidden` → `embedding_dropout`
//!   and `mlp_dropout`, `attention` → `attention_dropout` (on the probabilities and after `Wo`,
//!   as HF). Setting them sets both;
//! - new variables are drawn from N(0, σ) with HF's per-module σ (`initializer_range`, divided
//!   by √(2L) for output projections, `hidden_size^-½` for the classifier) but not truncated at
//!   ±`initializer_cutoff_factor`·σ as HF's `trunc_normal_` is.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::{Activation, EncoderConfig};
use crate::encoder::{Encoder, EncoderOutput, Family, SequenceHead};
use crate::layers::{activate, min_value, run_layers, Dropouts, EncoderInput};
use crate::params::ParamGroup;
use crate::ModelError;

/// The ModernBERT family (`model_type = "modernbert"`).
#[derive(Debug)]
pub struct ModernBert;

fn default_gelu() -> Activation {
    Activation::Gelu
}
fn default_theta_global() -> f64 {
    160_000.0
}
fn default_every() -> i64 {
    3
}
fn default_eps() -> f64 {
    1e-5
}
fn default_pooling() -> String {
    "cls".into()
}
fn default_range() -> f64 {
    0.02
}

/// `config.json` of a ModernBERT (HF's `ModernBertConfig` names and defaults).
#[derive(Debug, Clone, serde::Deserialize)]
struct Extra {
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    #[serde(default = "default_gelu")]
    hidden_activation: Activation,
    max_position_embeddings: i64,
    #[serde(default = "default_range")]
    initializer_range: f64,
    #[serde(default = "default_eps")]
    norm_eps: f64,
    #[serde(default)]
    norm_bias: bool,
    #[serde(default)]
    pad_token_id: i64,
    #[serde(default = "default_theta_global")]
    global_rope_theta: f64,
    #[serde(default)]
    local_rope_theta: Option<f64>,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    attention_dropout: f64,
    #[serde(default = "default_every")]
    global_attn_every_n_layers: i64,
    local_attention: i64,
    #[serde(default)]
    embedding_dropout: f64,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    mlp_dropout: f64,
    #[serde(default = "default_pooling")]
    classifier_pooling: String,
    #[serde(default)]
    classifier_dropout: f64,
    #[serde(default)]
    classifier_bias: bool,
    #[serde(default = "default_gelu")]
    classifier_activation: Activation,
    #[serde(default)]
    num_labels: Option<i64>,
    #[serde(default)]
    id2label: Option<std::collections::BTreeMap<String, String>>,
}

impl Extra {
    fn parse(path: &std::path::Path, raw: &serde_json::Value) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config {
            path: path.to_path_buf(),
            message,
        };
        let e: Extra = serde_json::from_value(raw.clone()).map_err(|e| err(e.to_string()))?;
        if e.hidden_size % e.num_attention_heads != 0 {
            return Err(err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                e.hidden_size, e.num_attention_heads
            )));
        }
        if e.classifier_pooling != "cls" && e.classifier_pooling != "mean" {
            return Err(err(format!(
                "classifier_pooling `{}` is not supported (cls, mean)",
                e.classifier_pooling
            )));
        }
        if raw.get("rope_scaling").is_some_and(|v| !v.is_null()) {
            return Err(err("rope_scaling is not supported".into()));
        }
        Ok(e)
    }
}

impl Family for ModernBert {
    fn model_types(&self) -> &'static [&'static str] {
        &["modernbert"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "model"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        // `ModernBertForMaskedLM`'s decoder (its `head.*` is the classifier's too).
        &["decoder."]
    }
    /// One token type by design: the template's second-segment type ids are zeroed.
    fn zero_type_ids(&self, _config: &EncoderConfig) -> bool {
        true
    }
    /// ModernBERT's config has its own names; the common facts are read from them.
    fn config(
        &self,
        path: &std::path::Path,
        raw: &serde_json::Value,
    ) -> Result<EncoderConfig, ModelError> {
        let e = Extra::parse(path, raw)?;
        Ok(EncoderConfig {
            vocab_size: e.vocab_size,
            hidden_size: e.hidden_size,
            num_hidden_layers: e.num_hidden_layers,
            num_attention_heads: e.num_attention_heads,
            intermediate_size: e.intermediate_size,
            hidden_act: e.hidden_activation,
            hidden_dropout_prob: e.mlp_dropout,
            attention_probs_dropout_prob: e.attention_dropout,
            max_position_embeddings: e.max_position_embeddings,
            // No token types: pairs are told apart by [SEP] only.
            type_vocab_size: 1,
            initializer_range: e.initializer_range,
            layer_norm_eps: e.norm_eps,
            pad_token_id: e.pad_token_id,
            classifier_dropout: Some(e.classifier_dropout),
            num_labels: e.num_labels,
            id2label: e.id2label,
            do_lower_case: None,
            model_type: Some("modernbert".into()),
            embedding_size: None,
        })
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        raw: &serde_json::Value,
        path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        let e = Extra::parse(path, raw)?;
        Ok(Box::new(ModernBertModel::new(p, config, e)))
    }
}

fn linear(p: nn::Path, i: i64, o: i64, std: f64, bias: bool) -> nn::Linear {
    nn::linear(
        p,
        i,
        o,
        nn::LinearConfig {
            ws_init: nn::Init::Randn {
                mean: 0.,
                stdev: std,
            },
            bs_init: bias.then_some(nn::Init::Const(0.)),
            bias,
        },
    )
}

/// `nn.LayerNorm(hidden, eps, bias=norm_bias)`.
#[derive(Debug)]
struct Norm {
    weight: Tensor,
    bias: Option<Tensor>,
    dim: i64,
    eps: f64,
}

impl Norm {
    fn new(p: nn::Path, dim: i64, eps: f64, bias: bool) -> Self {
        Norm {
            weight: p.var("weight", &[dim], nn::Init::Const(1.)),
            bias: bias.then(|| p.var("bias", &[dim], nn::Init::Const(0.))),
            dim,
            eps,
        }
    }
}

impl Module for Norm {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm(
            [self.dim],
            Some(&self.weight),
            self.bias.as_ref(),
            self.eps,
            true,
        )
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Option<Norm>,
    wqkv: nn::Linear,
    attn_wo: nn::Linear,
    mlp_norm: Norm,
    wi: nn::Linear,
    mlp_wo: nn::Linear,
    /// `None`: global attention; `Some(w)`: within ±w tokens.
    window: Option<i64>,
    theta: f64,
}

/// Per-forward tensors the layers share.
struct Context<'a> {
    /// [batch, 1, 1, seq] additive padding mask.
    global: &'a Tensor,
    /// [batch, 1, seq, seq]: `global` with keys outside the window also masked.
    local: &'a Tensor,
    positions: &'a Tensor,
    heads: i64,
    act: Activation,
    mlp_dropout: f64,
    attention_dropout: f64,
    train: bool,
}

fn rotate_half(x: &Tensor) -> Tensor {
    let half = x.size()[x.dim() - 1] / 2;
    let x1 = x.narrow(-1, 0, half);
    let x2 = x.narrow(-1, half, half);
    Tensor::cat(&[-x2, x1], -1)
}

impl Layer {
    fn new(p: nn::Path, e: &Extra, i: i64) -> Self {
        let (h, r) = (e.hidden_size, e.initializer_range);
        let out = r / (2.0 * e.num_hidden_layers as f64).sqrt();
        let global = i % e.global_attn_every_n_layers == 0;
        Layer {
            attn_norm: (i != 0).then(|| Norm::new(&p / "attn_norm", h, e.norm_eps, e.norm_bias)),
            wqkv: linear(&p / "attn" / "Wqkv", h, 3 * h, r, e.attention_bias),
            attn_wo: linear(&p / "attn" / "Wo", h, h, out, e.attention_bias),
            mlp_norm: Norm::new(&p / "mlp_norm", h, e.norm_eps, e.norm_bias),
            wi: linear(&p / "mlp" / "Wi", h, 2 * e.intermediate_size, r, e.mlp_bias),
            mlp_wo: linear(&p / "mlp" / "Wo", e.intermediate_size, h, out, e.mlp_bias),
            window: (!global).then_some(e.local_attention / 2),
            theta: if global {
                e.global_rope_theta
            } else {
                e.local_rope_theta.unwrap_or(e.global_rope_theta)
            },
        }
    }

    fn forward_t(&self, x: &Tensor, cx: &Context) -> Tensor {
        let (b, t, hidden) = x.size3().expect("hidden states are [batch, seq, hidden]");
        let hd = hidden / cx.heads;
        let normed = match &self.attn_norm {
            Some(n) => n.forward(x),
            None => x.shallow_clone(),
        };
        // [b, t, 3, heads, hd] → [b, heads, 3, t, hd] → q, k, v: [b, heads, t, hd].
        let qkv = self
            .wqkv
            .forward(&normed)
            .view([b, t, 3, cx.heads, hd])
            .transpose(3, 1);
        let (q, k, v) = (qkv.select(2, 0), qkv.select(2, 1), qkv.select(2, 2));
        // Rotary embedding (HF's default rope, computed in f32).
        let exponent = Tensor::arange_start_step(0, hd, 2, (Kind::Int64, x.device()))
            .to_kind(Kind::Float)
            / hd as f64;
        let inv_freq = Tensor::pow_scalar(self.theta, &exponent).reciprocal();
        let freqs = cx.positions.to_kind(Kind::Float).unsqueeze(-1) * inv_freq.unsqueeze(0);
        let emb = Tensor::cat(&[&freqs, &freqs], -1);
        let (cos, sin) = (emb.cos().to_kind(x.kind()), emb.sin().to_kind(x.kind()));
        let (cos, sin) = (cos.unsqueeze(1), sin.unsqueeze(1));
        let q = &q * &cos + rotate_half(&q) * &sin;
        let k = &k * &cos + rotate_half(&k) * &sin;
        let mask = if self.window.is_some() {
            cx.local
        } else {
            cx.global
        };
        let p = if cx.train { cx.attention_dropout } else { 0.0 };
        let ctx = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(mask),
            p,
            false,
            None::<f64>,
            false,
        )
        .transpose(1, 2)
        .contiguous()
        .view([b, t, hidden]);
        let h = x + self
            .attn_wo
            .forward(&ctx)
            .dropout(cx.attention_dropout, cx.train);
        let inner = self.wi.forward(&self.mlp_norm.forward(&h));
        let chunks = inner.chunk(2, -1);
        let glu = (activate(&chunks[0], cx.act) * &chunks[1]).dropout(cx.mlp_dropout, cx.train);
        &h + self.mlp_wo.forward(&glu)
    }
}

/// `ModernBertModel`.
#[derive(Debug)]
pub struct ModernBertModel {
    tok_embeddings: nn::Embedding,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
    final_norm: Norm,
    extra: Extra,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl ModernBertModel {
    fn new(p: nn::Path, config: &EncoderConfig, e: Extra) -> Self {
        let emb = &p / "embeddings";
        let layer_root = &p / "layers";
        ModernBertModel {
            tok_embeddings: nn::embedding(
                &emb / "tok_embeddings",
                e.vocab_size,
                e.hidden_size,
                nn::EmbeddingConfig {
                    ws_init: nn::Init::Randn {
                        mean: 0.,
                        stdev: e.initializer_range,
                    },
                    ..Default::default()
                },
            ),
            embeddings_norm: Norm::new(&emb / "norm", e.hidden_size, e.norm_eps, e.norm_bias),
            layers: (0..e.num_hidden_layers)
                .map(|i| Layer::new(&layer_root / i, &e, i))
                .collect(),
            final_norm: Norm::new(&p / "final_norm", e.hidden_size, e.norm_eps, e.norm_bias),
            dropouts: Dropouts {
                hidden: e.mlp_dropout,
                attention: e.attention_dropout,
            },
            extra: e,
            config: config.clone(),
        }
    }
}

impl Encoder for ModernBertModel {
    fn model_type(&self) -> &'static str {
        "modernbert"
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
    /// `hidden` sets `embedding_dropout` and `mlp_dropout`, `attention` `attention_dropout`.
    /// Setting the values [`Encoder::dropouts`] reports changes nothing (an
    /// `embedding_dropout` different from `mlp_dropout` is kept).
    fn set_dropouts(&mut self, dropouts: Dropouts) {
        if dropouts == self.dropouts {
            return;
        }
        self.dropouts = dropouts;
        self.extra.embedding_dropout = dropouts.hidden;
        self.extra.mlp_dropout = dropouts.hidden;
        self.extra.attention_dropout = dropouts.attention;
    }
    fn forward_t(
        &self,
        input: &EncoderInput,
        train: bool,
        all_hidden_states: bool,
    ) -> EncoderOutput {
        let ids = input.input_ids;
        let (b, t) = (ids.size()[0], ids.size()[1]);
        let device = ids.device();
        let h = self
            .embeddings_norm
            .forward(&self.tok_embeddings.forward(ids))
            .dropout(self.extra.embedding_dropout, train);
        let kind = h.kind();
        let global = crate::layers::mask_bias(input.attention_mask, ids, kind);
        let pos = Tensor::arange(t, (Kind::Int64, device));
        let distance = (pos.unsqueeze(0) - pos.unsqueeze(1)).abs();
        let outside = distance
            .gt(self.extra.local_attention / 2)
            .view([1, 1, t, t]);
        let local = global
            .expand([b, 1, t, t], false)
            .masked_fill(&outside, min_value(kind));
        let positions = pos.unsqueeze(0);
        let cx = Context {
            global: &global,
            local: &local,
            positions: &positions,
            heads: self.extra.num_attention_heads,
            act: self.extra.hidden_activation,
            mlp_dropout: self.extra.mlp_dropout,
            attention_dropout: self.extra.attention_dropout,
            train,
        };
        let (h, hidden_states) = run_layers(h, &self.layers, all_hidden_states, |layer, h| {
            layer.forward_t(h, &cx)
        });
        let last = self.final_norm.forward(&h);
        // `classifier_pooling = "mean"`: the head's input is the masked mean of the tokens.
        let pooled_output = (self.extra.classifier_pooling == "mean").then(|| {
            let m = match input.attention_mask {
                Some(m) => m.to_kind(kind).unsqueeze(-1),
                None => Tensor::ones([b, t, 1], (kind, device)),
            };
            (&last * &m).sum_dim_intlist(1, false, kind) / m.sum_dim_intlist(1, false, kind)
        });
        EncoderOutput {
            last_hidden_state: last,
            pooled_output,
            hidden_states,
        }
    }
    fn param_group(&self, name: &str) -> ParamGroup {
        if name.starts_with("embeddings.") {
            return ParamGroup::Embeddings;
        }
        if let Some(rest) = name.strip_prefix("layers.") {
            if let Some(Ok(i)) = rest.split('.').next().map(str::parse) {
                return ParamGroup::Layer(i);
            }
        }
        // `final_norm` normalises the top layer's output: it belongs with the top layer.
        if name.starts_with("final_norm.") {
            return ParamGroup::Layer(self.layers.len() - 1);
        }
        if name.starts_with("head.") {
            return ParamGroup::Pooler;
        }
        ParamGroup::Head
    }
    /// `ModernBertForSequenceClassification`: pooling, `head` (dense → act → norm), dropout,
    /// `classifier`. With `classifier_pooling = "mean"` the encoder's `pooled_output` is the
    /// masked mean (it has the mask); otherwise the head takes the first token.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead> {
        let e = &self.extra;
        let out = e.initializer_range / (2.0 * e.num_hidden_layers as f64).sqrt();
        Box::new(ModernBertHead {
            dense: linear(
                p / "head" / "dense",
                e.hidden_size,
                e.hidden_size,
                out,
                e.classifier_bias,
            ),
            norm: Norm::new(p / "head" / "norm", e.hidden_size, e.norm_eps, e.norm_bias),
            act: e.classifier_activation,
            dropout,
            classifier: linear(
                p / "classifier",
                e.hidden_size,
                outputs,
                (e.hidden_size as f64).powf(-0.5),
                true,
            ),
        })
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["classifier.", "head."]
    }
}

/// `ModernBertPredictionHead` + dropout + `classifier` on the pooled sequence.
#[derive(Debug)]
pub struct ModernBertHead {
    dense: nn::Linear,
    norm: Norm,
    act: Activation,
    dropout: f64,
    classifier: nn::Linear,
}

impl SequenceHead for ModernBertHead {
    fn forward_t(&self, out: &EncoderOutput, train: bool) -> Tensor {
        // `classifier_pooling = "mean"` is computed by the encoder into `pooled_output`.
        let pooled = match &out.pooled_output {
            Some(p) => p.shallow_clone(),
            None => out.last_hidden_state.select(1, 0),
        };
        let x = self
            .norm
            .forward(&activate(&self.dense.forward(&pooled), self.act));
        self.classifier.forward(&x.dropout(self.dropout, train))
    }
}
