//! Benchmark (not a test), 1,000 bootstrap iterations throughout:
//! - `records`: 10,000 synthetic run records in 8 groups, ASO for all 28 group pairs, at 1 and
//!   2 rayon threads;
//! - `csv`: what `stab compare` does with 100,000 CSV rows in 4 groups (6 pairs) and in 1,000
//!   groups (45 pairs among the top 10 by mean), at 2 threads.
//!
//! `cargo bench -p stab-stats --bench report [-- records|csv]`

use std::time::Instant;

use rand::Rng;
use stab_spec::RunStatus;
use stab_stats::synthetic::{record, SyntheticRun};
use stab_stats::{load_results, load_scores_csv, summarize, write_report, ReportOptions};

fn main() {
    let which = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if which.as_deref().is_none_or(|w| w == "records") {
        records();
    }
    if which.as_deref().is_none_or(|w| w == "csv") {
        csv_rows(100_000, 4);
        csv_rows(100_000, 1000);
    }
}

/// `stab compare` on `rows` CSV rows spread over `groups` groups.
fn csv_rows(rows: usize, groups: usize) {
    let dir = std::env::temp_dir().join(format!("stab-stats-bench-csv-{groups}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scores.csv");
    let mut text = String::from("group,seed,score\n");
    let mut rng = stab_stats::bootstrap::stream_rng(7, groups as u64);
    for i in 0..rows {
        let g = i % groups;
        let v: f64 = 0.6 + 0.0001 * g as f64 + 0.05 * (rng.gen::<f64>() - 0.5);
        text += &format!("r{g},{i},{v:.6}\n");
    }
    std::fs::write(&path, text).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let opts = ReportOptions::default();
    let t = Instant::now();
    let input = load_scores_csv(&path, "group", "score", None).unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let s = pool.install(|| summarize(&input, &opts));
    let stats = t.elapsed();
    let t = Instant::now();
    pool.install(|| write_report(&dir.join("report"), &input, &opts))
        .unwrap();
    println!(
        "csv {rows} rows in {groups} groups, 2 threads: load {load:.2?}; statistics ({} pairs) {stats:.2?}; full report incl. plots {:.2?}",
        s.comparisons.len(),
        t.elapsed()
    );
}

fn records() {
    let groups = 8;
    let per_group = 1250u64;
    let mut recs = Vec::new();
    for g in 0..groups {
        for s in 0..per_group {
            let run = SyntheticRun {
                group: format!("recipe-{g}"),
                preset: "devlin".into(),
                init_seed: s % 25,
                data_seed: s / 25,
                freeze_layers: 0,
                feature_mode: "off".into(),
                status: RunStatus::Ok,
                score: None,
                fail_rate: 0.05 * g as f64,
                mean: 0.6 + 0.01 * g as f64,
                std: 0.02,
            };
            recs.push(record(&run, 3, 30));
        }
    }
    let dir = std::env::temp_dir().join("stab-stats-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    stab_stats::synthetic::write_records(&dir.join("sweep"), &recs).unwrap();
    println!("wrote {} records in {:.2?}", recs.len(), t.elapsed());
    let t = Instant::now();
    let input = load_results(&dir.join("sweep"), None).unwrap();
    println!("load_results: {:.2?}", t.elapsed());
    let opts = ReportOptions {
        bootstrap_iterations: 1000,
        ..Default::default()
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let t = Instant::now();
        let s = pool.install(|| summarize(&input, &opts));
        let stats = t.elapsed();
        let t = Instant::now();
        pool.install(|| write_report(&dir.join(format!("report-{threads}")), &input, &opts))
            .unwrap();
        println!(
            "{threads} thread(s): statistics (bootstrap CIs + {} ASO pairs) {:.2?}; full report incl. plots {:.2?}",
            s.comparisons.len(),
            stats,
            t.elapsed()
        );
    }
}
