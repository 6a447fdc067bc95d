//! GLUE readers, in the layout written by the GLUE download script (`download_glue_data.py`).

use std::path::Path;

use crate::read::{find_column, lines, parse_rows, read_text, Labeler, Layout};
use crate::{DataError, Example};

/// The GLUE tasks (and the diagnostic set AX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Glue {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    Mnli,
    Qnli,
    Rte,
    Wnli,
    Ax,
}

/// Header names of the text and label columns; the first name found wins.
struct Columns {
    a: &'static [&'static str],
    b: Option<&'static [&'static str]>,
    label: &'static [&'static str],
}

impl Glue {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Glue::Cola => "CoLA",
            Glue::Sst2 => "SST-2",
            Glue::Mrpc => "MRPC",
            Glue::Stsb => "STS-B",
            Glue::Qqp => "QQP",
            Glue::Mnli => "MNLI",
            Glue::Qnli => "QNLI",
            Glue::Rte => "RTE",
            Glue::Wnli => "WNLI",
            Glue::Ax => "AX",
        }
    }

    /// Folder names the download script (or common mirrors) use for the task.
    pub(crate) fn folders(self) -> &'static [&'static str] {
        match self {
            Glue::Cola => &["CoLA"],
            Glue::Sst2 => &["SST-2", "SST2"],
            Glue::Mrpc => &["MRPC"],
            Glue::Stsb => &["STS-B", "STSB"],
            Glue::Qqp => &["QQP"],
            Glue::Mnli => &["MNLI"],
            Glue::Qnli => &["QNLI"],
            Glue::Rte => &["RTE"],
            Glue::Wnli => &["WNLI"],
            Glue::Ax => &["diagnostic", "AX"],
        }
    }

    /// Fixed label vocabulary (empty for STS-B).
    pub(crate) fn labels(self) -> &'static [&'static str] {
        match self {
            Glue::Cola | Glue::Sst2 | Glue::Mrpc | Glue::Qqp | Glue::Wnli => &["0", "1"],
            Glue::Stsb => &[],
            Glue::Mnli | Glue::Ax => &["contradiction", "entailment", "neutral"],
            Glue::Qnli | Glue::Rte => &["entailment", "not_entailment"],
        }
    }

    /// `(split name, file name)`; the first entry of each file is its canonical name.
    pub(crate) fn splits(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Glue::Mnli => &[
                ("train", "train.tsv"),
                ("dev_matched", "dev_matched.tsv"),
                ("dev_mismatched", "dev_mismatched.tsv"),
                ("test_matched", "test_matched.tsv"),
                ("test_mismatched", "test_mismatched.tsv"),
                ("dev", "dev_matched.tsv"),
                ("test", "test_matched.tsv"),
            ],
            Glue::Ax => &[
                ("test", "diagnostic.tsv"),
                ("diagnostic_full", "diagnostic_full.tsv"),
                ("diagnostic", "diagnostic.tsv"),
            ],
            _ => &[
                ("train", "train.tsv"),
                ("dev", "dev.tsv"),
                ("test", "test.tsv"),
            ],
        }
    }

    /// Primary metric (GLUE's headline metric for the task).
    pub(crate) fn primary(self) -> &'static str {
        match self {
            Glue::Cola | Glue::Ax => "mcc",
            Glue::Mrpc | Glue::Qqp => "f1",
            Glue::Stsb => "pearson",
            _ => "accuracy",
        }
    }

    pub(crate) fn has_combined(self) -> bool {
        matches!(self, Glue::Mrpc | Glue::Qqp | Glue::Stsb)
    }

    fn columns(self) -> Columns {
        match self {
            Glue::Cola | Glue::Sst2 => Columns {
                a: &["sentence"],
                b: None,
                label: &["label"],
            },
            Glue::Mrpc => Columns {
                a: &["#1 String"],
                b: Some(&["#2 String"]),
                label: &["Quality"],
            },
            Glue::Stsb => Columns {
                a: &["sentence1"],
                b: Some(&["sentence2"]),
                label: &["score"],
            },
            Glue::Qqp => Columns {
                a: &["question1"],
                b: Some(&["question2"]),
                label: &["is_duplicate"],
            },
            Glue::Mnli => Columns {
                a: &["sentence1"],
                b: Some(&["sentence2"]),
                label: &["gold_label"],
            },
            Glue::Qnli => Columns {
                a: &["question"],
                b: Some(&["sentence"]),
                label: &["label"],
            },
            Glue::Rte | Glue::Wnli => Columns {
                a: &["sentence1"],
                b: Some(&["sentence2"]),
                label: &["label"],
            },
            Glue::Ax => Columns {
                a: &["sentence1", "Premise"],
                b: Some(&["sentence2", "Hypothesis"]),
                label: &["label", "Label"],
            },
        }
    }
}

/// Reads one GLUE file. With `require_labels`, a file without a label column is an error;
/// otherwise (test splits) labels are read when the column is there.
pub(crate) fn read_glue(
    task: Glue,
    path: &Path,
    labels: &[String],
    require_labels: bool,
) -> Result<Vec<Example>, DataError> {
    let text = read_text(path)?;
    let rows = lines(&text);
    let what = match require_labels {
        true => "a header row and labelled data rows",
        false => "a header row and data rows",
    };
    if rows.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.into(),
            expected: what.into(),
        });
    }
    let labeler = match task {
        Glue::Stsb => Labeler::Score,
        _ => Labeler::Classes(labels),
    };

    // CoLA train/dev have no header: source, label, original judgement, sentence.
    if task == Glue::Cola && !rows[0].1.starts_with("index\t") {
        let layout = Layout {
            nfields: 4,
            a: 3,
            b: None,
            label: Some(1),
        };
        return parse_rows(path, &rows, layout, labeler);
    }

    let (hline, htext) = rows[0];
    let header: Vec<&str> = htext.split('\t').collect();
    let cols = task.columns();
    let a = find_column(path, hline, &header, cols.a)?;
    let b = match cols.b {
        Some(names) => Some(find_column(path, hline, &header, names)?),
        None => None,
    };
    let label = match find_column(path, hline, &header, cols.label) {
        Ok(i) => Some(i),
        Err(e) if require_labels => return Err(e),
        Err(_) => None,
    };
    let data = &rows[1..];
    if data.is_empty() {
        return Err(DataError::NoRows {
            path: path.into(),
            expected: format!("data rows after the header on line {hline}"),
        });
    }
    let layout = Layout {
        nfields: header.len(),
        a,
        b,
        label,
    };
    parse_rows(path, data, layout, labeler)
}
