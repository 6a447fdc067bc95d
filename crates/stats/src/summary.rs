//! Per-group statistics and pairwise comparisons: the numbers every output is rendered from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::anova::{seed_variance, SeedVariance};
use crate::aso::{aso, AsoOptions, AsoResult};
use crate::bootstrap::{bootstrap_cis, BootstrapCis, BootstrapOptions};
use crate::describe::{describe, Describe};
use crate::expected_max::{expected_max_curve, ExpectedMax};
use crate::hypothesis::{
    levene, mann_whitney, welch, LeveneCenter, MannWhitneyResult, TestResult, WelchResult,
};
use crate::load::{InputProblem, Outcome, ReportInput, RunEntry};

/// Settings of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Bootstrap resamples for the confidence intervals and for ASO (`--bootstrap`).
    pub bootstrap_iterations: usize,
    /// Seed of every random draw (`--seed`); the report is a pure function of input and seed.
    pub seed: u64,
    /// Confidence level of the intervals and of ASO (before Bonferroni correction).
    pub confidence_level: f64,
    /// ASO threshold τ: ε_min < τ means "A almost stochastically dominates B".
    pub aso_tau: f64,
    /// Overrides every run's majority baseline (`--baseline`).
    pub baseline: Option<f64>,
    /// Draw the plots (PNG + SVG) and inline them in the HTML.
    pub plots: bool,
    /// Title of report.md / report.html.
    pub title: String,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            bootstrap_iterations: 1000,
            seed: 0,
            confidence_level: 0.95,
            aso_tau: 0.2,
            baseline: None,
            plots: true,
            title: "Fine-tuning stability report".into(),
        }
    }
}

/// Statistics of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group: String,
    /// All runs of the group, whatever their outcome.
    pub runs: usize,
    /// Runs whose score enters the statistics (finished or diverged, with a finite score).
    pub n: usize,
    /// Scored runs at or below the majority baseline.
    pub failed: usize,
    pub diverged: usize,
    pub errors: usize,
    pub interrupted: usize,
    /// Runs excluded because their score was NaN or infinite.
    pub non_finite: usize,
    /// Finished runs without a score.
    pub missing_score: usize,
    /// The majority baseline when the group's runs agree on one.
    pub baseline: Option<f64>,
    /// `None` when no run has a score.
    pub stats: Option<Describe>,
    pub ci: Option<BootstrapCis>,
    pub expected_max: Vec<ExpectedMax>,
    pub seed_variance: Option<SeedVariance>,
    /// Why there is no seed-variance decomposition, when the group varies both seeds.
    pub seed_variance_note: Option<String>,
    /// Plain-language caveats (single run, no scores, mixed baselines …).
    pub notes: Vec<String>,
    /// The scores used (ascending run order as loaded).
    pub scores: Vec<f64>,
}

/// Comparison of two groups A and B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// Levene's test with the mean as centre.
    pub levene_mean: Option<TestResult>,
    /// Brown–Forsythe: Levene's test with the median as centre.
    pub levene_median: Option<TestResult>,
    pub welch: Option<WelchResult>,
    pub mann_whitney: Option<MannWhitneyResult>,
    pub aso: Option<AsoResult>,
    pub notes: Vec<String>,
}

impl Comparison {
    /// Levene's result for a given centre.
    pub fn levene(&self, center: LeveneCenter) -> Option<TestResult> {
        match center {
            LeveneCenter::Mean => self.levene_mean,
            LeveneCenter::Median => self.levene_median,
        }
    }
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub source: String,
    pub grouping: String,
    pub metric: Option<String>,
    pub options: ReportOptions,
    /// Confidence level ASO used after the Bonferroni correction over all pairs.
    pub aso_confidence: f64,
    pub groups: Vec<GroupSummary>,
    pub comparisons: Vec<Comparison>,
    /// Inputs that could not be used.
    pub problems: Vec<InputProblem>,
    /// Report-level caveats.
    pub notes: Vec<String>,
    /// Paths of the files written, relative to the output directory.
    pub files: Vec<String>,
}

/// Orders group labels numerically when they all are numbers, else lexically.
pub(crate) fn group_order(labels: &mut [String]) {
    if labels.iter().all(|l| l.parse::<f64>().is_ok()) {
        labels.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap()
                .total_cmp(&b.parse::<f64>().unwrap())
        });
    } else {
        labels.sort();
    }
}

/// Runs of the input grouped in report order, with the baseline override applied.
pub(crate) fn grouped_runs(
    input: &ReportInput,
    opts: &ReportOptions,
) -> Vec<(String, Vec<RunEntry>)> {
    let mut map: BTreeMap<String, Vec<RunEntry>> = BTreeMap::new();
    for r in &input.runs {
        let mut r = r.clone();
        if opts.baseline.is_some() {
            r.baseline = opts.baseline;
        }
        map.entry(r.group.clone()).or_default().push(r);
    }
    let mut labels: Vec<String> = map.keys().cloned().collect();
    group_order(&mut labels);
    labels
        .into_iter()
        .map(|l| {
            let runs = map.remove(&l).unwrap_or_default();
            (l, runs)
        })
        .collect()
}

fn scored(r: &RunEntry) -> bool {
    matches!(r.outcome, Outcome::Ok | Outcome::Diverged) && r.finite_score().is_some()
}

fn summarize_group(
    label: &str,
    runs: &[RunEntry],
    opts: &ReportOptions,
    salt: u64,
) -> GroupSummary {
    let scores: Vec<f64> = runs
        .iter()
        .filter(|r| scored(r))
        .filter_map(|r| r.score)
        .collect();
    let count = |o: Outcome| runs.iter().filter(|r| r.outcome == o).count();
    let non_finite = runs
        .iter()
        .filter(|r| r.score.is_some_and(|s| !s.is_finite()))
        .count();
    let missing_score = runs
        .iter()
        .filter(|r| r.outcome == Outcome::Ok && r.score.is_none())
        .count();
    let failed = runs
        .iter()
        .filter(|r| scored(r) && r.failed() == Some(true))
        .count();
    let mut baselines: Vec<f64> = runs.iter().filter_map(|r| r.baseline).collect();
    baselines.sort_by(f64::total_cmp);
    baselines.dedup();
    let mut notes = Vec::new();
    if scores.is_empty() {
        notes.push("no run with a finite score: no statistics".into());
    } else if scores.len() == 1 {
        notes.push("a single scored run: standard deviation undefined".into());
    }
    if non_finite > 0 {
        notes.push(format!(
            "{non_finite} run(s) with a NaN/infinite score excluded"
        ));
    }
    if missing_score > 0 {
        notes.push(format!("{missing_score} finished run(s) without a score"));
    }
    if baselines.len() > 1 {
        notes.push(format!(
            "runs disagree on the majority baseline ({} values); each run is judged by its own",
            baselines.len()
        ));
    }
    if baselines.is_empty() && !scores.is_empty() {
        notes.push("no majority baseline: failed runs not counted".into());
    }
    let boot = BootstrapOptions {
        iterations: opts.bootstrap_iterations,
        seed: opts.seed,
        level: opts.confidence_level,
    };
    let seeds: Vec<(u64, u64, f64)> = runs
        .iter()
        .filter(|r| scored(r))
        .filter_map(|r| Some((r.init_seed?, r.data_seed?, r.score?)))
        .collect();
    let varies = |f: fn(&(u64, u64, f64)) -> u64| {
        seeds
            .iter()
            .map(f)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    };
    let (seed_variance, seed_variance_note) = if varies(|s| s.0) && varies(|s| s.1) {
        match seed_variance(&seeds) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    GroupSummary {
        group: label.to_string(),
        runs: runs.len(),
        n: scores.len(),
        failed,
        diverged: count(Outcome::Diverged),
        errors: count(Outcome::Error),
        interrupted: count(Outcome::Interrupted),
        non_finite,
        missing_score,
        baseline: (baselines.len() == 1).then(|| baselines[0]),
        stats: describe(&scores),
        ci: bootstrap_cis(&scores, &boot, salt),
        expected_max: expected_max_curve(&scores),
        seed_variance,
        seed_variance_note,
        notes,
        scores,
    }
}

/// Computes every statistic of the report (no files are written).
pub fn summarize(input: &ReportInput, opts: &ReportOptions) -> ReportSummary {
    let grouped = grouped_runs(input, opts);
    let groups: Vec<GroupSummary> = grouped
        .iter()
        .enumerate()
        .map(|(i, (l, runs))| summarize_group(l, runs, opts, i as u64))
        .collect();
    let mut notes = Vec::new();
    let total_scored: usize = groups.iter().map(|g| g.n).sum();
    if input.runs.is_empty() {
        notes.push("no usable runs in the input".into());
    } else if total_scored == 0 {
        notes.push("no finished run with a score: nothing to summarise".into());
    }
    let comparable: Vec<&GroupSummary> = groups.iter().filter(|g| g.n > 0).collect();
    let k = comparable.len();
    let num_comparisons = (k * k.saturating_sub(1) / 2).max(1);
    let aso_opts = AsoOptions {
        confidence_level: opts.confidence_level,
        num_comparisons,
        bootstrap_iterations: opts.bootstrap_iterations,
        dt: 0.005,
        seed: opts.seed,
    };
    let mut aso_confidence = opts.confidence_level;
    if num_comparisons > 1 {
        aso_confidence += (1.0 - aso_confidence) / num_comparisons as f64;
    }
    let mut comparisons = Vec::new();
    for i in 0..k {
        for j in i + 1..k {
            let (a, b) = (comparable[i], comparable[j]);
            let mut cnotes = Vec::new();
            // A single run has no spread: comparing variances against it is meaningless even
            // where the formula yields a number.
            let both_vary = a.n >= 2 && b.n >= 2;
            if !both_vary {
                cnotes.push("fewer than 2 runs in a group: variance tests undefined".into());
            }
            let salt = 1_000_003 + (i * k + j) as u64;
            comparisons.push(Comparison {
                a: a.group.clone(),
                b: b.group.clone(),
                levene_mean: both_vary
                    .then(|| levene(&[&a.scores, &b.scores], LeveneCenter::Mean))
                    .flatten(),
                levene_median: both_vary
                    .then(|| levene(&[&a.scores, &b.scores], LeveneCenter::Median))
                    .flatten(),
                welch: welch(&a.scores, &b.scores),
                mann_whitney: mann_whitney(&a.scores, &b.scores),
                aso: aso(&a.scores, &b.scores, &aso_opts, salt),
                notes: cnotes,
            });
        }
    }
    ReportSummary {
        source: input.source.clone(),
        grouping: input.grouping.clone(),
        metric: input.metric.clone(),
        options: opts.clone(),
        aso_confidence,
        groups,
        comparisons,
        problems: input.problems.clone(),
        notes,
        files: Vec::new(),
    }
}
