//! Custom tasks described by a TOML file.

use stab_data::{check, task, DataError, Label, TaskKind};
use tempfile::tempdir;

use crate::util::{examples, write};

#[test]
fn csv_task_with_quoting_and_fixed_labels() {
    let dir = tempdir().unwrap();
    write(dir.path(), "data/train.csv", "id,review,label\n1,\"Great, really great\",pos\n2,Bad,neg\n3,\"He said \"\"meh\"\"\",neg\n");
    write(dir.path(), "data/dev.csv", "id,review,label\n1,Fine,pos\n");
    let desc = write(
        dir.path(),
        "reviews.toml",
        "name = \"reviews\"\ntrain = \"data/train.csv\"\ndev = \"data/dev.csv\"\ntext_columns = [\"review\"]\nlabel_column = \"label\"\nlabels = [\"neg\", \"pos\"]\nmetric = \"f1\"\n",
    );
    let t = task(desc.to_str().unwrap()).unwrap();
    assert_eq!(t.name(), "reviews");
    assert_eq!(t.kind(), TaskKind::Classification);
    assert_eq!(t.labels(), ["neg", "pos"]);
    assert_eq!(t.primary_metric(), "f1");
    // data_dir is ignored: paths are relative to the description.
    let train = t
        .load_split(std::path::Path::new("/nonexistent"), "train")
        .unwrap();
    let ex = examples(&train);
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0].text_a, "Great, really great");
    assert_eq!(ex[0].label, Some(Label::Class(1)));
    assert_eq!(ex[2].text_a, "He said \"meh\"");
    assert_eq!(ex[2].line, 4);
    let dev = t.load_split(dir.path(), "dev").unwrap();
    let m = t.majority_baseline(&train, &dev).unwrap();
    assert_eq!(m["accuracy"], 0.0);
    assert!(matches!(
        t.load_split(dir.path(), "test"),
        Err(DataError::UnknownSplit { .. })
    ));

    write(
        dir.path(),
        "data/dev.csv",
        "id,review,label\n1,Fine,pos\n2,Odd,meh\n",
    );
    let err = t.load_split(dir.path(), "dev").unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownLabel { line: 3, .. }),
        "{err}"
    );
    write(dir.path(), "data/dev.csv", "id,review,label\n1,Fine\n");
    let err = t.load_split(dir.path(), "dev").unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::FieldCount {
                line: 2,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn tsv_pair_task_and_jsonl_regression() {
    let dir = tempdir().unwrap();
    write(
        dir.path(),
        "train.tsv",
        "q\tp\ty\nIs it?\tIt is \"so\tyes\n",
    );
    write(dir.path(), "dev.tsv", "q\tp\ty\nA\tB\tno\n");
    write(dir.path(), "test.tsv", "q\tp\nA\tB\n");
    let desc = write(dir.path(), "pairs.toml", "name = \"pairs\"\ntrain = \"train.tsv\"\ndev = \"dev.tsv\"\ntest = \"test.tsv\"\ntext_columns = [\"q\", \"p\"]\nlabel_column = \"y\"\nlabels = [\"no\", \"yes\"]\n");
    let t = task(desc.to_str().unwrap()).unwrap();
    let train = t.load_split(dir.path(), "train").unwrap();
    assert_eq!(examples(&train)[0].text_b.as_deref(), Some("It is \"so"));
    let test = t.load_split(dir.path(), "test").unwrap();
    assert!(examples(&test)[0].label.is_none());
    // A training file must have the label column.
    write(dir.path(), "train.tsv", "q\tp\nA\tB\n");
    assert!(matches!(
        t.load_split(dir.path(), "train"),
        Err(DataError::MissingColumn { .. })
    ));

    write(
        dir.path(),
        "r/train.jsonl",
        "{\"text\": \"a\", \"score\": 1.5}\n{\"text\": \"b\", \"score\": \"2.5\"}\n\n",
    );
    write(
        dir.path(),
        "r/dev.jsonl",
        "{\"text\": \"c\", \"score\": 3}\n{\"text\": \"d\", \"score\": 1}\n",
    );
    let desc = write(dir.path(), "r/sim.toml", "name = \"sim\"\ntrain = \"train.jsonl\"\ndev = \"dev.jsonl\"\ntext_columns = [\"text\"]\nlabel_column = \"score\"\nregression = true\n");
    let t = task(desc.to_str().unwrap()).unwrap();
    assert_eq!(t.kind(), TaskKind::Regression);
    assert_eq!(t.num_outputs(), 1);
    assert_eq!(t.primary_metric(), "pearson");
    let train = t.load_split(dir.path(), "train").unwrap();
    assert_eq!(
        train.labels().unwrap(),
        [Label::Score(1.5), Label::Score(2.5)]
    );
    let dev = t.load_split(dir.path(), "dev").unwrap();
    assert_eq!(t.majority_label(&train).unwrap(), Label::Score(2.0));
    assert_eq!(t.majority_baseline(&train, &dev).unwrap()["pearson"], 0.0);

    write(
        dir.path(),
        "r/dev.jsonl",
        "{\"text\": \"c\", \"score\": 3}\n{\"text\": \"d\", \"score\": 1\n",
    );
    assert!(matches!(
        t.load_split(dir.path(), "dev"),
        Err(DataError::Json { line: 2, .. })
    ));
    write(
        dir.path(),
        "r/dev.jsonl",
        "{\"text\": \"c\", \"score\": \"x\"}\n",
    );
    assert!(matches!(
        t.load_split(dir.path(), "dev"),
        Err(DataError::BadScore { line: 1, .. })
    ));
    write(dir.path(), "r/dev.jsonl", "{\"text\": 5, \"score\": 1}\n");
    assert!(matches!(
        t.load_split(dir.path(), "dev"),
        Err(DataError::Malformed { line: 1, .. })
    ));
    write(
        dir.path(),
        "r/dev.jsonl",
        "{\"txt\": \"a\", \"score\": 1}\n",
    );
    assert!(matches!(
        t.load_split(dir.path(), "dev"),
        Err(DataError::Malformed { line: 1, .. })
    ));
    write(dir.path(), "r/dev.jsonl", "");
    assert!(matches!(
        t.load_split(dir.path(), "dev"),
        Err(DataError::EmptyFile { .. })
    ));
}

#[test]
fn bad_descriptions() {
    let dir = tempdir().unwrap();
    let cases = [
        ("unknown_key.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\ncolour = 1\n"),
        ("both.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\nregression = true\n"),
        ("neither.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\n"),
        ("dup.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"a\"]\n"),
        ("three_texts.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\", \"u\", \"v\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\n"),
        ("no_files.toml", "name = \"x\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\n"),
        ("bad_metric.toml", "name = \"x\"\ntrain = \"a.csv\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\nmetric = \"pearson\"\n"),
    ];
    for (file, text) in cases {
        let p = write(dir.path(), file, text);
        let err = task(p.to_str().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::Toml { .. } | DataError::TaskSpec { .. }),
            "{file}: {err}"
        );
        assert!(err.to_string().contains(file), "{file}: {err}");
    }
    assert!(matches!(
        task("/no/such/task.toml"),
        Err(DataError::Io { .. })
    ));
    // Format from the extension, or an error naming the description.
    let p = write(dir.path(), "fmt.toml", "name = \"x\"\ntrain = \"a.txt\"\ntext_columns = [\"t\"]\nlabel_column = \"l\"\nlabels = [\"a\", \"b\"]\n");
    write(dir.path(), "a.txt", "t,l\nx,a\n");
    let err = task(p.to_str().unwrap())
        .unwrap()
        .load_split(dir.path(), "train")
        .unwrap_err();
    assert!(matches!(err, DataError::TaskSpec { .. }), "{err}");
}

/// `stab data check` accepts a custom task description as `stab run --task`
/// does (it used to fail listing the .toml as a directory).
#[test]
fn data_check_accepts_a_task_toml() {
    let dir = tempdir().unwrap();
    write(
        dir.path(),
        "data/train.csv",
        "review,label\nGreat,pos\nBad,neg\nMeh,neg\n",
    );
    write(
        dir.path(),
        "data/dev.csv",
        "review,label\nFine,pos\nAwful,neg\nOk,neg\n",
    );
    let desc = write(
        dir.path(),
        "reviews.toml",
        "name = \"reviews\"\ntrain = \"data/train.csv\"\ndev = \"data/dev.csv\"\ntext_columns = [\"review\"]\nlabel_column = \"label\"\nlabels = [\"neg\", \"pos\"]\n",
    );
    let report = check(&desc).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.tasks.len(), 1);
    let t = &report.tasks[0];
    assert_eq!(t.task, "reviews");
    assert_eq!(t.splits.iter().map(|s| s.rows).collect::<Vec<_>>(), [3, 3]);
    assert_eq!(t.baselines.len(), 1);
    assert_eq!(t.baselines[0].prediction, "neg");
    let text = report.to_string();
    assert!(text.contains("majority baseline on dev"), "{text}");

    // A malformed row is reported with file and line, as for a data folder.
    write(
        dir.path(),
        "data/dev.csv",
        "review,label\nFine,pos\nAwful,what\n",
    );
    let report = check(&desc).unwrap();
    assert!(!report.is_ok());
    assert!(report.to_string().contains("dev.csv"), "{report}");
}
