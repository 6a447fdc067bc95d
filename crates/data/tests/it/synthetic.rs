//! Tasks without real files here (QQP, MNLI, AX): small files in the download script's layout.

use stab_data::{task, DataError, Label};
use stab_test_support::{mnli_row, MNLI_DEV_HEADER, MNLI_TEST_HEADER, MNLI_TRAIN_HEADER};
use tempfile::tempdir;

use crate::util::{class_counts, examples, unlabelled, write};

#[test]
fn qqp_layout() {
    let dir = tempdir().unwrap();
    let q = dir.path().join("QQP");
    write(
        &q,
        "train.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n\
        0\t1\t2\tHow do I learn Rust?\tWhat is the best way to learn Rust?\t1\n\
        1\t3\t4\tWhy is the sky \"blue?\tWhat is 2+2?\t0\n\
        2\t5\t6\tA?\tB?\t0\n",
    );
    write(
        &q,
        "test.tsv",
        "id\tquestion1\tquestion2\n0\tA?\tB?\n1\tC?\tD?\n",
    );
    let t = task("qqp").unwrap();
    assert_eq!(t.primary_metric(), "f1");
    let train = t.load_split(dir.path(), "train").unwrap();
    assert_eq!(class_counts(&train, 2), [2, 1]);
    assert_eq!(examples(&train)[1].text_a, "Why is the sky \"blue?");
    let test = t.load_split(dir.path(), "test").unwrap();
    assert_eq!(test.len(), 2);
    assert!(unlabelled(&test));
    let m = t.majority_baseline(&train, &train).unwrap();
    assert_eq!(m["f1"], 0.0);
    assert_eq!(m["accuracy"], 2.0 / 3.0);
}

#[test]
fn mnli_matched_and_mismatched() {
    let dir = tempdir().unwrap();
    let m = dir.path().join("MNLI");
    let train = [
        MNLI_TRAIN_HEADER.to_string(),
        mnli_row(
            0,
            "A cat sat.",
            "An animal sat.",
            &["entailment", "entailment"],
        ),
        mnli_row(
            1,
            "A cat sat.",
            "A dog sat.",
            &["contradiction", "contradiction"],
        ),
        mnli_row(2, "A cat sat.", "It was noon.", &["neutral", "neutral"]),
        mnli_row(3, "Two men.", "People.", &["entailment", "entailment"]),
    ]
    .join("\n");
    write(&m, "train.tsv", &(train + "\n"));
    let dev = |labels: [&str; 2]| {
        [
            MNLI_DEV_HEADER.to_string(),
            mnli_row(0, "x", "y", &[labels[0], "a", "b", "c", "d", labels[0]]),
            mnli_row(1, "x", "z", &[labels[1], "a", "b", "c", "d", labels[1]]),
        ]
        .join("\r\n")
    };
    write(&m, "dev_matched.tsv", &dev(["neutral", "entailment"]));
    write(
        &m,
        "dev_mismatched.tsv",
        &dev(["contradiction", "contradiction"]),
    );
    write(
        &m,
        "test_matched.tsv",
        &format!("{MNLI_TEST_HEADER}\n{}\n", mnli_row(0, "p", "h", &[])),
    );
    write(
        &m,
        "test_mismatched.tsv",
        &format!("{MNLI_TEST_HEADER}\n{}\n", mnli_row(0, "p", "h", &[])),
    );

    let t = task("MNLI").unwrap();
    assert_eq!(t.num_outputs(), 3);
    let tr = t.load_split(dir.path(), "train").unwrap();
    assert_eq!(class_counts(&tr, 3), [1, 2, 1]);
    assert_eq!(examples(&tr)[0].text_b.as_deref(), Some("An animal sat."));
    let dm = t.load_split(dir.path(), "dev_matched").unwrap();
    assert_eq!(class_counts(&dm, 3), [0, 1, 1]);
    assert_eq!(
        t.load_split(dir.path(), "dev").unwrap(),
        dm,
        "dev is dev_matched"
    );
    let dmm = t.load_split(dir.path(), "dev_mismatched").unwrap();
    assert_eq!(class_counts(&dmm, 3), [2, 0, 0]);
    assert!(unlabelled(
        &t.load_split(dir.path(), "test_matched").unwrap()
    ));
    assert!(unlabelled(
        &t.load_split(dir.path(), "test_mismatched").unwrap()
    ));
    let base = t.majority_baseline(&tr, &dm).unwrap();
    assert_eq!(base["accuracy"], 0.5);
    assert_eq!(base["mcc"], 0.0);
    assert!(!base.contains_key("f1"));
    assert!(matches!(
        t.load_split(dir.path(), "dev_foo"),
        Err(DataError::UnknownSplit { .. })
    ));

    // The check command sees the folder and computes both baselines.
    let report = stab_data::check_dir(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.tasks[0].baselines.len(), 2);
}

#[test]
fn ax_diagnostic_with_and_without_labels() {
    let dir = tempdir().unwrap();
    let d = dir.path().join("diagnostic");
    write(
        &d,
        "diagnostic.tsv",
        "index\tsentence1\tsentence2\n0\tThe cat sat.\tThe cat did not sit.\n1\tA\tB\n",
    );
    write(&d, "diagnostic_full.tsv", "index\tsentence1\tsentence2\tlabel\n0\tThe cat sat.\tThe cat did not sit.\tcontradiction\n1\tA\tB\tneutral\n");
    let t = task("AX").unwrap();
    assert_eq!(t.primary_metric(), "mcc");
    let plain = t.load_split(dir.path(), "test").unwrap();
    assert_eq!(plain.len(), 2);
    assert!(unlabelled(&plain));
    let full = t.load_split(dir.path(), "diagnostic_full").unwrap();
    assert_eq!(examples(&full)[0].label, Some(Label::Class(0)));
    assert_eq!(examples(&full)[1].label, Some(Label::Class(2)));
}
