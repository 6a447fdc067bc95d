//! GLUE from the Hub's dataset repository `nyu-mll/glue` (one parquet file per task and split,
//! `<config>/<split>-NNNNN-of-NNNNN.parquet`), written in the layout of the GLUE download
//! script that stab's readers take: `DIR/glue/<TASK>/{train,dev,test}.tsv`, MNLI's
//! `dev_matched`/`dev_mismatched`/`test_matched`/`test_mismatched`, AX's `diagnostic.tsv`.
//!
//! The Hub's columns are the `datasets` GLUE builder's: text columns by their GLUE names,
//! `label` as a class index (−1 where a test split has none) in the order of its `ClassLabel`
//! names, or STS-B's score as a float32. Each task's TSV uses the header names stab's reader
//! looks for and the download script's label strings (`entailment`…); columns the parquet files
//! do not carry (MRPC's sentence ids, CoLA's source codes) are left empty. Every split's row
//! count is checked against the size GLUE publishes before anything is written, and each file
//! is written to a temporary name and renamed, so an interrupted fetch leaves no half file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[cfg(feature = "download")]
use parquet::file::reader::{FileReader, SerializedFileReader};
#[cfg(feature = "download")]
use parquet::record::Field;

use crate::cache::{CachedRepo, HubSettings, RepoKind};
use crate::http::Remote;
use crate::{io_err, HubError};

/// The Hub's GLUE repository.
pub const GLUE_REPO: &str = "nyu-mll/glue";

/// One GLUE task as the Hub stores it and as stab reads it.
#[derive(Debug)]
pub struct GlueTask {
    /// stab's task (and folder) name.
    pub name: &'static str,
    /// The Hub's config (folder) name.
    pub config: &'static str,
    /// `(Hub split, stab file name, rows)`; the row counts are GLUE's published split sizes
    /// (the `datasets` card of `nyu-mll/glue`).
    pub splits: &'static [(&'static str, &'static str, usize)],
    /// The Hub's text columns (one or two).
    pub text: &'static [&'static str],
    /// The TSV's header for a labelled split; a test split drops the last column.
    pub header: &'static str,
    /// Label strings by class index (`ClassLabel` order); empty for STS-B's score.
    pub labels: &'static [&'static str],
    /// Columns the TSV has before the texts (filled with the row index or left empty).
    pub layout: Layout,
}

/// How one row is laid out in the task's TSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `index, text(s), label`.
    Indexed,
    /// `text, label` (SST-2's train and dev); test is `index, text`.
    TextLabel,
    /// CoLA: train/dev headerless `source, label, original judgement, sentence`; test
    /// `index, sentence` with a header.
    Cola,
    /// MRPC: `Quality, #1 ID, #2 ID, #1 String, #2 String`; test starts with `index`.
    Mrpc,
}

const BINARY: &[&str] = &["0", "1"];
const NLI2: &[&str] = &["entailment", "not_entailment"];

/// Every GLUE task, in the order of the benchmark.
pub const GLUE_TASKS: &[GlueTask] = &[
    GlueTask {
        name: "CoLA",
        config: "cola",
        splits: &[
            ("train", "train.tsv", 8551),
            ("validation", "dev.tsv", 1043),
            ("test", "test.tsv", 1063),
        ],
        text: &["sentence"],
        header: "",
        labels: BINARY,
        layout: Layout::Cola,
    },
    GlueTask {
        name: "SST-2",
        config: "sst2",
        splits: &[
            ("train", "train.tsv", 67349),
            ("validation", "dev.tsv", 872),
            ("test", "test.tsv", 1821),
        ],
        text: &["sentence"],
        header: "sentence\tlabel",
        labels: BINARY,
        layout: Layout::TextLabel,
    },
    GlueTask {
        name: "MRPC",
        config: "mrpc",
        splits: &[
            ("train", "train.tsv", 3668),
            ("validation", "dev.tsv", 408),
            ("test", "test.tsv", 1725),
        ],
        text: &["sentence1", "sentence2"],
        header: "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        labels: BINARY,
        layout: Layout::Mrpc,
    },
    GlueTask {
        name: "STS-B",
        config: "stsb",
        splits: &[
            ("train", "train.tsv", 5749),
            ("validation", "dev.tsv", 1500),
            ("test", "test.tsv", 1379),
        ],
        text: &["sentence1", "sentence2"],
        header: "index\tsentence1\tsentence2\tscore",
        labels: &[],
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "QQP",
        config: "qqp",
        splits: &[
            ("train", "train.tsv", 363846),
            ("validation", "dev.tsv", 40430),
            ("test", "test.tsv", 390965),
        ],
        text: &["question1", "question2"],
        header: "id\tquestion1\tquestion2\tis_duplicate",
        labels: BINARY,
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "MNLI",
        config: "mnli",
        splits: &[
            ("train", "train.tsv", 392702),
            ("validation_matched", "dev_matched.tsv", 9815),
            ("validation_mismatched", "dev_mismatched.tsv", 9832),
            ("test_matched", "test_matched.tsv", 9796),
            ("test_mismatched", "test_mismatched.tsv", 9847),
        ],
        text: &["premise", "hypothesis"],
        header: "index\tsentence1\tsentence2\tgold_label",
        labels: &["entailment", "neutral", "contradiction"],
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "QNLI",
        config: "qnli",
        splits: &[
            ("train", "train.tsv", 104743),
            ("validation", "dev.tsv", 5463),
            ("test", "test.tsv", 5463),
        ],
        text: &["question", "sentence"],
        header: "index\tquestion\tsentence\tlabel",
        labels: NLI2,
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "RTE",
        config: "rte",
        splits: &[
            ("train", "train.tsv", 2490),
            ("validation", "dev.tsv", 277),
            ("test", "test.tsv", 3000),
        ],
        text: &["sentence1", "sentence2"],
        header: "index\tsentence1\tsentence2\tlabel",
        labels: NLI2,
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "WNLI",
        config: "wnli",
        splits: &[
            ("train", "train.tsv", 635),
            ("validation", "dev.tsv", 71),
            ("test", "test.tsv", 146),
        ],
        text: &["sentence1", "sentence2"],
        header: "index\tsentence1\tsentence2\tlabel",
        labels: BINARY,
        layout: Layout::Indexed,
    },
    GlueTask {
        name: "AX",
        config: "ax",
        splits: &[("test", "diagnostic.tsv", 1104)],
        text: &["premise", "hypothesis"],
        header: "index\tsentence1\tsentence2\tlabel",
        labels: &["entailment", "neutral", "contradiction"],
        layout: Layout::Indexed,
    },
];

/// The task named `name` (stab's name or the Hub's config, any case; `SST2`, `STSB` too).
pub fn glue_task(name: &str) -> Option<&'static GlueTask> {
    let key = |s: &str| s.to_ascii_lowercase().replace('-', "");
    GLUE_TASKS
        .iter()
        .find(|t| key(t.name) == key(name) || t.config == name.to_ascii_lowercase())
}

/// A label as the parquet file holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(not(feature = "download"), allow(dead_code))]
enum RawLabel {
    Class(i64),
    Score(f32),
}

/// One split's rows: the texts and the label (none on a test split).
struct Rows {
    texts: Vec<Vec<String>>,
    labels: Vec<Option<RawLabel>>,
}

/// Reads a GLUE parquet file in a build without the parquet reader: an error that says so.
#[cfg(not(feature = "download"))]
fn read_parquet(_task: &GlueTask, path: &Path, _rows: &mut Rows) -> Result<(), HubError> {
    Err(HubError::Parquet {
        path: path.to_path_buf(),
        message: "this stab was built without the parquet reader (the `hub` feature, on by \
                  default; the quickstart leaves it out when its data is on disk): rebuild \
                  with `cargo build --release -p stab`, or give stab a folder of GLUE TSVs"
            .into(),
    })
}

/// Reads a GLUE parquet file: the task's text columns and `label`.
#[cfg(feature = "download")]
fn read_parquet(task: &GlueTask, path: &Path, rows: &mut Rows) -> Result<(), HubError> {
    let bad = |message: String| HubError::Parquet {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(e.to_string()))?;
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    for want in task.text.iter().chain(["label"].iter()) {
        if !names.iter().any(|n| n == want) {
            return Err(bad(format!(
                "no column `{want}` (columns: {}); is this GLUE's {} split?",
                names.join(", "),
                task.config
            )));
        }
    }
    let iter = reader.get_row_iter(None).map_err(|e| bad(e.to_string()))?;
    for (i, row) in iter.enumerate() {
        let row = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        let mut texts = vec![String::new(); task.text.len()];
        let mut label = None;
        for (name, field) in row.get_column_iter() {
            if let Some(k) = task.text.iter().position(|t| t == name) {
                texts[k] = match field {
                    Field::Str(s) => s.clone(),
                    Field::Null => String::new(),
                    other => {
                        return Err(bad(format!(
                            "row {}: column `{name}` is {other:?}, not a string",
                            i + 1
                        )))
                    }
                };
            } else if name == "label" {
                label = match *field {
                    Field::Long(v) if v >= 0 => Some(RawLabel::Class(v)),
                    Field::Int(v) if v >= 0 => Some(RawLabel::Class(v.into())),
                    Field::Short(v) if v >= 0 => Some(RawLabel::Class(v.into())),
                    Field::Byte(v) if v >= 0 => Some(RawLabel::Class(v.into())),
                    Field::Float(v) if v >= 0.0 => Some(RawLabel::Score(v)),
                    Field::Double(v) if v >= 0.0 => Some(RawLabel::Score(v as f32)),
                    Field::Long(_)
                    | Field::Int(_)
                    | Field::Short(_)
                    | Field::Byte(_)
                    | Field::Float(_)
                    | Field::Double(_)
                    | Field::Null => None,
                    ref other => {
                        return Err(bad(format!(
                            "row {}: `label` is {other:?}, not a number",
                            i + 1
                        )))
                    }
                };
            }
        }
        for (t, name) in texts.iter().zip(task.text) {
            if t.contains(['\t', '\n', '\r']) {
                return Err(bad(format!(
                    "row {}: `{name}` holds a tab or line break, which the GLUE TSV layout cannot carry",
                    i + 1
                )));
            }
        }
        rows.texts.push(texts);
        rows.labels.push(label);
    }
    Ok(())
}

/// The label's text in the TSV.
fn label_text(
    task: &GlueTask,
    label: RawLabel,
    path: &Path,
    row: usize,
) -> Result<String, HubError> {
    match label {
        RawLabel::Class(c) if task.labels.is_empty() => Err(HubError::Data {
            path: path.into(),
            message: format!("row {row}: class label {c} where {} has a score", task.name),
        }),
        RawLabel::Class(c) => task
            .labels
            .get(c as usize)
            .map(|s| s.to_string())
            .ok_or_else(|| HubError::Data {
                path: path.into(),
                message: format!(
                    "row {row}: label {c} is not one of {}'s {} classes",
                    task.name,
                    task.labels.len()
                ),
            }),
        // The shortest text that reads back as the same float32 (3.8, not 3.799999952).
        RawLabel::Score(s) if task.labels.is_empty() => Ok(format!("{s}")),
        RawLabel::Score(s) => Err(HubError::Data {
            path: path.into(),
            message: format!("row {row}: a score ({s}) where {} has classes", task.name),
        }),
    }
}

/// The TSV text of one split.
fn tsv(task: &GlueTask, rows: &Rows, labelled: bool, path: &Path) -> Result<String, HubError> {
    let mut out = String::new();
    let header = match (task.layout, labelled) {
        (Layout::Cola, true) => None,
        (Layout::Cola, false) => Some("index\tsentence".to_string()),
        (Layout::TextLabel, false) => Some("index\tsentence".to_string()),
        (Layout::Mrpc, false) => Some("index\t#1 ID\t#2 ID\t#1 String\t#2 String".to_string()),
        (_, true) => Some(task.header.to_string()),
        (_, false) => Some(
            task.header
                .rsplit_once('\t')
                .map(|(h, _)| h.to_string())
                .unwrap_or_default(),
        ),
    };
    if let Some(h) = header {
        out.push_str(&h);
        out.push('\n');
    }
    for (i, (texts, label)) in rows.texts.iter().zip(&rows.labels).enumerate() {
        let label = match (labelled, label) {
            (true, Some(l)) => Some(label_text(task, *l, path, i + 1)?),
            (true, None) => {
                return Err(HubError::Data {
                    path: path.into(),
                    message: format!("row {}: no label in a labelled split", i + 1),
                })
            }
            (false, _) => None,
        };
        let t = texts.join("\t");
        match (task.layout, label) {
            (Layout::Cola, Some(l)) => writeln!(out, "hub\t{l}\t\t{t}"),
            (Layout::TextLabel, Some(l)) => writeln!(out, "{t}\t{l}"),
            (Layout::Mrpc, Some(l)) => writeln!(out, "{l}\t\t\t{t}"),
            (Layout::Mrpc, None) => writeln!(out, "{i}\t\t\t{t}"),
            (_, Some(l)) => writeln!(out, "{i}\t{t}\t{l}"),
            (_, None) => writeln!(out, "{i}\t{t}"),
        }
        .expect("writing to a String");
    }
    Ok(out)
}

/// The TSV text (and row count) of one split from its parquet shards, in order; `labelled`
/// for train and dev splits. `out` names the TSV in errors.
pub fn split_tsv(
    task: &GlueTask,
    shards: &[PathBuf],
    labelled: bool,
    out: &Path,
) -> Result<(String, usize), HubError> {
    let mut rows = Rows {
        texts: Vec::new(),
        labels: Vec::new(),
    };
    for shard in shards {
        read_parquet(task, shard, &mut rows)?;
    }
    let n = rows.texts.len();
    Ok((tsv(task, &rows, labelled, out)?, n))
}

/// What [`fetch_glue`] wrote for one task.
#[derive(Debug, Clone)]
pub struct FetchedTask {
    pub task: &'static str,
    /// `(file, rows)` per split.
    pub files: Vec<(PathBuf, usize)>,
}

/// The parquet files of one split in a file list, in shard order.
fn split_files<'a>(files: &'a [String], config: &str, split: &str) -> Vec<&'a str> {
    let prefix = format!("{config}/{split}-");
    let mut out: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| f.starts_with(&prefix) && f.ends_with(".parquet"))
        .collect();
    out.sort();
    out
}

/// Every file under `dir`, relative, `/`-separated (an offline snapshot's file list).
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// Where the GLUE files come from: the Hub (through the cache) or the cache alone.
enum Source {
    Remote {
        remote: Box<Remote>,
        commit: String,
        files: Vec<String>,
    },
    Cache {
        snapshot: PathBuf,
        files: Vec<String>,
    },
}

impl Source {
    fn open(settings: &HubSettings, repo: &str, revision: &str) -> Result<Source, HubError> {
        let cached = CachedRepo::new(&settings.cache, RepoKind::Dataset, repo);
        if settings.offline {
            let Some(commit) = cached.commit(revision) else {
                return Err(HubError::NotCached {
                    repo: format!("dataset {repo}"),
                    cache: settings.cache.clone(),
                    missing: String::new(),
                });
            };
            let snapshot = cached.snapshot(&commit);
            let files = list_files(&snapshot);
            return Ok(Source::Cache { snapshot, files });
        }
        let remote = Remote::new(settings, RepoKind::Dataset, repo, revision)?;
        let info = remote.info()?;
        Ok(Source::Remote {
            remote: Box::new(remote),
            commit: info.commit,
            files: info.files,
        })
    }

    fn files(&self) -> &[String] {
        match self {
            Source::Remote { files, .. } | Source::Cache { files, .. } => files,
        }
    }

    fn get(&self, file: &str) -> Result<PathBuf, HubError> {
        match self {
            Source::Remote { remote, commit, .. } => remote.download(file, commit),
            Source::Cache { snapshot, .. } => Ok(snapshot.join(file)),
        }
    }
}

/// Fetches the GLUE `tasks` (all when empty) from `repo` at `revision` (through the cache)
/// and writes them under `dir/glue/<TASK>/`. `splits` restricts the Hub splits fetched
/// (all when empty). Row counts are checked against GLUE's published sizes.
pub fn fetch_glue(
    settings: &HubSettings,
    repo: &str,
    revision: &str,
    tasks: &[&'static GlueTask],
    splits: &[&str],
    dir: &Path,
    mut on_task: impl FnMut(&FetchedTask),
) -> Result<Vec<FetchedTask>, HubError> {
    let tasks: Vec<&GlueTask> = if tasks.is_empty() {
        GLUE_TASKS.iter().collect()
    } else {
        tasks.to_vec()
    };
    let source = Source::open(settings, repo, revision)?;
    let mut done = Vec::new();
    for task in tasks {
        let folder = dir.join("glue").join(task.name);
        std::fs::create_dir_all(&folder).map_err(io_err(&folder))?;
        let mut fetched = FetchedTask {
            task: task.name,
            files: Vec::new(),
        };
        for &(split, file, expected) in task.splits {
            if !splits.is_empty() && !splits.contains(&split) {
                continue;
            }
            let shards = split_files(source.files(), task.config, split);
            if shards.is_empty() {
                return Err(HubError::Data {
                    path: PathBuf::from(format!("{repo}/{}", task.config)),
                    message: format!(
                        "no parquet file for split `{split}` ({}/{split}-*.parquet) in {repo}@{revision}",
                        task.config
                    ),
                });
            }
            let paths = shards
                .iter()
                .map(|f| source.get(f))
                .collect::<Result<Vec<_>, _>>()?;
            let out = folder.join(file);
            let labelled = !split.starts_with("test");
            let (text, n) = split_tsv(task, &paths, labelled, &out)?;
            let last = paths.last().cloned().unwrap_or_default();
            if n != expected {
                return Err(HubError::Data {
                    path: last,
                    message: format!(
                        "{} {split} has {n} rows, GLUE's {split} split has {expected}; the download is incomplete or not GLUE's",
                        task.name
                    ),
                });
            }
            let tmp = out.with_extension(format!("tsv.tmp{}", std::process::id()));
            std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, &out).map_err(io_err(&out))?;
            fetched.files.push((out, n));
        }
        on_task(&fetched);
        done.push(fetched);
    }
    if let Source::Remote { remote, commit, .. } = &source {
        CachedRepo::new(&settings.cache, RepoKind::Dataset, repo)
            .write_ref(&remote.revision, commit)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_resolve_either_way() {
        assert_eq!(glue_task("sst2").unwrap().name, "SST-2");
        assert_eq!(glue_task("SST-2").unwrap().name, "SST-2");
        assert_eq!(glue_task("cola").unwrap().name, "CoLA");
        assert_eq!(glue_task("STSB").unwrap().name, "STS-B");
        assert!(glue_task("squad").is_none());
    }

    #[test]
    fn shards_are_found_by_config_and_split_in_order() {
        let files: Vec<String> = [
            "mnli/train-00001-of-00002.parquet",
            "mnli/train-00000-of-00002.parquet",
            "mnli/validation_matched-00000-of-00001.parquet",
            "mnli_matched/validation-00000-of-00001.parquet",
            "README.md",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            split_files(&files, "mnli", "train"),
            [
                "mnli/train-00000-of-00002.parquet",
                "mnli/train-00001-of-00002.parquet"
            ]
        );
        assert_eq!(split_files(&files, "mnli", "validation").len(), 0);
        assert_eq!(split_files(&files, "mnli_matched", "validation").len(), 1);
    }

    #[test]
    fn tsv_layouts_follow_the_download_script() {
        let rows = Rows {
            texts: vec![
                vec!["A b.".into(), "C d.".into()],
                vec!["E.".into(), "F.".into()],
            ],
            labels: vec![Some(RawLabel::Class(1)), Some(RawLabel::Class(0))],
        };
        let rte = glue_task("RTE").unwrap();
        let p = Path::new("x.tsv");
        assert_eq!(
            tsv(rte, &rows, true, p).unwrap(),
            "index\tsentence1\tsentence2\tlabel\n0\tA b.\tC d.\tnot_entailment\n1\tE.\tF.\tentailment\n"
        );
        assert_eq!(
            tsv(rte, &rows, false, p).unwrap(),
            "index\tsentence1\tsentence2\n0\tA b.\tC d.\n1\tE.\tF.\n"
        );
        let cola_rows = Rows {
            texts: vec![vec!["A b.".into()]],
            labels: vec![Some(RawLabel::Class(1))],
        };
        let cola = glue_task("CoLA").unwrap();
        assert_eq!(tsv(cola, &cola_rows, true, p).unwrap(), "hub\t1\t\tA b.\n");
        let stsb = glue_task("STS-B").unwrap();
        let s = Rows {
            texts: vec![vec!["a".into(), "b".into()]],
            labels: vec![Some(RawLabel::Score(3.8))],
        };
        assert!(tsv(stsb, &s, true, p).unwrap().ends_with("0\ta\tb\t3.8\n"));
        let bad = Rows {
            texts: vec![vec!["a".into(), "b".into()]],
            labels: vec![Some(RawLabel::Class(7))],
        };
        let e = tsv(rte, &bad, true, p).unwrap_err().to_string();
        assert!(
            e.contains("row 1: label 7 is not one of RTE's 2 classes"),
            "{e}"
        );
    }
}
