//! What every output is rendered from — the types of a report's summary — and the per-group
//! statistics. The pairwise tests are computed in [`crate::pairwise`], the findings in
//! [`crate::findings`], and [`crate::analyze`] puts the three together; this module imports
//! neither of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::anova::{seed_variance, SeedVariance};
use crate::bootstrap::{bootstrap_cis, BootstrapCis, BootstrapOptions, Interval};
use crate::counts::{clopper_pearson, wilson};
use crate::describe::{describe, Describe};
use crate::expected_max::{expected_max_at, report_ns, ExpectedMax};
use crate::hypothesis::Degenerate;
use crate::load::{
    InputProblem, Outcome, ReportInput, RunEntry, ScoreKind, SelectionRule, StoreCounts,
};

/// Settings of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Bootstrap resamples for the confidence intervals and for ASO (`--bootstrap`).
    pub bootstrap_iterations: usize,
    /// Seed of every random draw (`--seed`); the report is a pure function of input and seed.
    pub seed: u64,
    /// Confidence level of the intervals and of ASO (before deepsig's multiple-comparison
    /// adjustment c + (1−c)/m).
    pub confidence_level: f64,
    /// ASO threshold τ: ε_min < τ means "A almost stochastically dominates B".
    pub aso_tau: f64,
    /// Overrides every run's majority baseline (`--baseline`).
    pub baseline: Option<f64>,
    /// Draw the plots (PNG + SVG) and inline them in the HTML.
    pub plots: bool,
    /// Title of report.md / report.html.
    pub title: String,
    /// Compare every other group against this one only (`--baseline-group`).
    pub baseline_group: Option<String>,
    /// Without a baseline group, all pairs among at most this many groups: the `top_k` with the
    /// highest mean score when there are more (`--top-k`). All-pairs ASO is quadratic.
    pub top_k: usize,
    /// Whether finished runs without a finite score count as failed (`--unscored`).
    #[serde(default)]
    pub unscored: Unscored,
    /// Which score of each run to compare (`--score`); by default the final one whenever the
    /// groups select their checkpoints differently.
    #[serde(default)]
    pub score: ScoreChoice,
    /// Planned contrasts (`--contrast A:B`): when given, exactly these pairs are compared and
    /// form the family the p-values are adjusted over.
    #[serde(default)]
    pub contrasts: Vec<(String, String)>,
    /// Margin δ in score units of the TOST equivalence test (`--equivalence-margin`); without
    /// it, no equivalence is claimed and a non-significant difference reads "inconclusive".
    #[serde(default)]
    pub equivalence_margin: Option<f64>,
}

/// What a finished run without a finite score (an empty or NaN cell in a CSV: a run that
/// collapsed to a constant prediction, whose correlation is undefined, or that diverged) means
/// for the failure rate. The findings name such runs either way.
///
/// The default is [`Unscored::Failed`]: stab's own metrics score undefined values as 0 (at or
/// below every majority baseline: failed) and count diverged runs without a score as failed,
/// so a missing score from another tool is judged the same way; leaving such runs out of the
/// denominator would report the survivors' failure rate, the silent understatement a
/// stability report must not make. `excluded` is for tables whose empty cells mean "not run".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unscored {
    /// Counted as failed (when the run has a majority baseline to be judged against).
    #[default]
    Failed,
    /// Left out of the failure rate (still counted in `runs` and named in the findings).
    Excluded,
}

impl Unscored {
    /// The command-line spelling (`--unscored failed|excluded`).
    pub fn as_str(self) -> &'static str {
        match self {
            Unscored::Failed => "failed",
            Unscored::Excluded => "excluded",
        }
    }
}

/// `--score`: which score of each run the statistics compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreChoice {
    /// The final score whenever the groups' selection rules differ, else the selected one.
    #[default]
    Auto,
    Final,
    Selected,
}

/// The score a report compares, why, and the warning when it compares unlike scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreUsed {
    pub kind: ScoreKind,
    /// One sentence: which score and why.
    pub reason: String,
    /// Set when the statistics compare scores of different selection rules (`--score
    /// selected` over groups that select differently).
    #[serde(default)]
    pub warning: Option<String>,
    /// The score as every axis and table names it: set, metric and which score, e.g. `dev
    /// (report half) mcc, final score`; a CSV's column as `score (acc)`.
    #[serde(default)]
    pub label: String,
}

impl Default for ScoreUsed {
    fn default() -> Self {
        ScoreUsed {
            kind: ScoreKind::Selected,
            reason: String::new(),
            warning: None,
            label: "score".into(),
        }
    }
}

/// A finished run that has no finite score, hence no failure verdict of its own.
fn unscored(r: &RunEntry) -> bool {
    r.outcome == Outcome::Ok && r.finite_score().is_none() && r.failed().is_none()
}

/// Decides which score of each run the statistics compare (see [`ScoreChoice`]).
pub(crate) fn score_used(input: &ReportInput, choice: ScoreChoice) -> ScoreUsed {
    let mut rules: Vec<SelectionRule> = input.runs.iter().filter_map(|r| r.selection).collect();
    rules.sort();
    rules.dedup();
    let listed = rules
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join("; ");
    let mixed = rules.len() > 1;
    let kind = match choice {
        ScoreChoice::Final => ScoreKind::Final,
        ScoreChoice::Selected => ScoreKind::Selected,
        ScoreChoice::Auto if mixed => ScoreKind::Final,
        ScoreChoice::Auto => ScoreKind::Selected,
    };
    let reason = match (kind, choice, rules.as_slice()) {
        (ScoreKind::Final, ScoreChoice::Auto, _) => format!(
            "final score (the model after the last step) of every run: the groups select their checkpoints differently ({listed}), so their selected scores are not alike; `--score selected` compares the selected checkpoints instead"
        ),
        (ScoreKind::Final, _, _) => "final score (the model after the last step) of every run, as asked (`--score final`)".into(),
        (ScoreKind::Selected, _, []) => "the score given for each run".into(),
        (ScoreKind::Selected, _, [SelectionRule::Last]) => {
            "the score of the last checkpoint of every run (its final score)".into()
        }
        (ScoreKind::Selected, _, [SelectionRule::BestOnScoredSet]) => "the selected checkpoint of every run: the best evaluation on the dev set it is also scored on — optimistic, but alike for every group; `--score final` compares final scores".into(),
        (ScoreKind::Selected, _, [rule]) => format!(
            "the selected checkpoint of every run: {}",
            rule.describe()
        ),
        (ScoreKind::Selected, _, _) => format!(
            "the selected checkpoint of every run, as asked (`--score selected`), although the groups select differently ({listed})"
        ),
    };
    let warning = (kind == ScoreKind::Selected && mixed).then(|| {
        format!(
            "Warning: these statistics compare selected scores of groups that select their checkpoints differently ({listed}); a checkpoint chosen on the dev set it is scored on is optimistic against one that is not. `--score final` compares like with like."
        )
    });
    ScoreUsed {
        kind,
        reason,
        warning,
        label: score_label(input, kind),
    }
}

/// What a score axis or table shows (see [`ScoreUsed::label`]). Runs on a split dev set (the
/// Zhang presets) are scored on its report half and evaluated during training on its selection
/// half, so every axis names its half. A CSV's scores are named by their column only: no dev
/// set, no checkpoints.
fn score_label(input: &ReportInput, kind: ScoreKind) -> String {
    let mut metrics: Vec<&str> = input
        .runs
        .iter()
        .filter_map(|r| r.metric.as_deref())
        .collect();
    metrics.sort_unstable();
    metrics.dedup();
    let metric = (metrics.len() == 1).then(|| metrics[0]);
    if !input.from_records() {
        return metric.map_or("score".into(), |m| format!("score ({m})"));
    }
    let set = if input.runs.iter().any(|r| r.eval_set.is_some()) {
        "dev (report half)"
    } else {
        "dev"
    };
    let all_last = input
        .runs
        .iter()
        .all(|r| r.selection.is_none_or(|x| x == SelectionRule::Last));
    let which = match kind {
        ScoreKind::Final => "final score",
        ScoreKind::Selected if all_last => "final score (last checkpoint)",
        ScoreKind::Selected => "selected checkpoint's score",
    };
    match metric {
        Some(m) => format!("{set} {m}, {which}"),
        None => format!("{set} score, {which}"),
    }
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
            baseline_group: None,
            top_k: 10,
            unscored: Unscored::default(),
            score: ScoreChoice::Auto,
            contrasts: Vec::new(),
            equivalence_margin: None,
        }
    }
}

/// Statistics of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group: String,
    /// `task · metric` of the group's runs: groups of different sections are never compared.
    #[serde(default)]
    pub section: String,
    /// All runs of the group, whatever their outcome.
    pub runs: usize,
    /// Runs whose score enters the statistics (finished or diverged, with a finite score).
    pub n: usize,
    /// `n` without the diverged runs.
    #[serde(default)]
    pub n_without_diverged: usize,
    /// Failed runs: final score (end of training) at or below the majority baseline, plus
    /// diverged runs without a score.
    pub failed: usize,
    /// Runs with a failure verdict: a final score and a majority baseline, or diverged without
    /// a score. The denominator of the failure rate.
    #[serde(default)]
    pub judged: usize,
    /// Wilson interval of `failed / judged` at the report's confidence level (`None` without
    /// verdicts); the interval the report quotes.
    #[serde(default)]
    pub failure_ci: Option<Interval>,
    /// Clopper–Pearson ("exact") interval of `failed / judged`, the conservative alternative.
    #[serde(default)]
    pub failure_ci_exact: Option<Interval>,
    /// The same judged on the selected checkpoint's score (labelled as such); includes the
    /// runs that never improved.
    #[serde(default)]
    pub failed_selected: usize,
    /// Runs whose selected checkpoint is the untrained model (step 0): "never improved".
    #[serde(default)]
    pub never_improved: usize,
    /// Steps of the selected checkpoints of the runs that have one, ascending.
    #[serde(default)]
    pub selected_steps: Vec<u64>,
    /// Scored runs that did not fail, and the standard deviation of their scores (`None`
    /// under 2 such runs): the spread of the runs that trained.
    #[serde(default)]
    pub n_not_failed: usize,
    #[serde(default)]
    pub std_not_failed: Option<f64>,
    /// Why the group's spread says nothing, when it collapsed: every run failed, nothing was
    /// learned ([`GroupSummary::nothing_learned`]), or every score is the same.
    #[serde(default)]
    pub collapsed: Option<String>,
    /// Every run with a verdict ended within [`NOTHING_LEARNED_BAND`] of its majority baseline
    /// (or diverged): the group learned nothing. Says how many runs and the band.
    #[serde(default)]
    pub nothing_learned: Option<String>,
    pub diverged: usize,
    /// Diverged runs without a score (old records): counted as failed, not in the statistics.
    #[serde(default)]
    pub diverged_unscored: usize,
    pub errors: usize,
    pub interrupted: usize,
    /// Runs excluded because their score was NaN or infinite.
    pub non_finite: usize,
    /// Finished runs without a score.
    pub missing_score: usize,
    /// CSV rows whose score is not a number.
    pub unreadable: usize,
    /// Finished runs without a finite score (`missing_score` and the finished ones of
    /// `non_finite`): counted in `failed` and `judged` under `--unscored failed` when they have
    /// a baseline, else outside the failure rate.
    #[serde(default)]
    pub unscored: usize,
    /// Runs stopped as predicted failures by their `early_failure` policy (counted in `failed`
    /// and `judged`; no score).
    #[serde(default)]
    pub stopped: usize,
    /// Planned optimizer steps of the group's runs that record them, and the steps the stopped
    /// runs did not take: the compute the policy saved.
    #[serde(default)]
    pub steps_planned: u64,
    #[serde(default)]
    pub steps_saved: u64,
    /// The majority baseline when the group's runs agree on one.
    pub baseline: Option<f64>,
    /// `None` when no run has a score.
    pub stats: Option<Describe>,
    /// Mean score without the diverged runs (shown when some diverged).
    #[serde(default)]
    pub mean_without_diverged: Option<f64>,
    pub ci: Option<BootstrapCis>,
    /// The expected-maximum curve at n = 1..=100, then ~100 log-spaced n up to N (always N).
    pub expected_max: Vec<ExpectedMax>,
    pub seed_variance: Option<SeedVariance>,
    /// Why there is no seed-variance decomposition, when the group varies both seeds.
    pub seed_variance_note: Option<Degenerate>,
    /// Plain-language caveats (single run, no scores, mixed baselines …).
    pub notes: Vec<String>,
    /// The scores used (ascending run order as loaded).
    pub scores: Vec<f64>,
}

/// A test's result, or why its input is degenerate.
pub type Tested<T> = Result<T, Degenerate>;

/// report.json spelling of a [`Tested`]: the result's fields, or `{"degenerate": {kind, reason}}`.
mod tested {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr<T> {
        Degenerate { degenerate: Degenerate },
        Done(T),
    }

    pub fn serialize<T: Serialize + Clone, S: Serializer>(
        v: &Tested<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Ok(t) => Repr::Done(t.clone()),
            Err(d) => Repr::Degenerate {
                degenerate: d.clone(),
            },
        }
        .serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Tested<T>, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Done(t) => Ok(t),
            Repr::Degenerate { degenerate } => Err(degenerate),
        })
    }
}

/// Comparison of two groups A and B: every test of [`crate::pairwise`]'s table, keyed by the
/// test's key, with its result or the reason its input is degenerate.
///
/// In report.json a comparison is one object: `a`, `b`, then each test's result under its key
/// (the result's fields, or `{"degenerate": {kind, reason}}`), then `notes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// (test key, result) in the order of the tests' table.
    pub tests: Vec<(String, Tested<Fields>)>,
    pub notes: Vec<String>,
}

impl Serialize for Comparison {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Stored<'a>(&'a Tested<Fields>);
        impl Serialize for Stored<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                tested::serialize(self.0, s)
            }
        }
        let mut m = s.serialize_map(Some(self.tests.len() + 3))?;
        m.serialize_entry("a", &self.a)?;
        m.serialize_entry("b", &self.b)?;
        for (k, r) in &self.tests {
            m.serialize_entry(k, &Stored(r))?;
        }
        m.serialize_entry("notes", &self.notes)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Comparison;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a comparison object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Comparison, M::Error> {
                #[derive(Deserialize)]
                struct Stored(#[serde(with = "tested")] Tested<Fields>);
                let (mut a, mut b, mut notes, mut tests) = (None, None, Vec::new(), Vec::new());
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "a" => a = Some(m.next_value()?),
                        "b" => b = Some(m.next_value()?),
                        "notes" => notes = m.next_value()?,
                        _ => {
                            let Stored(r) = m.next_value()?;
                            tests.push((k, r));
                        }
                    }
                }
                Ok(Comparison {
                    a: a.ok_or_else(|| serde::de::Error::missing_field("a"))?,
                    b: b.ok_or_else(|| serde::de::Error::missing_field("b"))?,
                    tests,
                    notes,
                })
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A test's result as stored in a [`Comparison`]: its fields (scalars) in the order the test
/// writes them, so that report.json lists them as the test's own type does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(String, serde_json::Value)>);

impl Fields {
    /// The value of field `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets field `key` (appended when new).
    pub fn insert(&mut self, key: &str, value: serde_json::Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = serde_json::Value;
    /// The value of field `key`, `null` when there is none.
    fn index(&self, key: &str) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a test result object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Fields, M::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(Fields(v))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// The findings of a report: plain sentences, each claiming only what its test supports
/// (written by [`crate::findings`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Plain sentences, in order: failure rates, then per pair failure rate, spread, dominance.
    pub sentences: Vec<String>,
    /// Significance level of the wording: 1 − the confidence level.
    pub alpha: f64,
}

/// Receives progress of long work; `stab` draws it as a progress bar. Every method has a
/// no-op default.
pub trait Progress: Sync {
    /// A stage of `total` steps begins.
    fn start(&self, _stage: &str, _total: usize) {}
    /// `n` more steps of the current stage are done.
    fn advance(&self, _n: usize) {}
    /// The current stage is done.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub source: String,
    pub grouping: String,
    pub metric: Option<String>,
    pub options: ReportOptions,
    /// Which score of each run the statistics compare, and why.
    #[serde(default)]
    pub score: ScoreUsed,
    /// The input is a table of scores (`stab compare`), not run records: no checkpoints, no
    /// dev set, no divergence; the wording speaks of scores and rows.
    #[serde(default)]
    pub scores_only: bool,
    /// Confidence level ASO used after deepsig's adjustment c + (1−c)/m over the m pairs
    /// compared (not Bonferroni's 1 − (1−c)/m; see [`crate::aso`]).
    pub aso_confidence: f64,
    /// Which pairs of groups were compared, in words.
    pub pair_rule: String,
    pub groups: Vec<GroupSummary>,
    pub comparisons: Vec<Comparison>,
    /// Inputs that could not be used.
    pub problems: Vec<InputProblem>,
    /// Sweep stores read, with the counts `stab status` gives.
    #[serde(default)]
    pub stores: Vec<StoreCounts>,
    /// The sequential analyses of the stores read ([`ReportInput::sequential`]).
    #[serde(default)]
    pub sequential: Vec<crate::plan::sequential::SequentialReport>,
    /// Report-level caveats.
    pub notes: Vec<String>,
    /// The plain-language findings at the top of every report, with the numbers behind them.
    #[serde(default)]
    pub findings: Findings,
    /// Paths of the files written, relative to the output directory.
    pub files: Vec<String>,
}

/// Orders group labels: part by part (`k=v, k=v`), numbers by value and everything else
/// lexically, so that `freeze_layers=2` comes before `freeze_layers=10` and plain numeric
/// labels sort by value.
pub(crate) fn group_order(labels: &mut [String]) {
    labels.sort_by(|a, b| label_cmp(a, b));
}

/// [`group_order`]'s comparison.
fn label_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |l: &str| -> Vec<(String, Option<f64>, String)> {
        l.split(", ")
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.trim().parse::<f64>().ok(), v.to_string()),
                None => (String::new(), p.trim().parse::<f64>().ok(), p.to_string()),
            })
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = x.0.cmp(&y.0).then_with(|| match (x.1, y.1) {
            (Some(u), Some(v)) => u.total_cmp(&v),
            _ => x.2.cmp(&y.2),
        });
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// Runs of the input grouped in report order, with the baseline override applied and scored
/// as [`score_used`] decides. When the runs mix tasks or metrics, each group is of one section
/// and labelled `section | group`.
pub(crate) fn grouped_runs(
    input: &ReportInput,
    opts: &ReportOptions,
) -> Vec<(String, Vec<RunEntry>)> {
    let multi = input.section_labels().len() > 1;
    let kind = score_used(input, opts.score).kind;
    let mut map: BTreeMap<String, Vec<RunEntry>> = BTreeMap::new();
    for r in &input.runs {
        let mut r = r.clone();
        if opts.baseline.is_some() {
            r.baseline = opts.baseline;
        }
        if kind == ScoreKind::Final && r.selection.is_some() {
            r.score = r.final_score;
        }
        if multi {
            r.group = format!("{} | {}", r.section(), r.group);
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
    let unscored_runs = runs.iter().filter(|r| unscored(r)).count();
    let unscored_failed = match opts.unscored {
        Unscored::Failed => runs
            .iter()
            .filter(|r| unscored(r) && r.baseline.is_some())
            .count(),
        Unscored::Excluded => 0,
    };
    let failed = runs.iter().filter(|r| r.failed() == Some(true)).count() + unscored_failed;
    let judged = runs.iter().filter(|r| r.failed().is_some()).count() + unscored_failed;
    let failed_selected = runs
        .iter()
        .filter(|r| r.failed_selected() == Some(true))
        .count();
    let diverged_unscored = runs.iter().filter(|r| r.unscored_diverged()).count();
    let never_improved = runs.iter().filter(|r| r.never_improved()).count();
    let mut selected_steps: Vec<u64> = runs.iter().filter_map(|r| r.selected_step).collect();
    selected_steps.sort_unstable();
    let not_failed: Vec<f64> = runs
        .iter()
        .filter(|r| scored(r) && r.failed() == Some(false))
        .filter_map(|r| r.score)
        .collect();
    let without_div: Vec<f64> = runs
        .iter()
        .filter(|r| scored(r) && r.outcome != Outcome::Diverged)
        .filter_map(|r| r.score)
        .collect();
    let mut baselines: Vec<f64> = runs.iter().filter_map(|r| r.baseline).collect();
    baselines.sort_by(f64::total_cmp);
    baselines.dedup();
    let (errors, interrupted) = (count(Outcome::Error), count(Outcome::Interrupted));
    let boot = BootstrapOptions {
        iterations: opts.bootstrap_iterations,
        seed: opts.seed,
        level: opts.confidence_level,
    };
    let (seed_variance, seed_variance_note) = seed_decomposition(runs);
    let nothing = nothing_learned(runs);
    let mut g = GroupSummary {
        group: label.to_string(),
        section: runs.first().map(RunEntry::section).unwrap_or_default(),
        runs: runs.len(),
        n: scores.len(),
        n_without_diverged: without_div.len(),
        failed,
        judged,
        failure_ci: wilson(failed as u64, judged as u64, opts.confidence_level),
        failure_ci_exact: clopper_pearson(failed as u64, judged as u64, opts.confidence_level),
        failed_selected,
        never_improved,
        selected_steps,
        n_not_failed: not_failed.len(),
        std_not_failed: describe(&not_failed).and_then(|d| d.std),
        collapsed: collapsed(&scores, failed, judged, nothing.as_ref()),
        nothing_learned: nothing,
        diverged: count(Outcome::Diverged),
        diverged_unscored,
        errors,
        interrupted,
        non_finite,
        missing_score,
        unreadable: count(Outcome::Unreadable),
        unscored: unscored_runs,
        stopped: count(Outcome::Stopped),
        steps_planned: runs.iter().filter_map(|r| r.progress.total_steps).sum(),
        steps_saved: runs
            .iter()
            .filter(|r| r.outcome == Outcome::Stopped)
            .filter_map(|r| Some(r.progress.total_steps? - r.progress.steps_done?))
            .sum(),
        baseline: (baselines.len() == 1).then(|| baselines[0]),
        stats: describe(&scores),
        mean_without_diverged: crate::describe::mean(&without_div),
        ci: bootstrap_cis(&scores, &boot, salt),
        expected_max: expected_max_at(&scores, &report_ns(scores.len())),
        seed_variance,
        seed_variance_note,
        notes: Vec::new(),
        scores,
    };
    let scores_only = runs.iter().all(|r| r.selection.is_none());
    g.notes = group_notes(&g, baselines.len(), scores_only);
    if let Some(note) = stopped_note(&g, runs) {
        g.notes.push(note);
    }
    g
}

/// What a group's runs stopped as predicted failures mean for its numbers: counted as failed
/// (with the rule and its measured precision, or a warning that none was given), absent from
/// the score statistics (biased upward), and the steps stopping saved.
fn stopped_note(g: &GroupSummary, runs: &[RunEntry]) -> Option<String> {
    if g.stopped == 0 {
        return None;
    }
    let mut policies: Vec<&stab_spec::EarlyFailure> = runs
        .iter()
        .filter(|r| r.outcome == Outcome::Stopped)
        .filter_map(|r| r.progress.early_failure.as_ref())
        .collect();
    policies.dedup();
    let rule = match policies.as_slice() {
        [p] => {
            let precision = match (p.measured_precision, &p.measured_on) {
                (Some(x), Some(on)) => format!("measured precision {x:.2} on {on}"),
                (Some(x), None) => format!("measured precision {x:.2}"),
                _ => "its precision was not given in the spec: some of these runs may \
                      have recovered"
                    .into(),
            };
            format!(
                "rule `{}` after {:.0} % of the steps: {}; {precision}",
                p.rule.as_str(),
                p.after_fraction * 100.0,
                p.rule.describe()
            )
        }
        _ => "rules differ between runs; see their records".into(),
    };
    let saved = if g.steps_planned > 0 {
        format!(
            "; stopping saved {} of {} planned steps ({:.0} %)",
            g.steps_saved,
            g.steps_planned,
            100.0 * g.steps_saved as f64 / g.steps_planned as f64
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} run(s) stopped as predicted failures ({rule}): counted as failed in the failure \
         columns and rates, with no score in the score statistics (which therefore describe \
         the runs that were let finish){saved}",
        g.stopped
    ))
}

/// The noise band of the "nothing was learned" rule, in units of the metric: a run whose final
/// score lies no more than this above its majority baseline has learned nothing that the dev
/// set can tell from predicting the majority class. One point of the metric: on a dev set of
/// n ≥ 100 examples that is at least one example's worth of accuracy (1/n), and a run this
/// close to the baseline differs from the constant prediction by a few examples at most. The
/// rule is stated in every report that applies it.
pub const NOTHING_LEARNED_BAND: f64 = 0.01;

/// Why the group learned nothing, when every run with a verdict diverged or ended (final
/// score) at or within [`NOTHING_LEARNED_BAND`] above its majority baseline.
fn nothing_learned(runs: &[RunEntry]) -> Option<String> {
    let judged: Vec<&RunEntry> = runs
        .iter()
        .filter(|r| r.outcome == Outcome::Diverged || r.baseline.is_some())
        .filter(|r| r.outcome == Outcome::Diverged || r.finite_final_score().is_some())
        .collect();
    if judged.is_empty() {
        return None;
    }
    let near = |r: &RunEntry| match (r.finite_final_score(), r.baseline) {
        (Some(f), Some(b)) => f <= b + NOTHING_LEARNED_BAND,
        _ => r.outcome == Outcome::Diverged,
    };
    if !judged.iter().all(|r| near(r)) {
        return None;
    }
    let above = judged.iter().filter(|r| r.failed() == Some(false)).count();
    let n = judged.len();
    Some(if above == 0 {
        format!("every run failed: {n} of {n} at or below the majority baseline")
    } else {
        format!(
            "nothing learned: all {n} runs end within {NOTHING_LEARNED_BAND} of the majority baseline ({above} just above it)"
        )
    })
}

/// Why a group's spread says nothing: every judged run failed, nothing was learned, or every
/// score is equal (at least 2 runs).
fn collapsed(
    scores: &[f64],
    failed: usize,
    judged: usize,
    nothing: Option<&String>,
) -> Option<String> {
    if judged > 0 && failed == judged {
        return Some(format!("every run failed: {failed} of {judged}"));
    }
    if let Some(why) = nothing {
        return Some(why.clone());
    }
    if scores.len() >= 2 && scores.windows(2).all(|w| w[0] == w[1]) {
        return Some(format!("every score is {:.4}", scores[0]));
    }
    None
}

/// Plain-language caveats of a group, from its counts and its number of distinct baselines.
/// A table of scores (`scores_only`) speaks of rows and cells, not runs and checkpoints.
fn group_notes(g: &GroupSummary, baselines: usize, scores_only: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if g.n == 0 {
        notes.push("no run with a finite score: no statistics".into());
    } else if g.n == 1 {
        notes.push("a single scored run: standard deviation undefined".into());
    }
    if g.non_finite > 0 && scores_only {
        notes.push(format!(
            "{} row(s) with an empty, NaN or infinite score cell: no score (see the findings for how they count)",
            g.non_finite
        ));
    } else if g.non_finite > 0 {
        notes.push(format!(
            "{} run(s) with a NaN/infinite score excluded",
            g.non_finite
        ));
    }
    if g.unreadable > 0 {
        notes.push(format!(
            "{} row(s) whose score is not a number excluded",
            g.unreadable
        ));
    }
    if g.missing_score > 0 {
        notes.push(format!(
            "{} finished run(s) without a score",
            g.missing_score
        ));
    }
    if g.diverged_unscored > 0 {
        notes.push(format!(
            "{} diverged run(s) whose record has no score: counted as failed, not in n or the statistics",
            g.diverged_unscored
        ));
    }
    if g.never_improved > 0 {
        notes.push(format!(
            "{} run(s) never improved: the selected checkpoint is the untrained model (step 0); counted as failed in `failed (selected ckpt)`",
            g.never_improved
        ));
    }
    if g.errors + g.interrupted > 0 {
        notes.push(format!(
            "{} errored and {} interrupted run(s): no score, counted in their own columns (not in n)",
            g.errors, g.interrupted
        ));
    }
    if baselines > 1 {
        notes.push(format!(
            "runs disagree on the majority baseline ({baselines} values); each run is judged by its own"
        ));
    }
    if baselines == 0 && g.n > 0 {
        notes.push(if scores_only {
            "no baseline given (`--baseline B`): failed runs not counted".into()
        } else {
            "no majority baseline: failed runs not counted".into()
        });
    }
    notes
}

/// The init-seed / data-seed variance decomposition, when the group varies both seeds.
fn seed_decomposition(runs: &[RunEntry]) -> (Option<SeedVariance>, Option<Degenerate>) {
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
    if !(varies(|s| s.0) && varies(|s| s.1)) {
        return (None, None);
    }
    // One `seed` axis sets both seeds alike: every init seed meets one data seed, and the two
    // sources of variance cannot be told apart. Say how to get the decomposition.
    if seeds.iter().all(|s| s.0 == s.1) {
        return (
            None,
            Some(Degenerate::new(
                crate::hypothesis::DegenerateKind::Design,
                "init and data seeds are tied (one `seed` axis), so their shares cannot be told apart; sweep them as two axes, e.g. `[axes] init_seed = { start = 0, end = 5 }` and `data_seed = { start = 0, end = 5 }` (a full 5 × 5 grid), to get them",
            )),
        );
    }
    match seed_variance(&seeds) {
        Ok(v) => (Some(v), None),
        Err(d) => (None, Some(d)),
    }
}

/// Every group's statistics, in report order.
pub(crate) fn group_summaries(
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> Vec<GroupSummary> {
    let grouped = grouped_runs(input, opts);
    progress.start("group statistics", grouped.len());
    let groups = grouped
        .iter()
        .enumerate()
        .map(|(i, (l, runs))| {
            let g = summarize_group(l, runs, opts, i as u64);
            progress.advance(1);
            g
        })
        .collect();
    progress.finish();
    groups
}

/// Report-level caveats: mixed sections, nothing scored, a baseline group without runs.
pub(crate) fn report_notes(
    input: &ReportInput,
    opts: &ReportOptions,
    groups: &[GroupSummary],
    sections: &[String],
) -> Vec<String> {
    let mut notes = input.notes.clone();
    if sections.len() > 1 {
        notes.push(format!(
            "the runs are of {} tasks/metrics ({}): they are never pooled. Each group holds runs of one task · metric, and only groups of the same task · metric are compared",
            sections.len(),
            sections.join("; ")
        ));
    }
    let total_scored: usize = groups.iter().map(|g| g.n).sum();
    if input.runs.is_empty() {
        notes.push("no usable runs in the input".into());
    } else if total_scored == 0 {
        notes.push("no finished run with a score: nothing to summarise".into());
    }
    if let Some(base) = &opts.baseline_group {
        if !groups.iter().any(|g| g.n > 0 && &g.group == base) {
            notes.push(format!(
                "baseline group `{base}` has no scored run: no baseline comparisons"
            ));
        }
    }
    notes
}
