//! Levene's test (centre: mean) and the Brown–Forsythe variant (centre: median), which the
//! findings use to say which group varies more.

use super::{Columns, Kind, Pair, PairTest, Row, Topic};
use crate::fmt::p_value;
use crate::hypothesis::{levene, Degenerate, LeveneCenter, TestResult};
use crate::summary::{GroupSummary, Tested};

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
    const COLUMNS: Columns = Columns {
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
    const COLUMNS: Columns = Columns {
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

    /// Which group varies more.
    fn sentence(&self, r: Result<&TestResult, &Degenerate>, row: &Row) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
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
        let p = p_value(t.p);
        Some(if t.p < row.alpha {
            let std = |g: Option<&GroupSummary>| g.and_then(|g| g.stats.as_ref()?.std);
            let (hi, lo, shi, slo) = if std(row.a) >= std(row.b) {
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
        })
    }

    fn summary_phrase(&self, alpha: f64, _tau: f64) -> Option<(String, String)> {
        Some((
            format!("differ in spread at p < {alpha}"),
            "Brown–Forsythe test".into(),
        ))
    }
}
