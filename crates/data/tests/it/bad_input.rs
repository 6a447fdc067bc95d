//! Every malformed input is an error naming the file, the 1-based line and what was expected.

use stab_data::{read_conll, task, DataError, Dataset, Label};
use tempfile::tempdir;

use crate::util::{examples, write};

fn rte_with(dev: &str) -> (tempfile::TempDir, Result<Dataset, DataError>) {
    let dir = tempdir().unwrap();
    write(dir.path(), "RTE/dev.tsv", dev);
    let r = task("RTE").unwrap().load_split(dir.path(), "dev");
    (dir, r)
}

const RTE_HEADER: &str = "index\tsentence1\tsentence2\tlabel\n";

#[test]
fn wrong_field_count_names_file_and_line() {
    let (_d, r) = rte_with(&format!(
        "{RTE_HEADER}0\ta\tb\tentailment\n1\ta\tnot_entailment\n"
    ));
    let err = r.unwrap_err();
    match &err {
        DataError::FieldCount {
            line,
            expected,
            found,
            path,
            ..
        } => {
            assert_eq!((*line, *expected, *found), (3, 4, 3));
            assert!(path.ends_with("RTE/dev.tsv"));
        }
        e => panic!("unexpected {e}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("RTE/dev.tsv:3:") && msg.contains("expected 4 tab-separated fields, found 3"),
        "{msg}"
    );
}

#[test]
fn blank_line_inside_a_file_is_an_error() {
    let (_d, r) = rte_with(&format!(
        "{RTE_HEADER}0\ta\tb\tentailment\n\n1\ta\tb\tentailment\n"
    ));
    assert!(
        matches!(
            r,
            Err(DataError::FieldCount {
                line: 3,
                found: 0,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn unknown_label() {
    let (_d, r) = rte_with(&format!(
        "{RTE_HEADER}0\ta\tb\tentailment\n1\ta\tb\tmaybe\n"
    ));
    let err = r.unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownLabel { line: 3, label, .. } if label == "maybe"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("expected one of [\"entailment\", \"not_entailment\"]"),
        "{err}"
    );
}

#[test]
fn unparsable_score() {
    let dir = tempdir().unwrap();
    let h =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    write(
        dir.path(),
        "STS-B/train.tsv",
        &format!("{h}0\tg\tf\ty\t1\tn\tn\ta\tb\t4.2\n1\tg\tf\ty\t1\tn\tn\ta\tb\tfive\n"),
    );
    let err = task("STS-B")
        .unwrap()
        .load_split(dir.path(), "train")
        .unwrap_err();
    assert!(
        matches!(&err, DataError::BadScore { line: 3, value, .. } if value == "five"),
        "{err}"
    );
    assert!(err.to_string().contains("STS-B/train.tsv:3:"), "{err}");
}

#[test]
fn empty_file_and_header_only() {
    let (_d, r) = rte_with("");
    assert!(matches!(r, Err(DataError::EmptyFile { .. })), "{r:?}");
    let (_d, r) = rte_with("\n\n");
    assert!(matches!(r, Err(DataError::EmptyFile { .. })), "{r:?}");
    let (_d, r) = rte_with(RTE_HEADER);
    let err = r.unwrap_err();
    assert!(matches!(err, DataError::NoRows { .. }), "{err}");
}

#[test]
fn missing_and_unknown_split() {
    let dir = tempdir().unwrap();
    let t = task("RTE").unwrap();
    let err = t.load_split(dir.path(), "train").unwrap_err();
    assert!(matches!(err, DataError::MissingSplit { .. }), "{err}");
    assert!(err.to_string().contains("train.tsv"));
    let err = t.load_split(dir.path(), "validation").unwrap_err();
    assert!(matches!(err, DataError::UnknownSplit { .. }), "{err}");
}

/// A data folder that does not exist is reported as such, not as a missing train.tsv.
#[test]
fn missing_data_folder_is_named() {
    let dir = tempdir().unwrap();
    let gone = dir.path().join("no-such-folder");
    for name in ["RTE", "CoNLL-2003"] {
        let err = task(name).unwrap().load_split(&gone, "train").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::MissingDataDir { .. }), "{msg}");
        assert!(
            msg.contains("no-such-folder") && msg.contains("data folder"),
            "{msg}"
        );
        assert!(!msg.contains("train"), "{msg}");
    }
}

#[test]
fn missing_label_column_in_a_training_file() {
    let (_d, r) = rte_with("index\tsentence1\tsentence2\n0\ta\tb\n");
    let err = r.unwrap_err();
    assert!(
        matches!(&err, DataError::MissingColumn { line: 1, column, .. } if column == "label"),
        "{err}"
    );
}

#[test]
fn bom_crlf_trailing_spaces_no_final_newline_and_quotes_are_accepted() {
    let (_d, r) = rte_with("\u{feff}index\tsentence1\tsentence2\tlabel\r\n0\tHe said \"hi.\tb\tentailment  \r\n1\t\"a\tb\"\tnot_entailment");
    let d = r.unwrap();
    let ex = examples(&d);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].text_a, "He said \"hi.");
    assert_eq!(ex[0].label, Some(Label::Class(0)));
    assert_eq!(
        (ex[1].text_a.as_str(), ex[1].text_b.as_deref()),
        ("\"a", Some("b\""))
    );
    assert_eq!(ex[1].line, 3);
}

#[test]
fn cola_headerless_wrong_fields() {
    let dir = tempdir().unwrap();
    write(
        dir.path(),
        "CoLA/train.tsv",
        "gj04\t1\t\tGood sentence.\ngj04\t0\t*\n",
    );
    let err = task("cola")
        .unwrap()
        .load_split(dir.path(), "train")
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FieldCount {
                line: 2,
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn conll_iob1_unknown_tag_and_bad_columns() {
    let dir = tempdir().unwrap();
    let labels = task("conll").unwrap().labels().to_vec();
    let p = write(dir.path(), "iob1.txt", "-DOCSTART- -X- -X- O\n\nJohn NNP I-NP I-PER\nSmith NNP I-NP I-PER\nin IN I-PP O\nParis NNP I-NP I-LOC\nLyon NNP I-NP B-LOC\n");
    let f = read_conll(&p, &labels).unwrap();
    assert_eq!(f.converted, 2);
    let names: Vec<&str> = f.sentences[0]
        .tags
        .iter()
        .map(|&i| labels[i].as_str())
        .collect();
    assert_eq!(names, ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]);

    let p = write(
        dir.path(),
        "bad_tag.txt",
        "John NNP B-NP B-PER\nis VBZ B-VP B-FOO\n",
    );
    let err = read_conll(&p, &labels).unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownLabel { line: 2, label, .. } if label == "B-FOO"),
        "{err}"
    );

    let p = write(
        dir.path(),
        "bad_cols.txt",
        "John NNP B-NP B-PER\n\nis VBZ O\n",
    );
    let err = read_conll(&p, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FieldCount {
                line: 3,
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err}"
    );

    let p = write(dir.path(), "only_doc.txt", "-DOCSTART- -X- -X- O\n\n");
    assert!(matches!(
        read_conll(&p, &labels),
        Err(DataError::NoRows { .. })
    ));
    let p = write(dir.path(), "empty.txt", "");
    assert!(matches!(
        read_conll(&p, &labels),
        Err(DataError::EmptyFile { .. })
    ));
}

#[test]
fn invalid_utf8_names_the_line() {
    let dir = tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("RTE")).unwrap();
    std::fs::write(
        dir.path().join("RTE/dev.tsv"),
        b"index\tsentence1\tsentence2\tlabel\n0\ta\xff\tb\tentailment\n",
    )
    .unwrap();
    let err = task("RTE")
        .unwrap()
        .load_split(dir.path(), "dev")
        .unwrap_err();
    assert!(matches!(err, DataError::Malformed { line: 2, .. }), "{err}");
}

#[test]
fn evaluate_rejects_bad_inputs() {
    let t = task("RTE").unwrap();
    assert!(matches!(
        t.evaluate(&[Label::Class(0)], &[Label::Class(0), Label::Class(1)]),
        Err(DataError::LengthMismatch {
            gold: 1,
            pred: 2,
            ..
        })
    ));
    assert!(matches!(
        t.evaluate(&[Label::Class(0)], &[Label::Score(0.2)]),
        Err(DataError::InvalidLabel { .. })
    ));
    let c = task("conll").unwrap();
    assert!(matches!(
        c.evaluate_tags(&[vec![0, 1]], &[vec![0]]),
        Err(DataError::LengthMismatch { .. })
    ));
    assert!(matches!(
        c.evaluate_tags(&[vec![0]], &[vec![99]]),
        Err(DataError::InvalidLabel { .. })
    ));
}
