//! When a run evaluates, and which of its evaluations it reports.
//!
//! Evaluations: at step 0 when `eval_at_start` (Mosbach), then every `eval_every_steps`, or
//! every ⌊T/`evals_per_run`⌋ steps (Zhang), or `evals_per_epoch` times per epoch, and always
//! at T. The best one is picked by the task's `selection_metric` on the selection set; ties
//! keep the earlier checkpoint (both references compare with `>`) and a NaN never wins.

use stab_spec::{Evaluation, Selection};

/// Optimizer steps after which the model is evaluated: defined with the spec, so that the
/// sweep's cost estimate counts the same evaluations the loop runs.
pub use stab_spec::eval_steps;

/// The evaluations of a run so far, and the best one by the selection metric.
#[derive(Debug, Clone, Default)]
pub struct Evaluations {
    pub list: Vec<Evaluation>,
    /// (selection-metric value, index) of the best evaluation.
    best: Option<(f64, usize)>,
}

impl Evaluations {
    /// Adds an evaluation; returns whether it is strictly better than every earlier one on
    /// `selection_metric` (a missing value counts as NaN).
    pub fn push(&mut self, ev: Evaluation, selection_metric: &str) -> bool {
        let value = ev
            .metrics
            .get(selection_metric)
            .copied()
            .unwrap_or(f64::NAN);
        let improved = self
            .best
            .is_none_or(|(b, _)| value > b || (b.is_nan() && !value.is_nan()));
        self.list.push(ev);
        if improved {
            self.best = Some((value, self.list.len() - 1));
        }
        improved
    }

    pub fn last(&self) -> Option<&Evaluation> {
        self.list.last()
    }

    /// The evaluation `selection` picks: the last one, or the best one (the last one when
    /// none has a value).
    pub fn chosen(&self, selection: Selection) -> Option<&Evaluation> {
        let last = self.list.len().checked_sub(1)?;
        let i = match selection {
            Selection::Last => last,
            Selection::Best => self.best.map_or(last, |(_, i)| i),
        };
        self.list.get(i)
    }
}

#[cfg(test)]
mod tests {
    use stab_spec::RunSpec;

    use super::*;

    fn spec_with(o: &[(&str, toml::Value)]) -> RunSpec {
        let t: toml::Table = o.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        RunSpec::resolve("devlin", &t).unwrap()
    }

    /// Zhang's 10 evaluations per run — every ⌊T/10⌋ steps and at T.
    #[test]
    fn evals_per_run_every_floor_t_over_n_and_at_t() {
        let zhang = RunSpec::resolve("zhang-longer", &toml::Table::new()).unwrap();
        let steps: Vec<u64> = eval_steps(&zhang, 20, 400).into_iter().collect();
        assert_eq!(steps, (1..=10).map(|i| i * 40).collect::<Vec<_>>());
        // T = 65: every 6 steps (6 … 60) and at 65, as `global_step % 6 == 0 or == t_total`.
        let steps: Vec<u64> = eval_steps(&zhang, 20, 65).into_iter().collect();
        let mut want: Vec<u64> = (1..=10).map(|i| i * 6).collect();
        want.push(65);
        assert_eq!(steps, want);
        // T < 10: ⌊T/10⌋ = 0, only at T (the reference's `logging_steps > 0` guard).
        assert_eq!(
            eval_steps(&zhang, 20, 7).into_iter().collect::<Vec<_>>(),
            [7]
        );
        // eval_every_steps still comes first.
        let every = spec_with(&[
            ("evals_per_run", 10.into()),
            ("eval_every_steps", 50.into()),
        ]);
        assert_eq!(
            eval_steps(&every, 20, 120).into_iter().collect::<Vec<_>>(),
            [50, 100, 120]
        );
    }

    /// Mosbach evaluates before the first step.
    #[test]
    fn mosbach_evaluates_at_step_0() {
        let m = RunSpec::resolve("mosbach", &toml::Table::new()).unwrap();
        let steps: Vec<u64> = eval_steps(&m, 6, 12).into_iter().collect();
        assert_eq!(steps, [0, 2, 4, 6, 8, 10, 12]);
        let d = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        assert!(!eval_steps(&d, 6, 12).contains(&0));
    }

    #[test]
    fn evals_per_epoch_spread_over_each_epoch_and_end_at_t() {
        let s = spec_with(&[("evals_per_epoch", 2.into())]);
        let steps: Vec<u64> = eval_steps(&s, 5, 12).into_iter().collect();
        assert_eq!(steps, [3, 5, 8, 10, 12]);
    }

    fn ev(step: u64, value: f64) -> Evaluation {
        Evaluation {
            step,
            epoch: 0.0,
            score: value,
            metrics: [("accuracy".to_string(), value)].into(),
            report_metrics: None,
        }
    }

    #[test]
    fn the_first_strictly_better_evaluation_is_chosen_and_nan_never_wins() {
        let mut e = Evaluations::default();
        assert!(e.chosen(Selection::Best).is_none());
        assert!(e.push(ev(0, f64::NAN), "accuracy"));
        assert!(e.push(ev(1, 0.5), "accuracy"), "a number beats NaN");
        assert!(
            !e.push(ev(2, 0.5), "accuracy"),
            "a tie keeps the earlier one"
        );
        assert!(!e.push(ev(3, f64::NAN), "accuracy"));
        assert!(e.push(ev(4, 0.7), "accuracy"));
        assert!(!e.push(ev(5, 0.6), "accuracy"));
        assert_eq!(e.chosen(Selection::Best).unwrap().step, 4);
        assert_eq!(e.chosen(Selection::Last).unwrap().step, 5);
    }
}
