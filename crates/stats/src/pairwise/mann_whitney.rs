//! The Mann–Whitney U test (SciPy's `method="auto"`).

use super::{Columns, Kind, Pair, PairTest, Row, Topic};
use crate::fmt::p_value;
use crate::hypothesis::{mann_whitney, MannWhitneyResult};
use crate::summary::Tested;

pub(crate) struct MannWhitney;

impl PairTest for MannWhitney {
    type Output = MannWhitneyResult;
    const KEY: &'static str = "mann_whitney";
    const KIND: Kind = Kind::PValue;
    const TOPIC: Topic = Topic::Location;
    const COLUMNS: &'static Columns = &Columns {
        full: &["Mann–Whitney U, p"],
        short: &["M–W p"],
        csv: &["mannwhitney_u", "mannwhitney_p"],
    };

    fn run(&self, pair: &Pair) -> Tested<MannWhitneyResult> {
        mann_whitney(&pair.a.scores, &pair.b.scores)
    }
    fn p(&self, r: &MannWhitneyResult) -> Option<f64> {
        Some(r.p)
    }
    fn shown(&self, m: &MannWhitneyResult, _row: &Row) -> String {
        let exact = if m.exact { " (exact)" } else { "" };
        format!("{}, {}{exact}", m.u, p_value(m.p))
    }
    fn stats(&self, m: &MannWhitneyResult) -> Vec<String> {
        vec![m.u.to_string()]
    }
}
