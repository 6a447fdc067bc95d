//! Welch's unequal-variance t-test of the mean scores. A non-significant difference is said to
//! be inconclusive, with the smallest difference the data can exclude
//! ([`crate::family::excludable_difference`]); equivalence is the TOST entry's to claim.

use super::{decisive, p_text, Columns, Kind, Pair, PairTest, Row, Topic};
use crate::family::excludable_difference;
use crate::fmt::p_value;
use crate::hypothesis::{welch, Degenerate, WelchResult};
use crate::summary::{GroupSummary, ReportOptions, Tested};

pub(crate) struct Welch;

fn mean_text(g: Option<&GroupSummary>) -> String {
    g.and_then(|g| g.stats.as_ref())
        .map_or("n/a".into(), |d| format!("{:.4}", d.mean))
}

/// "inconclusive at n = 5 and 5: the data exclude only differences larger than 0.0340 (…)".
pub(crate) fn inconclusive(row: &Row) -> Option<String> {
    let (a, b) = (row.a?, row.b?);
    let d = excludable_difference(&a.scores, &b.scores, row.alpha).ok()?;
    Some(format!(
        "inconclusive at n = {} and {}: the data exclude only differences in mean larger than {d:.4} (the farther bound of the {:.0}% interval of the difference)",
        a.n,
        b.n,
        (1.0 - 2.0 * row.alpha) * 100.0
    ))
}

impl PairTest for Welch {
    type Output = WelchResult;
    const KEY: &'static str = "welch";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Location;
    const COLUMNS: &'static Columns = &Columns {
        full: &["Welch t (df), p"],
        short: &["Welch p"],
        csv: &["welch_t", "welch_df", "welch_p"],
    };

    fn run(&self, pair: &Pair) -> Tested<WelchResult> {
        welch(&pair.a.scores, &pair.b.scores)
    }
    fn p(&self, r: &WelchResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, w: &WelchResult, _row: &Row) -> String {
        format!("{:.3} ({:.1}), {}", w.t, w.df, p_value(w.p))
    }
    fn stats(&self, w: &WelchResult) -> Vec<String> {
        vec![w.t.to_string(), w.df.to_string()]
    }

    fn sentence(
        &self,
        r: Result<&WelchResult, &Degenerate>,
        adj: Option<f64>,
        row: &Row,
    ) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
        let w = match r {
            Ok(w) => w,
            Err(d) => {
                return Some(format!(
                    "Mean scores of `{ca}` and `{cb}` were not compared (Welch's t-test): {}.",
                    d.reason
                ))
            }
        };
        let (ma, mb) = (mean_text(row.a), mean_text(row.b));
        let p = p_text(w.p, adj);
        Some(if decisive(w.p, adj) < row.alpha {
            let (hi, lo, mhi, mlo) = if w.t >= 0.0 {
                (ca, cb, ma, mb)
            } else {
                (cb, ca, mb, ma)
            };
            format!(
                "`{hi}` scores higher than `{lo}` on average (mean {mhi} vs {mlo}; Welch's t-test, {p})."
            )
        } else {
            let rest = if row.opts.equivalence_margin.is_some() {
                String::new()
            } else {
                inconclusive(row).map_or(String::new(), |t| {
                    format!(" — not evidence of equal means: {t}; `--equivalence-margin δ` tests equivalence")
                })
            };
            format!(
                "No significant difference in mean score between `{ca}` and `{cb}` (mean {ma} vs {mb}; Welch's t-test, {p}){rest}."
            )
        })
    }

    fn summary_phrase(&self, alpha: f64, _opts: &ReportOptions) -> Option<(String, String)> {
        Some((
            format!("differ in mean score at p < {alpha}"),
            "Welch's t-test".into(),
        ))
    }
}
