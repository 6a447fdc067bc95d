//! The findings at the top of every report: a few plain sentences, each claiming only what its
//! test supports, with the p-value or ε behind it.
//!
//! Design decisions:
//! - **Failure rates come with an interval.** Each group's failed / judged runs with its Wilson
//!   interval (`scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`), which behaves at
//!   k = 0 and k = n where the normal approximation collapses; Clopper–Pearson is in
//!   `report.json` (`failure_ci_exact`).
//! - **"No significant difference" is not "the same".** A non-significant Fisher test on three
//!   seeds per group says so, and says it is not evidence of equal rates.
//! - **The same pairs as the tables.** Sentences cover exactly the pairs the report compares
//!   (`--baseline-group` / `--top-k`); past three pairs they are summarised per test, naming the
//!   pairs that are significant. p-values are not adjusted for multiple comparisons, and the
//!   findings say so whenever there is more than one pair; α = 1 − the confidence level.
//! - **Degenerate inputs give sentences, never errors**: no runs, no baseline, one group, a test
//!   that is n/a.

use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use crate::fmt::{p_value, percent, short_labels};
use crate::summary::{Comparison, GroupSummary, ReportSummary};

/// The findings of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Plain sentences, in order: failure rates, then per pair failure rate, spread, dominance.
    pub sentences: Vec<String>,
    /// Significance level of the wording: 1 − the confidence level.
    pub alpha: f64,
}

/// Pairs up to which every pair gets its own sentences.
const PAIRS_IN_FULL: usize = 3;
/// Significant pairs named per test when there are more pairs.
const PAIRS_NAMED: usize = 5;

/// The findings of a summary (computed after its groups and comparisons).
pub(crate) fn findings(s: &ReportSummary) -> Findings {
    // Rounded so that 1 − 0.95 reads 0.05, not 0.050000000000000044.
    let alpha = ((1.0 - s.options.confidence_level) * 1e9).round() / 1e9;
    let names = Names::new(s);
    let n = &names;
    let mut sentences = Vec::new();
    sentences.extend(names.legend());
    sentences.extend(failure_rates(s, n));
    sentences.extend(unscored_runs(s, n));
    let scored = s.groups.iter().filter(|g| g.n > 0).count();
    if s.comparisons.is_empty() {
        sentences.push(match scored {
            0 => "No group has a scored run: there is nothing to compare.".to_string(),
            1 => "Only one group has scored runs: there is nothing to compare it with.".to_string(),
            _ => format!("No pair of groups was compared ({}).", s.pair_rule),
        });
    } else if s.comparisons.len() <= PAIRS_IN_FULL {
        for c in &s.comparisons {
            let (a, b) = (group(s, &c.a), group(s, &c.b));
            sentences.push(fisher_sentence(c, a, b, alpha, n));
            sentences.push(spread_sentence(c, a, b, alpha, n));
            sentences.push(aso_sentence(c, s.options.aso_tau, n));
        }
    } else {
        sentences.extend(summarised(s, alpha, n));
    }
    let m = s.comparisons.len();
    if m > 1 {
        sentences.push(format!(
            "Pairs compared: {}. The {m} p-values are not adjusted for multiple comparisons (α = {alpha}); ASO's confidence is, by deepsig's rule.",
            s.pair_rule
        ));
    }
    Findings { sentences, alpha }
}

/// How the sentences name groups: by what sets them apart from the others
/// ([`short_labels`]), with one sentence saying what they all share. The tables keep full names.
struct Names {
    short: HashMap<String, String>,
    shared: Vec<String>,
}

impl Names {
    fn new(s: &ReportSummary) -> Self {
        let full: Vec<&str> = s.groups.iter().map(|g| g.group.as_str()).collect();
        match short_labels(&full) {
            Some(l) => Names {
                short: full.iter().map(|f| f.to_string()).zip(l.short()).collect(),
                shared: l.shared,
            },
            None => Names {
                short: HashMap::new(),
                shared: Vec::new(),
            },
        }
    }

    fn of<'a>(&'a self, group: &'a str) -> &'a str {
        self.short.get(group).map_or(group, String::as_str)
    }

    /// "Groups are named by what sets them apart; every group has `task=RTE`."
    fn legend(&self) -> Option<String> {
        if self.short.is_empty() {
            return None;
        }
        let shared = if self.shared.is_empty() {
            String::new()
        } else {
            format!(
                "; every group has {}",
                self.shared
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Some(format!(
            "Groups are named below by what sets them apart (dotted keys by their last part; the tables give full names){shared}."
        ))
    }
}

fn group<'s>(s: &'s ReportSummary, name: &str) -> Option<&'s GroupSummary> {
    s.groups.iter().find(|g| g.group == name)
}

/// The groups the sentences name: those in a compared pair, or every group when none is.
fn in_scope(s: &ReportSummary) -> Vec<&GroupSummary> {
    let named = |g: &&GroupSummary| {
        s.comparisons
            .iter()
            .any(|c| c.a == g.group || c.b == g.group)
    };
    let some: Vec<&GroupSummary> = s.groups.iter().filter(named).collect();
    if some.is_empty() {
        s.groups.iter().take(s.options.top_k.max(2)).collect()
    } else {
        some
    }
}

fn rate(g: &GroupSummary) -> f64 {
    g.failed as f64 / g.judged as f64
}

/// "Failed runs …: `a` 1 of 3 (33%, 6–79%); …".
fn failure_rates(s: &ReportSummary, n: &Names) -> Option<String> {
    if s.groups.is_empty() {
        return Some("No runs: nothing to report.".into());
    }
    if s.groups.iter().all(|g| g.judged == 0) {
        return Some(
            "Failure rates are not given: no run has both a final score and a majority baseline."
                .into(),
        );
    }
    let scope = in_scope(s);
    // Groups with the same count share one entry ("`a`, `b` and `c` 0 of 3 each (…)"): with
    // seven groups that all had no failure, seven identical entries hide the one that differs.
    // (failed, judged) when the group has a verdict, and the groups with that count.
    type Count<'g> = (Option<(usize, usize)>, Vec<&'g GroupSummary>);
    let mut counts: Vec<Count> = Vec::new();
    for g in &scope {
        let key = (g.judged > 0 && g.failure_ci.is_some()).then_some((g.failed, g.judged));
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, gs)) => gs.push(g),
            None => counts.push((key, vec![g])),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(key, gs)| {
            let names = and_list(gs.iter().map(|g| format!("`{}`", n.of(&g.group))));
            let each = if gs.len() > 1 { " each" } else { "" };
            match (key, gs[0].failure_ci) {
                (Some((failed, judged)), Some(ci)) => format!(
                    "{names} {failed} of {judged}{each} ({}, {}–{})",
                    percent(rate(gs[0])),
                    percent(ci.lower),
                    percent(ci.upper)
                ),
                _ => format!("{names} no verdict (no final score or baseline)"),
            }
        })
        .collect();
    let more = s.groups.len() - scope.len();
    Some(format!(
        "Failed runs (final dev score at or below the majority baseline; {:.0}% Wilson intervals): {}.{}",
        s.options.confidence_level * 100.0,
        parts.join("; "),
        if more > 0 {
            format!(" {more} further group(s) are in the table.")
        } else {
            String::new()
        }
    ))
}

/// "Runs without a score: `a` 6 of 50 runs have no score; … They count as failed
/// (`--unscored failed`)." Every group with such runs is named, in scope or not: a stability
/// report never hides a run it could not score.
fn unscored_runs(s: &ReportSummary, n: &Names) -> Option<String> {
    let parts: Vec<String> = s
        .groups
        .iter()
        .filter(|g| g.unscored > 0)
        .map(|g| {
            let verb = if g.unscored == 1 { "has" } else { "have" };
            format!(
                "`{}` {} of {} runs {verb} no score",
                n.of(&g.group),
                g.unscored,
                g.runs
            )
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    let how = match s.options.unscored {
        crate::summary::Unscored::Failed => {
            "they count as failed runs where a majority baseline is known (`--unscored failed`; \
             `--unscored excluded` leaves them out of the failure rate)"
        }
        crate::summary::Unscored::Excluded => {
            "they are left out of the failure rate (`--unscored excluded`; `--unscored failed` \
             counts them as failed)"
        }
    };
    Some(format!(
        "Runs without a score (empty, NaN or infinite): {}; {how}, and out of every other statistic.",
        parts.join("; ")
    ))
}

/// "a", "a and b", "a, b and c".
fn and_list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

fn fisher_sentence(
    c: &Comparison,
    a: Option<&GroupSummary>,
    b: Option<&GroupSummary>,
    alpha: f64,
    n: &Names,
) -> String {
    let (ca, cb) = (n.of(&c.a), n.of(&c.b));
    let (f, a, b) = match (&c.fisher, a, b) {
        (Ok(f), Some(a), Some(b)) => (f, a, b),
        (Err(d), _, _) => {
            return format!(
                "Failure rates of `{ca}` and `{cb}` were not compared: {}.",
                d.reason
            )
        }
        _ => return format!("Failure rates of `{ca}` and `{cb}` were not compared."),
    };
    let p = p_value(f.p);
    if a.failed == 0 && b.failed == 0 {
        return format!(
            "No run failed in `{}` or `{}` ({} and {} runs), so there is no difference in failure rate to test (Fisher p = {p}).",
            n.of(&a.group), n.of(&b.group), a.judged, b.judged
        );
    }
    if a.failed == a.judged && b.failed == b.judged {
        return format!(
            "Every run failed in both `{}` and `{}` (Fisher p = {p}).",
            n.of(&a.group),
            n.of(&b.group)
        );
    }
    if f.p < alpha {
        let (hi, lo) = if rate(a) >= rate(b) { (a, b) } else { (b, a) };
        format!(
            "`{}` fails more often than `{}`: {} vs {} of runs (Fisher's exact test, two-sided, p = {p}).",
            n.of(&hi.group),
            n.of(&lo.group),
            percent(rate(hi)),
            percent(rate(lo))
        )
    } else {
        format!(
            "No significant difference in failure rate between `{}` ({}) and `{}` ({}): Fisher's exact test, two-sided, p = {p}; with {} and {} runs this is not evidence that the rates are equal.",
            n.of(&a.group),
            percent(rate(a)),
            n.of(&b.group),
            percent(rate(b)),
            a.judged,
            b.judged
        )
    }
}

fn std_text(g: Option<&GroupSummary>) -> String {
    match g.and_then(|g| g.stats.as_ref()).and_then(|d| d.std) {
        Some(sd) => format!("{sd:.4}"),
        None => "n/a".into(),
    }
}

/// Brown–Forsythe (Levene with the median, SciPy's default): which group varies more.
fn spread_sentence(
    c: &Comparison,
    a: Option<&GroupSummary>,
    b: Option<&GroupSummary>,
    alpha: f64,
    n: &Names,
) -> String {
    let (ca, cb) = (n.of(&c.a), n.of(&c.b));
    let t = match &c.levene_median {
        Ok(t) => t,
        Err(d) => {
            return format!(
                "Whether `{ca}` or `{cb}` varies more was not tested (Brown–Forsythe): {}.",
                d.reason
            )
        }
    };
    let (sa, sb) = (std_text(a), std_text(b));
    let p = p_value(t.p);
    if t.p < alpha {
        let a_more = a.and_then(|g| g.stats.as_ref()?.std) >= b.and_then(|g| g.stats.as_ref()?.std);
        let (hi, lo, shi, slo) = if a_more {
            (ca, cb, sa, sb)
        } else {
            (cb, ca, sb, sa)
        };
        format!(
            "`{hi}` varies more than `{lo}` (std {shi} vs {slo}; Brown–Forsythe test, p = {p})."
        )
    } else {
        format!(
            "No significant difference in spread between `{ca}` and `{cb}` (std {sa} vs {sb}; Brown–Forsythe test, p = {p})."
        )
    }
}

fn aso_sentence(c: &Comparison, tau: f64, n: &Names) -> String {
    let (ca, cb) = (n.of(&c.a), n.of(&c.b));
    match &c.aso {
        Err(d) => format!(
            "Almost stochastic order of `{ca}` and `{cb}` was not computed: {}.",
            d.reason
        ),
        Ok(r) if r.eps_min_ab < tau && r.eps_min_ab <= r.eps_min_ba => format!(
            "`{ca}` almost stochastically dominates `{cb}` (ASO ε_min = {:.3} < τ = {tau}).",
            r.eps_min_ab
        ),
        Ok(r) if r.eps_min_ba < tau => format!(
            "`{cb}` almost stochastically dominates `{ca}` (ASO ε_min = {:.3} < τ = {tau}).",
            r.eps_min_ba
        ),
        Ok(r) => format!(
            "Neither `{ca}` nor `{cb}` almost stochastically dominates the other (ASO ε_min = {:.3} and {:.3}, both ≥ τ = {tau}).",
            r.eps_min_ab, r.eps_min_ba
        ),
    }
}

/// With many pairs: one sentence per test naming the significant pairs.
fn summarised(s: &ReportSummary, alpha: f64, n: &Names) -> Vec<String> {
    let m = s.comparisons.len();
    let named = |hits: Vec<String>, what: &str, test: &str| -> String {
        if hits.is_empty() {
            return format!("None of the {m} compared pairs {what} ({test}).");
        }
        let shown: Vec<&String> = hits.iter().take(PAIRS_NAMED).collect();
        let rest = hits.len() - shown.len();
        format!(
            "{} of the {m} compared pairs {what} ({test}): {}{}.",
            hits.len(),
            shown
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            if rest > 0 {
                format!("; and {rest} more in the table")
            } else {
                String::new()
            }
        )
    };
    // "`a` vs `b` (p = …)" for each pair whose p (of one test) is below α.
    let significant = |p_of: &dyn Fn(&Comparison) -> Option<f64>| -> Vec<String> {
        s.comparisons
            .iter()
            .filter_map(|c| {
                let p = p_of(c).filter(|p| *p < alpha)?;
                Some(format!(
                    "`{}` vs `{}` (p = {})",
                    n.of(&c.a),
                    n.of(&c.b),
                    p_value(p)
                ))
            })
            .collect()
    };
    let fisher = significant(&|c| c.fisher.as_ref().ok().map(|f| f.p));
    let spread = significant(&|c| c.levene_median.as_ref().ok().map(|t| t.p));
    let tau = s.options.aso_tau;
    let dominance: Vec<String> = s
        .comparisons
        .iter()
        .filter_map(|c| {
            let r = c.aso.as_ref().ok()?;
            let (w, l, e) = if r.eps_min_ab <= r.eps_min_ba {
                (&c.a, &c.b, r.eps_min_ab)
            } else {
                (&c.b, &c.a, r.eps_min_ba)
            };
            (e < tau).then(|| format!("`{}` ≻ `{}` (ε_min = {e:.3})", n.of(w), n.of(l)))
        })
        .collect();
    vec![
        named(
            fisher,
            &format!("differ in failure rate at p < {alpha}"),
            "Fisher's exact test, two-sided",
        ),
        named(
            spread,
            &format!("differ in spread at p < {alpha}"),
            "Brown–Forsythe test",
        ),
        named(
            dominance,
            "show almost stochastic dominance",
            &format!("ASO ε_min < τ = {tau}"),
        ),
    ]
}
