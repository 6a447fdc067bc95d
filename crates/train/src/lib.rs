//! One fine-tuning run of stab, done right and recorded completely.
//!
//! The parts of a run, in the order [`run`] assembles them:
//!
//! - [`run_data`]: the task's splits read, subset, split and encoded, with the majority
//!   baseline; what the task predicts is derived there once.
//! - [`trainable`]: what is trained — [`fine_tune`] (BERT + head) or [`feature_based`] (a
//!   head on cached frozen features) — behind one trait, picked in one place.
//! - [`policy`]: which parameters train, their learning-rate scale and weight decay, and
//!   re-initialisation, by the parameter groups stab-bert names.
//! - [`train_loop`]: the optimisation loop, returning an outcome; [`evaluate`] scores on the
//!   dev sets and [`selection`] plans evaluations and picks the reported one.
//! - [`record`]: the run record built from the outcome.
//! - [`trainer`]: [`run`] assembles the parts and turns every outcome — errors and panics
//!   included — into a record.
//!
//! Building blocks: [`optim`] (our own Adam with decoupled weight decay — toward 0 or toward
//! the pre-trained weights — and the bias-correction switch, explicit because the update rule
//! is the science), [`mixout`] (Mixout on every linear weight, as Zhang et al. run it), [`schedule`]
//! (HF's linear warmup/decay and constant schedules), [`batch`] (seeded batch order, dynamic
//! padding, length grouping, loss targets), [`task_model`] (the networks: fine-tuned BERT +
//! head; linear, BiLSTM and scalar-mix heads on features), [`amp`] (bf16 autocast), and
//! [`features`] (hidden-state extraction for `stab features`).
//!
//! One run per process: `tch::manual_seed` and the thread count are process-global, so running
//! runs concurrently in one process would break reproducibility. Launchers start processes.

pub mod amp;
pub mod batch;
pub mod evaluate;
pub mod feature_based;
pub mod features;
pub mod fine_tune;
pub mod mixout;
pub mod model_dir;
pub mod optim;
pub mod policy;
pub mod record;
pub mod run_data;
pub mod schedule;
pub mod selection;
pub mod task_model;
pub mod train_loop;
pub mod trainable;
pub mod trainer;

pub use trainer::{constant_loss_of, initial_state, run, InitialState, RunContext};

/// Errors that make a run an `error` record.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Spec(#[from] stab_spec::SpecError),
    #[error(transparent)]
    Data(#[from] stab_data::DataError),
    #[error(transparent)]
    Model(#[from] stab_bert::ModelError),
    #[error(transparent)]
    Hub(#[from] stab_hub::HubError),
    #[error("LibTorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Input {
        path: std::path::PathBuf,
        message: String,
    },
}
