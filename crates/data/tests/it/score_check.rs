//! `score_predictions` and `check_dir` on small files.

use stab_data::{
    check_dir, read_predictions, score_predictions, task, DataError, Label, Predictions,
};
use tempfile::tempdir;

use crate::util::write;

const RTE_DEV: &str = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tnot_entailment\n2\ta\tb\tentailment\n3\ta\tb\tentailment\n";

#[test]
fn plain_and_submission_predictions() {
    let dir = tempdir().unwrap();
    let gold = write(dir.path(), "dev.tsv", RTE_DEV);
    let t = task("RTE").unwrap();
    // Names, ids, mixed.
    let p = write(dir.path(), "p1.txt", "entailment\nnot_entailment\n1\n0\n");
    let m = score_predictions(&t, &gold, &p).unwrap();
    assert_eq!(m["accuracy"], 0.75);
    // GLUE submission format, rows in any order.
    let p = write(
        dir.path(),
        "p2.tsv",
        "index\tprediction\n3\tentailment\n0\tentailment\n2\tentailment\n1\tnot_entailment\n",
    );
    assert_eq!(score_predictions(&t, &gold, &p).unwrap()["accuracy"], 1.0);
    // Count mismatch.
    let p = write(dir.path(), "p3.txt", "entailment\nentailment\n");
    let err = score_predictions(&t, &gold, &p).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                gold: 4,
                pred: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("p3.txt"), "{err}");
    // Unknown label, duplicate index, bad index.
    let p = write(dir.path(), "p4.txt", "entailment\nyes\n");
    assert!(matches!(
        score_predictions(&t, &gold, &p),
        Err(DataError::UnknownLabel { line: 2, .. })
    ));
    let p = write(
        dir.path(),
        "p5.tsv",
        "index\tprediction\n0\tentailment\n0\tentailment\n",
    );
    assert!(matches!(
        score_predictions(&t, &gold, &p),
        Err(DataError::Malformed { line: 3, .. })
    ));
    let p = write(
        dir.path(),
        "p6.tsv",
        "index\tprediction\n0\tentailment\n7\tentailment\n",
    );
    assert!(matches!(
        read_predictions(&t, &p),
        Err(DataError::Malformed { line: 3, .. })
    ));
    let p = write(dir.path(), "p7.txt", "");
    assert!(matches!(
        read_predictions(&t, &p),
        Err(DataError::EmptyFile { .. })
    ));
    // A test file (no labels) is not a gold file.
    let test = write(
        dir.path(),
        "test.tsv",
        "index\tsentence1\tsentence2\n0\ta\tb\n",
    );
    let p = write(dir.path(), "p8.txt", "entailment\n");
    assert!(matches!(
        score_predictions(&t, &test, &p),
        Err(DataError::MissingColumn { .. })
    ));
}

#[test]
fn regression_and_tagging_predictions() {
    let dir = tempdir().unwrap();
    let h =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    let gold = write(dir.path(), "sts.tsv", &format!("{h}0\tg\tf\ty\t1\tn\tn\ta\tb\t1.0\n1\tg\tf\ty\t1\tn\tn\ta\tb\t2.0\n2\tg\tf\ty\t1\tn\tn\ta\tb\t4.0\n"));
    let t = task("STS-B").unwrap();
    let p = write(dir.path(), "p.txt", "0.5\n1.5\n3.5\n");
    let m = score_predictions(&t, &gold, &p).unwrap();
    assert!((m["pearson"] - 1.0).abs() < 1e-12);
    let p = write(dir.path(), "bad.txt", "0.5\nx\n3.5\n");
    assert!(matches!(
        score_predictions(&t, &gold, &p),
        Err(DataError::BadScore { line: 2, .. })
    ));

    let c = task("conll").unwrap();
    let gold = write(
        dir.path(),
        "g.txt",
        "-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nlives VBZ B-VP O\n\nParis NNP B-NP B-LOC\n",
    );
    let p = write(dir.path(), "tags.txt", "B-PER O\n5\n");
    match read_predictions(&c, &p).unwrap() {
        Predictions::Tags(t) => assert_eq!(t, [vec![1, 0], vec![5]]),
        other => panic!("{other:?}"),
    }
    assert_eq!(score_predictions(&c, &gold, &p).unwrap()["f1"], 1.0);
    let p = write(dir.path(), "short.txt", "B-PER\nB-LOC\n");
    assert!(matches!(
        score_predictions(&c, &gold, &p),
        Err(DataError::LengthMismatch {
            gold: 2,
            pred: 1,
            ..
        })
    ));
    let _ = Label::Class(0);
}

#[test]
fn check_dir_collects_errors() {
    let dir = tempdir().unwrap();
    write(dir.path(), "glue/RTE/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tnot_entailment\n2\ta\tb\tnot_entailment\n");
    write(dir.path(), "glue/RTE/dev.tsv", RTE_DEV);
    write(
        dir.path(),
        "glue/WNLI/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\n",
    );
    let report = check_dir(dir.path()).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.errors.len(), 1);
    let text = report.to_string();
    assert!(
        text.contains("WNLI/train.tsv:2: expected 4 tab-separated fields, found 3"),
        "{text}"
    );
    let rte = &report.tasks[0];
    assert_eq!(rte.task, "RTE");
    assert_eq!(rte.missing, ["test"]);
    assert_eq!(rte.baselines[0].prediction, "not_entailment");
    assert_eq!(rte.baselines[0].metrics["accuracy"], 0.25);
    assert!(check_dir(&dir.path().join("glue/RTE/..")).is_ok());
    let empty = tempdir().unwrap();
    assert!(matches!(
        check_dir(empty.path()),
        Err(DataError::NoTasks { .. })
    ));
}
