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
//! - **Every group's failure rate.** The failure sentence covers every group, whatever
//!   `--top-k` keeps for the pairwise tests.
//! - **The same pairs as the tables.** Test sentences cover exactly the pairs the report
//!   compares (`--contrast` / `--baseline-group` / `--top-k`); past three pairs they are
//!   summarised per test, naming the pairs that are significant. With more than one pair,
//!   decisions use each test's Holm-adjusted p over those pairs ([`crate::family`]);
//!   α = 1 − the confidence level.
//! - **Absence of evidence is said as such.** A non-significant mean difference reads
//!   "inconclusive at n = …" with the smallest difference the data can exclude; equivalence is
//!   claimed only by TOST with a stated margin. A collapsed group's spread is not compared.
//! - **Each test words its own sentence** (the entries of [`crate::pairwise::TESTS`]); this
//!   module orders them and words what concerns no single test.
//! - **Degenerate inputs give sentences, never errors**: no runs, no baseline, one group, a test
//!   that is n/a.

use std::collections::HashMap;

use crate::fmt::{percent, short_labels};
use crate::pairwise::{findings_order, Row};
use crate::summary::{Comparison, Findings, GroupSummary, ReportSummary};

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
    sentences.extend(nothing_learned(s, n));
    sentences.extend(sequential(s));
    sentences.extend(s.score.warning.clone());
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
        let tests = findings_order(&s.options, alpha);
        for c in &s.comparisons {
            let row = row(s, c, alpha, n);
            for t in &tests {
                if let Some(r) = c.result(t.key()) {
                    sentences.extend(t.sentence(r, &row));
                }
            }
        }
    } else {
        sentences.extend(summarised(s, alpha, n));
    }
    let m = s.comparisons.len();
    if m > 1 {
        sentences.push(format!(
            "Pairs compared: {}. Each test's p-values are Holm–Bonferroni adjusted over these {m} pairs and the sentences above decide on the adjusted p (α = {alpha}); ASO's confidence is adjusted by deepsig's rule c + (1−c)/m = {:.4}, which is weaker than Bonferroni.",
            s.pair_rule, s.aso_confidence
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
            // Nothing shortened and nothing shared: the names are the labels, no legend.
            Some(l) if l.shared.is_empty() && l.short().iter().zip(&full).all(|(s, f)| s == f) => {
                Names {
                    short: HashMap::new(),
                    shared: Vec::new(),
                }
            }
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

/// A comparison's row as the sentences name it.
fn row<'s>(s: &'s ReportSummary, c: &'s Comparison, alpha: f64, n: &'s Names) -> Row<'s> {
    Row {
        name_a: n.of(&c.a),
        name_b: n.of(&c.b),
        a: group(s, &c.a),
        b: group(s, &c.b),
        opts: &s.options,
        alpha,
        family: s.comparisons.len(),
    }
}

/// The first sentence when some group learned nothing ([`GroupSummary::nothing_learned`]):
/// every run of it diverged or ended (final score) at or within
/// [`crate::summary::NOTHING_LEARNED_BAND`] above its majority baseline. The rule is stated;
/// such a group's low spread is that of runs collapsed onto the majority class, not stability,
/// and its spread is never compared.
fn nothing_learned(s: &ReportSummary, n: &Names) -> Option<String> {
    let none: Vec<&GroupSummary> = s
        .groups
        .iter()
        .filter(|g| g.nothing_learned.is_some())
        .collect();
    if none.is_empty() {
        return None;
    }
    let band = crate::summary::NOTHING_LEARNED_BAND;
    let rule = if s.scores_only {
        format!("every score lies at or within {band} of the baseline")
    } else {
        format!(
            "every run diverged or ended (final score) at or within {band} of the majority baseline — the model predicts (about) the majority class"
        )
    };
    let with_verdict = s.groups.iter().filter(|g| g.judged > 0).count();
    if none.len() == with_verdict {
        let whom = if with_verdict == 1 {
            "in this group".to_string()
        } else {
            format!("in any of the {with_verdict} groups")
        };
        return Some(format!(
            "Nothing was learned {whom}: {rule}. The spreads, tests and dominance below compare runs that did not train; they say nothing about stability."
        ));
    }
    let names = and_list(none.iter().map(|g| format!("`{}`", n.of(&g.group))));
    let verb = if none.len() == 1 { "its" } else { "their" };
    Some(format!(
        "Nothing was learned in {names}: {rule}. {} low spread is that of runs collapsed onto the majority class, not stability, and is not compared.",
        capitalise(verb)
    ))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A sequential sweep decided its own size: the tests below, run on the runs it ended with, are
/// the naive ones (its "Sequential design" section has the looks and the boundaries).
fn sequential(s: &ReportSummary) -> Vec<String> {
    s.sequential
        .iter()
        .map(|q| {
            let state = match &q.stopped {
                Some(why) => format!("ended ({})", why.trim_end_matches('.')),
                None => "has looks still to run".to_string(),
            };
            format!(
                "This sweep ran sequentially and {state}. The tests below are the fixed-design \
                 tests on the runs it ended with, not the sequential decision (see \
                 \"Sequential design\"): {}",
                q.bias_note
            )
        })
        .collect()
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
        return Some(if s.scores_only {
            "Failure rates are not given: no baseline was given (`--baseline B`: a score at or below it is a failed run).".into()
        } else {
            "Failure rates are not given: no run has both a final score and a majority baseline."
                .into()
        });
    }
    // Every group, whatever the pairwise tests keep (`--top-k`): the groups that fail most are
    // the ones a stability report must not leave out.
    let scope: Vec<&GroupSummary> = s.groups.iter().collect();
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
                _ if s.scores_only => format!("{names} no verdict (no score or no baseline given)"),
                _ => format!("{names} no verdict (no final score or baseline)"),
            }
        })
        .collect();
    let rule = if s.scores_only {
        match s.options.baseline {
            Some(b) => format!("score at or below the baseline {b} given"),
            None => "score at or below the baseline".to_string(),
        }
    } else {
        // On a split dev set (Zhang) runs are judged on its report half.
        let set = if s.score.label.starts_with("dev (report half)") {
            "final score on the report half of dev"
        } else {
            "final dev score"
        };
        format!("diverged, or {set} at or below the majority baseline")
    };
    // Runs an `early_failure` policy stopped are counted as failed: say so, per group.
    let stopped: Vec<String> = s
        .groups
        .iter()
        .filter(|g| g.stopped > 0)
        .map(|g| format!("`{}` {}", n.of(&g.group), g.stopped))
        .collect();
    let stopped = if stopped.is_empty() {
        String::new()
    } else {
        format!(
            " These counts include runs stopped as predicted failures, which never reached \
             their final score ({}): see each group's note for the rule and its precision.",
            stopped.join(", ")
        )
    };
    Some(format!(
        "Failed runs ({rule}; {:.0}% Wilson intervals): {}.{stopped}",
        s.options.confidence_level * 100.0,
        parts.join("; ")
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
        crate::summary::Unscored::Failed if s.scores_only => {
            "they count as failed runs when a baseline is given (`--unscored failed`; \
             `--unscored excluded` leaves them out of the failure rate)"
        }
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

/// With many pairs: one sentence per test naming the significant pairs. Each sentence counts
/// only the pairs the test ran on and that count for it; the others are counted apart, with
/// their reasons ("None of the 4 pairs tested differ …; 6 of the 10 compared pairs n/a: …").
fn summarised(s: &ReportSummary, alpha: f64, n: &Names) -> Vec<String> {
    let m = s.comparisons.len();
    findings_order(&s.options, alpha)
        .into_iter()
        .filter_map(|t| {
            let (what, test) = t.summary_phrase(alpha, &s.options)?;
            let mut hits = Vec::new();
            let mut tested = 0usize;
            // (reason, pairs) of the pairs left out, in first-seen order.
            let mut out: Vec<(String, usize)> = Vec::new();
            for c in &s.comparisons {
                let Some(r) = c.result(t.key()) else { continue };
                let row = row(s, c, alpha, n);
                let why = match (r, t.not_counted(&row)) {
                    (Err(d), _) => Some(format!("n/a: {}", d.reason)),
                    (Ok(_), Some(why)) => Some(format!("not counted: {why}")),
                    (Ok(_), None) => None,
                };
                match why {
                    Some(w) => match out.iter_mut().find(|(k, _)| *k == w) {
                        Some((_, k)) => *k += 1,
                        None => out.push((w, 1)),
                    },
                    None => {
                        tested += 1;
                        hits.extend(t.hit(r, &row));
                    }
                }
            }
            let parts: Vec<String> = out
                .iter()
                .map(|(w, k)| format!("{k} of the {m} compared pairs {w}"))
                .collect();
            if tested == 0 {
                return Some(format!(
                    "No pair was tested ({test}), so nothing is said about which pairs {what}: {}.",
                    parts.join("; ")
                ));
            }
            let left_out = if parts.is_empty() {
                String::new()
            } else {
                format!("; {}", parts.join("; "))
            };
            let pairs = if tested == 1 { "pair" } else { "pairs" };
            if hits.is_empty() {
                return Some(format!(
                    "None of the {tested} {pairs} tested {what} ({test}{left_out})."
                ));
            }
            let shown: Vec<&String> = hits.iter().take(PAIRS_NAMED).collect();
            let rest = hits.len() - shown.len();
            Some(format!(
                "{} of the {tested} {pairs} tested {what} ({test}{left_out}): {}{}.",
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
            ))
        })
        .collect()
}
