//! DeBERTa-v2 and DeBERTa-v3, mirroring HF Transformers' `modeling_deberta_v2.py`
//! (v4.57, <https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/deberta_v2/modeling_deberta_v2.py>).
//!
//! Disentangled attention: besides content-to-content scores, each layer adds content-to-position
//! (`c2p`) and position-to-content (`p2c`) scores between the tokens and *relative* position
//! embeddings `encoder.rel_embeddings` (layer-normed by `encoder.LayerNorm` when
//! `norm_rel_ebd = "layer_norm"`), with relative distances mapped to log-spaced buckets
//! (`position_buckets`, `make_log_bucket_position`). All scores are scaled by
//! √(head_dim · (1 + number of position terms)). With `share_att_key` (v3) the position
//! projections are the content ones. v3 has no absolute position embeddings
//! (`position_biased_input = false`) and no token types (`type_vocab_size = 0`).
//!
//! Decisions:
//! - the relative position embeddings and their LayerNorm count as [`ParamGroup::Embeddings`]:
//!   they are the relative counterpart of BERT's position embeddings, which are embeddings, so
//!   freezing the embeddings freezes them and layer-wise decay gives them the embeddings' rate;
//! - the pooler (`ContextPooler`: dropout → `pooler.dense` → `pooler_hidden_act` on the first
//!   token) belongs to `DebertaV2ForSequenceClassification`, not to the base model: it is part
//!   of [`Encoder::sequence_head`], created under `pooler.` (role [`ParamGroup::Pooler`]) and
//!   allowed to be missing from pre-trained checkpoints ([`Encoder::head_prefixes`]);
//! - the padding mask is HF's pairwise one (query and key both real) filled with the dtype's
//!   minimum before the softmax; embeddings of padding tokens are zeroed as HF does;
//! - DeBERTa-v2-xlarge's convolution layer (`conv_kernel_size > 0`) is not implemented: such a
//!   config is refused with an error, not run without it.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::{Activation, EncoderConfig};
use crate::encoder::{Encoder, EncoderOutput, Family, SequenceHead};
use crate::layers::{
    activate, embedding, layer_norm, linear, min_value, run_layers, Dropouts, EncoderInput,
    FeedForward,
};
use crate::params::ParamGroup;
use crate::ModelError;

/// The DeBERTa-v2/v3 family (`model_type = "deberta-v2"`).
#[derive(Debug)]
pub struct DebertaV2;

#[derive(Debug, Clone, serde::Deserialize)]
struct Extra {
    #[serde(default)]
    relative_attention: bool,
    #[serde(default = "minus_one")]
    max_relative_positions: i64,
    #[serde(default = "minus_one")]
    position_buckets: i64,
    #[serde(default)]
    norm_rel_ebd: Option<String>,
    #[serde(default)]
    share_att_key: bool,
    #[serde(default)]
    pos_att_type: Option<PosAttType>,
    #[serde(default = "yes")]
    position_biased_input: bool,
    #[serde(default)]
    pooler_hidden_size: Option<i64>,
    #[serde(default)]
    pooler_dropout: f64,
    #[serde(default = "gelu")]
    pooler_hidden_act: Activation,
    #[serde(default)]
    cls_dropout: Option<f64>,
    #[serde(default)]
    conv_kernel_size: i64,
    #[serde(default)]
    attention_head_size: Option<i64>,
}

/// `pos_att_type` is a list in new configs and `"p2c|c2p"` in old ones.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
enum PosAttType {
    List(Vec<String>),
    Joined(String),
}

fn minus_one() -> i64 {
    -1
}
fn yes() -> bool {
    true
}
fn gelu() -> Activation {
    Activation::Gelu
}

impl Extra {
    fn parse(
        path: &std::path::Path,
        raw: &serde_json::Value,
        c: &EncoderConfig,
    ) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config {
            path: path.to_path_buf(),
            message,
        };
        let e: Extra = serde_json::from_value(raw.clone()).map_err(|e| err(e.to_string()))?;
        if e.conv_kernel_size > 0 {
            return Err(err(format!(
                "conv_kernel_size = {}: DeBERTa-v2's convolution layer is not implemented in stab",
                e.conv_kernel_size
            )));
        }
        if let Some(a) = e.attention_head_size {
            if a * c.num_attention_heads != c.hidden_size {
                return Err(err(format!(
                    "attention_head_size = {a} × {} heads ≠ hidden_size {} is not supported",
                    c.num_attention_heads, c.hidden_size
                )));
            }
        }
        for t in e.pos_att() {
            if t != "c2p" && t != "p2c" {
                return Err(err(format!(
                    "pos_att_type `{t}` is not supported (c2p, p2c)"
                )));
            }
        }
        Ok(e)
    }

    fn pos_att(&self) -> Vec<String> {
        match &self.pos_att_type {
            None => Vec::new(),
            Some(PosAttType::List(v)) => v.iter().map(|s| s.trim().to_lowercase()).collect(),
            Some(PosAttType::Joined(s)) => s.split('|').map(|s| s.trim().to_lowercase()).collect(),
        }
    }

    fn norm_rel(&self) -> bool {
        self.norm_rel_ebd
            .as_deref()
            .unwrap_or("none")
            .to_lowercase()
            .split('|')
            .any(|s| s.trim() == "layer_norm")
    }
}

impl Family for DebertaV2 {
    fn model_types(&self) -> &'static [&'static str] {
        &["deberta-v2"]
    }
    fn checkpoint_prefix(&self) -> &'static str {
        "deberta"
    }
    fn ignored_prefixes(&self) -> &'static [&'static str] {
        // Pre-training heads of the released checkpoints (MLM / replaced-token detection).
        &["lm_predictions.", "mask_predictions.", "cls.", "lm_head."]
    }
    fn config(
        &self,
        path: &std::path::Path,
        raw: &serde_json::Value,
    ) -> Result<EncoderConfig, ModelError> {
        let mut c = EncoderConfig::from_json(path, &raw.to_string())?;
        let e = Extra::parse(path, raw, &c)?;
        c.classifier_dropout = c.classifier_dropout.or(e.cls_dropout);
        Ok(c)
    }
    fn build(
        &self,
        p: nn::Path,
        config: &EncoderConfig,
        raw: &serde_json::Value,
        path: &std::path::Path,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        let e = Extra::parse(path, raw, config)?;
        Ok(Box::new(DebertaV2Model::new(p, config, e)))
    }
}

/// `DisentangledSelfAttention` + `DebertaV2SelfOutput`.
#[derive(Debug)]
struct Attention {
    query_proj: nn::Linear,
    key_proj: nn::Linear,
    value_proj: nn::Linear,
    pos_key_proj: Option<nn::Linear>,
    pos_query_proj: Option<nn::Linear>,
    dense: nn::Linear,
    layer_norm: nn::LayerNorm,
    heads: i64,
    head_dim: i64,
    c2p: bool,
    p2c: bool,
}

/// `DebertaV2Layer`.
#[derive(Debug)]
struct Layer {
    attention: Attention,
    feed_forward: FeedForward,
}

/// Per-forward tensors every layer shares.
struct Context<'a> {
    /// [batch, 1, seq, seq] bool: query and key both real tokens.
    mask: &'a Tensor,
    /// [seq, seq] bucketed relative positions q − k, if relative attention is on.
    rel_pos: Option<&'a Tensor>,
    /// [2·span, hidden] (layer-normed) relative position embeddings.
    rel_embeddings: Option<&'a Tensor>,
    span: i64,
    dropouts: Dropouts,
    train: bool,
}

impl Attention {
    fn new(p: nn::Path, c: &EncoderConfig, e: &Extra) -> Self {
        let (h, r) = (c.hidden_size, c.initializer_range);
        let s = &p / "self";
        let o = &p / "output";
        let pos = e.pos_att();
        let (c2p, p2c) = (
            pos.iter().any(|t| t == "c2p"),
            pos.iter().any(|t| t == "p2c"),
        );
        let separate = e.relative_attention && !e.share_att_key;
        Attention {
            query_proj: linear(&s / "query_proj", h, h, r),
            key_proj: linear(&s / "key_proj", h, h, r),
            value_proj: linear(&s / "value_proj", h, h, r),
            pos_key_proj: (separate && c2p).then(|| linear(&s / "pos_key_proj", h, h, r)),
            pos_query_proj: (separate && p2c).then(|| linear(&s / "pos_query_proj", h, h, r)),
            dense: linear(&o / "dense", h, h, r),
            layer_norm: layer_norm(&o / "LayerNorm", h, c.layer_norm_eps),
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
            c2p,
            p2c,
        }
    }

    /// `transpose_for_scores`: [b, t, heads·d] → [b·heads, t, d].
    fn split(&self, y: Tensor) -> Tensor {
        let (b, t, _) = y.size3().expect("[batch, seq, hidden]");
        y.view([b, t, self.heads, self.head_dim])
            .permute([0, 2, 1, 3])
            .contiguous()
            .view([b * self.heads, t, self.head_dim])
    }

    fn forward_t(&self, x: &Tensor, cx: &Context) -> Tensor {
        let (b, t, hidden) = x.size3().expect("hidden states are [batch, seq, hidden]");
        let q = self.split(self.query_proj.forward(x));
        let k = self.split(self.key_proj.forward(x));
        let v = self.split(self.value_proj.forward(x));
        let factor = 1 + self.c2p as i64 + self.p2c as i64;
        let scale = ((self.head_dim * factor) as f64).sqrt();
        let mut scores = q.bmm(&(k.transpose(-1, -2) / scale));
        if let (Some(rel_pos), Some(rel)) = (cx.rel_pos, cx.rel_embeddings) {
            let span = cx.span;
            let rel = rel
                .dropout(cx.dropouts.hidden, cx.train)
                .narrow(0, 0, 2 * span)
                .unsqueeze(0);
            let positions = |proj: &nn::Linear| self.split(proj.forward(&rel)).repeat([b, 1, 1]);
            if self.c2p {
                let pos_k = positions(self.pos_key_proj.as_ref().unwrap_or(&self.key_proj));
                let idx = (rel_pos + span)
                    .clamp(0, 2 * span - 1)
                    .expand([b * self.heads, t, t], true);
                let c2p = q.bmm(&pos_k.transpose(-1, -2)).gather(-1, &idx, false);
                scores += c2p / scale;
            }
            if self.p2c {
                let pos_q = positions(self.pos_query_proj.as_ref().unwrap_or(&self.query_proj));
                let idx = (-rel_pos + span)
                    .clamp(0, 2 * span - 1)
                    .expand([b * self.heads, t, t], true);
                let p2c = k
                    .bmm(&pos_q.transpose(-1, -2))
                    .gather(-1, &idx, false)
                    .transpose(-1, -2);
                scores += p2c / scale;
            }
        }
        let scores = scores
            .view([b, self.heads, t, t])
            .masked_fill(&cx.mask.logical_not(), min_value(scores.kind()));
        let probs = scores
            .softmax(-1, x.kind())
            .dropout(cx.dropouts.attention, cx.train);
        let ctx = probs
            .view([b * self.heads, t, t])
            .bmm(&v)
            .view([b, self.heads, t, self.head_dim])
            .permute([0, 2, 1, 3])
            .contiguous()
            .view([b, t, hidden]);
        let out = self
            .dense
            .forward(&ctx)
            .dropout(cx.dropouts.hidden, cx.train);
        self.layer_norm.forward(&(out + x))
    }
}

impl Layer {
    fn new(p: nn::Path, c: &EncoderConfig, e: &Extra) -> Self {
        Layer {
            attention: Attention::new(&p / "attention", c, e),
            feed_forward: FeedForward::new(&p, c),
        }
    }

    fn forward_t(&self, x: &Tensor, cx: &Context) -> Tensor {
        let a = self.attention.forward_t(x, cx);
        self.feed_forward
            .forward_t(&a, cx.dropouts.hidden, cx.train)
    }
}

/// `DebertaV2Model`.
#[derive(Debug)]
pub struct DebertaV2Model {
    word_embeddings: nn::Embedding,
    position_embeddings: Option<nn::Embedding>,
    token_type_embeddings: Option<nn::Embedding>,
    embed_proj: Option<nn::Linear>,
    embeddings_layer_norm: nn::LayerNorm,
    layers: Vec<Layer>,
    rel_embeddings: Option<nn::Embedding>,
    rel_layer_norm: Option<nn::LayerNorm>,
    /// Half the number of relative-position embeddings (`pos_ebd_size`).
    span: i64,
    /// `max_relative_positions` as HF resolves it.
    max_relative: i64,
    buckets: i64,
    extra: Extra,
    dropouts: Dropouts,
    config: EncoderConfig,
}

impl DebertaV2Model {
    fn new(p: nn::Path, c: &EncoderConfig, extra: Extra) -> Self {
        let (h, r) = (c.hidden_size, c.initializer_range);
        let e = c.embedding_size.unwrap_or(h);
        let emb = &p / "embeddings";
        let enc = &p / "encoder";
        let max_relative = if extra.max_relative_positions < 1 {
            c.max_position_embeddings
        } else {
            extra.max_relative_positions
        };
        let span = if extra.position_buckets > 0 {
            extra.position_buckets
        } else {
            max_relative
        };
        let layer_root = &enc / "layer";
        DebertaV2Model {
            word_embeddings: embedding(&emb / "word_embeddings", c.vocab_size, e, r),
            position_embeddings: extra.position_biased_input.then(|| {
                embedding(
                    &emb / "position_embeddings",
                    c.max_position_embeddings,
                    e,
                    r,
                )
            }),
            token_type_embeddings: (c.type_vocab_size > 0)
                .then(|| embedding(&emb / "token_type_embeddings", c.type_vocab_size, e, r)),
            embed_proj: (e != h).then(|| {
                nn::linear(
                    &emb / "embed_proj",
                    e,
                    h,
                    nn::LinearConfig {
                        ws_init: nn::Init::Randn { mean: 0., stdev: r },
                        bs_init: None,
                        bias: false,
                    },
                )
            }),
            embeddings_layer_norm: layer_norm(&emb / "LayerNorm", h, c.layer_norm_eps),
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::new(&layer_root / i, c, &extra))
                .collect(),
            rel_embeddings: extra
                .relative_attention
                .then(|| embedding(&enc / "rel_embeddings", 2 * span, h, r)),
            rel_layer_norm: (extra.relative_attention && extra.norm_rel())
                .then(|| layer_norm(&enc / "LayerNorm", h, c.layer_norm_eps)),
            span,
            max_relative,
            buckets: extra.position_buckets,
            extra,
            dropouts: Dropouts::from_config(c),
            config: c.clone(),
        }
    }

    /// `build_relative_position` for a sequence of `t` tokens: [t, t] of q − k, log-bucketed.
    fn relative_positions(&self, t: i64, device: tch::Device) -> Tensor {
        let ids = Tensor::arange(t, (Kind::Int64, device));
        let rel = ids.unsqueeze(1) - ids.unsqueeze(0);
        if self.buckets > 0 && self.max_relative > 0 {
            log_bucket_position(&rel, self.buckets, self.max_relative)
        } else {
            rel
        }
    }
}

/// `make_log_bucket_position`: distances within ±bucket/2 are kept, longer ones are mapped
/// logarithmically onto the remaining buckets up to `max_position`. Computed in f32 as HF.
pub(crate) fn log_bucket_position(rel: &Tensor, bucket_size: i64, max_position: i64) -> Tensor {
    let mid = bucket_size / 2;
    let sign = rel.sign();
    let inside = rel.lt(mid).logical_and(&rel.gt(-mid));
    let abs_pos = rel
        .abs()
        .where_self(&inside.logical_not(), &Tensor::from(mid - 1));
    let abs_f = abs_pos.to_kind(Kind::Float);
    // HF divides by torch.log(torch.tensor((max_position - 1) / mid)), an f32 tensor.
    let denom = Tensor::from((max_position - 1) as f32 / mid as f32).log();
    let log_pos = ((abs_f / mid as f64).log() / denom * (mid - 1) as f64).ceil() + mid as f64;
    rel.to_kind(Kind::Float)
        .where_self(&abs_pos.le(mid), &(log_pos * sign.to_kind(Kind::Float)))
        .to_kind(Kind::Int64)
}

impl Encoder for DebertaV2Model {
    fn model_type(&self) -> &'static str {
        "deberta-v2"
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
        let (b, t) = (ids.size()[0], ids.size()[1]);
        let d = self.dropouts;
        let mask = match input.attention_mask {
            Some(m) => m.shallow_clone(),
            None => ids.ones_like(),
        };
        // DebertaV2Embeddings.
        let mut e = self.word_embeddings.forward(ids);
        if let Some(pe) = &self.position_embeddings {
            let positions = Tensor::arange(t, (Kind::Int64, ids.device())).unsqueeze(0);
            e += pe.forward(&positions);
        }
        if let Some(te) = &self.token_type_embeddings {
            let zeros;
            let types = match input.token_type_ids {
                Some(x) => x,
                None => {
                    zeros = ids.zeros_like();
                    &zeros
                }
            };
            e += te.forward(types);
        }
        if let Some(proj) = &self.embed_proj {
            e = proj.forward(&e);
        }
        let e = self.embeddings_layer_norm.forward(&e);
        let kind = e.kind();
        let h = (e * mask.unsqueeze(2).to_kind(kind)).dropout(d.hidden, train);
        // DebertaV2Encoder.
        let m = mask.to_kind(Kind::Bool);
        let pair_mask = m.view([b, 1, 1, t]).logical_and(&m.view([b, 1, t, 1]));
        let rel_pos = self
            .rel_embeddings
            .as_ref()
            .map(|_| self.relative_positions(t, ids.device()));
        let rel_embeddings = self
            .rel_embeddings
            .as_ref()
            .map(|r| match &self.rel_layer_norm {
                Some(ln) => ln.forward(&r.ws),
                None => r.ws.shallow_clone(),
            });
        let cx = Context {
            mask: &pair_mask,
            rel_pos: rel_pos.as_ref(),
            rel_embeddings: rel_embeddings.as_ref(),
            span: self.span,
            dropouts: d,
            train,
        };
        let (h, hidden_states) = run_layers(h, &self.layers, all_hidden_states, |layer, h| {
            layer.forward_t(h, &cx)
        });
        EncoderOutput {
            last_hidden_state: h,
            pooled_output: None,
            hidden_states,
        }
    }
    fn param_group(&self, name: &str) -> ParamGroup {
        ParamGroup::of_bert_layout(name, &["encoder.rel_embeddings.", "encoder.LayerNorm."])
    }
    /// `DebertaV2ForSequenceClassification`: `ContextPooler` on the first token, dropout
    /// (`cls_dropout`, else `hidden_dropout_prob`: the caller's `dropout`), `classifier`.
    fn sequence_head(&self, p: &nn::Path, outputs: i64, dropout: f64) -> Box<dyn SequenceHead> {
        let ph = self
            .extra
            .pooler_hidden_size
            .unwrap_or(self.config.hidden_size);
        let r = self.config.initializer_range;
        Box::new(PooledHead {
            pooler: linear(p / "pooler" / "dense", ph, ph, r),
            pooler_dropout: self.extra.pooler_dropout,
            activation: self.extra.pooler_hidden_act,
            dropout,
            classifier: linear(p / "classifier", ph, outputs, r),
        })
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["classifier.", "pooler."]
    }
}

/// `ContextPooler` + dropout + `classifier`.
#[derive(Debug)]
struct PooledHead {
    pooler: nn::Linear,
    pooler_dropout: f64,
    activation: Activation,
    dropout: f64,
    classifier: nn::Linear,
}

impl SequenceHead for PooledHead {
    fn forward_t(&self, out: &EncoderOutput, train: bool) -> Tensor {
        let x = out
            .last_hidden_state
            .select(1, 0)
            .dropout(self.pooler_dropout, train);
        let pooled = activate(&self.pooler.forward(&x), self.activation);
        self.classifier
            .forward(&pooled.dropout(self.dropout, train))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_keep_short_distances_and_compress_long_ones() {
        // bucket 16 (mid 8), max position 128: |d| < 8 kept, beyond mapped onto 8..15.
        let rel = Tensor::from_slice(&[0i64, 3, -7, 8, 9, 50, -127]);
        let b = Vec::<i64>::try_from(log_bucket_position(&rel, 16, 128)).unwrap();
        assert_eq!(&b[..4], &[0, 3, -7, 8]);
        assert!(b[4] > 8 && b[4] <= 15, "{b:?}");
        assert!(b[5] > b[4] && b[5] <= 15, "{b:?}");
        assert_eq!(b[6], -15, "{b:?}");
    }
}
