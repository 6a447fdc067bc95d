//! TOST: two one-sided Welch tests of equivalence within ±δ (`--equivalence-margin δ`), the
//! only ground for "no difference larger than δ" ([`crate::family::tost`]). Runs only when
//! the report is given a margin.

use super::welch::inconclusive;
use super::{decisive, p_text, Columns, Kind, Pair, PairTest, Row, Topic};
use crate::family::{tost, TostResult};
use crate::fmt::p_value;
use crate::hypothesis::{Degenerate, DegenerateKind};
use crate::summary::{ReportOptions, Tested};

pub(crate) struct Tost;

impl PairTest for Tost {
    type Output = TostResult;
    const KEY: &'static str = "tost";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Location;
    const COLUMNS: &'static Columns = &Columns {
        full: &["TOST equivalence ±δ: A − B, p"],
        short: &["TOST p"],
        csv: &[
            "tost_margin",
            "tost_difference",
            "tost_t_lower",
            "tost_t_upper",
            "tost_df",
            "tost_p",
        ],
    };

    fn enabled(&self, opts: &ReportOptions) -> bool {
        opts.equivalence_margin.is_some()
    }

    fn run(&self, pair: &Pair) -> Tested<TostResult> {
        let margin = pair.opts.equivalence_margin.ok_or_else(|| {
            Degenerate::new(DegenerateKind::Design, "no --equivalence-margin given")
        })?;
        tost(&pair.a.scores, &pair.b.scores, margin)
    }
    fn p(&self, r: &TostResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, r: &TostResult, _row: &Row) -> String {
        format!("±{}: {:+.4}, {}", r.margin, r.difference, p_value(r.p))
    }
    fn stats(&self, r: &TostResult) -> Vec<String> {
        vec![
            r.margin.to_string(),
            r.difference.to_string(),
            r.t_lower.to_string(),
            r.t_upper.to_string(),
            r.df.to_string(),
        ]
    }

    fn sentence(
        &self,
        r: Result<&TostResult, &Degenerate>,
        adj: Option<f64>,
        row: &Row,
    ) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
        let r = match r {
            Ok(r) => r,
            Err(d) => {
                return Some(format!(
                    "Equivalence of `{ca}` and `{cb}` was not tested (TOST): {}.",
                    d.reason
                ))
            }
        };
        let p = p_text(r.p, adj);
        Some(if decisive(r.p, adj) < row.alpha {
            format!(
                "`{ca}` and `{cb}` are equivalent within ±{}: their mean scores differ by {:+.4} (TOST, two one-sided Welch tests, {p}).",
                r.margin, r.difference
            )
        } else {
            format!(
                "Equivalence of `{ca}` and `{cb}` within ±{} is not shown (difference {:+.4}; TOST, {p}){}.",
                r.margin,
                r.difference,
                inconclusive(row).map_or(String::new(), |t| format!(": {t}"))
            )
        })
    }

    fn summary_phrase(&self, alpha: f64, opts: &ReportOptions) -> Option<(String, String)> {
        let margin = opts.equivalence_margin?;
        Some((
            format!("are equivalent within ±{margin} at p < {alpha}"),
            "TOST, two one-sided Welch tests".into(),
        ))
    }
}
