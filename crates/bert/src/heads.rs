//! Task heads, initialised like HF (N(0, initializer_range) weights, zero bias).
//!
//! Heads live under the variable path `classifier`, as in HF's `BertForSequenceClassification`
//! and `BertForTokenClassification`, so a fine-tuned HF checkpoint's head loads too. A head's
//! variables are created after `tch::manual_seed(init_seed)`: in a seed-variance study the head
//! initialisation is one of the things being measured.

use tch::nn::{self, Module};
use tch::Tensor;

use crate::model::linear;

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
