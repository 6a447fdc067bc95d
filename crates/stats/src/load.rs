//! Reading runs: `record.json` trees written by `stab sweep`, or any CSV/TSV of scores.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stab_spec::{RunRecord, RunStatus};

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
    /// The run's reported score. May be NaN (then excluded from statistics and counted).
    pub score: Option<f64>,
    /// Majority-class baseline: a run at or below it has failed.
    pub baseline: Option<f64>,
    pub init_seed: Option<u64>,
    pub data_seed: Option<u64>,
    pub freeze_layers: Option<usize>,
    /// `spec.feature_mode` in its kebab-case spelling.
    pub feature_mode: Option<String>,
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

    /// A scored run at or below its baseline (Dodge et al. 2020). `None` without a score or
    /// baseline.
    pub fn failed(&self) -> Option<bool> {
        Some(self.finite_score()? <= self.baseline?)
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

/// Collects `record.json` files under `dir`, sorted for a stable report.
fn find_records(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<InputProblem>) {
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
            find_records(&p, out, problems);
        } else if p.file_name().is_some_and(|n| n == "record.json") {
            out.push(p);
        }
    }
}

/// Reads every `record.json` below `dir` (recursively).
///
/// `group_by` is a comma-separated list of keys: `group` (the record's sweep group), `sweep`,
/// or a dotted path into the run spec's JSON (`preset`, `optimizer.bias_correction`,
/// `freeze_layers`; a `spec.` prefix is accepted). Several keys give labels like
/// `preset=devlin, freeze_layers=8`. Without `group_by`, records are grouped by their `group`,
/// falling back to the sweep name, then `all`.
///
/// Unreadable or corrupt records become [`InputProblem`]s. Errors: `dir` is not a directory,
/// holds no `record.json` at all, or a spec key names no field of the run spec.
pub fn load_results(dir: &Path, group_by: Option<&str>) -> Result<ReportInput, StatsError> {
    if !dir.is_dir() {
        return Err(StatsError::NotADirectory(dir.to_path_buf()));
    }
    let mut paths = Vec::new();
    let mut problems = Vec::new();
    find_records(dir, &mut paths, &mut problems);
    if paths.is_empty() {
        return Err(StatsError::NoRecords(dir.to_path_buf()));
    }
    let mut records = Vec::new();
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
    for r in &records {
        let spec_json = serde_json::to_value(&r.spec).map_err(|source| StatsError::Json {
            what: "run spec",
            source,
        })?;
        let mut parts = Vec::new();
        for k in &keys {
            let part = match k {
                Key::Group => r.group.clone().unwrap_or_else(|| "none".into()),
                Key::Sweep => r.sweep.clone().unwrap_or_else(|| "none".into()),
                Key::Spec(path) => {
                    let mut v = &spec_json;
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
        let group = if keys.is_empty() {
            r.group
                .clone()
                .or_else(|| r.sweep.clone())
                .unwrap_or_else(|| "all".into())
        } else if keys.len() == 1 {
            parts.pop().unwrap_or_default()
        } else {
            grouping
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .zip(&parts)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let feature_mode = serde_json::to_value(r.spec.feature_mode)
            .ok()
            .map(|v| json_label(&v));
        runs.push(RunEntry {
            group,
            id: r.run_id.clone(),
            outcome: r.status.into(),
            score: r.score,
            baseline: r.majority_baseline,
            init_seed: Some(r.spec.init_seed),
            data_seed: Some(r.spec.data_seed),
            freeze_layers: Some(r.spec.freeze_layers),
            feature_mode,
            train_loss: r
                .train_loss
                .steps
                .iter()
                .copied()
                .zip(r.train_loss.values.iter().copied())
                .collect(),
            dev_scores: r.evaluations.iter().map(|e| (e.step, e.score)).collect(),
        });
    }
    let mut metrics: Vec<&str> = records
        .iter()
        .map(|r| r.metric.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    metrics.sort_unstable();
    metrics.dedup();
    Ok(ReportInput {
        source: dir.display().to_string(),
        grouping,
        metric: (metrics.len() == 1).then(|| metrics[0].to_string()),
        runs,
        problems,
    })
}

fn field_names(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) => o.keys().cloned().collect::<Vec<_>>().join(", "),
        None => "none: not an object".into(),
    }
}

/// `error: cause: cause` — the whole chain on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
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
        runs.push(RunEntry {
            group: g.to_string(),
            id: location,
            outcome,
            score: (outcome == Outcome::Ok).then_some(score),
            baseline,
            init_seed: None,
            data_seed: None,
            freeze_layers: None,
            feature_mode: None,
            train_loss: Vec::new(),
            dev_scores: Vec::new(),
        });
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
    })
}
