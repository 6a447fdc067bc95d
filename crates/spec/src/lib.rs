//! Run specifications, recipe presets and run records — the data contract of stab.
//!
//! Everything that describes *what* a fine-tuning run is lives here, apart from the code that
//! *executes* it (`stab-train`, which links LibTorch). The sweep expander, the launchers and the
//! statistics crate all read and write these types without linking LibTorch.
//!
//! Design decisions:
//! - **One fully resolved spec.** A run is described by a preset name plus overrides (a TOML
//!   table of field → value). [`RunSpec::resolve`] serialises the preset, merges the overrides
//!   and deserialises with `deny_unknown_fields`, so every field of [`RunSpec`] can be
//!   overridden — from a file, a flag or a sweep axis — through one mechanism, and an unknown or
//!   mistyped field is an error naming it.
//! - **Stable content hash as run id.** [`RunSpec::run_id`] hashes the canonical JSON of the
//!   resolved spec (fields in declaration order, floats round-tripped exactly). Adding seeds to a
//!   sweep adds runs and keeps the ids of existing ones.
//! - **Records are versioned.** [`RunRecord`] carries [`RECORD_SCHEMA_VERSION`], bumped with
//!   every added field; readers read every version up to theirs (missing fields take their
//!   defaults) and reject newer schemas with a clear error rather than misreading them.

mod diagnose;
mod early_failure;
mod preset;
mod record;
mod spec;
mod support;

pub use diagnose::value_offset;
pub use early_failure::{
    check_step, entropy, variance, EarlyFailure, EarlyFailureRule, RunSoFar, LOSS_MARGIN,
    LOSS_WINDOW,
};
pub use preset::{preset, DEFAULT_PRESET, PRESETS};
pub use record::{
    Curve, Evaluation, ModelSource, RecordError, RunRecord, RunStatus, Timing, Versions,
    MISMATCHED_PREFIX, RECORD_SCHEMA_VERSION, SELECTION_HALF_PREFIX,
};
pub use spec::{
    eval_steps, merge_override, parse_preset_name, AdamUpdate, Device, FeatureHead, FeatureMode,
    OptimizerSpec, Pooling, Precision, RunSpec, Schedule, Selection, SpecError,
};
pub use support::{
    error_chain, hostname, human_duration, line_col, unix_millis, unix_seconds, utc_timestamp,
};
#[cfg(feature = "progress")]
pub use support::{progress_bar, progress_style};
