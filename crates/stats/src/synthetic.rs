//! Synthetic run records for tests, demos and the benchmark: no training needed.
//!
//! Scores are drawn so that a `devlin`-like recipe fails (score ≤ majority baseline) in a
//! share of runs and a `mosbach`-like one does not, as in Mosbach et al. (2021) Figure 1.

use std::path::Path;

use rand::Rng;
use stab_spec::{Curve, Evaluation, RunRecord, RunStatus};

use crate::bootstrap::stream_rng;

/// What one synthetic run looks like.
#[derive(Debug, Clone)]
pub struct SyntheticRun {
    pub group: String,
    pub preset: String,
    pub init_seed: u64,
    pub data_seed: u64,
    pub freeze_layers: usize,
    /// kebab-case feature mode (`off`, `last`, …).
    pub feature_mode: String,
    pub status: RunStatus,
    pub score: Option<f64>,
    /// Probability of a failed run; failed runs score at the baseline.
    pub fail_rate: f64,
    pub mean: f64,
    pub std: f64,
}

/// A record for `run`, with a training-loss curve and dev evaluations of `points` points.
pub fn record(run: &SyntheticRun, seed: u64, points: usize) -> RunRecord {
    let mut spec = stab_spec::preset(&run.preset)
        .or_else(|_| stab_spec::preset(stab_spec::DEFAULT_PRESET))
        .expect("the default preset exists");
    spec.init_seed = run.init_seed;
    spec.data_seed = run.data_seed;
    spec.freeze_layers = run.freeze_layers;
    if let Ok(m) = serde_json::from_value(serde_json::Value::String(run.feature_mode.clone())) {
        spec.feature_mode = m;
    }
    let mut rng = stream_rng(seed, run.init_seed * 1_000_003 + run.data_seed);
    let baseline = 0.527;
    let failed = rng.gen_bool(run.fail_rate.clamp(0.0, 1.0));
    let score = run.score.or_else(|| {
        if run.status != RunStatus::Ok && run.status != RunStatus::Diverged {
            return None;
        }
        Some(if failed {
            baseline
        } else {
            // Box–Muller normal draw.
            let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
            run.mean + run.std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
    });
    let mut r = RunRecord::error(spec, run.status, String::new());
    r.message = None;
    r.group = Some(run.group.clone());
    r.sweep = Some("synthetic".into());
    r.metric = "accuracy".into();
    r.majority_baseline = Some(baseline);
    r.score = score;
    r.final_score = score;
    let steps = 1000u64;
    r.total_steps = steps;
    r.steps_done = steps;
    let end_loss = if failed {
        0.69
    } else {
        0.25 + rng.gen_range(0.0..0.1)
    };
    r.train_loss = Curve {
        steps: (0..points)
            .map(|i| i as u64 * steps / points.max(1) as u64)
            .collect(),
        values: (0..points)
            .map(|i| {
                let t = i as f64 / points.max(1) as f64;
                0.70 + (end_loss - 0.70) * (1.0 - (-4.0 * t).exp()) + rng.gen_range(-0.03..0.03)
            })
            .collect(),
    };
    let final_dev = score.unwrap_or(baseline);
    r.evaluations = (1..=points.min(12))
        .map(|i| {
            let t = i as f64 / points.min(12) as f64;
            Evaluation {
                step: (t * steps as f64) as u64,
                epoch: 3.0 * t,
                score: baseline + (final_dev - baseline) * t.sqrt() + rng.gen_range(-0.01..0.01),
                metrics: Default::default(),
                report_metrics: None,
            }
        })
        .collect();
    r
}

/// Writes `results/<sweep>/runs/<run_id>/record.json`-style trees: one directory per run.
pub fn write_records(dir: &Path, records: &[RunRecord]) -> std::io::Result<()> {
    for (i, r) in records.iter().enumerate() {
        let d = dir.join("runs").join(format!("{i:05}-{}", r.run_id));
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("record.json"), r.to_json())?;
    }
    Ok(())
}
