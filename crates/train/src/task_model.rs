//! The model a run trains: BERT plus a task head, or a head on frozen features.
//!
//! Fine-tuning mirrors HF's `BertForSequenceClassification` (dropout + linear on the pooler
//! output) and `BertForTokenClassification` (dropout + linear on every token). In the
//! feature-based mode (Devlin et al. Table 7) the encoder is frozen and runs without dropout;
//! the features a head reads are computed once per example and cached ([`FeatureCache`]), so
//! an epoch costs only the head. Because [CLS] selection and mean pooling are linear, the
//! scalar mix of pooled layers equals the pooled scalar mix, so sentence tasks cache one pooled
//! vector per layer rather than every token of every layer.

use stab_bert::{BertInput, BertModel, LinearHead};
use stab_spec::{FeatureHead, FeatureMode, Pooling};
use tch::nn::{self, RNN};
use tch::{Kind, Tensor};

/// What the task predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Classes(i64),
    Regression,
    Tags(i64),
}

impl Output {
    pub fn width(self) -> i64 {
        match self {
            Output::Classes(n) | Output::Tags(n) => n,
            Output::Regression => 1,
        }
    }
    pub fn is_tagging(self) -> bool {
        matches!(self, Output::Tags(_))
    }
}

/// Pools [B, T, H] hidden states to [B, H].
pub fn pool(hidden: &Tensor, mask: &Tensor, pooling: Pooling) -> Tensor {
    match pooling {
        Pooling::Pooler | Pooling::Cls => hidden.select(1, 0),
        Pooling::Mean => {
            let m = mask.to_kind(hidden.kind()).unsqueeze(-1);
            (hidden * &m).sum_dim_intlist(1, false, hidden.kind())
                / m.sum_dim_intlist(1, false, hidden.kind()).clamp_min(1.0)
        }
    }
}

/// Indices (into `hidden_states`, 0 = embeddings) that a feature mode reads.
pub fn feature_layers(mode: FeatureMode, num_layers: usize) -> Vec<usize> {
    let l = num_layers;
    match mode {
        FeatureMode::Off | FeatureMode::Last => vec![l],
        FeatureMode::Embeddings => vec![0],
        FeatureMode::SecondToLast => vec![l.saturating_sub(1)],
        FeatureMode::SumLastFour | FeatureMode::ConcatLastFour => {
            (l.saturating_sub(3)..=l).collect()
        }
        FeatureMode::ScalarMix => (0..=l).collect(),
    }
}

/// Combines the selected layers' tensors ([.., H] each) into the feature a head reads; for
/// scalar mix the layers are stacked on a new dimension −2 and mixed by the head.
pub fn combine_layers(mode: FeatureMode, layers: &[Tensor]) -> Tensor {
    match mode {
        FeatureMode::SumLastFour => layers
            .iter()
            .skip(1)
            .fold(layers[0].shallow_clone(), |a, b| a + b),
        FeatureMode::ConcatLastFour => Tensor::cat(layers, -1),
        FeatureMode::ScalarMix => Tensor::stack(layers, -2),
        _ => layers[0].shallow_clone(),
    }
}

/// Width of the combined feature (concatenation: one block per layer read; fewer than four
/// when the model has fewer than four layers).
pub fn feature_width(mode: FeatureMode, hidden: i64, num_layers: usize) -> i64 {
    match mode {
        FeatureMode::ConcatLastFour => feature_layers(mode, num_layers).len() as i64 * hidden,
        _ => hidden,
    }
}

/// Learned scalar mix γ·Σ softmax(w)ᵢ hᵢ (Peters et al. 2018), w = 0 and γ = 1 initially.
#[derive(Debug)]
pub struct ScalarMix {
    weights: Tensor,
    gamma: Tensor,
}

impl ScalarMix {
    pub fn new(p: nn::Path, layers: i64) -> Self {
        ScalarMix {
            weights: p.var("weights", &[layers], nn::Init::Const(0.)),
            gamma: p.var("gamma", &[1], nn::Init::Const(1.)),
        }
    }

    /// [.., layers, H] → [.., H]
    pub fn forward(&self, stacked: &Tensor) -> Tensor {
        let w = self.weights.softmax(0, Kind::Float).unsqueeze(-1);
        (stacked * w).sum_dim_intlist(-2, false, Kind::Float) * &self.gamma
    }

    /// Current normalised weights (for the record).
    pub fn normalised_weights(&self) -> Vec<f64> {
        Vec::<f64>::try_from(self.weights.softmax(0, Kind::Double)).unwrap_or_default()
    }
}

/// Head on cached features.
#[derive(Debug)]
pub struct FeatureModel {
    pub mode: FeatureMode,
    mix: Option<ScalarMix>,
    lstm: Option<nn::LSTM>,
    head: LinearHead,
}

impl FeatureModel {
    /// Creates the head variables under `p` (paths `scalar_mix`, `lstm`, `classifier`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &nn::Path,
        mode: FeatureMode,
        head: FeatureHead,
        hidden: i64,
        num_layers: usize,
        output: Output,
        dropout: f64,
        lstm_hidden: i64,
        initializer_range: f64,
    ) -> Self {
        let mix = (mode == FeatureMode::ScalarMix)
            .then(|| ScalarMix::new(p / "scalar_mix", num_layers as i64 + 1));
        let width = feature_width(mode, hidden, num_layers);
        let (lstm, head_in) = match head {
            FeatureHead::Bilstm => {
                // tch fixes an LSTM's train/eval mode at construction, so inter-layer dropout
                // would also fire at evaluation: it is off, and the head's own dropout (train
                // only) regularises the LSTM output instead.
                let cfg = nn::RNNConfig {
                    num_layers: 2,
                    bidirectional: true,
                    batch_first: true,
                    dropout: 0.0,
                    train: false,
                    ..Default::default()
                };
                (
                    Some(nn::lstm(p / "lstm", width, lstm_hidden, cfg)),
                    2 * lstm_hidden,
                )
            }
            FeatureHead::Linear => (None, width),
        };
        FeatureModel {
            mode,
            mix,
            lstm,
            head: LinearHead::new(
                p.clone(),
                head_in,
                output.width(),
                dropout,
                initializer_range,
            ),
        }
    }

    /// Features [B, F] (sentences) or [B, W, F] (words) — with a layer dimension before F for
    /// scalar mix — to outputs.
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Tensor {
        let x = match &self.mix {
            Some(m) => m.forward(features),
            None => features.shallow_clone(),
        };
        let x = match &self.lstm {
            Some(l) => {
                let x = if x.dim() == 2 { x.unsqueeze(1) } else { x };
                let (out, _) = l.seq(&x);
                out
            }
            None => x,
        };
        let y = self.head.forward_t(&x, train);
        if self.lstm.is_some() && features.dim() == 2 + usize::from(self.mix.is_some()) {
            y.squeeze_dim(1)
        } else {
            y
        }
    }

    pub fn mix_weights(&self) -> Option<Vec<f64>> {
        self.mix.as_ref().map(ScalarMix::normalised_weights)
    }
}

/// Fine-tuned BERT with a linear head.
#[derive(Debug)]
pub struct FineTuneModel {
    pub bert: BertModel,
    head: LinearHead,
    pooling: Pooling,
    output: Output,
}

impl FineTuneModel {
    pub fn new(
        p: &nn::Path,
        bert: BertModel,
        output: Output,
        pooling: Pooling,
        classifier_dropout: f64,
    ) -> Self {
        let c = bert.config().clone();
        FineTuneModel {
            head: LinearHead::new(
                p.clone(),
                c.hidden_size,
                output.width(),
                classifier_dropout,
                c.initializer_range,
            ),
            bert,
            pooling,
            output,
        }
    }

    /// Logits [B, C], regression values [B, 1] or token logits [B, T, C].
    pub fn forward_t(&self, input: &BertInput, train: bool) -> Tensor {
        let out = self.bert.forward_t(input, train, false);
        if self.output.is_tagging() {
            return self.head.forward_t(&out.last_hidden_state, train);
        }
        let pooled = match self.pooling {
            Pooling::Pooler => out.pooled_output,
            p => pool(
                &out.last_hidden_state,
                input.attention_mask.expect("batches carry a mask"),
                p,
            ),
        };
        self.head.forward_t(&pooled, train)
    }
}

/// The loss of `outputs` against `targets` for the task.
pub fn loss(outputs: &Tensor, targets: &Tensor, output: Output) -> Tensor {
    match output {
        Output::Classes(_) => outputs.cross_entropy_loss::<Tensor>(
            targets,
            None,
            tch::Reduction::Mean,
            crate::batch::IGNORE,
            0.0,
        ),
        Output::Regression => outputs
            .squeeze_dim(-1)
            .to_kind(Kind::Float)
            .mse_loss(&targets.to_kind(Kind::Float), tch::Reduction::Mean),
        Output::Tags(n) => outputs.view([-1, n]).cross_entropy_loss::<Tensor>(
            &targets.view([-1]),
            None,
            tch::Reduction::Mean,
            crate::batch::IGNORE,
            0.0,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_layers_follow_devlin_table_7() {
        assert_eq!(feature_layers(FeatureMode::Embeddings, 12), vec![0]);
        assert_eq!(feature_layers(FeatureMode::Last, 12), vec![12]);
        assert_eq!(feature_layers(FeatureMode::SecondToLast, 12), vec![11]);
        assert_eq!(
            feature_layers(FeatureMode::SumLastFour, 12),
            vec![9, 10, 11, 12]
        );
        assert_eq!(feature_layers(FeatureMode::ScalarMix, 6).len(), 7);
    }

    #[test]
    fn scalar_mix_starts_as_the_mean_of_layers() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mix = ScalarMix::new(vs.root(), 3);
        let layers = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.]).view([1, 3, 2]);
        let y = Vec::<f32>::try_from(mix.forward(&layers).view([-1])).unwrap();
        assert_eq!(y, vec![3.0, 4.0]);
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        let h = Tensor::from_slice(&[1f32, 1., 3., 3., 100., 100.]).view([1, 3, 2]);
        let m = Tensor::from_slice(&[1i64, 1, 0]).view([1, 3]);
        let y = Vec::<f32>::try_from(pool(&h, &m, Pooling::Mean).view([-1])).unwrap();
        assert_eq!(y, vec![2.0, 2.0]);
    }
}
