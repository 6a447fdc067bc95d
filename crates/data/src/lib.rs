//! Data for BERT fine-tuning-stability experiments: readers for the nine GLUE tasks (plus the
//! diagnostic set AX), CoNLL-2003 NER and user-described custom tasks; fixed label
//! vocabularies; the task metrics (checked against scikit-learn, SciPy and seqeval); the
//! majority-class baseline; and seeded few-sample subsets. No LibTorch: this crate builds and
//! tests in seconds.
//!
//! # Design decisions
//!
//! **Fixed label vocabularies.** The label list of every built-in task is written in code
//! ([`Task::labels`]), never inferred from the order in which labels first appear in a file.
//! Label ids therefore do not depend on which file was read first, on the data version or on
//! the machine: a classifier head trained on one machine can be scored on another, and a seed
//! study compares like with like. The orders follow the usual references: RTE and QNLI use
//! `entailment = 0, not_entailment = 1` (as Hugging Face), MNLI and AX use
//! `contradiction, entailment, neutral` (as the GLUE baselines), CoLA/SST-2/MRPC/QQP/WNLI use
//! `"0", "1"`, CoNLL-2003 uses Hugging Face's `O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC,
//! B-MISC, I-MISC`. Custom tasks declare their list in their `.toml` description.
//!
//! **TAB-only splitting.** GLUE TSVs are split on `\t` only, never with CSV quoting rules: many
//! rows hold unbalanced `"` characters (MRPC, QNLI, RTE, STS-B), which a quoting parser would
//! silently merge into neighbouring rows. Every row must have exactly the number of fields of
//! its layout, so a damaged file is an error that names the file and line instead of a quietly
//! shifted dataset. A UTF-8 BOM, a missing final newline, CR line ends and trailing spaces are
//! accepted. Columns are found by header name where the file has a header (CoLA train/dev
//! has none and uses the fixed 4-column layout). Custom `.csv` files *are* parsed as CSV.
//!
//! **Majority baseline.** A fine-tuning run "fails" when its dev score is at or below the
//! majority baseline (Dodge et al. 2020; Mosbach et al. 2021). [`Task::majority_baseline`]
//! computes it from the data: the training set's most frequent label (ties go to the smallest
//! label id; for regression the mean training score) is predicted for every example of the
//! evaluation split and scored with the task's own metrics. Constant predictions make Matthews
//! correlation and Pearson/Spearman correlation undefined (0/0); this crate defines them as
//! 0 (as scikit-learn does for MCC), never NaN, so the CoLA and STS-B baselines are 0.
//!
//! **Metrics are fractions** in [0, 1] (or [-1, 1] for correlations), not percentages.
//! "combined" is the GLUE average of two metrics where GLUE defines one (MRPC and QQP: accuracy
//! and F1; STS-B: Pearson and Spearman).
//!
//! **Seeded subsets** ([`stratified_subset`], [`split_halves`]) draw from a ChaCha20 stream
//! with our own Fisher–Yates and unbiased bounded integers, so the indices depend only on the
//! seed and the labels, not on the version of `rand`'s distribution code.
//!
//! ```
//! use stab_data::{task, Label};
//! let rte = task("rte").unwrap();
//! assert_eq!(rte.labels(), ["entailment", "not_entailment"]);
//! let m = rte
//!     .evaluate(&[Label::Class(0), Label::Class(1)], &[Label::Class(0), Label::Class(0)])
//!     .unwrap();
//! assert_eq!(m["accuracy"], 0.5);
//! ```

mod check;
mod conll;
mod custom;
mod error;
mod glue;
pub mod metrics;
mod read;
mod sample;
mod score;
mod task;

pub use check::{check, check_dir, BaselineCheck, CheckReport, SplitCheck, TaskCheck};
pub use conll::{iob1_to_iob2, read_conll, ConllFile, CONLL_LABELS};
pub use error::DataError;
pub use sample::{split_halves, stratified_subset};
pub use score::{read_predictions, score_predictions, Predictions};
pub use task::{canonical_task_name, task, Task, TaskKind, BUILTIN_TASKS, BUILTIN_TRAIN_SIZES};

/// The environment variable naming the data folder (the CLI's `--data-dir`, sweeps, tests).
pub const DATA_DIR_ENV: &str = "STAB_DATA_DIR";

/// Metric name → value, ordered by name.
pub type Metrics = std::collections::BTreeMap<String, f64>;

/// A gold or predicted label: a class id into [`Task::labels`] or a regression score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Label {
    Class(usize),
    Score(f64),
}

impl Label {
    /// The class id, if this is a class label.
    pub fn class(self) -> Option<usize> {
        match self {
            Label::Class(c) => Some(c),
            Label::Score(_) => None,
        }
    }

    /// The score, if this is a regression label.
    pub fn score(self) -> Option<f64> {
        match self {
            Label::Score(s) => Some(s),
            Label::Class(_) => None,
        }
    }
}

/// What a task predicts for a whole split — gold or predicted, one entry per example: a
/// [`Label`] per sentence (classification, regression) or a tag id per word (tagging).
///
/// The one shape shared by the data (a split's gold, [`Dataset::answers`]), a trainer's
/// predictions, a predictions file ([`Predictions`]) and scoring ([`Task::score`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Answers {
    Labels(Vec<Label>),
    Tags(Vec<Vec<usize>>),
}

impl Answers {
    /// Number of examples (sentences for tags).
    pub fn len(&self) -> usize {
        match self {
            Answers::Labels(v) => v.len(),
            Answers::Tags(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the answers are, for messages: `labels` or `tags`.
    pub fn shape(&self) -> &'static str {
        match self {
            Answers::Labels(_) => "labels",
            Answers::Tags(_) => "tags",
        }
    }
}

/// One sentence or sentence pair of a GLUE-style task.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text_a: String,
    pub text_b: Option<String>,
    /// `None` in unlabelled (test) splits.
    pub label: Option<Label>,
    /// 1-based line of the row in its file.
    pub line: usize,
}

/// The labels of `examples`, or an error naming the first unlabelled one (`what` says which
/// file or split, the error adds its line).
pub fn gold_labels(examples: &[Example], what: &str) -> Result<Vec<Label>, DataError> {
    examples
        .iter()
        .map(|e| {
            e.label.ok_or_else(|| DataError::Unlabelled {
                what: what.to_string(),
                line: e.line,
            })
        })
        .collect()
}

/// One sentence of a tagging task; `tags` are ids into [`Task::labels`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedSentence {
    pub tokens: Vec<String>,
    pub tags: Vec<usize>,
}

/// The rows of one split.
#[derive(Clone, Debug, PartialEq)]
pub enum Dataset {
    Sentences(Vec<Example>),
    Tagged(Vec<TaggedSentence>),
}

impl Dataset {
    /// Number of examples (sentences for tagging tasks).
    pub fn len(&self) -> usize {
        match self {
            Dataset::Sentences(v) => v.len(),
            Dataset::Tagged(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The gold labels of a sentence dataset; `None` for tagging datasets or when any example
    /// is unlabelled.
    pub fn labels(&self) -> Option<Vec<Label>> {
        match self {
            Dataset::Sentences(v) => v.iter().map(|e| e.label).collect(),
            Dataset::Tagged(_) => None,
        }
    }

    /// The gold answers of the split, or an error naming the first unlabelled example (`what`
    /// says which file or split).
    pub fn answers(&self, what: &str) -> Result<Answers, DataError> {
        Ok(match self {
            Dataset::Sentences(ex) => Answers::Labels(gold_labels(ex, what)?),
            Dataset::Tagged(s) => Answers::Tags(s.iter().map(|s| s.tags.clone()).collect()),
        })
    }

    /// The examples at `indices`, in that order (e.g. from [`stratified_subset`]).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        match self {
            Dataset::Sentences(v) => {
                Dataset::Sentences(indices.iter().map(|&i| v[i].clone()).collect())
            }
            Dataset::Tagged(v) => Dataset::Tagged(indices.iter().map(|&i| v[i].clone()).collect()),
        }
    }
}
