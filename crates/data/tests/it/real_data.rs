//! The real GLUE and CoNLL-2003 files of the shared data folder; counts from SOURCES.md
//! (dev label counts re-counted with a plain `split('\t')`).

use std::time::Instant;

use stab_data::{check_dir, read_conll, task, DataError, Dataset, Label};

use crate::util::{class_counts, data_dir, examples, glue, unlabelled};

fn load(name: &str, split: &str) -> Dataset {
    let t = task(name).unwrap();
    t.load_split(&glue(t.folders()[0]), split)
        .unwrap_or_else(|e| panic!("{name} {split}: {e}"))
}

#[test]
fn cola_counts_and_layout() {
    let train = load("CoLA", "train");
    assert_eq!(train.len(), 8551);
    assert_eq!(class_counts(&train, 2), [2528, 6023]);
    let dev = load("CoLA", "dev");
    assert_eq!(dev.len(), 1043);
    assert_eq!(class_counts(&dev, 2), [322, 721]);
    // dev.tsv has no final newline: its last row is still read.
    let last = examples(&dev).last().unwrap();
    assert_eq!(last.line, 1043);
    assert_eq!(last.text_a, "John talked to Bill about himself.");
    assert!(last.text_b.is_none());
    let test = load("CoLA", "test");
    assert_eq!(test.len(), 1063);
    assert!(unlabelled(&test));
}

#[test]
fn sst2_counts_and_speed() {
    let start = Instant::now();
    let train = load("sst-2", "train");
    let took = start.elapsed();
    eprintln!("SST-2 train: {} rows in {took:?}", train.len());
    assert_eq!(train.len(), 67349);
    assert_eq!(class_counts(&train, 2), [29780, 37569]);
    // Sentences keep their trailing space (it is inside the field, before the TAB).
    assert_eq!(
        examples(&train)[0].text_a,
        "hide new secretions from the parental units "
    );
    assert_eq!(examples(&train)[0].line, 2);
    let dev = load("SST-2", "dev");
    assert_eq!(dev.len(), 872);
    assert_eq!(class_counts(&dev, 2), [428, 444]);
    assert_eq!(load("SST-2", "test").len(), 1821);
}

#[test]
fn mrpc_counts_with_bom_header() {
    let train = load("MRPC", "train");
    assert_eq!(train.len(), 3668);
    assert_eq!(class_counts(&train, 2), [1194, 2474]);
    let dev = load("MRPC", "dev");
    assert_eq!(dev.len(), 408);
    assert_eq!(class_counts(&dev, 2), [129, 279]);
    assert!(examples(&dev).iter().all(|e| e.text_b.is_some()));
    let test = load("MRPC", "test");
    assert_eq!(test.len(), 1725);
    assert!(unlabelled(&test));
}

#[test]
fn stsb_counts_and_scores() {
    let train = load("STS-B", "train");
    assert_eq!(train.len(), 5749);
    let e = &examples(&train)[1];
    assert_eq!(e.text_a, "A man is playing a large flute.");
    assert_eq!(e.text_b.as_deref(), Some("A man is playing a flute."));
    assert_eq!(e.label, Some(Label::Score(3.8)));
    for e in examples(&train) {
        let s = e.label.unwrap().score().unwrap();
        assert!((0.0..=5.0).contains(&s), "line {}", e.line);
    }
    assert_eq!(load("STS-B", "dev").len(), 1500);
    let test = load("STS-B", "test");
    assert_eq!(test.len(), 1379);
    assert!(unlabelled(&test));
}

#[test]
fn qnli_dev_test_and_missing_train() {
    let dev = load("QNLI", "dev");
    assert_eq!(dev.len(), 5463);
    assert_eq!(class_counts(&dev, 2), [2702, 2761]);
    assert_eq!(load("QNLI", "test").len(), 5463);
    let t = task("QNLI").unwrap();
    let err = t.load_split(&glue("QNLI"), "train").unwrap_err();
    assert!(matches!(err, DataError::MissingSplit { .. }), "{err}");
    assert!(err.to_string().contains("train.tsv"), "{err}");
}

#[test]
fn rte_and_wnli_counts() {
    let train = load("RTE", "train");
    assert_eq!(train.len(), 2490);
    assert_eq!(class_counts(&train, 2), [1249, 1241]);
    let dev = load("RTE", "dev");
    assert_eq!(dev.len(), 277);
    assert_eq!(class_counts(&dev, 2), [146, 131]);
    assert_eq!(load("RTE", "test").len(), 3000);

    let train = load("WNLI", "train");
    assert_eq!(train.len(), 635);
    assert_eq!(class_counts(&train, 2), [323, 312]);
    let dev = load("WNLI", "dev");
    assert_eq!(dev.len(), 71);
    assert_eq!(class_counts(&dev, 2), [40, 31]);
    assert_eq!(load("WNLI", "test").len(), 146);
}

#[test]
fn data_dir_may_be_the_data_root_or_glue_root() {
    let t = task("RTE").unwrap();
    assert_eq!(t.load_split(&data_dir(), "dev").unwrap().len(), 277);
    assert_eq!(
        t.load_split(&data_dir().join("glue"), "dev").unwrap().len(),
        277
    );
    let c = task("conll2003").unwrap();
    assert_eq!(c.load_split(&data_dir(), "dev").unwrap().len(), 3250);
}

#[test]
fn conll_counts() {
    let t = task("CoNLL-2003").unwrap();
    let dir = data_dir().join("conll2003");
    for (file, sentences, tokens, docs) in [
        ("train.txt", 14041, 203621, 946),
        ("valid.txt", 3250, 51362, 216),
        ("test.txt", 3453, 46435, 231),
    ] {
        let f = read_conll(&dir.join(file), t.labels()).unwrap();
        assert_eq!(f.sentences.len(), sentences, "{file}");
        assert_eq!(f.tokens, tokens, "{file}");
        assert_eq!(f.documents, docs, "{file}");
        assert_eq!(f.converted, 0, "{file} is IOB2 already");
    }
    let train = t.load_split(&dir, "train").unwrap();
    let Dataset::Tagged(s) = &train else { panic!() };
    assert_eq!(
        s[0].tokens,
        ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    );
    let names: Vec<&str> = s[0].tags.iter().map(|&i| t.labels()[i].as_str()).collect();
    assert_eq!(
        names,
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]
    );
    assert_eq!(t.load_split(&dir, "dev").unwrap().len(), 3250);
    assert_eq!(t.load_split(&dir, "test").unwrap().len(), 3453);
}

#[test]
fn majority_baselines_from_data() {
    let base = |name: &str, dev: &str| {
        let t = task(name).unwrap();
        let m = t
            .majority_baseline(&load(name, "train"), &load(name, dev))
            .unwrap();
        (t, m)
    };
    let (_, m) = base("RTE", "dev");
    assert_eq!(m["accuracy"], 146.0 / 277.0);
    let (_, m) = base("CoLA", "dev");
    assert_eq!(m["mcc"], 0.0);
    assert_eq!(m["accuracy"], 721.0 / 1043.0);
    let (_, m) = base("MRPC", "dev");
    assert_eq!(m["accuracy"], 279.0 / 408.0);
    assert!((m["f1"] - 558.0 / 687.0).abs() < 1e-12);
    let (t, m) = base("STS-B", "dev");
    assert_eq!(
        (m["pearson"], m["spearman"], m["combined"]),
        (0.0, 0.0, 0.0)
    );
    let maj = t.majority_label(&load("STS-B", "train")).unwrap();
    assert!((maj.score().unwrap() - 2.7009990253653497).abs() < 1e-12);
    let (_, m) = base("SST-2", "dev");
    assert_eq!(m["accuracy"], 444.0 / 872.0);
    let (_, m) = base("WNLI", "dev");
    assert_eq!(m["accuracy"], 40.0 / 71.0);

    let c = task("conll").unwrap();
    let dir = data_dir().join("conll2003");
    let m = c
        .majority_baseline(
            &c.load_split(&dir, "train").unwrap(),
            &c.load_split(&dir, "dev").unwrap(),
        )
        .unwrap();
    assert_eq!(m["f1"], 0.0);
    assert!(m["accuracy"] > 0.8);
    // A test split has no labels: the baseline cannot be scored on it.
    let err = task("RTE")
        .unwrap()
        .majority_baseline(&load("RTE", "train"), &load("RTE", "test"));
    assert!(matches!(err, Err(DataError::Unlabelled { .. })));
}

#[test]
fn check_dir_on_shared_data() {
    let report = check_dir(&data_dir()).unwrap();
    assert!(report.is_ok(), "{report}");
    let names: Vec<&str> = report.tasks.iter().map(|t| t.task.as_str()).collect();
    for n in [
        "CoLA",
        "SST-2",
        "MRPC",
        "STS-B",
        "QNLI",
        "RTE",
        "WNLI",
        "CoNLL-2003",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let qnli = report.tasks.iter().find(|t| t.task == "QNLI").unwrap();
    assert_eq!(qnli.missing, ["train"]);
    assert!(qnli.baselines.is_empty());
    let rte = report.tasks.iter().find(|t| t.task == "RTE").unwrap();
    assert_eq!(
        rte.splits.iter().map(|s| s.rows).collect::<Vec<_>>(),
        [2490, 277, 3000]
    );
    assert_eq!(rte.baselines[0].prediction, "entailment");
    let text = report.to_string();
    assert!(text.contains("majority baseline on dev"), "{text}");
    assert!(text.contains("entailment 1249 (50.2%)"), "{text}");
    eprintln!("{text}");
}
