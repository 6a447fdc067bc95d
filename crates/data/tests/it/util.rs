use std::path::{Path, PathBuf};

use stab_data::{Dataset, Example, Label};

/// The shared data folder: `STAB_DATA_DIR`, else `<workspace>/../shared/data`.
pub fn data_dir() -> PathBuf {
    let dir = stab_test_support::data_dir();
    assert!(
        dir.join("glue").is_dir(),
        "shared data not found at {} (set STAB_DATA_DIR to the folder holding glue/ and conll2003/)",
        dir.display()
    );
    dir
}

pub fn glue(task: &str) -> PathBuf {
    data_dir().join("glue").join(task)
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p
}

pub fn examples(d: &Dataset) -> &[Example] {
    match d {
        Dataset::Sentences(v) => v,
        Dataset::Tagged(_) => panic!("expected sentences"),
    }
}

/// Count of each class id, indexed by id.
pub fn class_counts(d: &Dataset, n: usize) -> Vec<usize> {
    let mut c = vec![0; n];
    for e in examples(d) {
        match e.label {
            Some(Label::Class(i)) => c[i] += 1,
            other => panic!("line {}: expected a class label, got {other:?}", e.line),
        }
    }
    c
}

pub fn unlabelled(d: &Dataset) -> bool {
    examples(d).iter().all(|e| e.label.is_none())
}

#[test]
fn test_support_reads_the_same_data_dir_variable() {
    assert_eq!(stab_test_support::DATA_DIR_ENV, stab_data::DATA_DIR_ENV);
}
