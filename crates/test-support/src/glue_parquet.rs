//! GLUE parquet files as the Hub's `nyu-mll/glue` holds them, made from the classic TSVs of
//! the GLUE download script, for the simulated Hub.
//!
//! This follows the `datasets` GLUE builder (`glue.py`, `_generate_examples`), independently
//! of stab-hub's reader: the TSVs are split on tabs only (it reads them with
//! `csv.QUOTE_NONE`); CoLA's train/dev have no header (`source, label, judgement,
//! sentence`); a label name becomes its index in the task's `ClassLabel` names; a test split's
//! label is −1; STS-B's score is a float32; every row has an `idx` (int32). Columns are
//! optional (as pyarrow writes them), text UTF-8, Snappy-compressed.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// A label as the Hub stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HubLabel {
    Class(i64),
    Score(f32),
}

/// One GLUE split in the Hub's schema.
#[derive(Debug, Clone, Default)]
pub struct HubSplit {
    /// Text column names (`sentence`, or `sentence1`/`sentence2`, `premise`/`hypothesis`…).
    pub columns: Vec<&'static str>,
    pub texts: Vec<Vec<String>>,
    pub labels: Vec<HubLabel>,
}

impl HubSplit {
    pub fn len(&self) -> usize {
        self.texts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
    /// The first `n` rows.
    pub fn head(&self, n: usize) -> HubSplit {
        HubSplit {
            columns: self.columns.clone(),
            texts: self.texts[..n].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// `(Hub config, text columns (Hub name, TSV header name), label column, ClassLabel names)`
/// of the tasks the shared data folder has; an empty name list is STS-B's score.
fn schema_of(
    task: &str,
) -> (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static [&'static str],
) {
    match task {
        "CoLA" => ("cola", vec![("sentence", "sentence")], "label", &["0", "1"]),
        "SST-2" => ("sst2", vec![("sentence", "sentence")], "label", &["0", "1"]),
        "MRPC" => (
            "mrpc",
            vec![("sentence1", "#1 String"), ("sentence2", "#2 String")],
            "Quality",
            &["0", "1"],
        ),
        "STS-B" => (
            "stsb",
            vec![("sentence1", "sentence1"), ("sentence2", "sentence2")],
            "score",
            &[],
        ),
        "QNLI" => (
            "qnli",
            vec![("question", "question"), ("sentence", "sentence")],
            "label",
            &["entailment", "not_entailment"],
        ),
        "RTE" => (
            "rte",
            vec![("sentence1", "sentence1"), ("sentence2", "sentence2")],
            "label",
            &["entailment", "not_entailment"],
        ),
        // glue.py names WNLI's classes (not_entailment, entailment): the file's 0/1 are indices.
        "WNLI" => (
            "wnli",
            vec![("sentence1", "sentence1"), ("sentence2", "sentence2")],
            "label",
            &["0", "1"],
        ),
        other => panic!("no Hub schema for {other} in the test support"),
    }
}

/// The Hub config name of a GLUE task folder.
pub fn hub_config(task: &str) -> &'static str {
    schema_of(task).0
}

/// Reads `<glue>/<task>/<file>` (`train.tsv`, `dev.tsv`, `test.tsv`) into the Hub's schema.
pub fn split_from_tsv(glue: &Path, task: &str, file: &str) -> HubSplit {
    let (_, cols, label_col, names) = schema_of(task);
    let path = glue.join(task).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.split('\n').filter(|l| !l.is_empty());
    let test = file.starts_with("test");
    let mut out = HubSplit {
        columns: cols.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    let headerless = task == "CoLA" && !test;
    let header: Vec<&str> = if headerless {
        vec!["source", "label", "judgement", "sentence"]
    } else {
        lines.next().unwrap().split('\t').collect()
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
    };
    let text_idx: Vec<usize> = cols.iter().map(|c| col(c.1)).collect();
    let label_idx = (!test).then(|| col(if headerless { "label" } else { label_col }));
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        out.texts
            .push(text_idx.iter().map(|&i| f[i].to_string()).collect());
        out.labels.push(match label_idx {
            None if names.is_empty() => HubLabel::Score(-1.0),
            None => HubLabel::Class(-1),
            Some(i) if names.is_empty() => HubLabel::Score(f[i].parse::<f32>().unwrap()),
            Some(i) => HubLabel::Class(
                names
                    .iter()
                    .position(|n| *n == f[i])
                    .unwrap_or_else(|| panic!("{}: label {:?}", path.display(), f[i]))
                    as i64,
            ),
        });
    }
    out
}

/// Writes `split` as one parquet file in the Hub's schema.
pub fn write_parquet(split: &HubSplit, path: &Path) {
    let score = matches!(split.labels.first(), Some(HubLabel::Score(_)));
    let mut fields: Vec<String> = split
        .columns
        .iter()
        .map(|c| format!("optional binary {c} (UTF8);"))
        .collect();
    fields.push(if score {
        "optional float label;".into()
    } else {
        "optional int64 label;".into()
    });
    fields.push("optional int32 idx;".into());
    let schema = Arc::new(
        parse_message_type(&format!("message schema {{ {} }}", fields.join(" "))).unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    let n = split.len();
    let defs = vec![1i16; n];
    let mut rg = w.next_row_group().unwrap();
    let mut k = 0;
    while let Some(mut col) = rg.next_column().unwrap() {
        if k < split.columns.len() {
            let v: Vec<ByteArray> = split
                .texts
                .iter()
                .map(|t| ByteArray::from(t[k].as_str()))
                .collect();
            col.typed::<ByteArrayType>()
                .write_batch(&v, Some(&defs), None)
                .unwrap();
        } else if k == split.columns.len() {
            if score {
                let v: Vec<f32> = split
                    .labels
                    .iter()
                    .map(|l| match l {
                        HubLabel::Score(s) => *s,
                        HubLabel::Class(c) => *c as f32,
                    })
                    .collect();
                col.typed::<FloatType>()
                    .write_batch(&v, Some(&defs), None)
                    .unwrap();
            } else {
                let v: Vec<i64> = split
                    .labels
                    .iter()
                    .map(|l| match l {
                        HubLabel::Class(c) => *c,
                        HubLabel::Score(s) => *s as i64,
                    })
                    .collect();
                col.typed::<Int64Type>()
                    .write_batch(&v, Some(&defs), None)
                    .unwrap();
            }
        } else {
            let v: Vec<i32> = (0..n as i32).collect();
            col.typed::<Int32Type>()
                .write_batch(&v, Some(&defs), None)
                .unwrap();
        }
        col.close().unwrap();
        k += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
}

/// The Hub file name of a split (`cola/train-00000-of-00001.parquet`).
pub fn hub_file(config: &str, split: &str) -> String {
    format!("{config}/{split}-00000-of-00001.parquet")
}

/// A task's splits in the shared folder as Hub files: `(Hub file name, parquet bytes)`. The
/// Hub's `validation` is the TSVs' `dev`. A split the folder lacks is skipped.
pub fn task_files(glue: &Path, task: &str, scratch: &Path) -> Vec<(String, Vec<u8>)> {
    let config = hub_config(task);
    let mut out = Vec::new();
    for (split, file) in [
        ("train", "train.tsv"),
        ("validation", "dev.tsv"),
        ("test", "test.tsv"),
    ] {
        if !glue.join(task).join(file).exists() {
            continue;
        }
        let s = split_from_tsv(glue, task, file);
        let path = scratch.join(config).join(format!("{split}.parquet"));
        write_parquet(&s, &path);
        out.push((hub_file(config, split), std::fs::read(&path).unwrap()));
    }
    out
}
