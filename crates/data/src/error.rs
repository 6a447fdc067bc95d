//! The one error type of the crate.
//!
//! Every variant that concerns a file names the file and, where it makes sense, the 1-based
//! line, and says what was expected. Messages read `path:line: what was wrong (expected ...)`
//! so that editors and terminals can jump to the spot.

use std::path::PathBuf;

/// Everything that can go wrong while reading data, describing tasks or scoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read file", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file holds no bytes (or only whitespace).
    #[error("{}: file is empty (expected {expected})", path.display())]
    EmptyFile { path: PathBuf, expected: String },

    /// The file has a header (or document markers) but no data rows.
    #[error("{}: no data rows (expected {expected})", path.display())]
    NoRows { path: PathBuf, expected: String },

    /// A row whose number of fields differs from the layout.
    #[error("{}:{line}: expected {expected} {sep}-separated fields, found {found}", path.display())]
    FieldCount {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
        /// "tab", "space", "comma"
        sep: &'static str,
    },

    /// The header lacks a column the task layout needs.
    #[error("{}:{line}: header has no column {column:?} (expected one of {expected:?}; header is {header:?})", path.display())]
    MissingColumn {
        path: PathBuf,
        line: usize,
        column: String,
        expected: Vec<String>,
        header: String,
    },

    /// A label that is not in the task's fixed vocabulary.
    #[error("{}:{line}: unknown label {label:?} (expected one of {expected:?})", path.display())]
    UnknownLabel {
        path: PathBuf,
        line: usize,
        label: String,
        expected: Vec<String>,
    },

    /// A regression score that is not a finite number.
    #[error("{}:{line}: cannot parse score {value:?} (expected a finite number such as 3.800)", path.display())]
    BadScore {
        path: PathBuf,
        line: usize,
        value: String,
    },

    /// Any other malformed line (bad JSON object, bad index, ...).
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A JSON Lines row that is not valid JSON.
    #[error("{}:{line}: invalid JSON (expected one JSON object per line)", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },

    /// A CSV file that the CSV parser rejects.
    #[error("{}:{line}: invalid CSV record", path.display())]
    Csv {
        path: PathBuf,
        line: usize,
        #[source]
        source: csv::Error,
    },

    /// A path that exists in some form but cannot be looked at: a symbolic-link loop, a
    /// folder without permission. Said as such, not as "does not exist" or "unknown task".
    #[error("{} cannot be read: {source}", path.display())]
    Unreachable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The data folder itself does not exist (not just the split's file).
    #[error("data folder {} does not exist (give --data-dir or set {})", path.display(), crate::DATA_DIR_ENV)]
    MissingDataDir { path: PathBuf },

    /// The split's file does not exist.
    #[error("task {task}: split {split:?} not found: {} does not exist", path.display())]
    MissingSplit {
        task: String,
        split: String,
        path: PathBuf,
    },

    /// The task has no split of that name.
    #[error("task {task}: unknown split {split:?} (expected one of {expected:?})")]
    UnknownSplit {
        task: String,
        split: String,
        expected: Vec<String>,
    },

    /// The task name is neither a built-in task nor a readable `.toml` description.
    #[error("unknown task {name:?} (expected one of {expected:?} or a path to a task .toml)")]
    UnknownTask { name: String, expected: Vec<String> },

    /// A metric name the task does not compute.
    #[error("task {task}: unknown metric {metric:?} (expected one of {expected:?})")]
    UnknownMetric {
        task: String,
        metric: String,
        expected: Vec<String>,
    },

    /// A custom task description that cannot be parsed.
    #[error("{}: invalid task description", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },

    /// A custom task description that parses but makes no sense.
    #[error("{}: invalid task description: {message}", path.display())]
    TaskSpec { path: PathBuf, message: String },

    /// Gold and predictions differ in length.
    #[error("{what}: {gold} gold items but {pred} predictions (expected equal counts)")]
    LengthMismatch {
        what: String,
        gold: usize,
        pred: usize,
    },

    /// A label of the wrong kind or out of range was passed to a metric.
    #[error("{message}")]
    InvalidLabel { message: String },

    /// An unlabelled example (a GLUE test split) was used where labels are needed.
    #[error("{what}: example from line {line} has no label (expected a labelled split such as train or dev)")]
    Unlabelled { what: String, line: usize },

    /// Metrics of an empty set are not defined.
    #[error("{what}: nothing to evaluate (expected at least one example)")]
    EmptyEvaluation { what: String },

    /// `check_dir` found no task folder.
    #[error("{}: no task folders found (expected subfolders such as RTE, SST-2, conll2003 or glue/)", path.display())]
    NoTasks { path: PathBuf },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        DataError::Malformed {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
