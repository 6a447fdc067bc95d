//! What a run trains — the [`Trainable`] trait — and the one place that picks it from the
//! spec: a fine-tuned encoder of any family ([`crate::fine_tune`]) or a head on frozen features
//! ([`crate::feature_based`]).
//!
//! A trainable answers the loop's and the evaluation's questions — its outputs and targets
//! on a training batch, its outputs on an evaluation set, one item's word tags from its
//! output row — and the policy's (is the whole encoder frozen? which encoder classifies the
//! parameters?). Everything specific to
//! an approach (the feature side's hidden-state caches, word-level targets, feature batches;
//! the fine-tuned side's padding and autocast) lives behind it, so a new approach is one new
//! implementation and one branch in [`build`].
//!
//! Variables are created in a fixed order from LibTorch's generator seeded with the init seed
//! — the encoder, then the approach's head — and only then are the checkpoint's weights
//! loaded (the `load` callback: loading and re-initialisation), so the same init seed gives
//! the same head whatever the approach does after.

use stab_bert::{Checkpoint, Dropouts, Encoder, EncoderConfig, LayerKnobs};
use stab_data::TaskKind;
use stab_spec::{Precision, RunSpec};
use tch::nn::{self, VarStore};
use tch::{Device, Tensor};

use crate::batch::{Batch, Item};
use crate::feature_based::FeatureBased;
use crate::fine_tune::FineTuned;
use crate::run_data::RunData;
use crate::TrainError;

/// A model a run trains, with whatever it needs to read the run's data.
pub trait Trainable {
    /// Whether the pretrained encoder is frozen as a whole (the policy then hands none of it
    /// to the optimizer).
    fn freezes_encoder(&self) -> bool;

    /// The encoder whose variables the run holds: it classifies every parameter
    /// ([`Encoder::param_group`]) for the policy.
    fn encoder(&self) -> &dyn Encoder;

    /// Training-mode outputs of a batch of the training items and the targets (same device)
    /// they are scored against.
    fn train_outputs(&self, data: &RunData, batch: &Batch) -> Result<(Tensor, Tensor), TrainError>;

    /// Eval-mode outputs of items `chunk` of evaluation set `set` (an index into
    /// [`RunData::evals`]): logits [B, C], values [B, 1] or per-token logits [B, T, C].
    fn eval_outputs(
        &self,
        data: &RunData,
        set: usize,
        chunk: &[usize],
    ) -> Result<Tensor, TrainError>;

    /// One item's tag per word from the argmax of its output row; words truncated away get
    /// tag 0 (`O`).
    fn word_tags(&self, item: &Item, row: &[i64]) -> Vec<usize>;
}

/// What every approach builds from: the spec, the model's config and the run's device.
pub struct Setup<'a> {
    pub spec: &'a RunSpec,
    /// The checkpoint: its family builds the encoder.
    pub checkpoint: &'a Checkpoint,
    pub config: &'a EncoderConfig,
    pub device: Device,
    pub pad_id: i64,
    pub kind: TaskKind,
    /// Width of the output layer.
    pub outputs: i64,
}

impl Setup<'_> {
    /// The checkpoint family's encoder under `root`, with the spec's dropouts where it
    /// overrides the config's; layer-wise knobs its structure gives no meaning (ALBERT's
    /// shared layers) are refused.
    pub fn encoder(&self, root: &nn::Path) -> Result<Box<dyn Encoder>, TrainError> {
        let (spec, config) = (self.spec, self.config);
        let mut bert = self.checkpoint.encoder(root.clone())?;
        bert.check_layer_knobs(&LayerKnobs {
            freeze_layers: spec.freeze_layers,
            reinit_layers: spec.reinit_layers,
            layerwise_lr_decay: spec.layerwise_lr_decay,
        })?;
        bert.set_dropouts(Dropouts {
            hidden: spec.hidden_dropout.unwrap_or(config.hidden_dropout_prob),
            attention: spec
                .attention_dropout
                .unwrap_or(config.attention_probs_dropout_prob),
        });
        Ok(bert)
    }

    /// Dropout before the head: the spec's, else the config's `classifier_dropout`, else its
    /// hidden dropout (as HF).
    pub fn classifier_dropout(&self) -> f64 {
        self.spec
            .classifier_dropout
            .or(self.config.classifier_dropout)
            .unwrap_or(self.config.hidden_dropout_prob)
    }

    pub fn num_layers(&self) -> usize {
        self.config.num_hidden_layers as usize
    }

    pub fn precision(&self) -> Precision {
        self.spec.precision
    }
}

/// Loads the checkpoint into the variables an approach created (and re-initialises what the
/// spec asks, as the encoder classifies its parameters).
pub type Load<'a> = &'a mut dyn FnMut(&mut VarStore, &dyn Encoder) -> Result<(), TrainError>;

/// Builds what `setup.spec` trains in `vs`: its variables (encoder, then head), the loaded
/// weights, and whatever it precomputes from `data`.
pub fn build(
    vs: &mut VarStore,
    setup: &Setup,
    data: &RunData,
    load: Load,
) -> Result<Box<dyn Trainable>, TrainError> {
    Ok(if setup.spec.fine_tunes() {
        Box::new(FineTuned::build(vs, setup, load)?)
    } else {
        Box::new(FeatureBased::build(vs, setup, data, load)?)
    })
}
