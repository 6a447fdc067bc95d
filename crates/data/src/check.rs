//! `stab data check DIR`: read every task folder found, count rows and labels, and compute
//! the majority baseline.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{task, DataError, Dataset, Label, Metrics, Task, BUILTIN_TASKS};

/// Everything `check_dir` found. Malformed files do not stop the check: their errors are
/// collected in `errors`, and [`CheckReport::is_ok`] is false.
#[derive(Debug)]
pub struct CheckReport {
    pub root: PathBuf,
    pub tasks: Vec<TaskCheck>,
    pub errors: Vec<DataError>,
}

/// One task folder.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskCheck {
    pub task: String,
    pub dir: PathBuf,
    pub splits: Vec<SplitCheck>,
    /// Canonical splits whose file is absent (not an error: e.g. QNLI without train.tsv).
    pub missing: Vec<String>,
    pub baselines: Vec<BaselineCheck>,
}

/// One split file that was read successfully.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitCheck {
    pub split: String,
    pub file: PathBuf,
    /// Examples (sentences for tagging tasks).
    pub rows: usize,
    /// Tokens, for tagging tasks.
    pub tokens: Option<usize>,
    /// Examples without a label (test splits).
    pub unlabelled: usize,
    /// `(label name, count)` in label-id order (tags for tagging tasks); empty for regression.
    pub distribution: Vec<(String, usize)>,
    /// `(mean, min, max)` of the scores of a regression split.
    pub scores: Option<(f64, f64, f64)>,
}

/// The majority baseline: the training majority scored on an evaluation split.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineCheck {
    pub eval_split: String,
    /// The predicted label (name, or the mean score for regression).
    pub prediction: String,
    pub primary: String,
    pub metrics: Metrics,
}

impl CheckReport {
    /// True when every file found was read without error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

fn task_for_folder(name: &str) -> Option<Task> {
    BUILTIN_TASKS
        .iter()
        .filter_map(|n| task(n).ok())
        .find(|t| t.folders().iter().any(|f| f.eq_ignore_ascii_case(name)))
}

fn find_task_dirs(
    dir: &Path,
    depth: usize,
    out: &mut Vec<(Task, PathBuf)>,
) -> Result<(), DataError> {
    if let Some(t) = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(task_for_folder)
    {
        out.push((t, dir.to_path_buf()));
        return Ok(());
    }
    if depth >= 2 {
        return Ok(());
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for d in subdirs {
        find_task_dirs(&d, depth + 1, out)?;
    }
    Ok(())
}

fn summarise(task: &Task, split: &str, file: PathBuf, data: &Dataset) -> SplitCheck {
    let n_labels = task.labels().len();
    let mut counts = vec![0usize; n_labels];
    let mut unlabelled = 0;
    let mut scores = Vec::new();
    let mut tokens = None;
    match data {
        Dataset::Sentences(ex) => {
            for e in ex {
                match e.label {
                    Some(Label::Class(c)) if c < n_labels => counts[c] += 1,
                    Some(Label::Score(s)) => scores.push(s),
                    _ => unlabelled += 1,
                }
            }
        }
        Dataset::Tagged(s) => {
            tokens = Some(s.iter().map(|s| s.tokens.len()).sum());
            for &t in s.iter().flat_map(|s| &s.tags) {
                if t < n_labels {
                    counts[t] += 1;
                }
            }
        }
    }
    let scores = (!scores.is_empty()).then(|| {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (mean, min, max)
    });
    let all_unlabelled = unlabelled == data.len() && tokens.is_none();
    SplitCheck {
        split: split.to_string(),
        file,
        rows: data.len(),
        tokens,
        unlabelled,
        distribution: if all_unlabelled {
            Vec::new()
        } else {
            task.labels().iter().cloned().zip(counts).collect()
        },
        scores,
    }
}

/// Checks every task folder under `dir` (the folder itself, its subfolders, and theirs: so
/// `shared/data`, `shared/data/glue` and `shared/data/glue/RTE` all work). Folder names are
/// matched case-insensitively against the task folder names (`CoLA`, `SST-2`, ...,
/// `diagnostic`, `conll2003`).
///
/// Returns `Err` only when `dir` cannot be listed or holds no task folder; errors in data
/// files are collected in the report.
pub fn check_dir(dir: &Path) -> Result<CheckReport, DataError> {
    let mut found = Vec::new();
    find_task_dirs(dir, 0, &mut found)?;
    if found.is_empty() {
        return Err(DataError::NoTasks { path: dir.into() });
    }
    let mut report = CheckReport {
        root: dir.into(),
        tasks: Vec::new(),
        errors: Vec::new(),
    };
    for (task, tdir) in found {
        check_task(&task, &tdir, &mut report);
    }
    Ok(report)
}

/// `stab data check PATH`: a data folder ([`check_dir`]) or a custom task description
/// (`.toml`, as `stab run --task` accepts), whose files are checked like a task folder.
pub fn check(path: &Path) -> Result<CheckReport, DataError> {
    if path.is_dir() {
        return check_dir(path);
    }
    let t = task(&path.to_string_lossy())?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut report = CheckReport {
        root: path.into(),
        tasks: Vec::new(),
        errors: Vec::new(),
    };
    check_task(&t, &dir, &mut report);
    Ok(report)
}

/// Reads every canonical split of one task and computes its majority baselines.
fn check_task(task: &Task, tdir: &Path, report: &mut CheckReport) {
    let mut tc = TaskCheck {
        task: task.name().to_string(),
        dir: tdir.to_path_buf(),
        splits: Vec::new(),
        missing: Vec::new(),
        baselines: Vec::new(),
    };
    let mut loaded: Vec<(String, Dataset)> = Vec::new();
    for split in task.canonical_splits() {
        let path = match task.split_path(tdir, &split) {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        if !path.is_file() {
            tc.missing.push(split);
            continue;
        }
        match task.load_split(tdir, &split) {
            Ok(d) => {
                tc.splits.push(summarise(task, &split, path, &d));
                loaded.push((split, d));
            }
            Err(e) => report.errors.push(e),
        }
    }
    if let Some((_, train)) = loaded.iter().find(|(s, _)| s == "train") {
        for (split, eval) in loaded.iter().filter(|(s, _)| s.starts_with("dev")) {
            let result = task
                .majority_label(train)
                .and_then(|maj| Ok((maj, task.majority_baseline(train, eval)?)));
            match result {
                Ok((maj, metrics)) => tc.baselines.push(BaselineCheck {
                    eval_split: split.clone(),
                    prediction: task.label_name(maj),
                    primary: task.primary_metric().to_string(),
                    metrics,
                }),
                Err(e) => report.errors.push(e),
            }
        }
    }
    report.tasks.push(tc);
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data check of {}", self.root.display())?;
        for t in &self.tasks {
            writeln!(f)?;
            writeln!(f, "{}  ({})", t.task, t.dir.display())?;
            writeln!(f, "  {:<16} {:>8} {:>8}  labels", "split", "rows", "tokens")?;
            for s in &t.splits {
                let tokens = s.tokens.map_or("-".to_string(), |n| n.to_string());
                let labels = if let Some((mean, min, max)) = s.scores {
                    format!("score mean {mean:.3}, min {min:.3}, max {max:.3}")
                } else if s.distribution.is_empty() {
                    "unlabelled".to_string()
                } else {
                    let total: usize = s.distribution.iter().map(|(_, c)| c).sum();
                    s.distribution
                        .iter()
                        .map(|(n, c)| {
                            format!("{n} {c} ({:.1}%)", 100.0 * *c as f64 / total.max(1) as f64)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(f, "  {:<16} {:>8} {:>8}  {labels}", s.split, s.rows, tokens)?;
            }
            if !t.missing.is_empty() {
                writeln!(f, "  missing: {}", t.missing.join(", "))?;
            }
            for b in &t.baselines {
                let metrics = b
                    .metrics
                    .iter()
                    .map(|(k, v)| {
                        let star = if *k == b.primary { "*" } else { "" };
                        format!("{k}{star} {v:.4}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                writeln!(
                    f,
                    "  majority baseline on {} (predict {:?}): {metrics}",
                    b.eval_split, b.prediction
                )?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f)?;
            writeln!(f, "errors ({}):", self.errors.len())?;
            for e in &self.errors {
                write!(f, "  {e}")?;
                let mut src = std::error::Error::source(e);
                while let Some(s) = src {
                    write!(f, ": {s}")?;
                    src = s.source();
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
