//! Levene's test (centre: mean) and the Brown–Forsythe variant (centre: median), which the
//! findings use to say which group varies more.

use super::{decisive, p_text, Columns, Kind, Pair, PairTest, Row, Topic};
use crate::fmt::p_value;
use crate::hypothesis::{levene, Degenerate, LeveneCenter, TestResult};
use crate::summary::{GroupSummary, ReportOptions, Tested};

fn shown(t: &TestResult) -> String {
    format!("{:.3}, {}", t.statistic, p_value(t.p))
}

/// Levene's original test.
pub(crate) struct LeveneMean;

impl PairTest for LeveneMean {
    type Output = TestResult;
    const KEY: &'static str = "levene_mean";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Spread;
    const COLUMNS: &'static Columns = &Columns {
        full: &["Levene (centre: mean) F, p"],
        short: &["Levene(mean) p"],
        csv: &["levene_mean_f", "levene_mean_p"],
    };

    fn run(&self, pair: &Pair) -> Tested<TestResult> {
        levene(&[&pair.a.scores, &pair.b.scores], LeveneCenter::Mean)
    }
    fn p(&self, r: &TestResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, r: &TestResult, _row: &Row) -> String {
        shown(r)
    }
    fn stats(&self, r: &TestResult) -> Vec<String> {
        vec![r.statistic.to_string()]
    }
}

/// Brown–Forsythe: Levene's test with the median as centre (SciPy's default).
pub(crate) struct LeveneMedian;

/// "std of the runs that did not fail 0.0120 vs 0.0340", when both groups have at least 2
/// such runs and some run failed.
fn not_failed_text(row: &Row) -> Option<String> {
    let (a, b) = (row.a?, row.b?);
    if a.failed == 0 && b.failed == 0 {
        return None;
    }
    Some(format!(
        "std of the runs that did not fail {:.4} vs {:.4}",
        a.std_not_failed?, b.std_not_failed?
    ))
}

fn std_text(g: Option<&GroupSummary>) -> String {
    match g.and_then(|g| g.stats.as_ref()).and_then(|d| d.std) {
        Some(sd) => format!("{sd:.4}"),
        None => "n/a".into(),
    }
}

impl PairTest for LeveneMedian {
    type Output = TestResult;
    const KEY: &'static str = "levene_median";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Spread;
    const COLUMNS: &'static Columns = &Columns {
        full: &["Brown–Forsythe (centre: median) F, p"],
        short: &["B–F(median) p"],
        csv: &["levene_median_f", "levene_median_p"],
    };

    fn run(&self, pair: &Pair) -> Tested<TestResult> {
        levene(&[&pair.a.scores, &pair.b.scores], LeveneCenter::Median)
    }
    fn p(&self, r: &TestResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, r: &TestResult, _row: &Row) -> String {
        shown(r)
    }
    fn stats(&self, r: &TestResult) -> Vec<String> {
        vec![r.statistic.to_string()]
    }

    /// Which group varies more; a collapsed group (every run failed, or every score equal) is
    /// said to be collapsed instead, and the spread of the runs that did not fail is given
    /// beside the spread of all runs.
    fn sentence(
        &self,
        r: Result<&TestResult, &Degenerate>,
        adj: Option<f64>,
        row: &Row,
    ) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
        let collapsed: Vec<String> = [(ca, row.a), (cb, row.b)]
            .into_iter()
            .filter_map(|(n, g)| Some(format!("`{n}` collapsed ({})", g?.collapsed.as_ref()?)))
            .collect();
        if !collapsed.is_empty() {
            return Some(format!(
                "{}: a collapsed group's spread says nothing about its stability, so the spreads of `{ca}` and `{cb}` are not compared{}.",
                collapsed.join(" and "),
                not_failed_text(row).map_or(String::new(), |t| format!(" ({t})"))
            ));
        }
        let t = match r {
            Ok(t) => t,
            Err(d) => {
                return Some(format!(
                    "Whether `{ca}` or `{cb}` varies more was not tested (Brown–Forsythe): {}.",
                    d.reason
                ))
            }
        };
        let (sa, sb) = (std_text(row.a), std_text(row.b));
        let p = p_text(t.p, adj);
        let extra = not_failed_text(row).map_or(String::new(), |t| format!("; {t}"));
        Some(if decisive(t.p, adj) < row.alpha {
            let std = |g: Option<&GroupSummary>| g.and_then(|g| g.stats.as_ref()?.std);
            let (hi, lo, shi, slo) = if std(row.a) >= std(row.b) {
                (ca, cb, sa, sb)
            } else {
                (cb, ca, sb, sa)
            };
            format!(
                "`{hi}` varies more than `{lo}` (std {shi} vs {slo}{extra}; Brown–Forsythe test, {p})."
            )
        } else {
            format!(
                "No significant difference in spread between `{ca}` and `{cb}` (std {sa} vs {sb}{extra}; Brown–Forsythe test, {p})."
            )
        })
    }

    fn not_counted(&self, row: &Row) -> Option<String> {
        [row.a, row.b]
            .iter()
            .any(|g| g.is_some_and(|g| g.collapsed.is_some()))
            .then(|| "a collapsed group, whose spread says nothing".to_string())
    }

    fn summary_phrase(&self, alpha: f64, _opts: &ReportOptions) -> Option<(String, String)> {
        Some((
            format!("differ in spread at p < {alpha}"),
            "Brown–Forsythe test".into(),
        ))
    }
}
