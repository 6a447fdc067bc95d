//! The model a run trains: an encoder of any family plus a task head, or a head on frozen
//! features.
//!
//! Fine-tuning with `pooling = "pooler"` uses the family's own sequence head, as HF's
//! `<Family>ForSequenceClassification` (BERT: dropout + linear on the pooler output; RoBERTa:
//! dense → tanh → out_proj on `<s>`; …, see `stab_bert::Encoder::sequence_head`); `cls` and
//! `mean` put dropout + a linear layer on that pooling of the last hidden state; tagging is
//! HF's `BertForTokenClassification` (dropout + linear on every token). In the
//! feature-based mode (Devlin et al. Table 7) the encoder is frozen and runs without dropout;
//! the features a head reads are computed once per example and cached
//! ([`crate::feature_based`]), so an epoch costs only the head. Because `[CLS]` selection and mean pooling are linear, the
//! scalar mix of pooled layers equals the pooled scalar mix, so sentence tasks cache one pooled
//! vector per layer rather than every token of every layer.
//!
//! Table 7's "weighted sum" rows are a learned [`ScalarMix`] (γ · Σ softmax(w)ᵢ hᵢ, as ELMo
//! and AllenNLP's `ScalarMix`) over the layers the mode reads: the last four encoder layers,
//! or the L encoder layers without the embeddings. Its w and γ are variables under
//! `scalar_mix`, handed to the optimizer with the head.
//!
//! The BiLSTM head runs on *packed* sequences ([`BiLstm`]): each sentence's words are fed to
//! LibTorch's `lstm` over its own length only, as `torch.nn.utils.rnn.pack_padded_sequence`
//! does. Over a zero-padded batch, the backward direction would start on the padding and carry
//! a state built from it into every real word, so a word's prediction would depend on the
//! length of the longest sentence in its batch — random in training, length-sorted in
//! evaluation. Packing is exact: every direction of every layer sees exactly the sentence, so
//! a sentence's logits are the same alone or in any batch (up to float summation order).
//! Masking the output alone would not do (the backward state is already contaminated), and
//! running one batch per length or reversing each valid prefix would need per-direction LSTMs
//! of our own; packing keeps LibTorch's fused kernel and its parameter layout.

use stab_bert::{Encoder, EncoderInput, LinearHead, SequenceHead};
use stab_data::TaskKind;
use stab_spec::{FeatureHead, FeatureMode, Pooling};
use tch::nn;
use tch::{Kind, Tensor};

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
        // Encoder layers only (hidden state 0 is the embeddings), also on models with fewer
        // than four layers.
        FeatureMode::SumLastFour
        | FeatureMode::WeightedSumLastFour
        | FeatureMode::ConcatLastFour => (l.saturating_sub(3).max(1)..=l).collect(),
        FeatureMode::WeightedSumAllLayers => (1..=l).collect(),
        FeatureMode::ScalarMix => (0..=l).collect(),
    }
}

/// Combines the selected layers' tensors ([.., H] each) into the feature a head reads; for a
/// learned mix the layers are stacked on a new dimension −2 and mixed by the head.
pub fn combine_layers(mode: FeatureMode, layers: &[Tensor]) -> Tensor {
    match mode {
        FeatureMode::SumLastFour => layers
            .iter()
            .skip(1)
            .fold(layers[0].shallow_clone(), |a, b| a + b),
        FeatureMode::ConcatLastFour => Tensor::cat(layers, -1),
        m if m.learns_mix() => Tensor::stack(layers, -2),
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

    /// Current normalised weights (softmax of the learned scalars).
    pub fn normalised_weights(&self) -> Result<Vec<f64>, tch::TchError> {
        Vec::<f64>::try_from(self.weights.softmax(0, Kind::Double))
    }
}

/// Two-layer bidirectional LSTM over packed sequences (see the module docs).
///
/// The variables are tch's `nn::lstm` ones — same names (`weight_ih_l0`, …, `_reverse`), same
/// order, same initialisation (Kaiming-uniform weights, zero biases) — so a run draws the
/// same initial head as before packing.
#[derive(Debug)]
pub struct BiLstm {
    weights: Vec<Tensor>,
    hidden: i64,
    layers: i64,
}

impl BiLstm {
    pub fn new(p: &nn::Path, input: i64, hidden: i64, layers: i64) -> Self {
        let mut weights = Vec::new();
        for layer in 0..layers {
            let in_dim = if layer == 0 { input } else { 2 * hidden };
            for suffix in ["", "_reverse"] {
                let kaiming = nn::init::DEFAULT_KAIMING_UNIFORM;
                weights.push(p.var(
                    &format!("weight_ih_l{layer}{suffix}"),
                    &[4 * hidden, in_dim],
                    kaiming,
                ));
                weights.push(p.var(
                    &format!("weight_hh_l{layer}{suffix}"),
                    &[4 * hidden, hidden],
                    kaiming,
                ));
                for b in ["bias_ih", "bias_hh"] {
                    weights.push(p.var(
                        &format!("{b}_l{layer}{suffix}"),
                        &[4 * hidden],
                        nn::Init::Const(0.),
                    ));
                }
            }
        }
        BiLstm {
            weights,
            hidden,
            layers,
        }
    }

    /// [B, T, F] zero-padded sequences of `lengths` → [B, T, 2·hidden], zeros past each length.
    ///
    /// Rows are sorted by decreasing length for packing and put back in their order after
    /// (`enforce_sorted = false` in PyTorch). A length of 0 is run as 1 (its one step reads
    /// padding; such a row has no word to predict).
    pub fn forward_t(&self, x: &Tensor, lengths: &[i64], train: bool) -> Tensor {
        let (b, t) = (x.size()[0], x.size()[1]);
        assert_eq!(lengths.len() as i64, b, "one length per sequence");
        if t == 0 {
            return Tensor::zeros([b, 0, 2 * self.hidden], (x.kind(), x.device()));
        }
        let mut order: Vec<i64> = (0..b).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(lengths[i as usize]));
        let sorted_lengths: Vec<i64> = order
            .iter()
            .map(|&i| lengths[i as usize].clamp(1, t))
            .collect();
        let mut inverse = vec![0i64; b as usize];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i as usize] = pos as i64;
        }
        let device = x.device();
        let sorted = x.index_select(0, &Tensor::from_slice(&order).to_device(device));
        // Lengths and batch sizes stay on the CPU, as PyTorch's PackedSequence keeps them.
        let (data, batch_sizes) =
            sorted.internal_pack_padded_sequence(&Tensor::from_slice(&sorted_lengths), true);
        let zeros = Tensor::zeros([2 * self.layers, b, self.hidden], (x.kind(), device));
        let weights: Vec<&Tensor> = self.weights.iter().collect();
        // `train` only selects cuDNN's training mode (its backward needs it); there is no
        // inter-layer dropout.
        let (out, _, _) = Tensor::lstm_data(
            &data,
            &batch_sizes,
            &[&zeros, &zeros],
            &weights,
            true,
            self.layers,
            0.0,
            train,
            true,
        );
        let (padded, _) = Tensor::internal_pad_packed_sequence(&out, &batch_sizes, true, 0.0, t);
        padded.index_select(0, &Tensor::from_slice(&inverse).to_device(device))
    }
}

/// Head on cached features.
#[derive(Debug)]
pub struct FeatureModel {
    pub mode: FeatureMode,
    mix: Option<ScalarMix>,
    lstm: Option<BiLstm>,
    head: LinearHead,
}

impl FeatureModel {
    /// Creates the head variables under `p` (paths `scalar_mix`, `lstm`, `classifier`), with
    /// `outputs` outputs (classes, tags, or 1 for a score).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &nn::Path,
        mode: FeatureMode,
        head: FeatureHead,
        hidden: i64,
        num_layers: usize,
        outputs: i64,
        dropout: f64,
        lstm_hidden: i64,
        initializer_range: f64,
    ) -> Self {
        let mix = mode.learns_mix().then(|| {
            ScalarMix::new(
                p / "scalar_mix",
                feature_layers(mode, num_layers).len() as i64,
            )
        });
        let width = feature_width(mode, hidden, num_layers);
        let (lstm, head_in) = match head {
            FeatureHead::Bilstm => (
                Some(BiLstm::new(&(p / "lstm"), width, lstm_hidden, 2)),
                2 * lstm_hidden,
            ),
            FeatureHead::Linear => (None, width),
        };
        FeatureModel {
            mode,
            mix,
            lstm,
            head: LinearHead::new(p.clone(), head_in, outputs, dropout, initializer_range),
        }
    }

    /// Features [B, F] (sentences) or [B, W, F] (words, zero-padded past each sentence's
    /// `lengths`) — with a layer dimension before F for a learned mix — to outputs. Word
    /// features need their lengths when the head is a BiLSTM; a sentence is one step.
    pub fn forward_t(&self, features: &Tensor, lengths: Option<&[i64]>, train: bool) -> Tensor {
        let x = match &self.mix {
            Some(m) => m.forward(features),
            None => features.shallow_clone(),
        };
        let sentences = x.dim() == 2;
        let x = match &self.lstm {
            Some(l) if sentences => l
                .forward_t(&x.unsqueeze(1), &vec![1; x.size()[0] as usize], train)
                .squeeze_dim(1),
            Some(l) => l.forward_t(
                &x,
                lengths.expect("word features come with their lengths"),
                train,
            ),
            None => x,
        };
        self.head.forward_t(&x, train)
    }

    pub fn mix_weights(&self) -> Result<Option<Vec<f64>>, tch::TchError> {
        self.mix
            .as_ref()
            .map(ScalarMix::normalised_weights)
            .transpose()
    }
}

/// A fine-tuned encoder with its task head.
#[derive(Debug)]
pub struct FineTuneModel {
    pub bert: Box<dyn Encoder>,
    head: TaskHead,
    pooling: Pooling,
    kind: TaskKind,
}

/// The family's sequence head (`pooling = "pooler"`), or a linear head on a pooling of the
/// tokens (`cls`, `mean`) or on every token (tagging).
#[derive(Debug)]
enum TaskHead {
    Family(Box<dyn SequenceHead>),
    Linear(LinearHead),
}

impl FineTuneModel {
    /// The head reads the pooled sentence (or every token, for tagging) and has `outputs`
    /// outputs.
    pub fn new(
        p: &nn::Path,
        bert: Box<dyn Encoder>,
        kind: TaskKind,
        outputs: i64,
        pooling: Pooling,
        classifier_dropout: f64,
    ) -> Self {
        let c = bert.config().clone();
        let head = if pooling == Pooling::Pooler && kind != TaskKind::Tagging {
            TaskHead::Family(bert.sequence_head(p, outputs, classifier_dropout))
        } else {
            TaskHead::Linear(LinearHead::new(
                p.clone(),
                c.hidden_size,
                outputs,
                classifier_dropout,
                c.initializer_range,
            ))
        };
        FineTuneModel {
            head,
            bert,
            pooling,
            kind,
        }
    }

    /// Logits [B, C], regression values [B, 1] or token logits [B, T, C].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> Tensor {
        let out = self.bert.forward_t(input, train, false);
        match &self.head {
            TaskHead::Family(head) => head.forward_t(&out, train),
            TaskHead::Linear(head) if self.kind == TaskKind::Tagging => {
                head.forward_t(&out.last_hidden_state, train)
            }
            TaskHead::Linear(head) => {
                let pooled = pool(
                    &out.last_hidden_state,
                    input.attention_mask.expect("batches carry a mask"),
                    self.pooling,
                );
                head.forward_t(&pooled, train)
            }
        }
    }
}

/// The loss of `outputs` against `targets` for a task of kind `kind`: cross-entropy over
/// classes or tags ([`crate::batch::IGNORE`] ignored), mean squared error for scores.
pub fn loss(outputs: &Tensor, targets: &Tensor, kind: TaskKind) -> Result<Tensor, tch::TchError> {
    let ce = |logits: &Tensor, targets: &Tensor| {
        logits.f_cross_entropy_loss::<Tensor>(
            targets,
            None,
            tch::Reduction::Mean,
            crate::batch::IGNORE,
            0.0,
        )
    };
    match kind {
        TaskKind::Classification => ce(outputs, targets),
        TaskKind::Regression => outputs
            .f_squeeze_dim(-1)?
            .f_to_kind(Kind::Float)?
            .f_mse_loss(&targets.f_to_kind(Kind::Float)?, tch::Reduction::Mean),
        TaskKind::Tagging => {
            let n = outputs.size().last().copied().unwrap_or(1);
            ce(&outputs.f_view([-1, n])?, &targets.f_view([-1])?)
        }
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

    /// "weighted sum of all 12 layers" mixes the 12 encoder layers (not the
    /// 13 hidden states with the embeddings); "weighted sum of last four" is a learned mix of
    /// the last four.
    #[test]
    fn weighted_sums_mix_encoder_layers_with_learned_weights() {
        assert_eq!(
            feature_layers(FeatureMode::WeightedSumAllLayers, 12),
            (1..=12).collect::<Vec<_>>()
        );
        assert_eq!(
            feature_layers(FeatureMode::WeightedSumLastFour, 12),
            vec![9, 10, 11, 12]
        );
        // Fewer than four layers: the encoder layers there are, never the embeddings.
        assert_eq!(
            feature_layers(FeatureMode::WeightedSumLastFour, 2),
            vec![1, 2]
        );
        for (mode, mixed) in [
            (FeatureMode::WeightedSumAllLayers, Some(12)),
            (FeatureMode::WeightedSumLastFour, Some(4)),
            (FeatureMode::ScalarMix, Some(13)),
            (FeatureMode::SumLastFour, None),
        ] {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let m = FeatureModel::new(
                &vs.root(),
                mode,
                FeatureHead::Linear,
                4,
                12,
                2,
                0.0,
                3,
                0.02,
            );
            let vars = vs.variables();
            assert_eq!(
                vars.get("scalar_mix.weights").map(|w| w.size()),
                mixed.map(|n| vec![n]),
                "{mode:?}"
            );
            assert_eq!(vars.contains_key("scalar_mix.gamma"), mixed.is_some());
            assert_eq!(
                m.mix_weights().unwrap().map(|w| w.len()),
                mixed.map(|n| n as usize)
            );
        }
        // The weighted sum weighs: raising one layer's weight moves the mix towards it, where
        // the unweighted sum stays the plain sum.
        let layers: Vec<Tensor> = (1..=4)
            .map(|k| Tensor::full([1, 2], k as f64, (Kind::Float, tch::Device::Cpu)))
            .collect();
        let sum = combine_layers(FeatureMode::SumLastFour, &layers);
        assert_eq!(
            Vec::<f32>::try_from(sum.view([-1])).unwrap(),
            vec![10.0, 10.0]
        );
        let stacked = combine_layers(FeatureMode::WeightedSumLastFour, &layers);
        assert_eq!(stacked.size(), vec![1, 4, 2]);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut mix = ScalarMix::new(vs.root(), 4);
        tch::no_grad(|| {
            mix.weights
                .copy_(&Tensor::from_slice(&[0f32, 0., 0., 2f32.ln() + 3f32.ln()]));
            let _ = mix.gamma.fill_(2.0);
        });
        // softmax(0, 0, 0, ln 6) = (1, 1, 1, 6)/9; γ = 2: 2·(1 + 2 + 3 + 24)/9 = 20/3.
        let y = Vec::<f32>::try_from(mix.forward(&stacked).view([-1])).unwrap();
        assert!((y[0] - 20.0 / 3.0).abs() < 1e-5, "{y:?}");
    }

    fn bilstm_model(seed: i64) -> (nn::VarStore, FeatureModel) {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let m = FeatureModel::new(
            &vs.root(),
            FeatureMode::Last,
            FeatureHead::Bilstm,
            6,
            2,
            3,
            0.1,
            5,
            0.02,
        );
        (vs, m)
    }

    /// The BiLSTM reads each sentence over its own length, so its logits are
    /// the same alone and zero-padded in a batch of longer sentences.
    #[test]
    fn bilstm_logits_do_not_depend_on_batch_padding() {
        let (_vs, m) = bilstm_model(3);
        let lengths = [7i64, 2, 5];
        let sentences: Vec<Tensor> = lengths
            .iter()
            .map(|&l| Tensor::randn([l, 6], (Kind::Float, tch::Device::Cpu)))
            .collect();
        let padded: Vec<Tensor> = sentences
            .iter()
            .map(|s| s.constant_pad_nd([0, 0, 0, 7 - s.size()[0]]))
            .collect();
        let batch = Tensor::stack(&padded, 0);
        let together = m.forward_t(&batch, Some(&lengths), false);
        assert_eq!(together.size(), vec![3, 7, 3]);
        for (row, s) in sentences.iter().enumerate() {
            let l = lengths[row];
            let alone = m.forward_t(&s.unsqueeze(0), Some(&[l]), false).get(0);
            let in_batch = together.get(row as i64).narrow(0, 0, l);
            let diff = (&alone - &in_batch).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "sentence {row}: {diff}");
        }
        // Reading the padding as words (the old behaviour) changes the short sentence's
        // logits: the comparison above can fail.
        let unpacked = m
            .forward_t(&batch, Some(&[7, 7, 7]), false)
            .get(1)
            .narrow(0, 0, 2);
        let alone = m
            .forward_t(&sentences[1].unsqueeze(0), Some(&[2]), false)
            .get(0);
        assert!((&alone - &unpacked).abs().max().double_value(&[]) > 1e-4);
    }

    /// Packing changes what the LSTM reads, not what it computes: on a batch without padding
    /// the head equals tch's `nn::lstm` with the same variables (same names, order and
    /// initialisation as before packing).
    #[test]
    fn bilstm_matches_tch_lstm_without_padding() {
        use tch::nn::RNN;
        let (_vs, m) = bilstm_model(9);
        tch::manual_seed(9);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let cfg = nn::RNNConfig {
            num_layers: 2,
            bidirectional: true,
            batch_first: true,
            train: false,
            ..Default::default()
        };
        let reference = nn::lstm(vs.root() / "lstm", 6, 5, cfg);
        let x = Tensor::randn([2, 4, 6], (Kind::Float, tch::Device::Cpu));
        let ours = m.lstm.as_ref().unwrap().forward_t(&x, &[4, 4], false);
        let (theirs, _) = reference.seq(&x);
        let diff = (&ours - &theirs).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
    }

    #[test]
    fn bilstm_trains_through_the_packed_sequence() {
        let (vs, m) = bilstm_model(4);
        let x = Tensor::randn([2, 3, 6], (Kind::Float, tch::Device::Cpu));
        let y = m.forward_t(&x, Some(&[3, 1]), true);
        y.narrow(1, 0, 1).sum(Kind::Float).backward();
        let g = vs.variables()["lstm.weight_ih_l0_reverse"].grad();
        assert!(g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
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
