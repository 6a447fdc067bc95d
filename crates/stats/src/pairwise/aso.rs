//! Almost Stochastic Order ([`crate::aso`]): ε_min in both directions and a verdict. A
//! dominance measure, not a test with a p-value: its columns follow the tests' in the tables.

use super::{Columns, Kind, Pair, PairTest, Row, Topic};
use crate::aso::{aso, AsoResult};
use crate::hypothesis::Degenerate;
use crate::summary::{ReportOptions, Tested};

pub(crate) struct Aso;

/// Fewest scored runs per group ASO is computed from. Its ε_min is a bootstrap bound, and a
/// group of n runs has at most C(2n−1, n) distinct resamples (3 at n = 2, 10 at n = 3, 126 at
/// n = 5): below 5 the "confidence bound" is a handful of values, and dominance read from two
/// runs per group is noise. Below it the report says `n/a: degenerate (a group has 2 runs; the
/// test needs 5 per group)`.
pub(crate) const ASO_MIN_RUNS: usize = 5;

impl PairTest for Aso {
    type Output = AsoResult;
    const KEY: &'static str = "aso";
    const KIND: Kind = Kind::Dominance;
    const TOPIC: Topic = Topic::Dominance;
    const COLUMNS: &'static Columns = &Columns {
        full: &["ASO ε_min(A≻B)", "ASO ε_min(B≻A)", "ASO verdict"],
        short: &["ε(A≻B)", "ε(B≻A)"],
        csv: &["aso_eps_min_ab", "aso_eps_min_ba"],
    };

    /// Not below [`ASO_MIN_RUNS`] runs per group.
    fn run(&self, pair: &Pair) -> Tested<AsoResult> {
        // aso's own reasons (no runs, constant groups) first: they hold at any size.
        let r = aso(&pair.a.scores, &pair.b.scores, pair.aso, pair.salt)?;
        let smallest = pair.a.scores.len().min(pair.b.scores.len());
        if smallest < ASO_MIN_RUNS {
            return Err(Degenerate::too_few_runs(smallest, ASO_MIN_RUNS));
        }
        Ok(r)
    }
    fn p(&self, _r: &AsoResult) -> Option<f64> {
        None
    }

    /// ε_min(A≻B), ε_min(B≻A) and the verdict; a degenerate ASO gives its reason in the first
    /// cell only.
    fn full(&self, r: Result<&AsoResult, &Degenerate>, row: &Row) -> Vec<String> {
        let tau = row.opts.aso_tau;
        match r {
            Ok(a) => vec![
                format!("{:.3}", a.eps_min_ab),
                format!("{:.3}", a.eps_min_ba),
                if a.eps_min_ab < tau {
                    format!("{} ≻ {}", row.name_a, row.name_b)
                } else if a.eps_min_ba < tau {
                    format!("{} ≻ {}", row.name_b, row.name_a)
                } else {
                    "neither".into()
                },
            ],
            Err(d) => vec![d.cell(), "n/a: degenerate".into(), "n/a".into()],
        }
    }

    fn short(&self, r: Result<&AsoResult, &Degenerate>, _row: &Row) -> Vec<String> {
        match r {
            Ok(a) => vec![
                format!("{:.3}", a.eps_min_ab),
                format!("{:.3}", a.eps_min_ba),
            ],
            Err(d) => vec![d.short_cell(), "n/a: degenerate".into()],
        }
    }

    fn csv(&self, r: Result<&AsoResult, &Degenerate>) -> Vec<String> {
        match r {
            Ok(a) => vec![a.eps_min_ab.to_string(), a.eps_min_ba.to_string()],
            Err(d) => vec![d.cell(), d.cell()],
        }
    }

    fn sentence(
        &self,
        r: Result<&AsoResult, &Degenerate>,
        _adj: Option<f64>,
        row: &Row,
    ) -> Option<String> {
        let (ca, cb) = (row.name_a, row.name_b);
        let tau = row.opts.aso_tau;
        Some(match r {
            Err(d) => format!(
                "Almost stochastic order of `{ca}` and `{cb}` was not computed: {}.",
                d.reason
            ),
            Ok(r) if r.eps_min_ab < tau && r.eps_min_ab <= r.eps_min_ba => format!(
                "`{ca}` almost stochastically dominates `{cb}` (ASO ε_min(`{ca}`≻`{cb}`) = {:.3} < τ = {tau}).",
                r.eps_min_ab
            ),
            Ok(r) if r.eps_min_ba < tau => format!(
                "`{cb}` almost stochastically dominates `{ca}` (ASO ε_min(`{cb}`≻`{ca}`) = {:.3} < τ = {tau}).",
                r.eps_min_ba
            ),
            Ok(r) => format!(
                "Neither `{ca}` nor `{cb}` almost stochastically dominates the other (ASO ε_min(`{ca}`≻`{cb}`) = {:.3}, ε_min(`{cb}`≻`{ca}`) = {:.3}, both ≥ τ = {tau}).",
                r.eps_min_ab, r.eps_min_ba
            ),
        })
    }

    fn summary_phrase(&self, _alpha: f64, opts: &ReportOptions) -> Option<(String, String)> {
        Some((
            "show almost stochastic dominance".into(),
            format!("ASO ε_min < τ = {}", opts.aso_tau),
        ))
    }

    /// `` `w` ≻ `l` (ε_min = …) `` for the dominating direction, when ε_min < τ.
    fn hit(&self, r: &AsoResult, _adj: Option<f64>, row: &Row) -> Option<String> {
        let (w, l, e) = if r.eps_min_ab <= r.eps_min_ba {
            (row.name_a, row.name_b, r.eps_min_ab)
        } else {
            (row.name_b, row.name_a, r.eps_min_ba)
        };
        (e < row.opts.aso_tau).then(|| format!("`{w}` ≻ `{l}` (ε_min = {e:.3})"))
    }
}
