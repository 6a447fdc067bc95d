//! Reading runs: `record.json` trees written by `stab sweep` ([`records`]), or any CSV/TSV of
//! scores ([`csv`]), into the types every statistic reads (this module).
//!
//! Design decisions:
//! - **A sweep store is read as `stab status` reads it.** A directory holding `expanded.json`
//!   is a store of `stab sweep`: its runs are exactly the runs of the current expansion whose
//!   record `stab status` counts (`stab_store::Store::scan`, the same code as `status`).
//!   Records under `runs/` that are not runs of the current expansion, and records whose run id is not
//!   their folder's, are left out *and listed* as problems; the store's counts are kept in
//!   [`ReportInput::stores`] and printed. Other directories are searched for `record.json`.
//! - **Task and metric travel with every run** ([`RunEntry::section`]), so that RTE accuracy,
//!   MRPC F1 and CoLA MCC are never pooled into one statistic (see [`ReportInput::sections`]).
//!   MNLI counts as two tasks, `MNLI-m` (matched dev) and `MNLI-mm` (mismatched dev), reported
//!   separately; a record carries the mismatched scores under `mismatched/<metric>` in its
//!   `selected_metrics`, `final_metrics` and `baseline_metrics` ([`MISMATCHED_PREFIX`]).
//! - **Every run counts.** A diverged run enters the statistics with the score of its
//!   predictions at divergence; a diverged record without a score still counts
//!   as a failed run. Errored and interrupted runs have no
//!   score and are counted in their own columns.

mod csv;
mod records;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stab_spec::RunStatus;

pub use self::csv::load_scores_csv;
pub use records::load_results;

/// How a run ended, as far as statistics are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Diverged,
    Error,
    Interrupted,
    /// Stopped by the run's `early_failure` policy: a predicted failure, with no final score.
    /// Counted as failed (reports say so and quote the rule) and in its own column.
    Stopped,
    /// A CSV row whose score is not a number: counted in its group, listed as a problem.
    Unreadable,
}

impl From<RunStatus> for Outcome {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Ok => Outcome::Ok,
            RunStatus::Diverged => Outcome::Diverged,
            RunStatus::Error => Outcome::Error,
            RunStatus::Interrupted => Outcome::Interrupted,
            RunStatus::Stopped => Outcome::Stopped,
        }
    }
}

/// One run, reduced to what the statistics and plots need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    /// Group label (see [`load_results`] for how it is formed).
    pub group: String,
    /// Run id, or `<file>:<line>` for a CSV row.
    pub id: String,
    pub outcome: Outcome,
    /// The score the statistics use. As loaded, the selected checkpoint's (for a diverged run,
    /// the score of its predictions at divergence); a report that compares final scores
    /// ([`ScoreKind::Final`]) replaces it with [`RunEntry::final_score`]. May be NaN (then
    /// excluded from statistics and counted).
    pub score: Option<f64>,
    /// The selected checkpoint's score, whatever `score` holds: the `failed (selected ckpt)`
    /// column is judged on it.
    #[serde(default)]
    pub selected_score: Option<f64>,
    /// How the run picked its reported checkpoint (`None` for CSV rows).
    #[serde(default)]
    pub selection: Option<SelectionRule>,
    /// Step of the selected checkpoint, when the record gives one.
    #[serde(default)]
    pub selected_step: Option<u64>,
    /// The dev set the run was scored on, when it is not the task's full dev set (e.g. the
    /// report half of a split dev set): runs on different sets are never compared.
    #[serde(default)]
    pub eval_set: Option<String>,
    /// Dev score of the model at the end of training: failed runs are judged on it (Mosbach et
    /// al. 2021; Dodge et al. 2020). For CSV rows, the given score.
    #[serde(default)]
    pub final_score: Option<f64>,
    /// Majority-class baseline: a run whose final score is at or below it has failed.
    pub baseline: Option<f64>,
    /// Task of the run (`RTE`, `MNLI-m`, `MNLI-mm`, …), when known.
    #[serde(default)]
    pub task: Option<String>,
    /// Metric of the scores, when known.
    #[serde(default)]
    pub metric: Option<String>,
    pub init_seed: Option<u64>,
    pub data_seed: Option<u64>,
    pub freeze_layers: Option<usize>,
    /// `spec.feature_mode` in its kebab-case spelling.
    pub feature_mode: Option<String>,
    /// Numeric settings a sweep may vary ([`AXIS_FIELDS`] of the run spec; for a CSV, a numeric
    /// group column), for the plots against a swept axis.
    #[serde(default)]
    pub settings: BTreeMap<String, f64>,
    /// Training loss, (step, loss).
    pub train_loss: Vec<(u64, f64)>,
    /// Dev score over training, (step, score): on the selection half when the dev set is
    /// split ([`RunEntry::eval_set`]).
    pub dev_scores: Vec<(u64, f64)>,
    /// Wall-clock seconds the run took, from its record (`stab plan` prices a study with it).
    #[serde(default)]
    pub wall_seconds: Option<f64>,
    /// Device the run trained on (`cpu`, `cuda:0`), from its record.
    #[serde(default)]
    pub device: Option<String>,
    /// Majority baseline of the set `dev_scores` are on: the run's own baseline, or on a split
    /// dev set the selection half's (`None` when the record does not give it).
    #[serde(default)]
    pub dev_curve_baseline: Option<f64>,
    /// Dev score over training on the report half of a split dev set (empty otherwise).
    #[serde(default)]
    pub report_half_scores: Vec<(u64, f64)>,
    /// How far the run went and what early-failure rules read (records only).
    #[serde(default)]
    pub progress: RunProgress,
}

/// A run's planned and done steps, the loss of the constant predictor, and the early-failure
/// policy it ran under: what `stab early-failure` replays and what reports count as saved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    /// Planned optimizer steps.
    pub total_steps: Option<u64>,
    pub steps_done: Option<u64>,
    /// Training loss of the best constant predictor (records from version 3; `stab
    /// early-failure` computes it from the data for older ones).
    pub constant_loss: Option<f64>,
    /// The spec's `early_failure` policy.
    pub early_failure: Option<stab_spec::EarlyFailure>,
    /// The run's spec (records only; not serialised): `stab early-failure` reads the data
    /// of records that lack `constant_loss` with it.
    #[serde(skip)]
    pub spec: Option<Box<stab_spec::RunSpec>>,
}

impl RunEntry {
    /// The score if it is finite.
    pub fn finite_score(&self) -> Option<f64> {
        self.score.filter(|s| s.is_finite())
    }

    /// The final score if it is finite.
    pub fn finite_final_score(&self) -> Option<f64> {
        self.final_score.filter(|s| s.is_finite())
    }

    /// A diverged run without a finite score: counted as failed, but it has no value to enter
    /// the statistics with.
    pub fn unscored_diverged(&self) -> bool {
        self.outcome == Outcome::Diverged && self.finite_score().is_none()
    }

    /// A failed run: it diverged (failed by definition, whatever its predictions at divergence
    /// score), or its dev score *at the end of training* is at or below the majority baseline
    /// (Mosbach et al. 2021; Dodge et al. 2020). `None` without a final score or baseline.
    /// A run stopped as a predicted failure counts as failed: reports that count it say so.
    pub fn failed(&self) -> Option<bool> {
        if matches!(self.outcome, Outcome::Diverged | Outcome::Stopped) {
            return Some(true);
        }
        Some(self.finite_final_score()? <= self.baseline?)
    }

    /// The selected checkpoint is the untrained model (step 0): the run never improved on it.
    pub fn never_improved(&self) -> bool {
        self.outcome == Outcome::Ok && self.selected_step == Some(0)
    }

    /// Like [`RunEntry::failed`], judged on the selected checkpoint's score instead; a run
    /// that never improved on the untrained model has failed there too.
    pub fn failed_selected(&self) -> Option<bool> {
        if matches!(self.outcome, Outcome::Diverged | Outcome::Stopped) || self.never_improved() {
            return Some(true);
        }
        Some(self.selected_score.filter(|s| s.is_finite())? <= self.baseline?)
    }

    /// `task · metric`, and the dev set when it is not the full one: runs of different
    /// sections are never pooled or compared.
    pub fn section(&self) -> String {
        let label = section_label(self.task.as_deref(), self.metric.as_deref());
        match &self.eval_set {
            Some(set) => format!("{label} · {set}"),
            None => label,
        }
    }
}

fn section_label(task: Option<&str>, metric: Option<&str>) -> String {
    match (task, metric) {
        (Some(t), Some(m)) => format!("{t} · {m}"),
        (Some(t), None) => t.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => "all".into(),
    }
}

/// How a run picked the checkpoint it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionRule {
    /// The model after the last step.
    Last,
    /// The best evaluation on the dev set it is also scored on: optimistic.
    BestOnScoredSet,
    /// The best evaluation on one half of dev, scored on the other half.
    BestOnHeldOutHalf,
}

impl SelectionRule {
    /// The rule in words.
    pub fn describe(self) -> &'static str {
        match self {
            SelectionRule::Last => "the last checkpoint",
            SelectionRule::BestOnScoredSet => "the best evaluation on the dev set it is scored on",
            SelectionRule::BestOnHeldOutHalf => {
                "the best evaluation on one half of dev, scored on the other half"
            }
        }
    }
}

/// Which score of each run the statistics compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreKind {
    /// The model after the last step.
    Final,
    /// The checkpoint each run's selection rule picked.
    Selected,
}

/// Numeric run-spec fields that a sweep may vary and that a report can plot against. Seeds are
/// not among them: varying them is what every group does.
pub const AXIS_FIELDS: [&str; 10] = [
    "learning_rate",
    "freeze_layers",
    "reinit_layers",
    "epochs",
    "max_steps",
    "train_subset",
    "batch_size",
    "warmup_fraction",
    "weight_decay",
    "layerwise_lr_decay",
];

/// Key prefix of MNLI's mismatched-dev scores in a record's metric maps (defined with the
/// record, where the trainer writes them).
pub use stab_spec::MISMATCHED_PREFIX;

/// The counts of one sweep store, as `stab status` gives them, and how many records were left
/// out of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    pub root: String,
    pub sweep: String,
    /// Runs of the current expansion.
    pub total: usize,
    pub ok: usize,
    pub diverged: usize,
    pub error: usize,
    pub interrupted: usize,
    /// Stopped as predicted failures (the `early_failure` policy).
    #[serde(default)]
    pub stopped: usize,
    /// Not finished: pending or running.
    pub unfinished: usize,
    /// Records of the expansion that cannot be read (or belong to another run).
    pub unreadable: usize,
    /// Records under `runs/` that are not runs of the current expansion.
    pub stale: usize,
}

impl std::fmt::Display for StoreCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sweep `{}` ({}): {} runs in its expansion, as `stab status`: {} ok, {} diverged, {} error, {} interrupted, {} not finished, {} unreadable",
            self.sweep,
            self.root,
            self.total,
            self.ok,
            self.diverged,
            self.error,
            self.interrupted,
            self.unfinished,
            self.unreadable
        )?;
        if self.stopped > 0 {
            write!(f, ", {} stopped as predicted failures", self.stopped)?;
        }
        if self.stale > 0 {
            write!(
                f,
                "; {} record(s) not in the expansion left out",
                self.stale
            )?;
        }
        Ok(())
    }
}

/// A run that could not be used, and why. Reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputProblem {
    /// File (and line for CSV rows).
    pub location: String,
    pub message: String,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// The results directory or the CSV file.
    pub source: String,
    /// What the groups are (e.g. `group`, `preset`, `preset,freeze_layers`, or a CSV column).
    pub grouping: String,
    /// Metric name of the scores, when known and the same for all runs.
    pub metric: Option<String>,
    pub runs: Vec<RunEntry>,
    pub problems: Vec<InputProblem>,
    /// Sweep stores read, with the counts `stab status` gives.
    #[serde(default)]
    pub stores: Vec<StoreCounts>,
    /// Caveats about the input as a whole.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The study's pre-registered analysis, from the `[analysis]` table of the sweep file
    /// saved in the store (`sweep.toml`), when it has one.
    #[serde(default)]
    pub analysis: Option<Analysis>,
    /// The analyses of the sequential sweeps read (`sequential.json` at a store's root): the
    /// design, every look and why the sweep stopped. A report states them, and that its
    /// estimates are naive after stopping.
    #[serde(default)]
    pub sequential: Vec<crate::plan::sequential::SequentialReport>,
}

/// A study's pre-registered analysis: the `[analysis]` table of its sweep file.
///
/// ```toml
/// [analysis]
/// contrasts = [["optimizer.bias_correction=false, epochs=3", "optimizer.bias_correction=true, epochs=10"]]
/// alpha = 0.05
/// equivalence_margin = 0.02
/// ```
///
/// `stab report` compares exactly the contrasts (the family Holm adjusts over), at level
/// α, with TOST at the margin; its flags (`--contrast`, `--equivalence-margin`) win.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Pairs of group labels, as the report names the groups.
    #[serde(default)]
    pub contrasts: Vec<(String, String)>,
    /// Significance level (the report's confidence level is 1 − α).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// TOST margin δ in score units.
    #[serde(default)]
    pub equivalence_margin: Option<f64>,
}

impl ReportInput {
    /// Runs read from run records, which know their checkpoints and dev sets; `false` for a
    /// CSV of scores (`stab compare`), whose rows are scores and nothing more.
    pub fn from_records(&self) -> bool {
        self.runs.iter().any(|r| r.selection.is_some())
    }

    /// The distinct `task · metric` sections of the runs, in order.
    pub fn section_labels(&self) -> Vec<String> {
        let mut v: Vec<String> = self.runs.iter().map(RunEntry::section).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The input split by task and metric: one input per section, each with its runs only
    /// (problems, store counts and notes are kept in every part). One part when the runs do
    /// not mix tasks or metrics.
    pub fn sections(&self) -> Vec<(String, ReportInput)> {
        let labels = self.section_labels();
        if labels.len() <= 1 {
            return vec![(labels.into_iter().next().unwrap_or_default(), self.clone())];
        }
        labels
            .into_iter()
            .map(|l| {
                let runs: Vec<RunEntry> = self
                    .runs
                    .iter()
                    .filter(|r| r.section() == l)
                    .cloned()
                    .collect();
                let metric = runs.first().and_then(|r| r.metric.clone());
                let part = ReportInput {
                    source: format!("{} [{l}]", self.source),
                    metric,
                    runs,
                    ..self.clone()
                };
                (l, part)
            })
            .collect()
    }
}
