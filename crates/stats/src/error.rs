//! The error type of the crate.

use std::path::PathBuf;

/// Everything that can stop loading or reporting. Problems with *single* runs (a corrupt
/// record, a NaN score) are not errors: they are collected in [`crate::ReportInput::problems`]
/// and shown in the report, so that the rest of the results are still covered.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read CSV {path}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{path} has no column `{column}` (columns: {available})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    /// The header names a column we read twice: which one holds the scores is a guess.
    #[error("{path}: column `{column}` appears twice in the header (columns {first} and {second}); rename one")]
    DuplicateColumn {
        path: PathBuf,
        column: String,
        first: usize,
        second: usize,
    },
    #[error("{location}: row has {found} fields, the header has {expected}")]
    RaggedRow {
        /// `file:line`.
        location: String,
        expected: usize,
        found: usize,
    },
    #[error("{path} has {what}: nothing to compare")]
    EmptyInput { path: PathBuf, what: String },
    #[error("no run records (record.json) found under {0}")]
    NoRecords(PathBuf),
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot group by `{field}`: {message}")]
    GroupBy { field: String, message: String },
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write CSV {path}")]
    CsvWrite {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("could not draw plot {path}")]
    Plot {
        path: PathBuf,
        #[source]
        source: crate::plots::PlotError,
    },
    #[error("could not serialise {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid option: {0}")]
    Options(String),
    #[error("{path}: invalid [analysis] table: {message}")]
    Analysis { path: PathBuf, message: String },
}
