//! Predicting a failed run before it ends (Dodge et al. 2020, §5: many runs that will fail can
//! be recognised early): the rules, shared by the opt-in run policy (`stab-train` stops a run a
//! rule predicts to fail) and by `stab early-failure`, which measures each rule's precision and
//! recall on stored runs. One definition serves both, so the precision a study measures is the
//! precision of exactly the rule a policy applies.
//!
//! Design decisions:
//! - **A rule looks at the run up to step ⌈f·T⌉ and nothing after** (T: the run's planned
//!   steps), so an offline replay on a finished run's curves decides as the live run would
//!   have at that step.
//! - **`at-baseline`** (Dodge et al.'s observation): the latest dev evaluation at or before that
//!   step scores at or below the majority baseline — the failed-run definition applied early.
//!   It needs an evaluation there; the policy makes one, a replay without one cannot decide.
//! - **`loss-at-constant`** (stab's own): the mean training loss over the last tenth of the
//!   planned steps before the check is within [`LOSS_MARGIN`] of the loss of the best constant
//!   predictor (the entropy of the training labels, or their variance for regression) — the
//!   model has learned nothing about its inputs yet. It needs no evaluation (free to check,
//!   and decidable on every stored record), but it judges the training split, not dev.
//! - **A stopped run is not a finished one.** It is recorded as `stopped` with the step, never
//!   as a failed run with a score; reports count it in its own column and say so wherever
//!   failure counts include it.

use serde::{Deserialize, Serialize};

/// Relative margin of `loss-at-constant`: a window mean at or above (1 − margin) × the constant
/// predictor's loss counts as "learned nothing". Chosen before the rule was measured on the
/// early-failure study (its training curves were not looked at), after a look at the
/// stabilizers' curves (docs/early-failure.md says so).
pub const LOSS_MARGIN: f64 = 0.02;

/// Share of the planned steps the `loss-at-constant` window covers (at least one step).
pub const LOSS_WINDOW: f64 = 0.1;

/// A rule that predicts a failed run from its beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EarlyFailureRule {
    /// The latest dev evaluation so far is at or below the majority baseline.
    AtBaseline,
    /// The recent training loss is within [`LOSS_MARGIN`] of the constant predictor's loss.
    LossAtConstant,
}

impl EarlyFailureRule {
    pub const ALL: [EarlyFailureRule; 2] = [
        EarlyFailureRule::AtBaseline,
        EarlyFailureRule::LossAtConstant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EarlyFailureRule::AtBaseline => "at-baseline",
            EarlyFailureRule::LossAtConstant => "loss-at-constant",
        }
    }

    /// The rule in words, for reports.
    pub fn describe(self) -> String {
        match self {
            EarlyFailureRule::AtBaseline => {
                "the latest dev evaluation is at or below the majority baseline".into()
            }
            EarlyFailureRule::LossAtConstant => format!(
                "the mean training loss over the last {:.0} % of the planned steps is within \
                 {:.0} % of the constant predictor's loss",
                LOSS_WINDOW * 100.0,
                LOSS_MARGIN * 100.0
            ),
        }
    }
}

/// The opt-in run policy: check `rule` once, after `after_fraction` of the planned steps, and
/// stop the run when it predicts a failure (`early_failure = { after_fraction = 0.3, rule =
/// "at-baseline" }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyFailure {
    /// Fraction f of the planned steps after which the rule is checked, in (0, 1).
    pub after_fraction: f64,
    pub rule: EarlyFailureRule,
    /// The rule's precision as measured (`stab early-failure` on a study of the same task and
    /// recipe), quoted by reports next to failure counts that include predicted failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_precision: Option<f64>,
    /// Where that precision was measured (a store, a document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_on: Option<String>,
}

/// Step at which a rule is checked after fraction `f` of `total` planned steps: ⌈f·T⌉, at least
/// 1 and at most T.
pub fn check_step(f: f64, total: u64) -> u64 {
    ((f * total as f64).ceil() as u64).clamp(1, total.max(1))
}

/// What a run has shown by the check step, as a rule reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunSoFar<'a> {
    /// Planned optimizer steps T.
    pub total_steps: u64,
    /// Training loss curve, (step, loss), steps from 1.
    pub train_loss: &'a [(u64, f64)],
    /// Dev evaluations, (step, score).
    pub dev_scores: &'a [(u64, f64)],
    /// Majority baseline of the set `dev_scores` are on.
    pub baseline: Option<f64>,
    /// Loss of the best constant predictor on the training set.
    pub constant_loss: Option<f64>,
}

impl EarlyFailureRule {
    /// Whether the rule predicts a failure at step `at`, looking only at steps ≤ `at`; `None`
    /// when it cannot decide (no evaluation yet, no baseline, no loss or no constant loss).
    pub fn predicts_failure(self, run: &RunSoFar, at: u64) -> Option<bool> {
        match self {
            EarlyFailureRule::AtBaseline => {
                let (_, score) = run.dev_scores.iter().rev().find(|(s, _)| *s <= at)?;
                // A non-finite score (a diverged model's) is no evidence of learning.
                Some(!score.is_finite() || *score <= run.baseline?)
            }
            EarlyFailureRule::LossAtConstant => {
                let constant = run.constant_loss.filter(|c| c.is_finite() && *c > 0.0)?;
                let width = ((LOSS_WINDOW * run.total_steps as f64).ceil() as u64).max(1);
                let from = at.saturating_sub(width);
                let window: Vec<f64> = run
                    .train_loss
                    .iter()
                    .filter(|(s, _)| *s > from && *s <= at)
                    .map(|(_, l)| *l)
                    .collect();
                if window.is_empty() {
                    return None;
                }
                let mean = window.iter().sum::<f64>() / window.len() as f64;
                Some(!mean.is_finite() || mean >= (1.0 - LOSS_MARGIN) * constant)
            }
        }
    }
}

/// The loss of the best constant predictor: the entropy (nats) of class frequencies `counts`.
pub fn entropy(counts: &[usize]) -> Option<f64> {
    let n: usize = counts.iter().sum();
    (n > 0).then(|| {
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n as f64;
                -p * p.ln()
            })
            .sum()
    })
}

/// The loss of the best constant predictor under mean squared error: the population variance.
pub fn variance(values: &[f64]) -> Option<f64> {
    let n = values.len();
    (n > 0).then(|| {
        let mean = values.iter().sum::<f64>() / n as f64;
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_step_is_the_ceiling_within_the_run() {
        assert_eq!(check_step(0.3, 96), 29); // 28.8
        assert_eq!(check_step(0.1, 320), 32);
        assert_eq!(check_step(0.001, 96), 1);
        assert_eq!(check_step(0.999, 10), 10);
    }

    #[test]
    fn at_baseline_reads_the_latest_evaluation_up_to_the_step() {
        let dev = [(9, 0.0), (18, 0.05), (27, 0.0)];
        let run = RunSoFar {
            total_steps: 96,
            dev_scores: &dev,
            baseline: Some(0.0),
            ..RunSoFar::default()
        };
        let rule = EarlyFailureRule::AtBaseline;
        assert_eq!(rule.predicts_failure(&run, 8), None, "no evaluation yet");
        assert_eq!(rule.predicts_failure(&run, 9), Some(true));
        assert_eq!(rule.predicts_failure(&run, 20), Some(false));
        assert_eq!(
            rule.predicts_failure(&run, 29),
            Some(true),
            "27 is the latest"
        );
        let nan = [(9, f64::NAN)];
        let run = RunSoFar {
            dev_scores: &nan,
            ..run
        };
        assert_eq!(rule.predicts_failure(&run, 9), Some(true));
        let run = RunSoFar {
            dev_scores: &dev,
            baseline: None,
            ..run
        };
        assert_eq!(rule.predicts_failure(&run, 9), None, "no baseline");
    }

    #[test]
    fn loss_at_constant_averages_the_last_tenth_before_the_step() {
        // T = 20: the window is 2 steps. Constant loss 0.6: "at constant" from 0.588.
        let loss: Vec<(u64, f64)> = (1..=20)
            .map(|s| (s, if s <= 10 { 0.7 } else { 0.3 }))
            .collect();
        let run = RunSoFar {
            total_steps: 20,
            train_loss: &loss,
            constant_loss: Some(0.6),
            ..RunSoFar::default()
        };
        let rule = EarlyFailureRule::LossAtConstant;
        assert_eq!(rule.predicts_failure(&run, 10), Some(true)); // (0.7 + 0.7) / 2
        assert_eq!(rule.predicts_failure(&run, 11), Some(false)); // (0.7 + 0.3) / 2
        let flat: Vec<(u64, f64)> = (1..=20).map(|s| (s, 0.59)).collect();
        let at = RunSoFar {
            train_loss: &flat,
            ..run
        };
        assert_eq!(
            rule.predicts_failure(&at, 12),
            Some(true),
            "0.59 ≥ 0.98 × 0.6"
        );
        let run = RunSoFar {
            constant_loss: None,
            ..run
        };
        assert_eq!(rule.predicts_failure(&run, 12), None);
    }

    #[test]
    fn constant_predictor_losses() {
        // 70/30 labels: −(0.7 ln 0.7 + 0.3 ln 0.3).
        let h = entropy(&[70, 30]).unwrap();
        assert!((h - 0.610_864_302_054_894).abs() < 1e-12);
        assert_eq!(entropy(&[5, 0]), Some(0.0));
        assert_eq!(entropy(&[]), None);
        assert_eq!(variance(&[1.0, 3.0]), Some(1.0));
    }

    #[test]
    fn policy_reads_from_toml_and_refuses_unknown_keys() {
        let p: EarlyFailure =
            toml::from_str("after_fraction = 0.3\nrule = \"at-baseline\"").unwrap();
        assert_eq!(p.rule, EarlyFailureRule::AtBaseline);
        assert!(toml::from_str::<EarlyFailure>("after_fraction = 0.3\nrule = \"x\"").is_err());
        assert!(toml::from_str::<EarlyFailure>("after = 0.3\nrule = \"at-baseline\"").is_err());
    }
}
