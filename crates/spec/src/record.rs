//! The record every run leaves behind — finished, diverged or failed.
//!
//! In a stability study the failed and diverged runs are the signal, so a record exists for
//! each of them too, with its status and seeds stored as data (never recovered from logs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::spec::RunSpec;

/// Version of the record layout, bumped whenever a field is added or changed; every version up
/// to this one is read (a field a version lacks reads as its default), a newer one is refused.
///
/// - 1: the layout up to `newly_initialised`.
/// - 2: adds `never_improved`.
/// - 3: adds the `stopped` status (a predicted failure, [`crate::EarlyFailure`]) and
///   `constant_loss`.
pub const RECORD_SCHEMA_VERSION: u32 = 3;

/// Key prefix of MNLI's mismatched-dev scores in a record's metric maps
/// (`final_metrics["mismatched/accuracy"]`, `selected_metrics[…]`, `baseline_metrics[…]`): the
/// matched dev set is the run's own (selection, `score`), the mismatched one is reported beside it.
pub const MISMATCHED_PREFIX: &str = "mismatched/";

/// Key prefix, in `baseline_metrics`, of the majority baseline on the *selection* half of a
/// split dev set (`dev_split_seed`, the Zhang presets): `evaluations[].score` is on that half,
/// the run's `score` and `majority_baseline` on the report half, and a plot of the evaluations
/// draws this baseline. Records written before it was added lack the key.
pub const SELECTION_HALF_PREFIX: &str = "selection_half/";

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("could not read run record {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run record {path} is not valid: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("run record {path} has schema version {found}; this stab reads up to {supported}")]
    Schema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Trained to the end; scores are valid.
    Ok,
    /// Loss or gradients became non-finite; training stopped at `diverged_at_step`. A result:
    /// the model as the reference codes would carry it on (the non-finite update applied) is
    /// evaluated there, so `final_score` and `score` are what it really gets — usually a
    /// constant prediction, since the argmax of NaN logits is class 0.
    Diverged,
    /// The run could not complete (bad input, crash); `message` says why. Re-run with `--retry`.
    Error,
    /// Stopped by the user (Ctrl-C); re-run on the next sweep.
    Interrupted,
    /// Stopped by the spec's `early_failure` policy: a rule predicted, at `steps_done`, that
    /// the run would fail (`message` says which rule). Not a result: no final score; reports
    /// count it in its own column. A sweep does not run it again.
    Stopped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
            RunStatus::Error => "error",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Stopped => "stopped",
        }
    }
}

/// A curve over optimizer steps (possibly bucket-averaged for long runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub steps: Vec<u64>,
    pub values: Vec<f64>,
}

/// One evaluation on the dev (selection) split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub step: u64,
    pub epoch: f64,
    /// The task's primary metric (the spec's `metric`, else the task default).
    pub score: f64,
    pub metrics: BTreeMap<String, f64>,
    /// Scores on the held-out report half when the dev set is split (Zhang et al.).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_metrics: Option<BTreeMap<String, f64>>,
}

/// Speed and memory. Excluded from determinism checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub started_unix: f64,
    pub wall_seconds: f64,
    pub train_seconds: f64,
    /// Of `train_seconds`, the optimizer's: gradient clipping, the update and zeroing the
    /// gradients (0 in records before it was measured).
    #[serde(default)]
    pub optimizer_seconds: f64,
    pub train_examples_per_second: f64,
    /// Non-padding tokens per second.
    pub train_tokens_per_second: f64,
    /// Peak resident set size of the process (bytes), from the OS.
    pub peak_rss_bytes: u64,
    pub hostname: String,
}

/// Software and hardware the run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub stab: String,
    /// `git describe` of the source tree at build time, if known.
    pub stab_revision: String,
    pub libtorch: String,
    pub tch: String,
    pub threads: usize,
    pub device: String,
    /// What ran: `fp32` or `bf16-autocast (cpu|cuda)` (absent in records before it existed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub precision: String,
    /// The GPU the run was pinned to: `CUDA_VISIBLE_DEVICES` as the launcher set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// How Adam held its state: `flat` (one buffer per parameter group) or `per-tensor`
    /// (absent in records before the flat layout, which were per-tensor).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub adam_layout: String,
}

/// Where a model named on the Hugging Face Hub (`org/name[@revision]`) came from: absent for
/// a local checkpoint directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSource {
    /// `org/name`.
    pub repo: String,
    /// As asked for (`main` unless `@revision` was given).
    pub revision: String,
    /// The commit the revision resolved to (the snapshot the run read).
    pub commit: String,
    /// SHA-256 of `model.safetensors`.
    pub weights_sha256: String,
}

/// The run record (`record.json` in the run directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub spec: RunSpec,
    /// Named group of the sweep this run belongs to (not part of the run id).
    #[serde(default)]
    pub group: Option<String>,
    /// Name of the sweep this run belongs to.
    #[serde(default)]
    pub sweep: Option<String>,
    pub status: RunStatus,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub diverged_at_step: Option<u64>,
    /// Name of the primary metric all scores below use.
    pub metric: String,
    /// Metric that picked the selected checkpoint (the spec's `selection_metric` for the task,
    /// else `metric`). Optional in `record.json`: absent, it reads as empty, and `metric`
    /// picked the checkpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selection_metric: String,
    /// Majority-class baseline of the reported split, primary metric (defines a failed run).
    pub majority_baseline: Option<f64>,
    pub baseline_metrics: BTreeMap<String, f64>,
    pub train_examples: usize,
    /// Parameters the optimizer updates (frozen layers and a frozen encoder excluded).
    #[serde(default)]
    pub trainable_parameters: u64,
    pub total_steps: u64,
    pub steps_done: u64,
    pub evaluations: Vec<Evaluation>,
    /// Primary metric of the model after the last step (on the report split).
    pub final_score: Option<f64>,
    pub final_metrics: BTreeMap<String, f64>,
    /// Step of the checkpoint chosen by the spec's `selection`.
    pub selected_step: Option<u64>,
    /// The selected checkpoint is the untrained model (step 0, evaluated before the first
    /// update): whatever it scores, the run never improved on it, and statistics count it as
    /// failed in the selected-checkpoint column. Absent (false) in version-1 records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_improved: bool,
    /// Primary metric of the selected checkpoint on the report split: **the run's score**.
    pub score: Option<f64>,
    pub selected_metrics: BTreeMap<String, f64>,
    pub train_loss: Curve,
    pub learning_rate: Curve,
    pub versions: Versions,
    pub timing: Timing,
    /// The Hub repository, commit and weights hash of a model given by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_source: Option<ModelSource>,
    /// Modules the checkpoint did not have, initialised as the family does (`classifier`,
    /// `pooler.dense` for a checkpoint saved without a pooler).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub newly_initialised: Vec<String>,
    /// Training loss of the best constant predictor on the run's training set (entropy of the
    /// labels, or their variance for regression): the loss of a model that learned nothing
    /// about its inputs (`loss-at-constant`, [`crate::EarlyFailureRule`]). Absent before
    /// version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant_loss: Option<f64>,
}

impl RunRecord {
    /// Reads and validates a record file.
    pub fn read(path: &Path) -> Result<RunRecord, RecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &text)
    }

    /// Parses a record; `path` is used in error messages.
    pub fn from_json(path: &Path, text: &str) -> Result<RunRecord, RecordError> {
        #[derive(Deserialize)]
        struct Header {
            schema_version: u32,
        }
        let header: Header = serde_json::from_str(text).map_err(|source| RecordError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if header.schema_version > RECORD_SCHEMA_VERSION {
            return Err(RecordError::Schema {
                path: path.to_path_buf(),
                found: header.schema_version,
                supported: RECORD_SCHEMA_VERSION,
            });
        }
        serde_json::from_str(text).map_err(|source| RecordError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Pretty JSON of the record.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a RunRecord always serialises")
    }

    /// A record for a run that could not start or finish, so that it is never silently lost.
    pub fn error(spec: RunSpec, status: RunStatus, message: String) -> RunRecord {
        RunRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            run_id: spec.run_id(),
            spec,
            group: None,
            sweep: None,
            status,
            message: Some(message),
            diverged_at_step: None,
            metric: String::new(),
            selection_metric: String::new(),
            majority_baseline: None,
            baseline_metrics: BTreeMap::new(),
            train_examples: 0,
            trainable_parameters: 0,
            total_steps: 0,
            steps_done: 0,
            evaluations: Vec::new(),
            final_score: None,
            final_metrics: BTreeMap::new(),
            selected_step: None,
            score: None,
            selected_metrics: BTreeMap::new(),
            train_loss: Curve::default(),
            learning_rate: Curve::default(),
            versions: Versions::default(),
            timing: Timing::default(),
            model_source: None,
            newly_initialised: Vec::new(),
            never_improved: false,
            constant_loss: None,
        }
    }

    /// Whether the run counts as failed (Dodge et al. 2020; Mosbach et al. 2021): its dev score
    /// *at the end of training* is at or below the majority baseline. `None` when the run has
    /// no final score or no baseline. (stab-stats' `RunEntry::failed` also counts a diverged
    /// record without a score.)
    pub fn failed(&self) -> Option<bool> {
        Some(self.final_score? <= self.majority_baseline?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_is_rejected_with_the_path() {
        let spec = crate::preset("devlin").unwrap();
        let mut r = RunRecord::error(spec, RunStatus::Error, "x".into());
        r.schema_version = RECORD_SCHEMA_VERSION + 1;
        let err = RunRecord::from_json(Path::new("a/record.json"), &r.to_json()).unwrap_err();
        assert!(err.to_string().contains("a/record.json"));
        assert!(matches!(err, RecordError::Schema { .. }));
    }

    #[test]
    fn record_round_trips() {
        let spec = crate::preset("mosbach").unwrap();
        let mut r = RunRecord::error(spec, RunStatus::Ok, "fine".into());
        r.score = Some(0.6);
        r.final_score = Some(0.5);
        r.majority_baseline = Some(0.527);
        let back = RunRecord::from_json(Path::new("r.json"), &r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.failed(), Some(true));
    }

    /// A version-1 record (no `never_improved`) is read, the flag false; a version-2 record
    /// writes the flag only when set.
    #[test]
    fn version_1_records_are_read_and_never_improved_is_written_only_when_set() {
        let spec = crate::preset("mosbach").unwrap();
        let mut r = RunRecord::error(spec, RunStatus::Ok, "fine".into());
        assert!(!r.to_json().contains("never_improved"));
        let mut v1: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        v1["schema_version"] = 1.into();
        let back = RunRecord::from_json(Path::new("r.json"), &v1.to_string()).unwrap();
        assert_eq!(back.schema_version, 1);
        assert!(!back.never_improved);
        r.never_improved = true;
        r.selected_step = Some(0);
        let json = r.to_json();
        assert!(json.contains("\"never_improved\": true"), "{json}");
        assert_eq!(RunRecord::from_json(Path::new("r.json"), &json).unwrap(), r);
    }
}
