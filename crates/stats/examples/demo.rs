//! Writes a demo report of a synthetic Devlin-vs-Mosbach sweep (with frozen-layer and
//! feature-mode variants): `cargo run -p stab-stats --example demo -- OUT_DIR`.

use stab_spec::RunStatus;
use stab_stats::synthetic::{record, write_records, SyntheticRun};
use stab_stats::{load_results, terminal_table, write_report, ReportOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/stab-stats-demo".into());
    let out = std::path::Path::new(&out);
    let base = |group: &str, i: u64, d: u64| SyntheticRun {
        group: group.into(),
        preset: if group == "devlin" {
            "devlin"
        } else {
            "mosbach"
        }
        .into(),
        init_seed: i,
        data_seed: d,
        freeze_layers: 0,
        feature_mode: "off".into(),
        status: RunStatus::Ok,
        score: None,
        fail_rate: if group == "devlin" { 0.4 } else { 0.0 },
        mean: if group == "devlin" { 0.66 } else { 0.70 },
        std: if group == "devlin" { 0.04 } else { 0.02 },
    };
    let mut recs = Vec::new();
    for i in 0..5 {
        for d in 0..5 {
            recs.push(record(&base("devlin", i, d), 1, 40));
            recs.push(record(&base("mosbach", i, d), 1, 40));
        }
    }
    let mut div = base("devlin", 7, 7);
    div.status = RunStatus::Diverged;
    div.score = Some(0.47);
    recs.push(record(&div, 1, 40));
    for (k, m) in [
        (0usize, 0.70),
        (4, 0.695),
        (8, 0.68),
        (10, 0.64),
        (12, 0.58),
    ] {
        for s in 0..5 {
            let mut r = base("frozen", s, 100 + k as u64);
            r.freeze_layers = k;
            r.mean = m;
            recs.push(record(&r, 2, 40));
        }
    }
    let sweep = out.join("sweep");
    let _ = std::fs::remove_dir_all(&sweep);
    write_records(&sweep, &recs)?;
    let input = load_results(&sweep, None)?;
    let summary = write_report(&out.join("report"), &input, &ReportOptions::default())?;
    print!("{}", terminal_table(&summary));
    println!("wrote {}", out.join("report").display());
    Ok(())
}
