//! Reading runs: `record.json` trees written by `stab sweep`, or any CSV/TSV of scores.
//!
//! Design decisions:
//! - **A sweep store is read as `stab status` reads it.** A directory holding `expanded.json`
//!   is a store of `stab sweep`: its runs are exactly the runs of the current expansion whose
//!   record `stab status` counts ([`stab_store::Store::scan`], the same code as `status`).
//!   Records left from an earlier version of the sweep file, and records whose run id is not
//!   their folder's, are left out *and listed* as problems; the store's counts are kept in
//!   [`ReportInput::stores`] and printed. Other directories are searched for `record.json`.
//! - **Task and metric travel with every run** ([`RunEntry::section`]), so that RTE accuracy,
//!   MRPC F1 and CoLA MCC are never pooled into one statistic (see [`ReportInput::sections`]).
//!   MNLI counts as two tasks, `MNLI-m` (matched dev) and `MNLI-mm` (mismatched dev), reported
//!   separately; a record carries the mismatched scores under `mismatched/<metric>` in its
//!   `selected_metrics`, `final_metrics` and `baseline_metrics` ([`MISMATCHED_PREFIX`]).
//! - **Every run counts.** A diverged run enters the statistics with the score of its
//!   predictions at divergence; a diverged record without a score (written before the trainer
//!   scored diverged runs) still counts as a failed run. Errored and interrupted runs have no
//!   score and are counted in their own columns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stab_spec::{error_chain, RunRecord, RunStatus};
use stab_store::Store;

use crate::StatsError;

/// How a run ended, as far as statistics are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Diverged,
    Error,
    Interrupted,
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
    /// The run's reported score: the selected checkpoint's (for a diverged run, the score of
    /// its predictions at divergence). May be NaN (then excluded from statistics and counted).
    pub score: Option<f64>,
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
    /// Dev score over training, (step, score).
    pub dev_scores: Vec<(u64, f64)>,
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

    /// A diverged run without a finite score (a record written before diverged runs were
    /// scored): counted as failed, but it has no value to enter the statistics with.
    pub fn unscored_diverged(&self) -> bool {
        self.outcome == Outcome::Diverged && self.finite_score().is_none()
    }

    /// A failed run: its dev score *at the end of training* is at or below the majority
    /// baseline (Mosbach et al. 2021; Dodge et al. 2020), or it diverged without a score.
    /// `None` without a final score or baseline.
    pub fn failed(&self) -> Option<bool> {
        if self.outcome == Outcome::Diverged && self.finite_final_score().is_none() {
            return Some(true);
        }
        Some(self.finite_final_score()? <= self.baseline?)
    }

    /// Like [`RunEntry::failed`], judged on the selected checkpoint's score instead.
    pub fn failed_selected(&self) -> Option<bool> {
        if self.unscored_diverged() {
            return Some(true);
        }
        Some(self.finite_score()? <= self.baseline?)
    }

    /// `task · metric`: runs of different sections are never pooled.
    pub fn section(&self) -> String {
        section_label(self.task.as_deref(), self.metric.as_deref())
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
}

impl ReportInput {
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

/// What to group records by.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Group,
    Sweep,
    Spec(Vec<String>),
}

fn parse_group_by(s: &str) -> Vec<Key> {
    s.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| match f {
            "group" => Key::Group,
            "sweep" => Key::Sweep,
            other => Key::Spec(
                other
                    .strip_prefix("spec.")
                    .unwrap_or(other)
                    .split('.')
                    .map(String::from)
                    .collect(),
            ),
        })
        .collect()
}

fn json_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// Collects `record.json` files under `dir`, sorted for a stable report; a directory holding
/// `expanded.json` is a sweep store and is read through [`Store::scan`] instead.
fn find_records(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    stores: &mut Vec<PathBuf>,
    problems: &mut Vec<InputProblem>,
    top: bool,
) {
    if dir.join("expanded.json").is_file() && (top || dir.join("runs").is_dir()) {
        stores.push(dir.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(InputProblem {
                location: dir.display().to_string(),
                message: format!("could not list directory: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            find_records(&p, out, stores, problems, false);
        } else if p.file_name().is_some_and(|n| n == "record.json") {
            out.push(p);
        }
    }
}

/// Reads one sweep store as `stab status` counts it: its records, its counts, and what it
/// leaves out (as problems).
fn read_store(
    root: &Path,
    records: &mut Vec<RunRecord>,
    stores: &mut Vec<StoreCounts>,
    problems: &mut Vec<InputProblem>,
) {
    match Store::open(root).scan() {
        Ok(scan) => {
            let st = &scan.status;
            let stale = scan
                .left_out
                .iter()
                .filter(|(p, _)| p.ends_with("record.json"))
                .count();
            stores.push(StoreCounts {
                root: root.display().to_string(),
                sweep: st.sweep.clone(),
                total: st.total,
                ok: st.ok,
                diverged: st.diverged,
                error: st.error,
                interrupted: st.interrupted,
                unfinished: st.pending + st.running,
                unreadable: st.unreadable.len(),
                stale,
            });
            for (path, why) in scan.left_out {
                problems.push(InputProblem {
                    location: path.display().to_string(),
                    message: format!("left out: {why}"),
                });
            }
            records.extend(scan.records);
        }
        Err(e) => {
            problems.push(InputProblem {
                location: root.join("expanded.json").display().to_string(),
                message: format!(
                    "left out: could not read the sweep store ({}); none of its runs is counted",
                    error_chain(&e)
                ),
            });
        }
    }
}

/// Reads every run below `dir`: sweep stores (a directory with `expanded.json`) as
/// `stab status` counts them, any other `record.json` as found (recursively).
///
/// `group_by` is a comma-separated list of keys: `group` (the record's sweep group), `sweep`,
/// or a dotted path into the run spec's JSON (`preset`, `optimizer.bias_correction`,
/// `freeze_layers`; a `spec.` prefix is accepted). Several keys give labels like
/// `preset=devlin, freeze_layers=8`. Without `group_by`, records are grouped by their `group`,
/// falling back to the sweep name, then `all`.
///
/// Unreadable or corrupt records, and records a store's `stab status` does not count (not in
/// its expansion, or in another run's folder), become [`InputProblem`]s. Errors: `dir` is not a
/// directory, holds no `record.json` at all, or a spec key names no field of the run spec.
pub fn load_results(dir: &Path, group_by: Option<&str>) -> Result<ReportInput, StatsError> {
    if !dir.is_dir() {
        return Err(StatsError::NotADirectory(dir.to_path_buf()));
    }
    let mut paths = Vec::new();
    let mut store_dirs = Vec::new();
    let mut problems = Vec::new();
    find_records(dir, &mut paths, &mut store_dirs, &mut problems, true);
    let mut records = Vec::new();
    let mut stores = Vec::new();
    for root in &store_dirs {
        read_store(root, &mut records, &mut stores, &mut problems);
    }
    if paths.is_empty() && records.is_empty() && stores.iter().all(|s| s.total == 0) {
        return Err(StatsError::NoRecords(dir.to_path_buf()));
    }
    for p in &paths {
        match RunRecord::read(p) {
            Ok(r) => records.push(r),
            Err(e) => problems.push(InputProblem {
                location: p.display().to_string(),
                message: error_chain(&e),
            }),
        }
    }
    let keys = match group_by {
        Some(g) if !g.trim().is_empty() => parse_group_by(g),
        _ => Vec::new(),
    };
    let grouping = match group_by {
        Some(g) if !g.trim().is_empty() => g.trim().to_string(),
        _ => "group".to_string(),
    };
    let mut runs = Vec::with_capacity(records.len());
    let mut mnli_matched_only = 0usize;
    for r in &records {
        let spec_json = serde_json::to_value(&r.spec).map_err(|source| StatsError::Json {
            what: "run spec",
            source,
        })?;
        let group = group_label(r, &keys, &grouping, &spec_json)?;
        let entries = entries_of(r, group, &spec_json);
        if entries.len() == 1 && entries[0].task.as_deref() == Some("MNLI-m") {
            mnli_matched_only += 1;
        }
        runs.extend(entries);
    }
    let mut metrics: Vec<&str> = runs.iter().filter_map(|r| r.metric.as_deref()).collect();
    metrics.sort_unstable();
    metrics.dedup();
    let mut notes = Vec::new();
    if mnli_matched_only > 0 {
        notes.push(format!(
            "{mnli_matched_only} MNLI run(s) carry scores on the matched dev set only (section MNLI-m); \
             their records have no `{MISMATCHED_PREFIX}…` scores, so MNLI-mm is not reported for them"
        ));
    }
    Ok(ReportInput {
        source: dir.display().to_string(),
        grouping,
        metric: (metrics.len() == 1).then(|| metrics[0].to_string()),
        runs,
        problems,
        stores,
        notes,
    })
}

/// The run entries of one record: one, or two for MNLI with mismatched scores.
fn entries_of(r: &RunRecord, group: String, spec: &serde_json::Value) -> Vec<RunEntry> {
    let outcome: Outcome = r.status.into();
    let diverged = outcome == Outcome::Diverged;
    let metric = (!r.metric.is_empty()).then(|| r.metric.clone());
    let is_mnli = r.spec.task.eq_ignore_ascii_case("mnli");
    let task = if is_mnli {
        "MNLI-m".to_string()
    } else {
        r.spec.task.clone()
    };
    // A diverged run is scored on its predictions at divergence: the trainer may set either.
    let (score, final_score) = if diverged {
        (r.score.or(r.final_score), r.final_score.or(r.score))
    } else {
        (r.score, r.final_score)
    };
    let feature_mode = serde_json::to_value(r.spec.feature_mode)
        .ok()
        .map(|v| json_label(&v));
    let settings = AXIS_FIELDS
        .iter()
        .filter_map(|&f| Some((f.to_string(), spec.get(f)?.as_f64()?)))
        .collect();
    let base = RunEntry {
        group,
        id: r.run_id.clone(),
        outcome,
        score,
        final_score,
        baseline: r.majority_baseline,
        task: (!task.is_empty()).then_some(task),
        metric: metric.clone(),
        init_seed: Some(r.spec.init_seed),
        data_seed: Some(r.spec.data_seed),
        freeze_layers: Some(r.spec.freeze_layers),
        feature_mode,
        settings,
        train_loss: r
            .train_loss
            .steps
            .iter()
            .copied()
            .zip(r.train_loss.values.iter().copied())
            .collect(),
        dev_scores: r.evaluations.iter().map(|e| (e.step, e.score)).collect(),
    };
    let mut out = vec![base];
    if is_mnli {
        if let Some(m) = &metric {
            let key = format!("{MISMATCHED_PREFIX}{m}");
            let sel = r.selected_metrics.get(&key).copied();
            let fin = r.final_metrics.get(&key).copied();
            if sel.is_some() || fin.is_some() {
                let (score, final_score) = if diverged {
                    (sel.or(fin), fin.or(sel))
                } else {
                    (sel, fin)
                };
                let mm = RunEntry {
                    id: format!("{}/mismatched", r.run_id),
                    score,
                    final_score,
                    baseline: r.baseline_metrics.get(&key).copied(),
                    task: Some("MNLI-mm".into()),
                    // The curves are of the matched dev set.
                    dev_scores: Vec::new(),
                    ..out[0].clone()
                };
                out.push(mm);
            }
        }
    }
    out
}

/// The group label of a record under `group_by` keys (see [`load_results`]).
fn group_label(
    r: &RunRecord,
    keys: &[Key],
    grouping: &str,
    spec_json: &serde_json::Value,
) -> Result<String, StatsError> {
    if keys.is_empty() {
        return Ok(r
            .group
            .clone()
            .or_else(|| r.sweep.clone())
            .unwrap_or_else(|| "all".into()));
    }
    let mut parts = Vec::new();
    for k in keys {
        let part = match k {
            Key::Group => r.group.clone().unwrap_or_else(|| "none".into()),
            Key::Sweep => r.sweep.clone().unwrap_or_else(|| "none".into()),
            Key::Spec(path) => {
                let mut v = spec_json;
                for seg in path {
                    v = v.get(seg).ok_or_else(|| StatsError::GroupBy {
                        field: path.join("."),
                        message: format!(
                            "the run spec has no field `{seg}` (fields: {})",
                            field_names(v)
                        ),
                    })?;
                }
                json_label(v)
            }
        };
        parts.push(part);
    }
    if keys.len() == 1 {
        return Ok(parts.pop().unwrap_or_default());
    }
    Ok(grouping
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .zip(&parts)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", "))
}

fn field_names(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) => o.keys().cloned().collect::<Vec<_>>().join(", "),
        None => "none: not an object".into(),
    }
}

/// One CSV row as a run of group `g` with score text `s`: NaN for an empty or `nan` score, an
/// [`Outcome::Unreadable`] run (and a problem) for text that is not a number.
fn csv_run(
    g: &str,
    s: &str,
    location: String,
    group_col: &str,
    score_col: &str,
    baseline: Option<f64>,
    problems: &mut Vec<InputProblem>,
) -> RunEntry {
    let (outcome, score) = if s.is_empty() || s.eq_ignore_ascii_case("nan") {
        (Outcome::Ok, f64::NAN)
    } else {
        match s.parse::<f64>() {
            Ok(v) => (Outcome::Ok, v),
            Err(_) => {
                problems.push(InputProblem {
                    location: location.clone(),
                    message: format!(
                        "score `{s}` in column `{score_col}` is not a number (row counted in group `{g}`, not scored)"
                    ),
                });
                (Outcome::Unreadable, f64::NAN)
            }
        }
    };
    RunEntry {
        group: g.to_string(),
        id: location,
        outcome,
        score: (outcome == Outcome::Ok).then_some(score),
        // A CSV has one score: failed runs are judged on it.
        final_score: (outcome == Outcome::Ok).then_some(score),
        baseline,
        task: None,
        metric: Some(score_col.to_string()),
        init_seed: None,
        data_seed: None,
        freeze_layers: None,
        feature_mode: None,
        // A numeric group column is an axis the scores can be plotted against.
        settings: g
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| BTreeMap::from([(group_col.to_string(), v)]))
            .unwrap_or_default(),
        train_loss: Vec::new(),
        dev_scores: Vec::new(),
    }
}

/// An error when one of `names` is the header of two columns (1-based numbers in the
/// message): the first would be used silently.
fn check_unique_columns(
    path: &Path,
    headers: &csv::StringRecord,
    names: &[&str],
) -> Result<(), StatsError> {
    for name in names {
        let mut at = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim() == *name)
            .map(|(i, _)| i + 1);
        if let (Some(first), Some(second)) = (at.next(), at.next()) {
            return Err(StatsError::DuplicateColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                first,
                second,
            });
        }
    }
    Ok(())
}

/// Reads scores from a CSV (or TSV: by `.tsv` extension or a tab in the header line).
///
/// Every row becomes a run of group `row[group_col]` with outcome `ok`. Empty, `nan` or `NaN`
/// scores are kept as NaN (excluded from the statistics and counted); a score that is not a
/// number keeps its row in its group as [`Outcome::Unreadable`] (so the group reads "10 of 11")
/// and is listed as an [`InputProblem`]. `baseline` marks failed runs.
///
/// Errors: a missing column (naming the columns that exist), a row with more or fewer fields
/// than the header (naming file and line), and a file without data rows.
pub fn load_scores_csv(
    path: &Path,
    group_col: &str,
    score_col: &str,
    baseline: Option<f64>,
) -> Result<ReportInput, StatsError> {
    let text = std::fs::read_to_string(path).map_err(|source| StatsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let first = text.lines().next().unwrap_or("");
    let tsv = path.extension().is_some_and(|e| e == "tsv") || first.contains('\t');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .flexible(true)
        .from_reader(text.as_bytes());
    let csv_err = |source| StatsError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(StatsError::EmptyInput {
            path: path.to_path_buf(),
            what: "no header and no data rows".into(),
        });
    }
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| StatsError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                available: headers
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let (gi, si) = (col(group_col)?, col(score_col)?);
    check_unique_columns(path, &headers, &[group_col, score_col])?;
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(csv_err)?;
        let line = row.position().map_or(0, |p| p.line());
        let location = format!("{}:{line}", path.display());
        if row.len() != headers.len() {
            return Err(StatsError::RaggedRow {
                location,
                expected: headers.len(),
                found: row.len(),
            });
        }
        let (g, s) = (row[gi].trim(), row[si].trim());
        runs.push(csv_run(
            g,
            s,
            location,
            group_col,
            score_col,
            baseline,
            &mut problems,
        ));
    }
    if runs.is_empty() {
        return Err(StatsError::EmptyInput {
            path: path.to_path_buf(),
            what: "a header but no data rows".into(),
        });
    }
    Ok(ReportInput {
        source: path.display().to_string(),
        grouping: group_col.to_string(),
        metric: Some(score_col.to_string()),
        runs,
        problems,
        stores: Vec::new(),
        notes: Vec::new(),
    })
}
