//! Fisher's exact test (two-sided) of two groups' failure rates.

use super::{decisive, p_text, Columns, Kind, Pair, PairTest, Row, Topic};
use crate::counts::{fisher_exact, FisherResult};
use crate::fmt::{p_value, percent};
use crate::hypothesis::{Degenerate, DegenerateKind};
use crate::summary::{GroupSummary, ReportOptions, Tested};

pub(crate) struct Fisher;

fn rate(g: &GroupSummary) -> f64 {
    g.failed as f64 / g.judged as f64
}

impl PairTest for Fisher {
    type Output = FisherResult;
    const KEY: &'static str = "fisher";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::FailureRate;
    const COLUMNS: &'static Columns = &Columns {
        full: &["failed A vs B, Fisher p"],
        short: &["Fisher p"],
        csv: &["fisher_odds_ratio", "fisher_p"],
    };

    /// On `[[failed, judged − failed]]` of A and B; degenerate when a group has no verdict.
    fn run(&self, pair: &Pair) -> Tested<FisherResult> {
        // No baseline at all is its own reason: no run can fail without one.
        if pair.a.baseline.is_none()
            && pair.b.baseline.is_none()
            && pair.a.judged + pair.b.judged == 0
        {
            return Err(Degenerate::new(
                DegenerateKind::NoBaseline,
                "no baseline given: a failure verdict needs a majority baseline (`--baseline B`)",
            ));
        }
        for g in [pair.a, pair.b] {
            if g.judged == 0 {
                return Err(Degenerate::new(
                    DegenerateKind::TooFewRuns,
                    format!(
                        "group `{}` has no run with a failure verdict (no majority baseline or no final score)",
                        g.group
                    ),
                ));
            }
        }
        let row = |g: &GroupSummary| [g.failed as u64, (g.judged - g.failed) as u64];
        Ok(fisher_exact([row(pair.a), row(pair.b)]))
    }
    fn p(&self, r: &FisherResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, f: &FisherResult, row: &Row) -> String {
        let counts = |g: Option<&GroupSummary>| {
            g.map_or("?".to_string(), |g| format!("{}/{}", g.failed, g.judged))
        };
        format!("{} vs {}, {}", counts(row.a), counts(row.b), p_value(f.p))
    }
    fn stats(&self, f: &FisherResult) -> Vec<String> {
        vec![f.odds_ratio.map_or(String::new(), |o| o.to_string())]
    }

    fn sentence(
        &self,
        r: Result<&FisherResult, &Degenerate>,
        adj: Option<f64>,
        row: &Row,
    ) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
        let (f, a, b) = match (r, row.a, row.b) {
            (Ok(f), Some(a), Some(b)) => (f, a, b),
            (Err(d), _, _) => {
                return Some(format!(
                    "Failure rates of `{ca}` and `{cb}` were not compared: {}.",
                    d.reason
                ))
            }
            _ => {
                return Some(format!(
                    "Failure rates of `{ca}` and `{cb}` were not compared."
                ))
            }
        };
        let p = p_value(f.p);
        let shown = p_text(f.p, adj);
        if a.failed == 0 && b.failed == 0 {
            return Some(format!(
                "No run failed in `{ca}` or `{cb}` ({} and {} runs), so there is no difference in failure rate to test (Fisher p = {p}).",
                a.judged, b.judged
            ));
        }
        if a.failed == a.judged && b.failed == b.judged {
            return Some(format!(
                "Every run failed in both `{ca}` and `{cb}` (Fisher p = {p})."
            ));
        }
        Some(if decisive(f.p, adj) < row.alpha {
            let (hi, lo, nhi, nlo) = if rate(a) >= rate(b) {
                (a, b, ca, cb)
            } else {
                (b, a, cb, ca)
            };
            format!(
                "`{nhi}` fails more often than `{nlo}`: {} vs {} of runs (Fisher's exact test, two-sided, {shown}).",
                percent(rate(hi)),
                percent(rate(lo))
            )
        } else {
            format!(
                "No significant difference in failure rate between `{ca}` ({}) and `{cb}` ({}): Fisher's exact test, two-sided, {shown}; with {} and {} runs this is not evidence that the rates are equal.",
                percent(rate(a)),
                percent(rate(b)),
                a.judged,
                b.judged
            )
        })
    }

    fn summary_phrase(&self, alpha: f64, _opts: &ReportOptions) -> Option<(String, String)> {
        Some((
            format!("differ in failure rate at p < {alpha}"),
            "Fisher's exact test, two-sided".into(),
        ))
    }
}
