//! A run's record built from its [`Outcome`]: the reported and selected metrics, curves and
//! throughput. What every record carries whatever happened (versions, wall time, host) is
//! added by [`crate::run`].
//!
//! Scores are reported on the report half when the dev set is split, else on the selection
//! set; `final_*` is the model after the last step, `score` the checkpoint the spec's
//! `selection` picks. An interrupted run reports neither.

use stab_spec::{Curve, Evaluation, RunRecord, RunSpec, RunStatus, Timing, RECORD_SCHEMA_VERSION};

use crate::run_data::RunData;
use crate::train_loop::Outcome;

/// The record of a run that trained (finished, diverged or was interrupted).
pub fn record(
    spec: &RunSpec,
    data: &RunData,
    trainable_parameters: u64,
    out: Outcome,
) -> RunRecord {
    let result = matches!(out.status, RunStatus::Ok | RunStatus::Diverged);
    let reported = |e: &Evaluation| {
        e.report_metrics
            .clone()
            .unwrap_or_else(|| e.metrics.clone())
    };
    let last = out.evaluations.last().filter(|_| result);
    let chosen = out.evaluations.chosen(spec.selection).filter(|_| result);
    let final_metrics = last.map(reported).unwrap_or_default();
    let selected_metrics = chosen.map(reported).unwrap_or_default();
    let seconds = out.train_seconds.max(1e-9);
    RunRecord {
        schema_version: RECORD_SCHEMA_VERSION,
        run_id: spec.run_id(),
        spec: spec.clone(),
        group: None,
        sweep: None,
        status: out.status,
        message: out.message,
        diverged_at_step: out.diverged_at_step,
        metric: data.metric.clone(),
        selection_metric: data.selection_metric.clone(),
        majority_baseline: data.baseline.get(&data.metric).copied(),
        baseline_metrics: data.baseline.clone(),
        train_examples: data.train.len(),
        trainable_parameters,
        total_steps: out.total_steps,
        steps_done: out.steps_done,
        final_score: final_metrics.get(&data.metric).copied(),
        final_metrics,
        selected_step: chosen.map(|e| e.step),
        never_improved: chosen.is_some_and(|e| e.step == 0),
        score: selected_metrics.get(&data.metric).copied(),
        selected_metrics,
        evaluations: out.evaluations.list,
        train_loss: downsample(&out.losses, spec.max_curve_points),
        learning_rate: downsample(&out.lrs, spec.max_curve_points),
        versions: Default::default(),
        timing: Timing {
            train_seconds: out.train_seconds,
            optimizer_seconds: out.optimizer_seconds,
            train_examples_per_second: out.examples as f64 / seconds,
            train_tokens_per_second: out.tokens as f64 / seconds,
            ..Timing::default()
        },
        model_source: None,
        newly_initialised: Vec::new(),
        constant_loss: out.constant_loss,
    }
}

/// Averages a per-step series into at most `max_points` buckets (each labelled with its last
/// step, 1-based); short series are kept as they are.
pub fn downsample(values: &[f64], max_points: usize) -> Curve {
    let n = values.len();
    if n <= max_points {
        return Curve {
            steps: (1..=n as u64).collect(),
            values: values.to_vec(),
        };
    }
    let mut curve = Curve::default();
    for b in 0..max_points {
        let (lo, hi) = (b * n / max_points, (b + 1) * n / max_points);
        let chunk = &values[lo..hi];
        curve.steps.push(hi as u64);
        curve
            .values
            .push(chunk.iter().sum::<f64>() / chunk.len() as f64);
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_curves_are_kept_and_long_ones_averaged_into_buckets() {
        let c = downsample(&[1.0, 2.0, 3.0], 5);
        assert_eq!(c.steps, [1, 2, 3]);
        assert_eq!(c.values, [1.0, 2.0, 3.0]);
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let c = downsample(&v, 4);
        // Buckets [0,2) [2,5) [5,7) [7,10), labelled with their last step.
        assert_eq!(c.steps, [2, 5, 7, 10]);
        assert_eq!(c.values, [1.5, 4.0, 6.5, 9.0]);
    }
}
