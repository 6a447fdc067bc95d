//! Scores from any CSV or TSV: one row per run, a group column and a score column.

use std::collections::BTreeMap;
use std::path::Path;

use super::{InputProblem, Outcome, ReportInput, RunEntry};
use crate::StatsError;

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
        selected_score: (outcome == Outcome::Ok).then_some(score),
        selection: None,
        selected_step: None,
        eval_set: None,
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
        wall_seconds: None,
        device: None,
        dev_curve_baseline: None,
        report_half_scores: Vec::new(),
        progress: Default::default(),
    }
}

/// An error when one of `names` is the header of two columns (1-based numbers in the
/// message): the first would be used silently.
fn check_unique_columns(
    path: &Path,
    headers: &::csv::StringRecord,
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
    let mut rdr = ::csv::ReaderBuilder::new()
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
        analysis: None,
        sequential: Vec::new(),
    })
}
