//! Helpers: synthetic sweeps in temporary directories.

use std::path::Path;

use stab_spec::{RunRecord, RunStatus};
use stab_stats::synthetic::{record, write_records, SyntheticRun};

pub fn run(group: &str, init: u64, data: u64) -> SyntheticRun {
    SyntheticRun {
        group: group.into(),
        preset: if group.starts_with("devlin") {
            "devlin"
        } else {
            "mosbach"
        }
        .into(),
        init_seed: init,
        data_seed: data,
        freeze_layers: 0,
        feature_mode: "off".into(),
        status: RunStatus::Ok,
        score: None,
        fail_rate: if group.starts_with("devlin") {
            0.4
        } else {
            0.0
        },
        mean: if group.starts_with("devlin") {
            0.66
        } else {
            0.70
        },
        std: 0.02,
    }
}

/// Devlin vs Mosbach, `k` init × `k` data seeds each.
pub fn two_recipes(k: u64) -> Vec<RunRecord> {
    let mut v = Vec::new();
    for g in ["devlin", "mosbach"] {
        for i in 0..k {
            for d in 0..k {
                v.push(record(&run(g, i, d), 1, 20));
            }
        }
    }
    v
}

pub fn sweep_dir(records: &[RunRecord]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), records).unwrap();
    dir
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn opts() -> stab_stats::ReportOptions {
    stab_stats::ReportOptions {
        bootstrap_iterations: 200,
        ..Default::default()
    }
}
