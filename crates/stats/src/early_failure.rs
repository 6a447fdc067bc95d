//! How well a run's beginning predicts its failure (Dodge et al. 2020, §5), measured on
//! stored runs: for each rule of [`stab_spec::EarlyFailureRule`] and each fraction f of
//! training, the runs a rule flags at ⌈f·T⌉ steps against the runs that failed at the end.
//!
//! Design decisions:
//! - **Replayed, not re-implemented.** Each finished run's curves are cut at the check step
//!   and handed to the very rule the `early_failure` run policy applies
//!   ([`stab_spec::EarlyFailureRule::predicts_failure`]), so a precision measured here is the
//!   precision of the policy.
//! - **Truth is the failed-run definition** (final score at or below the majority baseline, or
//!   diverged): [`RunEntry::failed`]. Runs without a verdict, and runs a policy stopped (whose
//!   end is unknown), are left out and counted.
//! - **A rule that cannot decide is not a "no".** A run with no evaluation before the check
//!   step (or no constant-predictor loss) is counted as undecided, outside precision and
//!   recall, so a sparse evaluation schedule never reads as a confident rule.
//! - **Small samples are shown as such.** Precision and recall come with Wilson intervals;
//!   every row says how many runs and failures it rests on.

use serde::{Deserialize, Serialize};
use stab_spec::{check_step, EarlyFailureRule, RunSoFar};

use crate::counts::wilson;
use crate::load::{Outcome, RunEntry};
use crate::Interval;

/// The fractions of training `stab early-failure` checks by default (the 10 %…50 %).
pub const DEFAULT_FRACTIONS: [f64; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// One rule at one fraction over one set of runs (a group, or all groups of a section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    /// `task · metric` of the runs.
    pub section: String,
    /// The group, or `all groups`.
    pub group: String,
    pub rule: EarlyFailureRule,
    pub fraction: f64,
    /// Runs with a failure verdict and a planned length (the row's population).
    pub runs: usize,
    /// Of those, runs that failed at the end.
    pub failed: usize,
    /// Runs the rule could not decide at the check step (no evaluation or loss yet).
    pub undecided: usize,
    /// Flagged and failed, flagged and did not fail, not flagged and failed, neither.
    pub true_positive: usize,
    pub false_positive: usize,
    pub false_negative: usize,
    pub true_negative: usize,
    /// Of the flagged runs, the share that failed (`None` when none was flagged).
    pub precision: Option<f64>,
    pub precision_ci: Option<Interval>,
    /// Of the failed runs the rule decided on, the share it flagged.
    pub recall: Option<f64>,
    pub recall_ci: Option<Interval>,
    /// Share of the decided runs' planned steps a policy with this rule would not have run.
    pub steps_saved: Option<f64>,
}

/// Runs left out of the table and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Stopped by a policy: their end is unknown.
    pub stopped: usize,
    /// Errored, interrupted, or without a final score, baseline or planned length.
    pub no_verdict: usize,
}

/// The rows for every (section, group) and for each section's groups pooled, rule and
/// fraction, in that order, with the runs left out.
pub fn early_failure_table(
    runs: &[RunEntry],
    rules: &[EarlyFailureRule],
    fractions: &[f64],
) -> (Vec<RuleRow>, LeftOut) {
    let mut left = LeftOut::default();
    let mut usable: Vec<&RunEntry> = Vec::new();
    for r in runs {
        if r.outcome == Outcome::Stopped {
            left.stopped += 1;
        } else if matches!(r.outcome, Outcome::Ok | Outcome::Diverged)
            && r.failed().is_some()
            && r.progress.total_steps.is_some()
        {
            usable.push(r);
        } else {
            left.no_verdict += 1;
        }
    }
    let mut sections: Vec<String> = usable.iter().map(|r| r.section()).collect();
    sections.sort();
    sections.dedup();
    let mut rows = Vec::new();
    for section in &sections {
        let in_section: Vec<&RunEntry> = usable
            .iter()
            .copied()
            .filter(|r| &r.section() == section)
            .collect();
        let mut groups: Vec<String> = in_section.iter().map(|r| r.group.clone()).collect();
        groups.sort();
        groups.dedup();
        let mut sets: Vec<(String, Vec<&RunEntry>)> = groups
            .into_iter()
            .map(|g| {
                let members = in_section
                    .iter()
                    .copied()
                    .filter(|r| r.group == g)
                    .collect();
                (g, members)
            })
            .collect();
        if sets.len() > 1 {
            sets.push(("all groups".into(), in_section.clone()));
        }
        for (group, members) in &sets {
            for &rule in rules {
                for &f in fractions {
                    rows.push(row(section, group, members, rule, f));
                }
            }
        }
    }
    (rows, left)
}

fn row(section: &str, group: &str, runs: &[&RunEntry], rule: EarlyFailureRule, f: f64) -> RuleRow {
    let (mut tp, mut fp, mut fn_, mut tn, mut undecided) = (0, 0, 0, 0, 0);
    let (mut planned, mut saved) = (0u64, 0u64);
    let mut failed_total = 0;
    for r in runs {
        let failed = r.failed() == Some(true);
        failed_total += usize::from(failed);
        let total = r.progress.total_steps.unwrap_or(0);
        let at = check_step(f, total);
        let so_far = RunSoFar {
            total_steps: total,
            train_loss: &r.train_loss,
            dev_scores: &r.dev_scores,
            baseline: r.dev_curve_baseline.or(r.baseline),
            constant_loss: r.progress.constant_loss,
        };
        // A run that diverged before the check step is flagged by its divergence, not a rule.
        let diverged_before =
            r.outcome == Outcome::Diverged && r.progress.steps_done.is_some_and(|d| d < at);
        let flagged = if diverged_before {
            None
        } else {
            rule.predicts_failure(&so_far, at)
        };
        let Some(flagged) = flagged else {
            undecided += 1;
            continue;
        };
        planned += total;
        if flagged {
            saved += total - at;
        }
        match (flagged, failed) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let share = |k: usize, n: usize| (n > 0).then(|| k as f64 / n as f64);
    let ci = |k: usize, n: usize| wilson(k as u64, n as u64, 0.95);
    RuleRow {
        section: section.to_string(),
        group: group.to_string(),
        rule,
        fraction: f,
        runs: runs.len(),
        failed: failed_total,
        undecided,
        true_positive: tp,
        false_positive: fp,
        false_negative: fn_,
        true_negative: tn,
        precision: share(tp, tp + fp),
        precision_ci: ci(tp, tp + fp),
        recall: share(tp, tp + fn_),
        recall_ci: ci(tp, tp + fn_),
        steps_saved: (planned > 0).then(|| saved as f64 / planned as f64),
    }
}

/// The rows as a Markdown table (one line per row; "–" where undefined).
pub fn early_failure_markdown(rows: &[RuleRow]) -> String {
    let mut s = String::from(
        "| task · metric | group | rule | f | runs | failed | undecided | flagged | precision [95% Wilson] | recall [95% Wilson] | steps saved |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{:.0} %", v * 100.0));
    let with_ci = |x: Option<f64>, ci: Option<Interval>| match (x, ci) {
        (Some(v), Some(i)) => format!("{v:.2} [{:.2}, {:.2}]", i.lower, i.upper),
        _ => "–".into(),
    };
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {:.0} % | {} | {} | {} | {} | {} | {} | {} |\n",
            r.section,
            r.group,
            r.rule.as_str(),
            r.fraction * 100.0,
            r.runs,
            r.failed,
            r.undecided,
            r.true_positive + r.false_positive,
            with_ci(r.precision, r.precision_ci),
            with_ci(r.recall, r.recall_ci),
            pct(r.steps_saved),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RunProgress;

    /// A 100-step run: dev score `early` at step 20 and 40, `end` at 100; baseline 0.
    fn run(group: &str, early: f64, end: f64) -> RunEntry {
        RunEntry {
            group: group.into(),
            id: format!("{group}-{early}-{end}"),
            outcome: Outcome::Ok,
            score: Some(end),
            selected_score: Some(end),
            selection: None,
            selected_step: Some(100),
            eval_set: None,
            final_score: Some(end),
            baseline: Some(0.0),
            task: Some("CoLA".into()),
            metric: Some("mcc".into()),
            init_seed: None,
            data_seed: None,
            freeze_layers: None,
            feature_mode: None,
            settings: Default::default(),
            train_loss: (1..=100).map(|s| (s, 0.6)).collect(),
            dev_scores: vec![(20, early), (40, early), (100, end)],
            wall_seconds: None,
            device: None,
            dev_curve_baseline: Some(0.0),
            report_half_scores: Vec::new(),
            progress: RunProgress {
                total_steps: Some(100),
                steps_done: Some(100),
                constant_loss: Some(0.6),
                early_failure: None,
                spec: None,
            },
        }
    }

    #[test]
    fn counts_follow_the_rule_at_the_check_step() {
        // Flagged at 30 % (latest evaluation: step 20): a, b (at baseline), not c, d.
        // Failed: a, c. So TP a, FP b, FN c, TN d.
        let runs = vec![
            run("g", 0.0, 0.0),
            run("g", 0.0, 0.3),
            run("g", 0.2, 0.0),
            run("g", 0.2, 0.3),
        ];
        let (rows, left) = early_failure_table(&runs, &[EarlyFailureRule::AtBaseline], &[0.1, 0.3]);
        assert_eq!(left, LeftOut::default());
        let at10 = &rows[0];
        assert_eq!(
            (at10.undecided, at10.precision),
            (4, None),
            "no evaluation by step 10"
        );
        let at30 = &rows[1];
        assert_eq!(
            (
                at30.true_positive,
                at30.false_positive,
                at30.false_negative,
                at30.true_negative
            ),
            (1, 1, 1, 1)
        );
        assert_eq!((at30.precision, at30.recall), (Some(0.5), Some(0.5)));
        // Two of four runs flagged at step 30: 2 × 70 of 400 steps.
        assert_eq!(at30.steps_saved, Some(140.0 / 400.0));
    }

    #[test]
    fn groups_are_pooled_per_section_and_stopped_runs_left_out() {
        let mut stopped = run("b", 0.0, 0.0);
        stopped.outcome = Outcome::Stopped;
        let runs = vec![run("a", 0.0, 0.0), run("b", 0.2, 0.3), stopped];
        let (rows, left) = early_failure_table(&runs, &[EarlyFailureRule::LossAtConstant], &[0.5]);
        assert_eq!(left.stopped, 1);
        let groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(groups, ["a", "b", "all groups"]);
        // A flat loss at the constant predictor's flags every run.
        let all = &rows[2];
        assert_eq!((all.true_positive, all.false_positive), (1, 1));
        let md = early_failure_markdown(&rows);
        assert!(
            md.contains("| CoLA · mcc | all groups | loss-at-constant | 50 % | 2 | 1 |"),
            "{md}"
        );
    }
}
