//! Task descriptions: label vocabularies, metrics, file layout and evaluation.

use std::path::{Path, PathBuf};

use crate::conll::{read_conll, CONLL_LABELS};
use crate::custom::{load_description, Custom};
use crate::glue::{read_glue, Glue};
use crate::metrics;
use crate::{Answers, DataError, Dataset, Label, Metrics};

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// One class per example (sentence or pair).
    Classification,
    /// One real score per example (STS-B).
    Regression,
    /// One tag per token (CoNLL-2003 NER).
    Tagging,
}

/// Names accepted by [`task`] (case-insensitive; `-`, `_` and spaces are ignored).
pub const BUILTIN_TASKS: [&str; 11] = [
    "CoLA",
    "SST-2",
    "MRPC",
    "STS-B",
    "QQP",
    "MNLI",
    "QNLI",
    "RTE",
    "WNLI",
    "AX",
    "CoNLL-2003",
];

/// Training-set sizes of the built-in tasks that have a training set (all but AX), for cost
/// estimates without reading the data.
pub const BUILTIN_TRAIN_SIZES: [(&str, u64); 10] = [
    (BUILTIN_TASKS[0], 8_551),
    (BUILTIN_TASKS[1], 67_349),
    (BUILTIN_TASKS[2], 3_668),
    (BUILTIN_TASKS[3], 5_749),
    (BUILTIN_TASKS[4], 363_846),
    (BUILTIN_TASKS[5], 392_702),
    (BUILTIN_TASKS[6], 104_743),
    (BUILTIN_TASKS[7], 2_490),
    (BUILTIN_TASKS[8], 635),
    (BUILTIN_TASKS[10], 14_041),
];

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Glue(Glue),
    Conll,
    Custom(Box<Custom>),
}

/// A task: its fixed label vocabulary, its metrics and where its files are.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    name: String,
    kind: TaskKind,
    labels: Vec<String>,
    primary: String,
    metrics: Vec<String>,
    source: Source,
}

const CONLL_SPLITS: [(&str, &str); 4] = [
    ("train", "train.txt"),
    ("dev", "valid.txt"),
    ("test", "test.txt"),
    ("valid", "valid.txt"),
];
const CONLL_FOLDERS: [&str; 3] = ["conll2003", "CoNLL-2003", "conll"];

/// Looks up a built-in task by name (`"RTE"`, `"sst-2"`, `"STS_B"`, `"CoNLL-2003"`,
/// `"conll2003"`, `"diagnostic"` for AX) or reads a custom task description from a `.toml`
/// path.
pub fn task(name_or_path: &str) -> Result<Task, DataError> {
    let norm: String = name_or_path
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    let glue = match norm.as_str() {
        "cola" => Some(Glue::Cola),
        "sst2" => Some(Glue::Sst2),
        "mrpc" => Some(Glue::Mrpc),
        "stsb" => Some(Glue::Stsb),
        "qqp" => Some(Glue::Qqp),
        "mnli" => Some(Glue::Mnli),
        "qnli" => Some(Glue::Qnli),
        "rte" => Some(Glue::Rte),
        "wnli" => Some(Glue::Wnli),
        "ax" | "diagnostic" => Some(Glue::Ax),
        _ => None,
    };
    if let Some(g) = glue {
        return Ok(Task::glue(g));
    }
    if matches!(norm.as_str(), "conll2003" | "conll") {
        return Ok(Task::conll());
    }
    let path = Path::new(name_or_path);
    if path.extension().is_some_and(|e| e == "toml") || path.is_file() {
        return Task::custom(path);
    }
    if let Some(e) = unreachable(path) {
        return Err(e);
    }
    Err(DataError::UnknownTask {
        name: name_or_path.to_string(),
        expected: BUILTIN_TASKS.iter().map(|s| s.to_string()).collect(),
    })
}

/// Why `path` cannot be looked at, when the reason is not that it is missing (a symbolic-link
/// loop: `Path::exists` and `is_dir` say `false` for it, which read as "does not exist").
fn unreachable(path: &Path) -> Option<DataError> {
    match std::fs::metadata(path) {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
            Some(DataError::Unreachable {
                path: path.to_path_buf(),
                source,
            })
        }
        _ => None,
    }
}

/// The canonical spelling of a built-in task's name (`rte` → `RTE`, `sst2` → `SST-2`,
/// `conll2003` → `CoNLL-2003`): the name [`task`] gives the task. `None` for anything else
/// (custom task files keep their path as written). A run spec holds its task by this name,
/// so that `--task rte` and `--task RTE` are one run id and one report section.
pub fn canonical_task_name(name: &str) -> Option<&'static str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let n = match norm(name).as_str() {
        "diagnostic" => "ax".to_string(),
        "conll" => "conll2003".to_string(),
        other => other.to_string(),
    };
    BUILTIN_TASKS.iter().copied().find(|t| norm(t) == n)
}

fn canonical_metric(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "acc" => "accuracy".into(),
        "matthews" | "matthews_corrcoef" | "matthews_correlation" => "mcc".into(),
        "f1_score" => "f1".into(),
        "pearsonr" => "pearson".into(),
        "spearmanr" => "spearman".into(),
        _ => n,
    }
}

fn metric_list(kind: TaskKind, n_labels: usize, combined: bool) -> Vec<String> {
    let mut m: Vec<&str> = match kind {
        TaskKind::Classification if n_labels == 2 => vec!["accuracy", "f1", "mcc"],
        TaskKind::Classification => vec!["accuracy", "mcc"],
        TaskKind::Regression => vec!["pearson", "spearman"],
        TaskKind::Tagging => vec!["precision", "recall", "f1", "accuracy"],
    };
    if combined {
        m.push("combined");
    }
    m.into_iter().map(String::from).collect()
}

impl Task {
    fn glue(g: Glue) -> Task {
        let kind = if g == Glue::Stsb {
            TaskKind::Regression
        } else {
            TaskKind::Classification
        };
        let labels: Vec<String> = g.labels().iter().map(|s| s.to_string()).collect();
        Task {
            name: g.name().to_string(),
            kind,
            metrics: metric_list(kind, labels.len(), g.has_combined()),
            labels,
            primary: g.primary().to_string(),
            source: Source::Glue(g),
        }
    }

    fn conll() -> Task {
        Task {
            name: "CoNLL-2003".into(),
            kind: TaskKind::Tagging,
            labels: CONLL_LABELS.iter().map(|s| s.to_string()).collect(),
            primary: "f1".into(),
            metrics: metric_list(TaskKind::Tagging, CONLL_LABELS.len(), false),
            source: Source::Conll,
        }
    }

    fn custom(path: &Path) -> Result<Task, DataError> {
        let c = load_description(path)?;
        let kind = if c.regression {
            TaskKind::Regression
        } else {
            TaskKind::Classification
        };
        let mut t = Task {
            name: c.name.clone(),
            kind,
            labels: c.labels.clone(),
            primary: if c.regression { "pearson" } else { "accuracy" }.into(),
            metrics: metric_list(kind, c.labels.len(), false),
            source: Source::Custom(Box::new(c.clone())),
        };
        if let Some(m) = &c.metric {
            t = t.with_primary_metric(m).map_err(|e| DataError::TaskSpec {
                path: path.into(),
                message: e.to_string(),
            })?;
        }
        Ok(t)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> TaskKind {
        self.kind
    }

    /// The fixed label vocabulary: index = label id. Empty for regression.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Size of the output layer: number of labels, or 1 for regression.
    pub fn num_outputs(&self) -> usize {
        match self.kind {
            TaskKind::Regression => 1,
            _ => self.labels.len(),
        }
    }

    /// The metric used for model selection and for deciding failed runs.
    pub fn primary_metric(&self) -> &str {
        &self.primary
    }

    /// All metric names [`Task::evaluate`] / [`Task::evaluate_tags`] return.
    pub fn metric_names(&self) -> &[String] {
        &self.metrics
    }

    /// The same task with another primary metric (`"accuracy"`, `"f1"`, `"mcc"`, `"pearson"`,
    /// `"spearman"`, `"combined"`, `"precision"`, `"recall"`; `"acc"`, `"matthews"` accepted).
    pub fn with_primary_metric(mut self, name: &str) -> Result<Task, DataError> {
        let m = canonical_metric(name);
        if !self.metrics.contains(&m) {
            return Err(DataError::UnknownMetric {
                task: self.name.clone(),
                metric: name.to_string(),
                expected: self.metrics.clone(),
            });
        }
        self.primary = m;
        Ok(self)
    }

    /// Label id of a label name.
    pub fn label_id(&self, name: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == name)
    }

    /// Split names accepted by [`Task::load_split`].
    pub fn splits(&self) -> Vec<String> {
        match &self.source {
            Source::Glue(g) => g.splits().iter().map(|(s, _)| s.to_string()).collect(),
            Source::Conll => CONLL_SPLITS.iter().map(|(s, _)| s.to_string()).collect(),
            Source::Custom(c) => c.files.iter().map(|(s, _)| s.clone()).collect(),
        }
    }

    /// Splits whose files are distinct, in their canonical names (e.g. MNLI's `dev_matched`
    /// but not its alias `dev`).
    pub fn canonical_splits(&self) -> Vec<String> {
        let pairs: Vec<(String, String)> = match &self.source {
            Source::Glue(g) => g
                .splits()
                .iter()
                .map(|(s, f)| (s.to_string(), f.to_string()))
                .collect(),
            Source::Conll => CONLL_SPLITS
                .iter()
                .map(|(s, f)| (s.to_string(), f.to_string()))
                .collect(),
            Source::Custom(c) => c
                .files
                .iter()
                .map(|(s, p)| (s.clone(), p.display().to_string()))
                .collect(),
        };
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (s, f) in pairs {
            if !seen.contains(&f) {
                seen.push(f);
                out.push(s);
            }
        }
        out
    }

    /// Folder names under which the task's files are looked up (empty for custom tasks).
    pub fn folders(&self) -> Vec<&'static str> {
        match &self.source {
            Source::Glue(g) => g.folders().to_vec(),
            Source::Conll => CONLL_FOLDERS.to_vec(),
            Source::Custom(_) => Vec::new(),
        }
    }

    /// The file of `split`. `data_dir` may be the task's own folder (`glue/RTE`), a folder
    /// holding task folders (`glue`), or one holding `glue/` (`shared/data`). Custom tasks use
    /// the paths of their description and ignore `data_dir`.
    pub fn split_path(&self, data_dir: &Path, split: &str) -> Result<PathBuf, DataError> {
        let unknown = || DataError::UnknownSplit {
            task: self.name.clone(),
            split: split.to_string(),
            expected: self.splits(),
        };
        let file = match &self.source {
            Source::Glue(g) => g
                .splits()
                .iter()
                .find(|(s, _)| *s == split)
                .map(|(_, f)| *f),
            Source::Conll => CONLL_SPLITS
                .iter()
                .find(|(s, _)| *s == split)
                .map(|(_, f)| *f),
            Source::Custom(c) => {
                return c
                    .files
                    .iter()
                    .find(|(s, _)| s == split)
                    .map(|(_, p)| p.clone())
                    .ok_or_else(unknown)
            }
        }
        .ok_or_else(unknown)?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for f in self.folders() {
            dirs.push(data_dir.join(f));
            dirs.push(data_dir.join("glue").join(f));
        }
        dirs.push(data_dir.to_path_buf());
        let found = dirs.iter().map(|d| d.join(file)).find(|p| p.is_file());
        Ok(found.unwrap_or_else(|| {
            let dir = dirs
                .iter()
                .find(|d| d.is_dir() && *d != data_dir)
                .unwrap_or(&dirs[dirs.len() - 1]);
            dir.join(file)
        }))
    }

    /// Reads one split. Training and dev splits must be labelled; test splits may be.
    pub fn load_split(&self, data_dir: &Path, split: &str) -> Result<Dataset, DataError> {
        // Custom tasks name their files themselves; the others live under the data folder.
        if !matches!(self.source, Source::Custom(_)) && !data_dir.is_dir() {
            if let Some(e) = unreachable(data_dir) {
                return Err(e);
            }
            return Err(DataError::MissingDataDir {
                path: data_dir.to_path_buf(),
            });
        }
        let path = self.split_path(data_dir, split)?;
        if !path.is_file() {
            if let Some(e) = unreachable(&path) {
                return Err(e);
            }
            return Err(DataError::MissingSplit {
                task: self.name.clone(),
                split: split.to_string(),
                path,
            });
        }
        let unlabelled_ok =
            split.starts_with("test") || matches!(self.source, Source::Glue(Glue::Ax));
        self.read_file(&path, !unlabelled_ok)
    }

    /// Reads a labelled file in this task's format (e.g. a gold file given to `stab score`).
    pub fn load_file(&self, path: &Path) -> Result<Dataset, DataError> {
        self.read_file(path, true)
    }

    fn read_file(&self, path: &Path, require_labels: bool) -> Result<Dataset, DataError> {
        match &self.source {
            Source::Glue(g) => {
                read_glue(*g, path, &self.labels, require_labels).map(Dataset::Sentences)
            }
            Source::Conll => read_conll(path, &self.labels).map(|f| Dataset::Tagged(f.sentences)),
            Source::Custom(c) => c.read(path, require_labels).map(Dataset::Sentences),
        }
    }

    fn class_ids(&self, what: &str, labels: &[Label]) -> Result<Vec<usize>, DataError> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| match *l {
                Label::Class(c) if c < self.labels.len() => Ok(c),
                other => Err(DataError::InvalidLabel {
                    message: format!(
                        "{what} item {i}: {other:?} is not a class id of task {} (expected Class(0..{}))",
                        self.name,
                        self.labels.len()
                    ),
                }),
            })
            .collect()
    }

    fn scores(&self, what: &str, labels: &[Label]) -> Result<Vec<f64>, DataError> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| match *l {
                Label::Score(s) if s.is_finite() => Ok(s),
                other => Err(DataError::InvalidLabel {
                    message: format!(
                        "{what} item {i}: {other:?} is not a finite score (task {} is a regression task)",
                        self.name
                    ),
                }),
            })
            .collect()
    }

    /// Scores sentence-level predictions with all of the task's metrics.
    pub fn evaluate(&self, gold: &[Label], pred: &[Label]) -> Result<Metrics, DataError> {
        let what = format!("task {}", self.name);
        if gold.len() != pred.len() {
            return Err(DataError::LengthMismatch {
                what,
                gold: gold.len(),
                pred: pred.len(),
            });
        }
        if gold.is_empty() {
            return Err(DataError::EmptyEvaluation { what });
        }
        let combined = self.metrics.iter().any(|m| m == "combined");
        let mut m = Metrics::new();
        match self.kind {
            TaskKind::Classification => {
                let g = self.class_ids("gold", gold)?;
                let p = self.class_ids("prediction", pred)?;
                let acc = metrics::accuracy(&g, &p);
                m.insert("accuracy".into(), acc);
                m.insert("mcc".into(), metrics::matthews(&g, &p));
                if self.labels.len() == 2 {
                    let f1 = metrics::f1(&g, &p, 1);
                    m.insert("f1".into(), f1);
                    if combined {
                        m.insert("combined".into(), (acc + f1) / 2.0);
                    }
                }
            }
            TaskKind::Regression => {
                let g = self.scores("gold", gold)?;
                let p = self.scores("prediction", pred)?;
                let pe = metrics::pearson(&g, &p);
                let sp = metrics::spearman(&g, &p);
                m.insert("pearson".into(), pe);
                m.insert("spearman".into(), sp);
                if combined {
                    m.insert("combined".into(), (pe + sp) / 2.0);
                }
            }
            TaskKind::Tagging => {
                return Err(DataError::InvalidLabel {
                    message: format!("task {} is a tagging task: use evaluate_tags", self.name),
                })
            }
        }
        Ok(m)
    }

    /// Scores predicted answers against gold ones with all of the task's metrics: the one
    /// entry point for the trainer and `stab score` ([`Task::evaluate`] for labels,
    /// [`Task::evaluate_tags`] for tags).
    pub fn score(&self, gold: &Answers, pred: &Answers) -> Result<Metrics, DataError> {
        match (gold, pred) {
            (Answers::Labels(g), Answers::Labels(p)) => self.evaluate(g, p),
            (Answers::Tags(g), Answers::Tags(p)) => self.evaluate_tags(g, p),
            _ => Err(DataError::InvalidLabel {
                message: format!(
                    "task {}: predictions do not match the kind of task (gold {}, predictions {})",
                    self.name,
                    gold.shape(),
                    pred.shape()
                ),
            }),
        }
    }

    /// Scores tag sequences: span-level precision, recall and F1 (seqeval default mode) and
    /// token accuracy.
    pub fn evaluate_tags(
        &self,
        gold: &[Vec<usize>],
        pred: &[Vec<usize>],
    ) -> Result<Metrics, DataError> {
        if self.kind != TaskKind::Tagging {
            return Err(DataError::InvalidLabel {
                message: format!("task {} is not a tagging task: use evaluate", self.name),
            });
        }
        if gold.len() != pred.len() {
            return Err(DataError::LengthMismatch {
                what: format!("task {}: sentences", self.name),
                gold: gold.len(),
                pred: pred.len(),
            });
        }
        if gold.is_empty() {
            return Err(DataError::EmptyEvaluation {
                what: format!("task {}", self.name),
            });
        }
        let name = |what: &str, i: usize, s: &[usize]| -> Result<Vec<&str>, DataError> {
            s.iter()
                .map(|&t| {
                    self.labels
                        .get(t)
                        .map(String::as_str)
                        .ok_or_else(|| DataError::InvalidLabel {
                            message: format!(
                                "{what} sentence {i}: tag id {t} out of range (expected 0..{})",
                                self.labels.len()
                            ),
                        })
                })
                .collect()
        };
        let mut g_tags = Vec::with_capacity(gold.len());
        let mut p_tags = Vec::with_capacity(gold.len());
        let (mut hits, mut total) = (0usize, 0usize);
        for (i, (g, p)) in gold.iter().zip(pred).enumerate() {
            if g.len() != p.len() {
                return Err(DataError::LengthMismatch {
                    what: format!("task {}: tags of sentence {i}", self.name),
                    gold: g.len(),
                    pred: p.len(),
                });
            }
            hits += g.iter().zip(p).filter(|(a, b)| a == b).count();
            total += g.len();
            g_tags.push(name("gold", i, g)?);
            p_tags.push(name("prediction", i, p)?);
        }
        let s = metrics::span_scores(&g_tags, &p_tags);
        let mut m = Metrics::new();
        m.insert("precision".into(), s.precision);
        m.insert("recall".into(), s.recall);
        m.insert("f1".into(), s.f1);
        m.insert(
            "accuracy".into(),
            if total == 0 {
                0.0
            } else {
                hits as f64 / total as f64
            },
        );
        Ok(m)
    }

    /// The label the majority baseline predicts: the most frequent training label (ties: the
    /// smallest id), the most frequent tag for tagging tasks, the mean score for regression.
    pub fn majority_label(&self, train: &Dataset) -> Result<Label, DataError> {
        let what = format!("task {}: training split", self.name);
        match (self.kind, train) {
            (TaskKind::Tagging, Dataset::Tagged(s)) => {
                let mut counts = vec![0usize; self.labels.len()];
                for t in s.iter().flat_map(|s| &s.tags) {
                    if let Some(c) = counts.get_mut(*t) {
                        *c += 1;
                    }
                }
                if counts.iter().all(|&c| c == 0) {
                    return Err(DataError::EmptyEvaluation { what });
                }
                Ok(Label::Class(argmax(&counts)))
            }
            (TaskKind::Classification | TaskKind::Regression, Dataset::Sentences(ex)) => {
                if ex.is_empty() {
                    return Err(DataError::EmptyEvaluation { what });
                }
                let labels: Vec<Label> = crate::gold_labels(ex, &what)?;
                if self.kind == TaskKind::Regression {
                    let s = self.scores("training", &labels)?;
                    Ok(Label::Score(s.iter().sum::<f64>() / s.len() as f64))
                } else {
                    let ids = self.class_ids("training", &labels)?;
                    let mut counts = vec![0usize; self.labels.len()];
                    for c in ids {
                        counts[c] += 1;
                    }
                    Ok(Label::Class(argmax(&counts)))
                }
            }
            _ => Err(self.wrong_dataset()),
        }
    }

    fn wrong_dataset(&self) -> DataError {
        DataError::InvalidLabel {
            message: format!(
                "task {} ({:?}) got the wrong kind of dataset (expected {})",
                self.name,
                self.kind,
                if self.kind == TaskKind::Tagging {
                    "tagged sentences"
                } else {
                    "sentences"
                }
            ),
        }
    }

    /// Metrics of the majority baseline: [`Task::majority_label`] of `train` predicted for
    /// every example of `eval`. Matthews and correlation metrics of this constant prediction
    /// are 0 by definition.
    pub fn majority_baseline(&self, train: &Dataset, eval: &Dataset) -> Result<Metrics, DataError> {
        let maj = self.majority_label(train)?;
        let tagged = matches!(eval, Dataset::Tagged(_));
        if tagged != (self.kind == TaskKind::Tagging) {
            return Err(self.wrong_dataset());
        }
        let gold = eval.answers(&format!("task {}: evaluation split", self.name))?;
        let pred = match &gold {
            Answers::Labels(g) => Answers::Labels(vec![maj; g.len()]),
            Answers::Tags(g) => {
                let tag = maj.class().unwrap_or(0);
                Answers::Tags(g.iter().map(|s| vec![tag; s.len()]).collect())
            }
        };
        self.score(&gold, &pred)
    }

    /// Display form of a label (name for classes and tags, number for scores).
    pub fn label_name(&self, label: Label) -> String {
        match label {
            Label::Class(c) => self
                .labels
                .get(c)
                .cloned()
                .unwrap_or_else(|| format!("#{c}")),
            Label::Score(s) => format!("{s:.4}"),
        }
    }
}

/// Index of the largest count; the smallest index among ties.
fn argmax(counts: &[usize]) -> usize {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively() {
        assert_eq!(task("sst-2").unwrap().name(), "SST-2");
        assert_eq!(task("STS_B").unwrap().kind(), TaskKind::Regression);
        assert_eq!(task("conll2003").unwrap().name(), "CoNLL-2003");
        assert_eq!(task("CoNLL-2003").unwrap().num_outputs(), 9);
        assert_eq!(task("diagnostic").unwrap().name(), "AX");
        assert!(matches!(task("nope"), Err(DataError::UnknownTask { .. })));
    }

    #[test]
    fn fixed_vocabularies_and_primaries() {
        let t = |n: &str| task(n).unwrap();
        assert_eq!(t("RTE").labels(), ["entailment", "not_entailment"]);
        assert_eq!(t("QNLI").labels(), ["entailment", "not_entailment"]);
        assert_eq!(
            t("MNLI").labels(),
            ["contradiction", "entailment", "neutral"]
        );
        for n in ["CoLA", "SST-2", "MRPC", "QQP", "WNLI"] {
            assert_eq!(t(n).labels(), ["0", "1"], "{n}");
        }
        assert!(t("STS-B").labels().is_empty());
        assert_eq!(t("STS-B").num_outputs(), 1);
        let prim: Vec<String> = [
            "CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE", "WNLI", "conll",
        ]
        .iter()
        .map(|n| t(n).primary_metric().to_string())
        .collect();
        assert_eq!(
            prim,
            [
                "mcc", "accuracy", "f1", "pearson", "f1", "accuracy", "accuracy", "accuracy",
                "accuracy", "f1"
            ]
        );
        assert_eq!(
            t("MRPC")
                .with_primary_metric("acc")
                .unwrap()
                .primary_metric(),
            "accuracy"
        );
        assert_eq!(
            t("MRPC")
                .with_primary_metric("combined")
                .unwrap()
                .primary_metric(),
            "combined"
        );
        assert!(t("RTE").with_primary_metric("pearson").is_err());
    }

    #[test]
    fn combined_scores() {
        let mrpc = task("MRPC").unwrap();
        let c = |v: &[usize]| v.iter().map(|&x| Label::Class(x)).collect::<Vec<_>>();
        let m = mrpc.evaluate(&c(&[1, 1, 0, 0]), &c(&[1, 0, 0, 0])).unwrap();
        assert_eq!(m["accuracy"], 0.75);
        assert!((m["f1"] - 2.0 / 3.0).abs() < 1e-15);
        assert!((m["combined"] - (0.75 + 2.0 / 3.0) / 2.0).abs() < 1e-15);
        let rte = task("RTE").unwrap();
        assert!(!rte
            .evaluate(&c(&[1]), &c(&[1]))
            .unwrap()
            .contains_key("combined"));
        let stsb = task("STS-B").unwrap();
        let s = |v: &[f64]| v.iter().map(|&x| Label::Score(x)).collect::<Vec<_>>();
        let m = stsb
            .evaluate(&s(&[1.0, 2.0, 3.0]), &s(&[1.0, 2.0, 4.0]))
            .unwrap();
        assert!((m["combined"] - (m["pearson"] + 1.0) / 2.0).abs() < 1e-15);
        assert!(stsb.evaluate(&s(&[1.0]), &c(&[1])).is_err());
        assert!(rte.evaluate(&c(&[2]), &c(&[1])).is_err());
        assert!(rte.evaluate(&c(&[1, 0]), &c(&[1])).is_err());
        assert!(rte.evaluate(&[], &[]).is_err());
    }

    #[test]
    fn argmax_prefers_smallest_id() {
        assert_eq!(argmax(&[3, 5, 5]), 1);
        assert_eq!(argmax(&[0, 0]), 0);
    }

    #[test]
    fn canonical_task_names_are_the_names_tasks_give_themselves() {
        for alias in [
            "rte",
            "RTE",
            "Rte",
            "sst2",
            "SST_2",
            "sst-2",
            "cola",
            "sts-b",
            "stsb",
            "mnli",
            "qqp",
            "qnli",
            "wnli",
            "mrpc",
            "ax",
            "diagnostic",
            "conll",
            "conll2003",
            "CoNLL-2003",
        ] {
            let canonical = canonical_task_name(alias).unwrap();
            assert_eq!(canonical, task(alias).unwrap().name(), "{alias}");
            assert_eq!(canonical_task_name(canonical), Some(canonical), "{alias}");
        }
        for name in BUILTIN_TASKS {
            assert_eq!(
                canonical_task_name(name),
                Some(name),
                "canonical names stay"
            );
        }
        assert_eq!(canonical_task_name("tasks/reviews.toml"), None);
        assert_eq!(canonical_task_name("RTEx"), None);
    }
}
