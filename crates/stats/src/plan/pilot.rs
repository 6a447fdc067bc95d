//! A plan from a pilot study: its groups' failure rates, mean scores and spreads, per planned
//! contrast the seeds each test needs, and what those runs cost at the pilot's speed.
//!
//! Design decisions:
//! - **Failure rates are shrunk to the Jeffreys posterior mean (k + ½)/(n + 1).** A pilot of 3
//!   seeds with 0 failures does not show a failure rate of 0, and planning on 0 against
//!   anything makes the effect look infinite and the study tiny. The Jeffreys prior
//!   Beta(½, ½) is the reference prior of a binomial (the one the Jeffreys interval, which
//!   has good coverage at small n, is built on); its posterior mean moves every estimate half
//!   a run toward ½: 0/3 → 0.125, 3/3 → 0.875, 5/5 vs 0/5 → 0.917 vs 0.083, and it vanishes as
//!   the pilot grows. (Add-one "Laplace" smoothing pulls twice as hard; the Wilson centre
//!   pulls by z²/2 ≈ 1.9 runs, too hard for pilots of 3–5.) The raw rate is shown beside it.
//! - **The contrasts are the study's planned ones** (the `[analysis]` table of the pilot's
//!   sweep file) when it has them, else every pair of groups of a section. Plans are made per
//!   section (task · metric): scores of different tasks are never pooled.
//! - **Scores as the report compares them**: the same rule (final score when the groups
//!   select their checkpoints differently) decides which score of each run is planned on.
//! - **Cost at the pilot's measured speed**: the mean wall-clock seconds per run of each group
//!   (from the records' timing) times the runs a study of n per group needs, on the pilot's
//!   device; the runs the pilot already has are counted separately (they can be reused when
//!   the study's spec is the pilot's, e.g. by raising `seeds` in the sweep file).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    expected_wilson_width, mean_interval_width, sample_size, Effect, PlanOptions, SampleSize,
    PRECISION_NS,
};
use crate::describe::{mean, std_dev};
use crate::expected_max::expected_max_at;
use crate::load::{Outcome, ReportInput, RunEntry};
use crate::summary::{grouped_runs, score_used, ReportOptions, ScoreChoice};

/// One group of the pilot, as planned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotGroup {
    pub group: String,
    /// Runs in the group (every outcome).
    pub runs: usize,
    /// Runs with a failure verdict (a final score and a baseline, or diverged).
    pub judged: usize,
    pub failed: usize,
    /// failed / judged.
    pub failure_rate: Option<f64>,
    /// The Jeffreys posterior mean (failed + ½)/(judged + 1) the plan uses.
    pub planned_failure_rate: Option<f64>,
    /// Scored runs and their mean and standard deviation.
    pub scored: usize,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    /// Mean wall-clock seconds per run (records with timing only).
    pub seconds_per_run: Option<f64>,
    /// Devices the runs trained on.
    pub devices: Vec<String>,
    /// Precision at [`PRECISION_NS`]: expected width of the 95 % Wilson interval of the
    /// failure rate (at the planned rate), of the 95 % t interval of the mean score (at the
    /// pilot's sd), and of the central 95 % range of the unbiased estimate of the expected
    /// maximum of 5 runs (resampling the pilot's scores; `None` below 5 runs).
    pub failure_interval_width: Vec<Option<f64>>,
    pub mean_interval_width: Vec<Option<f64>>,
    pub expected_max5_width: Vec<Option<f64>>,
}

/// The runs and hours a test's n implies for a contrast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// n per group.
    pub seeds_per_group: usize,
    /// 2n.
    pub runs: usize,
    /// Runs beyond those the pilot already has in the two groups.
    pub runs_beyond_pilot: usize,
    /// Hours for all 2n runs at the pilot's speed, one run at a time.
    pub hours: Option<f64>,
    /// Hours for the runs beyond the pilot's.
    pub hours_beyond_pilot: Option<f64>,
}

/// One planned contrast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContrastPlan {
    pub a: String,
    pub b: String,
    /// Fisher's test of the planned failure rates.
    pub fisher: Option<SampleSize>,
    pub fisher_cost: Option<Cost>,
    /// Welch's test of the pilot's means and standard deviations.
    pub welch: Option<SampleSize>,
    pub welch_cost: Option<Cost>,
    /// TOST at the margin, when one is given.
    pub tost: Option<SampleSize>,
    pub tost_cost: Option<Cost>,
}

/// The plan of one section (task · metric) of the pilot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotSection {
    pub section: String,
    pub groups: Vec<PilotGroup>,
    pub contrasts: Vec<ContrastPlan>,
    /// Where the contrasts came from.
    pub contrast_source: String,
}

/// A plan from a pilot study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotPlan {
    pub source: String,
    pub options: PlanOptions,
    pub equivalence_margin: Option<f64>,
    /// Which score of each run was planned on, and why.
    pub score: String,
    pub sections: Vec<PilotSection>,
    pub precision_ns: Vec<usize>,
    /// Caveats, in plain words.
    pub notes: Vec<String>,
}

/// The Jeffreys posterior mean of a failure rate, (k + ½)/(n + 1).
pub fn jeffreys_rate(failed: usize, judged: usize) -> f64 {
    (failed as f64 + 0.5) / (judged as f64 + 1.0)
}

fn summarize(group: &str, runs: &[RunEntry], seed: u64) -> PilotGroup {
    let verdicts: Vec<bool> = runs.iter().filter_map(RunEntry::failed).collect();
    let failed = verdicts.iter().filter(|&&f| f).count();
    let judged = verdicts.len();
    let scores: Vec<f64> = runs
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Ok | Outcome::Diverged))
        .filter_map(RunEntry::finite_score)
        .collect();
    let secs: Vec<f64> = runs.iter().filter_map(|r| r.wall_seconds).collect();
    let mut devices: Vec<String> = runs.iter().filter_map(|r| r.device.clone()).collect();
    devices.sort();
    devices.dedup();
    let planned = (judged > 0).then(|| jeffreys_rate(failed, judged));
    let sd = std_dev(&scores);
    PilotGroup {
        group: group.to_string(),
        runs: runs.len(),
        judged,
        failed,
        failure_rate: (judged > 0).then(|| failed as f64 / judged as f64),
        planned_failure_rate: planned,
        scored: scores.len(),
        mean: mean(&scores),
        sd,
        seconds_per_run: mean(&secs),
        devices,
        failure_interval_width: PRECISION_NS
            .iter()
            .map(|&n| planned.and_then(|p| expected_wilson_width(p, n, 0.95)))
            .collect(),
        mean_interval_width: PRECISION_NS
            .iter()
            .map(|&n| sd.and_then(|s| mean_interval_width(s, n, 0.95)))
            .collect(),
        expected_max5_width: PRECISION_NS
            .iter()
            .map(|&n| expected_max_spread(&scores, n, 5, seed))
            .collect(),
    }
}

/// Width of the central 95 % range of the unbiased estimate of E[max of `m` runs] from `n`
/// runs drawn from the pilot's scores (400 resamples, ChaCha seeded per group and n).
fn expected_max_spread(scores: &[f64], n: usize, m: usize, seed: u64) -> Option<f64> {
    if n < m || scores.len() < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut est: Vec<f64> = (0..400)
        .map(|_| {
            let draw: Vec<f64> = (0..n)
                .map(|_| scores[rng.gen_range(0..scores.len())])
                .collect();
            expected_max_at(&draw, &[m])[0].without_replacement
        })
        .collect();
    est.sort_by(f64::total_cmp);
    let q = |p: f64| crate::describe::percentile_sorted(&est, p);
    Some(q(0.975)? - q(0.025)?)
}

fn cost(n: usize, a: &PilotGroup, b: &PilotGroup) -> Cost {
    let beyond = n.saturating_sub(a.runs) + n.saturating_sub(b.runs);
    let hours = |na: usize, nb: usize| -> Option<f64> {
        Some((na as f64 * a.seconds_per_run? + nb as f64 * b.seconds_per_run?) / 3600.0)
    };
    Cost {
        seeds_per_group: n,
        runs: 2 * n,
        runs_beyond_pilot: beyond,
        hours: hours(n, n),
        hours_beyond_pilot: hours(n.saturating_sub(a.runs), n.saturating_sub(b.runs)),
    }
}

fn constant_reason(groups: &[&str]) -> String {
    format!(
        "{} constant in the pilot (every run the same score): its spread is unknown, so no plan for the means; plan with `stab plan --means … --sd …` on a spread you assume",
        groups
            .iter()
            .map(|g| format!("`{g}` is"))
            .collect::<Vec<_>>()
            .join(" and ")
    )
}

fn plan_contrast(
    a: &PilotGroup,
    b: &PilotGroup,
    opts: &PlanOptions,
    margin: Option<f64>,
) -> ContrastPlan {
    let fisher = match (a.planned_failure_rate, b.planned_failure_rate) {
        (Some(p_a), Some(p_b)) => Some(sample_size(&Effect::Fisher { p_a, p_b }, opts)),
        _ => None,
    };
    let moments = match (a.mean, b.mean, a.sd, b.sd) {
        (Some(ma), Some(mb), Some(sa), Some(sb)) => Some((ma, mb, sa, sb)),
        _ => None,
    };
    // A pilot group without spread (every run collapsed to one score) says nothing about σ:
    // planning on σ = 0 would promise power from two seeds.
    let constant: Vec<&str> = [a, b]
        .iter()
        .filter(|g| g.sd == Some(0.0))
        .map(|g| g.group.as_str())
        .collect();
    let welch = moments.map(|(mean_a, mean_b, sd_a, sd_b)| {
        let e = Effect::Welch {
            mean_a,
            mean_b,
            sd_a,
            sd_b,
        };
        if constant.is_empty() {
            sample_size(&e, opts)
        } else {
            SampleSize::not_planned(e, opts, constant_reason(&constant))
        }
    });
    let tost = match (moments, margin) {
        (Some((mean_a, mean_b, sd_a, sd_b)), Some(margin)) => {
            let e = Effect::Tost {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
                margin,
            };
            Some(if constant.is_empty() {
                sample_size(&e, opts)
            } else {
                SampleSize::not_planned(e, opts, constant_reason(&constant))
            })
        }
        _ => None,
    };
    let priced = |s: &Option<SampleSize>| {
        s.as_ref()
            .and_then(|s| s.n_stable.or(s.n))
            .map(|n| cost(n, a, b))
    };
    ContrastPlan {
        a: a.group.clone(),
        b: b.group.clone(),
        fisher_cost: priced(&fisher),
        welch_cost: priced(&welch),
        tost_cost: priced(&tost),
        fisher,
        welch,
        tost,
    }
}

/// Plans a study from a pilot's runs (see the module docs).
pub fn plan_from_pilot(
    input: &ReportInput,
    opts: &PlanOptions,
    equivalence_margin: Option<f64>,
    contrasts: &[(String, String)],
) -> PilotPlan {
    let report_opts = ReportOptions {
        score: ScoreChoice::Auto,
        ..ReportOptions::default()
    };
    let used = score_used(input, ScoreChoice::Auto);
    let mut notes = vec![
        "Failure rates are planned at the Jeffreys posterior mean (failed + ½)/(runs + 1), not the raw rate: a pilot's 0 of 3 is not evidence of a rate of 0.".to_string(),
        "A pilot's standard deviations are themselves uncertain (with 5 runs the upper 80 % confidence bound of σ is about 1.5 × s): plan on a larger σ when a shortfall is costly.".to_string(),
        "Planning on the pilot's observed difference is optimistic when that difference is the reason for the study (winner's curse); plan on the smallest difference worth detecting if you know it.".to_string(),
    ];
    let planned: Vec<(String, String)> = if !contrasts.is_empty() {
        contrasts.to_vec()
    } else {
        input
            .analysis
            .as_ref()
            .map(|a| a.contrasts.clone())
            .unwrap_or_default()
    };
    let contrast_source = if !contrasts.is_empty() {
        "--contrast".to_string()
    } else if !planned.is_empty() {
        "the [analysis] table of the pilot's sweep file".to_string()
    } else {
        "every pair of groups (no planned contrasts)".to_string()
    };
    let mut sections = Vec::new();
    for (label, part) in input.sections() {
        let grouped = grouped_runs(&part, &report_opts);
        let groups: Vec<PilotGroup> = grouped
            .iter()
            .enumerate()
            .map(|(i, (g, runs))| summarize(g, runs, 0x5eed ^ i as u64))
            .collect();
        let by_name: BTreeMap<&str, &PilotGroup> =
            groups.iter().map(|g| (g.group.as_str(), g)).collect();
        let mut plans = Vec::new();
        if planned.is_empty() {
            for i in 0..groups.len() {
                for j in i + 1..groups.len() {
                    plans.push(plan_contrast(
                        &groups[i],
                        &groups[j],
                        opts,
                        equivalence_margin,
                    ));
                }
            }
        } else {
            for (a, b) in &planned {
                match (by_name.get(a.as_str()), by_name.get(b.as_str())) {
                    (Some(ga), Some(gb)) => {
                        plans.push(plan_contrast(ga, gb, opts, equivalence_margin))
                    }
                    _ => notes.push(format!(
                        "contrast `{a}` vs `{b}`: {} not a group of section `{label}` (groups: {})",
                        [a, b]
                            .iter()
                            .filter(|g| !by_name.contains_key(g.as_str()))
                            .map(|g| format!("`{g}`"))
                            .collect::<Vec<_>>()
                            .join(" and "),
                        groups
                            .iter()
                            .map(|g| format!("`{}`", g.group))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
        sections.push(PilotSection {
            section: label,
            groups,
            contrasts: plans,
            contrast_source: contrast_source.clone(),
        });
    }
    for p in &input.problems {
        notes.push(format!("input problem: {}: {}", p.location, p.message));
    }
    PilotPlan {
        source: input.source.clone(),
        options: *opts,
        equivalence_margin,
        score: used.reason,
        sections,
        precision_ns: PRECISION_NS.to_vec(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jeffreys_keeps_small_pilots_off_zero_and_one() {
        assert_eq!(jeffreys_rate(0, 3), 0.125);
        assert_eq!(jeffreys_rate(3, 3), 0.875);
        assert!((jeffreys_rate(5, 5) - 11.0 / 12.0).abs() < 1e-15);
    }
}
