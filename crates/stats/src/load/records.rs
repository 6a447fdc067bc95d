//! Run records: `record.json` trees and sweep stores, grouped by the sweep's groups or by
//! fields of the run spec.

use std::path::{Path, PathBuf};

use stab_spec::{error_chain, RunRecord, Selection, SELECTION_HALF_PREFIX};
use stab_store::Store;

use super::{
    Analysis, InputProblem, Outcome, ReportInput, RunEntry, RunProgress, SelectionRule,
    StoreCounts, AXIS_FIELDS, MISMATCHED_PREFIX,
};
use crate::StatsError;

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
                stopped: st.stopped,
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
    let mut analysis: Option<(PathBuf, Analysis)> = None;
    let mut sequential = Vec::new();
    for root in &store_dirs {
        read_store(root, &mut records, &mut stores, &mut problems);
        // A sequential sweep's analysis of its looks (`[stopping]`), written by `stab sweep`.
        let path = root.join("sequential.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            match serde_json::from_str(&text) {
                Ok(s) => sequential.push(s),
                Err(e) => problems.push(InputProblem {
                    location: path.display().to_string(),
                    message: format!("not a sequential analysis stab can read: {e}"),
                }),
            }
        }
        let path = root.join("sweep.toml");
        if let Some(a) = read_analysis(&path)? {
            match &analysis {
                Some((first, kept)) if kept != &a => problems.push(InputProblem {
                    location: path.display().to_string(),
                    message: format!(
                        "its [analysis] table differs from the one of {}; the report uses that one",
                        first.display()
                    ),
                }),
                Some(_) => {}
                None => analysis = Some((path, a)),
            }
        }
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
        analysis: analysis.map(|(_, a)| a),
        sequential,
    })
}

/// The `[analysis]` table of a saved sweep file, if the file exists and has one.
fn read_analysis(path: &Path) -> Result<Option<Analysis>, StatsError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let err = |message: String| StatsError::Analysis {
        path: path.to_path_buf(),
        message,
    };
    let file: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    let Some(table) = file.get("analysis") else {
        return Ok(None);
    };
    let a: Analysis = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    if let Some(alpha) = a.alpha {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(err(format!("`alpha` must lie in (0, 1), got {alpha}")));
        }
    }
    Ok(Some(a))
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
    let selection = match (r.spec.selection, r.spec.dev_split_seed) {
        (Selection::Last, _) => SelectionRule::Last,
        (Selection::Best, None) => SelectionRule::BestOnScoredSet,
        (Selection::Best, Some(_)) => SelectionRule::BestOnHeldOutHalf,
    };
    let base = RunEntry {
        group,
        id: r.run_id.clone(),
        outcome,
        score,
        selected_score: score,
        selection: Some(selection),
        selected_step: r.selected_step,
        eval_set: r
            .spec
            .dev_split_seed
            .map(|seed| format!("report half of dev (split seed {seed})")),
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
        wall_seconds: (r.timing.wall_seconds > 0.0).then_some(r.timing.wall_seconds),
        device: (!r.versions.device.is_empty()).then(|| r.versions.device.clone()),
        dev_curve_baseline: match r.spec.dev_split_seed {
            Some(_) => metric.as_ref().and_then(|m| {
                r.baseline_metrics
                    .get(&format!("{SELECTION_HALF_PREFIX}{m}"))
                    .copied()
            }),
            None => r.majority_baseline,
        },
        report_half_scores: match (&r.spec.dev_split_seed, &metric) {
            (Some(_), Some(m)) => r
                .evaluations
                .iter()
                .filter_map(|e| Some((e.step, *e.report_metrics.as_ref()?.get(m)?)))
                .collect(),
            _ => Vec::new(),
        },
        progress: RunProgress {
            total_steps: (r.total_steps > 0).then_some(r.total_steps),
            steps_done: (r.total_steps > 0).then_some(r.steps_done),
            constant_loss: r.constant_loss,
            early_failure: r.spec.early_failure.clone(),
            spec: Some(Box::new(r.spec.clone())),
        },
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
                    selected_score: score,
                    final_score,
                    baseline: r.baseline_metrics.get(&key).copied(),
                    task: Some("MNLI-mm".into()),
                    // The curves are of the matched dev set.
                    dev_scores: Vec::new(),
                    dev_curve_baseline: None,
                    report_half_scores: Vec::new(),
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
    // The sweep's own group label already reads `field=value` (or is a name): kept as it is.
    // A spec field or the sweep name alone is written `field=value`, as sweeps name groups,
    // so that `--group-by freeze_layers` labels read `freeze_layers=2`, not a bare `2`.
    if keys.len() == 1 && keys[0] == Key::Group {
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
