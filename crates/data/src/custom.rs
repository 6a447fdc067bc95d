//! Custom tasks: the user's own CSV, TSV or JSON Lines files, described by a small TOML file.
//!
//! ```toml
//! name = "reviews"
//! train = "data/train.csv"        # relative to this file
//! dev = "data/dev.csv"
//! test = "data/test.csv"          # optional
//! format = "csv"                  # csv | tsv | jsonl; default: from the file extension
//! text_columns = ["review"]       # one column, or two for sentence pairs
//! label_column = "label"
//! labels = ["negative", "positive"]   # fixed order = label ids; or: regression = true
//! metric = "f1"                   # optional primary metric
//! ```

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;

use crate::read::{find_column, lines, parse_rows, read_text, Labeler, Layout};
use crate::{DataError, Example};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    Csv,
    Tsv,
    Jsonl,
}

/// The TOML description as written by the user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    train: Option<PathBuf>,
    dev: Option<PathBuf>,
    test: Option<PathBuf>,
    format: Option<Format>,
    text_columns: Vec<String>,
    label_column: String,
    labels: Option<Vec<String>>,
    #[serde(default)]
    regression: bool,
    metric: Option<String>,
}

/// A validated custom task description with absolute file paths.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Custom {
    pub name: String,
    pub description: PathBuf,
    pub files: Vec<(String, PathBuf)>,
    pub format: Option<Format>,
    pub text_columns: Vec<String>,
    pub label_column: String,
    pub labels: Vec<String>,
    pub regression: bool,
    pub metric: Option<String>,
}

pub(crate) fn load_description(path: &Path) -> Result<Custom, DataError> {
    let text = read_text(path)?;
    let spec: Spec = toml::from_str(&text).map_err(|source| DataError::Toml {
        path: path.into(),
        source,
    })?;
    let bad = |message: &str| DataError::TaskSpec {
        path: path.into(),
        message: message.into(),
    };
    if spec.name.trim().is_empty() {
        return Err(bad("`name` is empty (expected a task name)"));
    }
    if spec.text_columns.is_empty() || spec.text_columns.len() > 2 {
        return Err(bad("`text_columns` must list one or two column names"));
    }
    // A model that reads its own label learns nothing but the copy (and scores perfectly).
    if let Some(c) = spec
        .text_columns
        .iter()
        .find(|c| c.trim() == spec.label_column.trim())
    {
        return Err(bad(&format!(
            "`{c}` is both a text column and the label column: the model would read the label"
        )));
    }
    let labels = match (spec.regression, spec.labels) {
        (true, None) => Vec::new(),
        (true, Some(_)) => {
            return Err(bad(
                "give either `labels = [...]` or `regression = true`, not both",
            ))
        }
        (false, None) => return Err(bad("missing `labels = [...]` (or `regression = true`)")),
        (false, Some(l)) if l.len() < 2 => {
            return Err(bad("`labels` must list at least two labels"))
        }
        (false, Some(l)) => {
            let mut sorted = l.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != l.len() {
                return Err(bad("`labels` lists a label twice"));
            }
            l
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let files: Vec<(String, PathBuf)> = [
        ("train", spec.train),
        ("dev", spec.dev),
        ("test", spec.test),
    ]
    .into_iter()
    .filter_map(|(s, p)| p.map(|p| (s.to_string(), base.join(p))))
    .collect();
    if files.is_empty() {
        return Err(bad(
            "no data files (expected `train = ...` and `dev = ...`)",
        ));
    }
    Ok(Custom {
        name: spec.name,
        description: path.into(),
        files,
        format: spec.format,
        text_columns: spec.text_columns,
        label_column: spec.label_column,
        labels,
        regression: spec.regression,
        metric: spec.metric,
    })
}

impl Custom {
    fn format_of(&self, path: &Path) -> Result<Format, DataError> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("tsv") | Some("tab") => Ok(Format::Tsv),
            Some("jsonl") | Some("ndjson") => Ok(Format::Jsonl),
            _ => Err(DataError::TaskSpec {
                path: self.description.clone(),
                message: format!(
                    "cannot tell the format of {} (expected extension .csv, .tsv or .jsonl, or `format = ...`)",
                    path.display()
                ),
            }),
        }
    }

    fn labeler(&self) -> Labeler<'_> {
        if self.regression {
            Labeler::Score
        } else {
            Labeler::Classes(&self.labels)
        }
    }

    /// Reads one data file of the task.
    pub(crate) fn read(
        &self,
        path: &Path,
        require_labels: bool,
    ) -> Result<Vec<Example>, DataError> {
        let rows = match self.format_of(path)? {
            Format::Tsv => self.read_tsv(path, require_labels)?,
            Format::Csv => self.read_csv(path, require_labels)?,
            Format::Jsonl => self.read_jsonl(path, require_labels)?,
        };
        if rows.is_empty() {
            return Err(DataError::NoRows {
                path: path.into(),
                expected: "at least one data row".into(),
            });
        }
        Ok(rows)
    }

    fn empty(&self, path: &Path) -> DataError {
        DataError::EmptyFile {
            path: path.into(),
            expected: format!(
                "a header naming columns {:?} and {:?}",
                self.text_columns, self.label_column
            ),
        }
    }

    fn read_tsv(&self, path: &Path, require_labels: bool) -> Result<Vec<Example>, DataError> {
        let text = read_text(path)?;
        let rows = lines(&text);
        let Some(&(hline, htext)) = rows.first() else {
            return Err(self.empty(path));
        };
        let header: Vec<&str> = htext.split('\t').collect();
        let layout = self.layout(path, hline, &header, require_labels)?;
        parse_rows(path, &rows[1..], layout, self.labeler())
    }

    fn layout(
        &self,
        path: &Path,
        hline: usize,
        header: &[&str],
        require_labels: bool,
    ) -> Result<Layout, DataError> {
        let a = find_column(path, hline, header, &[self.text_columns[0].as_str()])?;
        let b = match self.text_columns.get(1) {
            Some(c) => Some(find_column(path, hline, header, &[c.as_str()])?),
            None => None,
        };
        let label = match find_column(path, hline, header, &[self.label_column.as_str()]) {
            Ok(i) => Some(i),
            Err(e) if require_labels => return Err(e),
            Err(_) => None,
        };
        Ok(Layout {
            nfields: header.len(),
            a,
            b,
            label,
        })
    }

    fn read_csv(&self, path: &Path, require_labels: bool) -> Result<Vec<Example>, DataError> {
        let text = read_text(path)?;
        if text.trim().is_empty() {
            return Err(self.empty(path));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header_rec = reader.headers().map_err(|source| DataError::Csv {
            path: path.into(),
            line: 1,
            source,
        })?;
        let header: Vec<String> = header_rec.iter().map(str::to_string).collect();
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let layout = self.layout(path, 1, &header_refs, require_labels)?;
        let labeler = self.labeler();
        let mut out = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|source| DataError::Csv {
                path: path.into(),
                line: source.position().map_or(0, |p| p.line() as usize),
                source,
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            if rec.len() != layout.nfields {
                return Err(DataError::FieldCount {
                    path: path.into(),
                    line,
                    expected: layout.nfields,
                    found: rec.len(),
                    sep: "comma",
                });
            }
            let label = match layout.label {
                Some(i) => Some(labeler.parse(path, line, &rec[i])?),
                None => None,
            };
            out.push(Example {
                text_a: rec[layout.a].to_string(),
                text_b: layout.b.map(|i| rec[i].to_string()),
                label,
                line,
            });
        }
        Ok(out)
    }

    fn read_jsonl(&self, path: &Path, require_labels: bool) -> Result<Vec<Example>, DataError> {
        let text = read_text(path)?;
        let rows: Vec<(usize, &str)> = lines(&text)
            .into_iter()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        if rows.is_empty() {
            return Err(self.empty(path));
        }
        let labeler = self.labeler();
        let parse = |&(line, row): &(usize, &str)| -> Result<Example, DataError> {
            let value: serde_json::Value =
                serde_json::from_str(row).map_err(|source| DataError::Json {
                    path: path.into(),
                    line,
                    source,
                })?;
            let obj = value
                .as_object()
                .ok_or_else(|| DataError::malformed(path, line, "expected a JSON object"))?;
            let text = |col: &str| -> Result<String, DataError> {
                match obj.get(col) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err(DataError::malformed(
                        path,
                        line,
                        format!("field {col:?} is not a string (expected text)"),
                    )),
                    None => Err(DataError::malformed(
                        path,
                        line,
                        format!("missing field {col:?} (expected a text field)"),
                    )),
                }
            };
            let text_a = text(&self.text_columns[0])?;
            let text_b = match self.text_columns.get(1) {
                Some(c) => Some(text(c)?),
                None => None,
            };
            let label = match obj.get(&self.label_column) {
                None | Some(serde_json::Value::Null) if !require_labels => None,
                None | Some(serde_json::Value::Null) => {
                    return Err(DataError::malformed(
                        path,
                        line,
                        format!(
                            "missing label field {:?} (expected a label)",
                            self.label_column
                        ),
                    ))
                }
                Some(serde_json::Value::String(s)) => Some(labeler.parse(path, line, s)?),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    Some(labeler.parse(path, line, &v.to_string())?)
                }
                Some(v) => {
                    return Err(DataError::malformed(
                        path,
                        line,
                        format!("label {v} is neither a string nor a number (expected a label)"),
                    ))
                }
            };
            Ok(Example {
                text_a,
                text_b,
                label,
                line,
            })
        };
        let results: Vec<Result<Example, DataError>> = rows.par_iter().map(parse).collect();
        results.into_iter().collect()
    }
}
