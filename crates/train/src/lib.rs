//! One fine-tuning run of stab, done right and recorded completely.
//!
//! - [`optim`]: our own Adam with decoupled weight decay and the bias-correction switch
//!   (BERTAdam vs. AdamW), explicit because the update rule is the science.
//! - [`schedule`]: HF's linear warmup/decay and constant schedules, step for step.
//! - [`batch`]: seeded batch order, dynamic padding, length grouping.
//! - [`task_model`]: fine-tuned BERT + head, or heads on cached frozen features (linear,
//!   BiLSTM, scalar mix).
//! - [`trainer`]: [`run`] turns a resolved spec into a run record — for every outcome.
//! - [`features`]: hidden-state extraction for `stab features`.
//!
//! One run per process: `tch::manual_seed` and the thread count are process-global, so running
//! runs concurrently in one process would break reproducibility. Launchers start processes.

pub mod amp;
pub mod batch;
pub mod features;
pub mod optim;
pub mod schedule;
pub mod task_model;
pub mod trainer;

pub use trainer::{initial_state, run, InitialState, RunContext};

/// Errors that make a run an `error` record.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Spec(#[from] stab_spec::SpecError),
    #[error(transparent)]
    Data(#[from] stab_data::DataError),
    #[error(transparent)]
    Model(#[from] stab_bert::BertError),
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
