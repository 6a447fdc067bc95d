//! Scoring a predictions file against a gold file (`stab score`).

use std::path::Path;

use crate::read::{lines, read_text, Labeler};
use crate::{Answers, DataError, Label, Metrics, Task, TaskKind};

/// Predictions read from a file: the task's [`Answers`], named for what they are here.
pub type Predictions = Answers;

/// Parses one predicted label: a label name, else a class id; a number for regression.
fn parse_label(task: &Task, path: &Path, line: usize, raw: &str) -> Result<Label, DataError> {
    let raw = raw.trim();
    match task.kind() {
        TaskKind::Regression => Labeler::Score.parse(path, line, raw),
        _ => {
            if let Some(i) = task.label_id(raw) {
                return Ok(Label::Class(i));
            }
            match raw.parse::<usize>() {
                Ok(i) if i < task.labels().len() => Ok(Label::Class(i)),
                _ => Err(DataError::UnknownLabel {
                    path: path.into(),
                    line,
                    label: raw.to_string(),
                    expected: task
                        .labels()
                        .iter()
                        .cloned()
                        .chain((0..task.labels().len()).map(|i| i.to_string()))
                        .collect(),
                }),
            }
        }
    }
}

/// Reads a predictions file for `task`.
///
/// Sentence tasks: one label (name or id) or score per line, or the GLUE submission format
/// (header `index<TAB>prediction`, then one row per example; every index `0..n` exactly once).
/// Tagging tasks: one sentence per line, tags (names or ids) separated by spaces.
pub fn read_predictions(task: &Task, path: &Path) -> Result<Predictions, DataError> {
    let text = read_text(path)?;
    let rows = lines(&text);
    if rows.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.into(),
            expected: "one prediction per line".into(),
        });
    }
    if task.kind() == TaskKind::Tagging {
        let tags = rows
            .iter()
            .map(|&(line, row)| {
                row.split_whitespace()
                    .map(|t| parse_label(task, path, line, t).map(|l| l.class().unwrap_or(0)))
                    .collect::<Result<Vec<usize>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Answers::Tags(tags));
    }
    let header: Vec<&str> = rows[0].1.split('\t').map(str::trim).collect();
    if header == ["index", "prediction"] {
        let data = &rows[1..];
        let mut out: Vec<Option<Label>> = vec![None; data.len()];
        for &(line, row) in data {
            let fields: Vec<&str> = row.split('\t').collect();
            if fields.len() != 2 {
                return Err(DataError::FieldCount {
                    path: path.into(),
                    line,
                    expected: 2,
                    found: fields.len(),
                    sep: "tab",
                });
            }
            let idx = fields[0]
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|&i| i < data.len())
                .ok_or_else(|| {
                    DataError::malformed(
                        path,
                        line,
                        format!(
                            "bad index {:?} (expected an integer in 0..{})",
                            fields[0],
                            data.len()
                        ),
                    )
                })?;
            if out[idx].is_some() {
                return Err(DataError::malformed(
                    path,
                    line,
                    format!("index {idx} appears twice (expected each index once)"),
                ));
            }
            out[idx] = Some(parse_label(task, path, line, fields[1])?);
        }
        // n rows, n distinct indices in 0..n: every slot is filled.
        return Ok(Answers::Labels(out.into_iter().flatten().collect()));
    }
    rows.iter()
        .map(|&(line, row)| parse_label(task, path, line, row))
        .collect::<Result<Vec<_>, _>>()
        .map(Answers::Labels)
}

/// Scores a predictions file against a labelled gold file in the task's format.
pub fn score_predictions(
    task: &Task,
    gold_path: &Path,
    predictions_path: &Path,
) -> Result<Metrics, DataError> {
    let gold = task.load_file(gold_path)?;
    let pred = read_predictions(task, predictions_path)?;
    let what = format!("{} vs {}", gold_path.display(), predictions_path.display());
    if gold.len() != pred.len() {
        return Err(DataError::LengthMismatch {
            what,
            gold: gold.len(),
            pred: pred.len(),
        });
    }
    let gold = gold.answers(&what)?;
    if let (Answers::Tags(g), Answers::Tags(p)) = (&gold, &pred) {
        for (i, (a, b)) in g.iter().zip(p).enumerate() {
            if a.len() != b.len() {
                return Err(DataError::LengthMismatch {
                    what: format!(
                        "{what}: tags of sentence {} (predictions line {})",
                        i,
                        i + 1
                    ),
                    gold: a.len(),
                    pred: b.len(),
                });
            }
        }
    }
    task.score(&gold, &pred)
}
