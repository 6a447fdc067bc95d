//! Pairwise tests: one table, [`TESTS`], read by every output.
//!
//! Design decisions:
//! - **A new test is one module plus one entry.** Each test implements [`PairTest`] in its own
//!   module: its key in `report.json`, its column headers (report table, terminal, CSV), how it
//!   runs on two groups, how its cells read and, optionally, its findings sentence. The report
//!   table, the terminal table, `comparisons.csv`, `report.json` and the findings all walk
//!   [`TESTS`] (ripgrep's flag table has the same shape); none of them names a test.
//! - **Results are stored as JSON values** in a [`Comparison`], keyed by the test's key, so that
//!   the comparison type does not change when a test joins. Each test reads its own values back
//!   through its typed [`PairTest::Output`] ([`Comparison::result`] gives the stored value).
//! - **Columns in two orders, both fixed by the table.** `report.json` and `comparisons.csv`
//!   list the tests in table order (new tests go last: scripts read CSV columns by position);
//!   the report's tables show the tests with a p-value first, then the dominance measures
//!   ([`Kind`]); the findings go failure rate → spread → location → dominance ([`Topic`]).

mod aso;
mod fisher;
mod levene;
mod mann_whitney;
mod tost;
mod welch;

use serde::{de::DeserializeOwned, Serialize};

use crate::aso::{adjusted_confidence, AsoOptions};
use crate::family::holm;
use crate::fmt::p_value;
use crate::hypothesis::{Degenerate, DegenerateKind};
use crate::summary::{Comparison, Fields, GroupSummary, Progress, ReportOptions, Tested};

/// Every pairwise test, in `report.json` / `comparisons.csv` order.
pub(crate) static TESTS: &[&dyn Test] = &[
    &levene::LeveneMean,
    &levene::LeveneMedian,
    &welch::Welch,
    &mann_whitney::MannWhitney,
    &aso::Aso,
    &fisher::Fisher,
    &tost::Tost,
];

/// Where a test's columns go in the report's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A test with a p-value: its columns come first.
    PValue,
    /// A dominance measure without a p-value (ASO): its columns come after every p-value.
    Dominance,
}

/// What a test speaks about; the findings' sentences follow this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Topic {
    FailureRate,
    Spread,
    Location,
    Dominance,
}

/// A test's column headers: the report's table, the terminal's table and `comparisons.csv`.
pub(crate) struct Columns {
    pub full: &'static [&'static str],
    pub short: &'static [&'static str],
    pub csv: &'static [&'static str],
}

/// The two groups of a pair and the settings a test runs with.
pub(crate) struct Pair<'a> {
    pub a: &'a GroupSummary,
    pub b: &'a GroupSummary,
    pub opts: &'a ReportOptions,
    /// ASO's settings, with the number of comparisons made.
    pub aso: &'a AsoOptions,
    /// Mixed into the seed of the pair's random draws.
    pub salt: u64,
}

/// What a row of a comparison needs besides the test's result: how it names the two groups
/// (full names in tables, short ones in findings), their summaries and the report's settings.
pub(crate) struct Row<'a> {
    pub name_a: &'a str,
    pub name_b: &'a str,
    pub a: Option<&'a GroupSummary>,
    pub b: Option<&'a GroupSummary>,
    pub opts: &'a ReportOptions,
    /// Significance level of the wording: 1 − the confidence level.
    pub alpha: f64,
    /// Number of pairs compared: with more than one, p-values are shown with their Holm
    /// adjustment and decisions use the adjusted p.
    pub family: usize,
}

/// Key of the Holm-adjusted p-value inside a test's stored result.
pub(crate) const HOLM_KEY: &str = "p_holm";

/// "p = 0.0330", or "p = 0.0330, Holm-adjusted 0.1320" over a family of several pairs.
pub(crate) fn p_text(p: f64, adj: Option<f64>) -> String {
    match adj {
        Some(a) => format!("p = {}, Holm-adjusted {}", p_value(p), p_value(a)),
        None => format!("p = {}", p_value(p)),
    }
}

/// The p-value decisions use: the adjusted one when there is one.
pub(crate) fn decisive(p: f64, adj: Option<f64>) -> f64 {
    adj.unwrap_or(p)
}

/// One pairwise test, typed. The defaults format a test with a p-value: one cell in each
/// table, its statistics then its p-value in the CSV.
pub(crate) trait PairTest: Sync {
    /// What [`PairTest::run`] returns; stored in `report.json` under [`PairTest::KEY`].
    type Output: Serialize + DeserializeOwned;
    const KEY: &'static str;
    const KIND: Kind;
    const TOPIC: Topic;
    const COLUMNS: &'static Columns;

    fn run(&self, pair: &Pair) -> Tested<Self::Output>;

    /// Whether the report runs the test (default: always).
    fn enabled(&self, _opts: &ReportOptions) -> bool {
        true
    }

    /// The p-value, for a test that has one.
    fn p(&self, r: &Self::Output) -> Option<f64>;

    /// The report table's cell of a result (default: the p-value).
    fn shown(&self, r: &Self::Output, _row: &Row) -> String {
        self.p(r).map_or_else(String::new, p_value)
    }

    /// The CSV's columns before the p-value.
    fn stats(&self, _r: &Self::Output) -> Vec<String> {
        Vec::new()
    }

    fn full(&self, r: Result<&Self::Output, &Degenerate>, row: &Row) -> Vec<String> {
        vec![match r {
            Ok(v) => self.shown(v, row),
            Err(d) => d.cell(),
        }]
    }

    fn short(&self, r: Result<&Self::Output, &Degenerate>, _row: &Row) -> Vec<String> {
        vec![match r {
            Ok(v) => self.p(v).map_or_else(String::new, p_value),
            Err(d) => d.short_cell(),
        }]
    }

    /// The statistics' columns, then the p-value's; a degenerate test leaves the statistics
    /// empty and puts its reason in the p-value's cell.
    fn csv(&self, r: Result<&Self::Output, &Degenerate>) -> Vec<String> {
        match r {
            Ok(v) => {
                let mut c = self.stats(v);
                c.push(self.p(v).map_or_else(String::new, |p| p.to_string()));
                c
            }
            Err(d) => {
                let mut c = vec![String::new(); Self::COLUMNS.csv.len().saturating_sub(1)];
                c.push(d.cell());
                c
            }
        }
    }

    /// The findings' sentence about one pair, for a test that has one; `adj` is the
    /// Holm-adjusted p-value when several pairs are compared.
    fn sentence(
        &self,
        _r: Result<&Self::Output, &Degenerate>,
        _adj: Option<f64>,
        _row: &Row,
    ) -> Option<String> {
        None
    }

    /// With many pairs, the findings name the pairs where the test finds something: what they
    /// show and the test's name (`("differ in spread at p < 0.05", "Brown–Forsythe test")`),
    /// for a test that has a sentence.
    fn summary_phrase(&self, _alpha: f64, _opts: &ReportOptions) -> Option<(String, String)> {
        None
    }

    /// Why a result of this pair does not count in a summary sentence although the test ran
    /// (the spread of a collapsed group says nothing); `None`: it counts.
    fn not_counted(&self, _row: &Row) -> Option<String> {
        None
    }

    /// `` `a` vs `b` (p = …) `` when the test finds something in this pair (default: the
    /// adjusted p < α).
    fn hit(&self, r: &Self::Output, adj: Option<f64>, row: &Row) -> Option<String> {
        let p = self.p(r)?;
        (decisive(p, adj) < row.alpha)
            .then(|| format!("`{}` vs `{}` ({})", row.name_a, row.name_b, p_text(p, adj)))
    }
}

/// A [`PairTest`] behind its JSON values: what [`TESTS`] holds.
pub(crate) trait Test: Sync {
    fn key(&self) -> &'static str;
    fn kind(&self) -> Kind;
    fn topic(&self) -> Topic;
    fn columns(&self) -> &'static Columns;
    fn enabled(&self, opts: &ReportOptions) -> bool;
    fn run(&self, pair: &Pair) -> Tested<Fields>;
    fn p(&self, r: &Tested<Fields>) -> Option<f64>;
    fn full(&self, r: &Tested<Fields>, row: &Row) -> Vec<String>;
    fn short(&self, r: &Tested<Fields>, row: &Row) -> Vec<String>;
    fn csv(&self, r: &Tested<Fields>) -> Vec<String>;
    fn sentence(&self, r: &Tested<Fields>, row: &Row) -> Option<String>;
    fn summary_phrase(&self, alpha: f64, opts: &ReportOptions) -> Option<(String, String)>;
    fn hit(&self, r: &Tested<Fields>, row: &Row) -> Option<String>;
    fn not_counted(&self, row: &Row) -> Option<String>;
}

/// A stored value read back as the test's output; a value that does not parse (a report.json
/// edited by hand) reads as degenerate.
fn typed<T: DeserializeOwned>(r: &Tested<Fields>) -> Tested<T> {
    match r {
        Ok(v) => serde_json::to_string(v)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| {
                Degenerate::new(
                    DegenerateKind::Design,
                    format!("unreadable stored result: {e}"),
                )
            }),
        Err(d) => Err(d.clone()),
    }
}

impl<T: PairTest> Test for T {
    fn key(&self) -> &'static str {
        T::KEY
    }
    fn kind(&self) -> Kind {
        T::KIND
    }
    fn topic(&self) -> Topic {
        T::TOPIC
    }
    fn columns(&self) -> &'static Columns {
        T::COLUMNS
    }
    fn enabled(&self, opts: &ReportOptions) -> bool {
        PairTest::enabled(self, opts)
    }
    fn run(&self, pair: &Pair) -> Tested<Fields> {
        let r = PairTest::run(self, pair)?;
        // Through the text, so that the fields keep the order of the test's type.
        serde_json::to_string(&r)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| Degenerate::new(DegenerateKind::Design, format!("unstorable result: {e}")))
    }
    fn p(&self, r: &Tested<Fields>) -> Option<f64> {
        PairTest::p(self, typed::<T::Output>(r).as_ref().ok()?)
    }
    fn full(&self, r: &Tested<Fields>, row: &Row) -> Vec<String> {
        let mut cells = PairTest::full(self, typed::<T::Output>(r).as_ref(), row);
        if let (Some(a), Some(first)) = (shown_adjusted(r, row), cells.first_mut()) {
            *first += &format!("; Holm {}", p_value(a));
        }
        cells
    }
    fn short(&self, r: &Tested<Fields>, row: &Row) -> Vec<String> {
        let mut cells = PairTest::short(self, typed::<T::Output>(r).as_ref(), row);
        if let (Some(a), Some(first)) = (shown_adjusted(r, row), cells.first_mut()) {
            *first += &format!(" (Holm {})", p_value(a));
        }
        cells
    }
    fn csv(&self, r: &Tested<Fields>) -> Vec<String> {
        PairTest::csv(self, typed::<T::Output>(r).as_ref())
    }
    fn sentence(&self, r: &Tested<Fields>, row: &Row) -> Option<String> {
        PairTest::sentence(
            self,
            typed::<T::Output>(r).as_ref(),
            shown_adjusted(r, row),
            row,
        )
    }
    fn summary_phrase(&self, alpha: f64, opts: &ReportOptions) -> Option<(String, String)> {
        PairTest::summary_phrase(self, alpha, opts)
    }
    fn not_counted(&self, row: &Row) -> Option<String> {
        PairTest::not_counted(self, row)
    }
    fn hit(&self, r: &Tested<Fields>, row: &Row) -> Option<String> {
        PairTest::hit(
            self,
            typed::<T::Output>(r).as_ref().ok()?,
            shown_adjusted(r, row),
            row,
        )
    }
}

/// The stored Holm-adjusted p-value of a result.
pub(crate) fn adjusted(r: &Tested<Fields>) -> Option<f64> {
    r.as_ref().ok()?.get(HOLM_KEY)?.as_f64()
}

/// The adjusted p-value as outputs show it: only when several pairs are compared.
fn shown_adjusted(r: &Tested<Fields>, row: &Row) -> Option<f64> {
    adjusted(r).filter(|_| row.family > 1)
}

impl Comparison {
    /// The stored result of the test with `key`, if it ran.
    pub fn result(&self, key: &str) -> Option<&Tested<Fields>> {
        self.tests.iter().find(|(k, _)| k == key).map(|(_, r)| r)
    }
}

/// The tests a report with `opts` runs, in `report.json` / `comparisons.csv` order.
pub(crate) fn enabled(opts: &ReportOptions) -> Vec<&'static dyn Test> {
    TESTS.iter().copied().filter(|t| t.enabled(opts)).collect()
}

/// The tests a report with `opts` runs, in the order of the report's tables: those with a
/// p-value, then the others.
pub(crate) fn table_order(opts: &ReportOptions) -> Vec<&'static dyn Test> {
    let (mut p, other): (Vec<_>, Vec<_>) = enabled(opts)
        .into_iter()
        .partition(|t| t.kind() == Kind::PValue);
    p.extend(other);
    p
}

/// The tests that speak in the findings, in the findings' order.
pub(crate) fn findings_order(opts: &ReportOptions, alpha: f64) -> Vec<&'static dyn Test> {
    let mut v: Vec<&'static dyn Test> = enabled(opts)
        .into_iter()
        .filter(|t| t.summary_phrase(alpha, opts).is_some())
        .collect();
    v.sort_by_key(|t| t.topic());
    v
}

/// Why two groups are not compared: they were scored on different evaluation sets (a
/// section is task · metric · dev set), or judged against different majority baselines.
fn incomparable(a: &GroupSummary, b: &GroupSummary) -> Option<String> {
    if a.section != b.section {
        return Some(format!(
            "scored on different evaluation sets (`{}` vs `{}`)",
            a.section, b.section
        ));
    }
    match (a.baseline, b.baseline) {
        (Some(x), Some(y)) if x != y => Some(format!(
            "judged against different majority baselines ({x} vs {y})"
        )),
        _ => None,
    }
}

/// Which pairs of groups to compare: indices into `comparable`, the rule in words, and the
/// pairs skipped with the reason.
fn select_pairs(
    comparable: &[&GroupSummary],
    all: &[GroupSummary],
    opts: &ReportOptions,
) -> (Vec<(usize, usize)>, String, Vec<String>) {
    let k = comparable.len();
    let mut skipped = Vec::new();
    let mut keep = |i: usize, j: usize| match incomparable(comparable[i], comparable[j]) {
        Some(why) => {
            skipped.push(format!(
                "`{}` vs `{}` not compared: {why}",
                comparable[i].group, comparable[j].group
            ));
            false
        }
        None => true,
    };
    if !opts.contrasts.is_empty() {
        let index = |name: &str| comparable.iter().position(|g| g.group == name);
        let mut pairs = Vec::new();
        let mut missing = Vec::new();
        for (a, b) in &opts.contrasts {
            match (index(a), index(b)) {
                (Some(i), Some(j)) => {
                    if keep(i, j) {
                        pairs.push((i, j));
                    }
                }
                // In a report of one section (task · metric · dev set), a contrast of another
                // section's groups is that section's, not a missing comparison here.
                _ if !all.iter().any(|g| &g.group == a || &g.group == b) => missing.push(format!(
                    "contrast `{a}` vs `{b}`: not in this section (its groups have no runs here)"
                )),
                _ => missing.push(format!(
                    "contrast `{a}` vs `{b}` not compared: a group has no scored run"
                )),
            }
        }
        skipped.extend(missing);
        let rule = format!(
            "the {} planned contrast(s) given ({})",
            opts.contrasts.len(),
            opts.contrasts
                .iter()
                .map(|(a, b)| format!("`{a}` vs `{b}`"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        return (pairs, rule, skipped);
    }
    if let Some(base) = &opts.baseline_group {
        if let Some(b) = comparable.iter().position(|g| &g.group == base) {
            let pairs = (0..k)
                .filter(|&i| i != b)
                .map(|i| if i < b { (i, b) } else { (b, i) })
                .filter(|&(i, j)| keep(i, j))
                .collect();
            return (
                pairs,
                format!("every group against the baseline group `{base}`"),
                skipped,
            );
        }
    }
    let mut all = |idx: &[usize]| -> Vec<(usize, usize)> {
        idx.iter()
            .enumerate()
            .flat_map(|(x, &i)| idx[x + 1..].iter().map(move |&j| (i, j)))
            .filter(|&(i, j)| keep(i, j))
            .collect()
    };
    let top_k = opts.top_k.max(2);
    if k <= top_k {
        let pairs = all(&(0..k).collect::<Vec<_>>());
        return (pairs, "all pairs of groups".into(), skipped);
    }
    let mut by_mean: Vec<usize> = (0..k).collect();
    let mean = |i: usize| {
        comparable[i]
            .stats
            .as_ref()
            .map_or(f64::NEG_INFINITY, |d| d.mean)
    };
    by_mean.sort_by(|&i, &j| mean(j).total_cmp(&mean(i)).then(i.cmp(&j)));
    by_mean.truncate(top_k);
    by_mean.sort_unstable();
    let pairs = all(&by_mean);
    (
        pairs,
        format!(
            "all pairs among the {top_k} groups with the highest mean score (of {k} groups with scores); \
             --top-k N, --baseline-group G or --contrast A:B to change"
        ),
        skipped,
    )
}

/// The pairs a report compares and every test's result on them.
pub(crate) struct Compared {
    /// Which pairs were compared, in words.
    pub pair_rule: String,
    /// ASO's confidence level after deepsig's adjustment over the pairs compared.
    pub aso_confidence: f64,
    pub comparisons: Vec<Comparison>,
    /// Pairs the rule names that were not compared, and why.
    pub skipped: Vec<String>,
}

/// Runs every enabled test of [`TESTS`] on the pairs the options select among `groups`, then
/// adjusts each test's p-values over those pairs (Holm; [`crate::family::holm`]).
pub(crate) fn compare(
    groups: &[GroupSummary],
    opts: &ReportOptions,
    sections: usize,
    progress: &dyn Progress,
) -> Compared {
    let comparable: Vec<&GroupSummary> = groups.iter().filter(|g| g.n > 0).collect();
    let (pairs, mut pair_rule, skipped) = select_pairs(&comparable, groups, opts);
    if sections > 1 {
        pair_rule += ", within each task · metric · evaluation set only";
    }
    let num_comparisons = pairs.len().max(1);
    let aso_opts = AsoOptions {
        confidence_level: opts.confidence_level,
        num_comparisons,
        bootstrap_iterations: opts.bootstrap_iterations,
        dt: 0.005,
        seed: opts.seed,
    };
    let tests: Vec<&dyn Test> = TESTS.iter().copied().filter(|t| t.enabled(opts)).collect();
    progress.start("pairwise tests and ASO", pairs.len());
    let mut comparisons = Vec::with_capacity(pairs.len());
    for &(i, j) in &pairs {
        let pair = Pair {
            a: comparable[i],
            b: comparable[j],
            opts,
            aso: &aso_opts,
            salt: scores_salt(&comparable[i].scores, &comparable[j].scores),
        };
        comparisons.push(Comparison {
            a: pair.a.group.clone(),
            b: pair.b.group.clone(),
            tests: tests
                .iter()
                .map(|t| (t.key().to_string(), t.run(&pair)))
                .collect(),
            notes: Vec::new(),
        });
        progress.advance(1);
    }
    progress.finish();
    for t in &tests {
        adjust(&mut comparisons, *t);
    }
    Compared {
        pair_rule,
        aso_confidence: adjusted_confidence(opts.confidence_level, num_comparisons),
        comparisons,
        skipped,
    }
}

/// The seed salt of a pair's random draws, from the two groups' scores alone (FNV-1a over
/// their bits, in order): the same runs get the same bootstrap whatever the other groups, the
/// group labels (`--group-by`) or the pair's position. ASO's ε_min then depends on the rest of
/// the report only through m, the number of pairs compared, by deepsig's confidence
/// adjustment c + (1−c)/m ([`crate::aso`]), which the report states.
fn scores_salt(a: &[f64], b: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |x: u64| {
        for byte in x.to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for v in a {
        eat(v.to_bits());
    }
    eat(u64::MAX);
    for v in b {
        eat(v.to_bits());
    }
    h
}

/// Stores the Holm-adjusted p-value of `test` in each comparison's result, over the
/// comparisons where the test has a p-value.
fn adjust(comparisons: &mut [Comparison], test: &dyn Test) {
    let mut at = Vec::new();
    let mut ps = Vec::new();
    for (i, c) in comparisons.iter().enumerate() {
        if let Some(p) = c.result(test.key()).and_then(|r| test.p(r)) {
            at.push(i);
            ps.push(p);
        }
    }
    for (i, adj) in at.into_iter().zip(holm(&ps)) {
        if let Some((_, Ok(fields))) = comparisons[i]
            .tests
            .iter_mut()
            .find(|(k, _)| k == test.key())
        {
            fields.insert(HOLM_KEY, adj.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_columns_match_the_csv() {
        let mut keys: Vec<&str> = TESTS.iter().map(|t| t.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), TESTS.len());
        let d: Tested<Fields> = Err(Degenerate::new(DegenerateKind::TooFewRuns, "x"));
        let opts = ReportOptions::default();
        let row = Row {
            name_a: "a",
            name_b: "b",
            a: None,
            b: None,
            opts: &opts,
            alpha: 0.05,
            family: 1,
        };
        for t in TESTS {
            let c = t.columns();
            assert_eq!(t.csv(&d).len(), c.csv.len(), "{}", t.key());
            assert_eq!(t.full(&d, &row).len(), c.full.len(), "{}", t.key());
            assert_eq!(t.short(&d, &row).len(), c.short.len(), "{}", t.key());
        }
    }
}
