//! Welch's unequal-variance t-test of the mean scores.

use super::{Columns, Kind, Pair, PairTest, Row, Topic};
use crate::fmt::p_value;
use crate::hypothesis::{welch, WelchResult};
use crate::summary::Tested;

pub(crate) struct Welch;

impl PairTest for Welch {
    type Output = WelchResult;
    const KEY: &'static str = "welch";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Location;
    const COLUMNS: Columns = Columns {
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
}
