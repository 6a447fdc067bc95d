//! Benchmark (not a test): 10,000 synthetic run records in 8 groups, 1,000 bootstrap iterations,
//! ASO for all 28 group pairs, at 1 and 2 rayon threads.
//!
//! `cargo bench -p stab-stats --bench report`

use std::time::Instant;

use stab_spec::RunStatus;
use stab_stats::synthetic::{record, SyntheticRun};
use stab_stats::{load_results, summarize, write_report, ReportOptions};

fn main() {
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
