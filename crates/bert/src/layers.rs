//! The building blocks the families share: HF-initialised linear, LayerNorm and embedding
//! helpers, BERT's embeddings, attention, feed-forward and layer (RoBERTa and ELECTRA use them
//! as they are; ALBERT the embeddings, DeBERTa-v2 the feed-forward), the encoder loop
//! [`run_layers`], attention-mask biases, the dropout settings and the input type.
//!
//! The modules mirror HF Transformers' `modeling_bert.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/bert/modeling_bert.py>).
//! Parameter paths are HF's, built through `nn::Path` (`embeddings/word_embeddings`,
//! `encoder/layer/<i>/attention/self/query`, `LayerNorm`…), so `model.safetensors` maps onto
//! the variable store name for name. Every module that carries dropout implements
//! [`nn::ModuleT`]-style `forward_t(…, train)`: dropout is real in training and off in eval.
//! Variables are created with HF's initialisation (N(0, initializer_range) weights, zero
//! biases, LayerNorm 1/0).
//!
//! This module imports no family: every family file imports it, and [`crate::encoder`] only
//! for the [`Dropouts`] and [`EncoderInput`] types of its interface.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::{Activation, EncoderConfig};

/// Dropout probabilities actually used (config values unless a run overrides them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropouts {
    pub hidden: f64,
    pub attention: f64,
}

impl Dropouts {
    pub fn from_config(c: &EncoderConfig) -> Self {
        Dropouts {
            hidden: c.hidden_dropout_prob,
            attention: c.attention_probs_dropout_prob,
        }
    }
}

/// Inputs of a forward pass. `token_type_ids` default to zeros, `attention_mask` to all ones.
pub struct EncoderInput<'a> {
    /// [batch, seq] int64 token ids.
    pub input_ids: &'a Tensor,
    pub token_type_ids: Option<&'a Tensor>,
    /// [batch, seq], 1 for real tokens, 0 for padding.
    pub attention_mask: Option<&'a Tensor>,
}

pub(crate) fn linear(p: nn::Path, input: i64, output: i64, range: f64) -> nn::Linear {
    nn::linear(
        p,
        input,
        output,
        nn::LinearConfig {
            ws_init: nn::Init::Randn {
                mean: 0.,
                stdev: range,
            },
            bs_init: Some(nn::Init::Const(0.)),
            bias: true,
        },
    )
}

pub(crate) fn layer_norm(p: nn::Path, dim: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![dim],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

pub(crate) fn embedding(p: nn::Path, n: i64, dim: i64, range: f64) -> nn::Embedding {
    nn::embedding(
        p,
        n,
        dim,
        nn::EmbeddingConfig {
            ws_init: nn::Init::Randn {
                mean: 0.,
                stdev: range,
            },
            ..Default::default()
        },
    )
}

/// `BertEmbeddings` (also RoBERTa's, ELECTRA's and ALBERT's: they differ only in their width
/// and in how position ids are made, which the caller passes).
#[derive(Debug)]
pub struct Embeddings {
    word_embeddings: nn::Embedding,
    position_embeddings: nn::Embedding,
    token_type_embeddings: nn::Embedding,
    layer_norm: nn::LayerNorm,
}

impl Embeddings {
    /// Embeddings of width `dim` (`hidden_size` for BERT, `embedding_size` for ELECTRA/ALBERT).
    pub(crate) fn new(p: nn::Path, c: &EncoderConfig, dim: i64) -> Self {
        let r = c.initializer_range;
        Embeddings {
            word_embeddings: embedding(&p / "word_embeddings", c.vocab_size, dim, r),
            position_embeddings: embedding(
                &p / "position_embeddings",
                c.max_position_embeddings,
                dim,
                r,
            ),
            token_type_embeddings: embedding(
                &p / "token_type_embeddings",
                c.type_vocab_size,
                dim,
                r,
            ),
            layer_norm: layer_norm(&p / "LayerNorm", dim, c.layer_norm_eps),
        }
    }

    /// `positions`: [1 or batch, seq] position ids.
    pub(crate) fn forward_t(
        &self,
        ids: &Tensor,
        type_ids: &Tensor,
        positions: &Tensor,
        dropout: f64,
        train: bool,
    ) -> Tensor {
        let e = self.word_embeddings.forward(ids)
            + self.token_type_embeddings.forward(type_ids)
            + self.position_embeddings.forward(positions);
        self.layer_norm.forward(&e).dropout(dropout, train)
    }
}

/// `BertSelfAttention` + `BertSelfOutput` (= `BertAttention`).
#[derive(Debug)]
struct Attention {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    output_dense: nn::Linear,
    output_layer_norm: nn::LayerNorm,
    heads: i64,
    head_dim: i64,
}

impl Attention {
    fn new(p: nn::Path, c: &EncoderConfig) -> Self {
        let (h, r) = (c.hidden_size, c.initializer_range);
        let s = &p / "self";
        let o = &p / "output";
        Attention {
            query: linear(&s / "query", h, h, r),
            key: linear(&s / "key", h, h, r),
            value: linear(&s / "value", h, h, r),
            output_dense: linear(&o / "dense", h, h, r),
            output_layer_norm: layer_norm(&o / "LayerNorm", h, c.layer_norm_eps),
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
        }
    }

    /// `mask_bias`: [batch, 1, 1, seq] additive mask (0 for tokens, large negative for padding).
    fn forward_t(&self, x: &Tensor, mask_bias: &Tensor, d: &Dropouts, train: bool) -> Tensor {
        let (b, t, hidden) = x.size3().expect("hidden states are [batch, seq, hidden]");
        let split = |y: Tensor| y.view([b, t, self.heads, self.head_dim]).transpose(1, 2);
        let q = split(self.query.forward(x));
        let k = split(self.key.forward(x));
        let v = split(self.value.forward(x));
        // softmax(QKᵀ/√d + mask)·V with dropout on the probabilities, as HF's sdpa path.
        let p = if train { d.attention } else { 0.0 };
        let ctx = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(mask_bias),
            p,
            false,
            None::<f64>,
            false,
        );
        let ctx = ctx.transpose(1, 2).contiguous().view([b, t, hidden]);
        let out = self.output_dense.forward(&ctx).dropout(d.hidden, train);
        self.output_layer_norm.forward(&(out + x))
    }
}

/// `BertIntermediate` + `BertOutput`: the feed-forward half of a layer, under the layer's path
/// (`intermediate.dense`, `output.dense`, `output.LayerNorm`). DeBERTa-v2's layers share it.
#[derive(Debug)]
pub(crate) struct FeedForward {
    intermediate: nn::Linear,
    output_dense: nn::Linear,
    output_layer_norm: nn::LayerNorm,
    activation: Activation,
}

impl FeedForward {
    pub(crate) fn new(p: &nn::Path, c: &EncoderConfig) -> Self {
        let r = c.initializer_range;
        FeedForward {
            intermediate: linear(
                p / "intermediate" / "dense",
                c.hidden_size,
                c.intermediate_size,
                r,
            ),
            output_dense: linear(
                p / "output" / "dense",
                c.intermediate_size,
                c.hidden_size,
                r,
            ),
            output_layer_norm: layer_norm(
                p / "output" / "LayerNorm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            activation: c.hidden_act,
        }
    }

    /// Dense, activation, dense, dropout, then the residual with `a` (the attention output)
    /// and LayerNorm.
    pub(crate) fn forward_t(&self, a: &Tensor, hidden_dropout: f64, train: bool) -> Tensor {
        let i = activate(&self.intermediate.forward(a), self.activation);
        let o = self.output_dense.forward(&i).dropout(hidden_dropout, train);
        self.output_layer_norm.forward(&(o + a))
    }
}

/// `BertLayer`: attention, then [`FeedForward`] (RoBERTa's and ELECTRA's too).
#[derive(Debug)]
pub(crate) struct Layer {
    attention: Attention,
    feed_forward: FeedForward,
}

impl Layer {
    pub(crate) fn new(p: nn::Path, c: &EncoderConfig) -> Self {
        Layer {
            attention: Attention::new(&p / "attention", c),
            feed_forward: FeedForward::new(&p, c),
        }
    }

    pub(crate) fn forward_t(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        d: &Dropouts,
        train: bool,
    ) -> Tensor {
        let a = self.attention.forward_t(x, mask_bias, d, train);
        self.feed_forward.forward_t(&a, d.hidden, train)
    }
}

/// The activation HF's `ACT2FN[name]` applies.
pub(crate) fn activate(x: &Tensor, a: Activation) -> Tensor {
    match a {
        Activation::Gelu => x.gelu("none"),
        Activation::GeluNew => x.gelu("tanh"),
        Activation::Relu => x.relu(),
    }
}

/// Runs `h` through `layers` in order, each step given by `forward`; with `keep_all`, also
/// returns every hidden state, the input first (HF's `output_hidden_states`: the embeddings,
/// then each layer's output). Every family's encoder loop is this one.
pub(crate) fn run_layers<L>(
    mut h: Tensor,
    layers: impl IntoIterator<Item = L>,
    keep_all: bool,
    mut forward: impl FnMut(L, &Tensor) -> Tensor,
) -> (Tensor, Option<Vec<Tensor>>) {
    let mut all = keep_all.then(|| vec![h.shallow_clone()]);
    for layer in layers {
        h = forward(layer, &h);
        if let Some(all) = all.as_mut() {
            all.push(h.shallow_clone());
        }
    }
    (h, all)
}

/// HF's extended attention mask: (1 − mask) · finfo(dtype).min as [batch, 1, 1, seq], added to
/// the attention scores (broadcast over heads and query positions); zeros without a mask.
pub(crate) fn mask_bias(mask: Option<&Tensor>, ids: &Tensor, kind: Kind) -> Tensor {
    match mask {
        Some(m) => (m.to_kind(kind).ones_like() - m.to_kind(kind))
            .multiply_scalar(min_value(kind))
            .view([m.size()[0], 1, 1, m.size()[1]]),
        None => Tensor::zeros([ids.size()[0], 1, 1, ids.size()[1]], (kind, ids.device())),
    }
}

/// `token_type_ids`, or zeros like `ids`.
pub(crate) fn type_ids_or_zeros(input: &EncoderInput) -> Tensor {
    match input.token_type_ids {
        Some(t) => t.shallow_clone(),
        None => input.input_ids.zeros_like(),
    }
}

pub(crate) fn min_value(kind: Kind) -> f64 {
    match kind {
        Kind::Half => -65504.0,
        Kind::BFloat16 => -3.3895313892515355e38,
        Kind::Double => f64::MIN,
        _ => f32::MIN as f64,
    }
}
