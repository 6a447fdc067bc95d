//! Task heads, initialised like HF (N(0, initializer_range) weights, zero bias): the linear
//! head of token classification and feature-based models, and the two sequence heads the
//! families share (on the pooled output for BERT and ALBERT, on the first token for RoBERTa
//! and ELECTRA).
//!
//! Heads live under the variable path `classifier`, as in HF's `BertForSequenceClassification`
//! and `BertForTokenClassification`, so a fine-tuned HF checkpoint's head loads too. A head's
//! variables are created after `tch::manual_seed(init_seed)`: in a seed-variance study the head
//! initialisation is one of the things being measured.

use tch::nn::{self, Module};
use tch::Tensor;

use crate::encoder::{EncoderOutput, SequenceHead};
use crate::layers::linear;

/// Dropout then a linear layer: sequence classification (N labels), regression (1 output),
/// or, applied per token, token classification.
#[derive(Debug)]
pub struct LinearHead {
    dropout: f64,
    classifier: nn::Linear,
}

impl LinearHead {
    /// Creates `classifier.weight` [outputs, input] and `classifier.bias` under `p`.
    pub fn new(
        p: nn::Path,
        input: i64,
        outputs: i64,
        dropout: f64,
        initializer_range: f64,
    ) -> Self {
        LinearHead {
            dropout,
            classifier: linear(p / "classifier", input, outputs, initializer_range),
        }
    }

    /// [.., input] → [.., outputs] logits (or the regression value).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.classifier.forward(&x.dropout(self.dropout, train))
    }
}

/// BERT's and ALBERT's head: dropout on the pooled output, then `classifier`.
#[derive(Debug)]
pub(crate) struct PooledLinearHead {
    pub(crate) dropout: f64,
    pub(crate) classifier: nn::Linear,
}

impl PooledLinearHead {
    pub(crate) fn new(p: &nn::Path, hidden: i64, outputs: i64, dropout: f64, range: f64) -> Self {
        PooledLinearHead {
            dropout,
            classifier: linear(p / "classifier", hidden, outputs, range),
        }
    }
}

impl SequenceHead for PooledLinearHead {
    fn forward_t(&self, out: &EncoderOutput, train: bool) -> Tensor {
        let pooled = out
            .pooled_output
            .as_ref()
            .expect("families with a PooledLinearHead have a pooler");
        self.classifier
            .forward(&pooled.dropout(self.dropout, train))
    }
}

/// RoBERTa's and ELECTRA's head on the first token: dropout, `classifier.dense`, activation
/// (tanh for RoBERTa, GELU for ELECTRA), dropout, `classifier.out_proj`.
#[derive(Debug)]
pub(crate) struct FirstTokenHead {
    dropout: f64,
    dense: nn::Linear,
    out_proj: nn::Linear,
    gelu: bool,
}

impl FirstTokenHead {
    pub(crate) fn new(
        p: &nn::Path,
        hidden: i64,
        outputs: i64,
        dropout: f64,
        range: f64,
        gelu: bool,
    ) -> Self {
        let c = p / "classifier";
        FirstTokenHead {
            dropout,
            dense: linear(&c / "dense", hidden, hidden, range),
            out_proj: linear(&c / "out_proj", hidden, outputs, range),
            gelu,
        }
    }
}

impl SequenceHead for FirstTokenHead {
    fn forward_t(&self, out: &EncoderOutput, train: bool) -> Tensor {
        let x = out
            .last_hidden_state
            .select(1, 0)
            .dropout(self.dropout, train);
        let x = self.dense.forward(&x);
        let x = if self.gelu { x.gelu("none") } else { x.tanh() };
        self.out_proj.forward(&x.dropout(self.dropout, train))
    }
}
