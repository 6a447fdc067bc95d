//! The schema of a sweep file: what its tables hold, as serde reads them (the format is
//! documented in the crate docs). Values keep their spans ([`Spanned`]) for the checker
//! (`checker.rs`), which validates them against the run spec; the expansion (`expand.rs`)
//! turns the checked file into runs.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// The fields of one `[zip.*]` block.
pub(crate) type ZipFields = BTreeMap<Spanned<String>, Spanned<AxisValues>>;

/// A table whose keys and values keep their spans.
pub(crate) type SpannedTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The keys of a sweep file that the schema knows; any other top-level key must name a
/// launcher (its table of settings, see [`crate::Launcher`]).
pub(crate) const KEYS: &[&str] = &[
    "name",
    "description",
    "base",
    "group",
    "axes",
    "zip",
    "group_by",
    "max_runs",
    "analysis",
    "stopping",
];

/// A sweep file as written. Keys are kept with their spans, so that every later check can point
/// at the offending key or value.
#[derive(Deserialize)]
pub(crate) struct SweepFile {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    #[serde(default)]
    pub base: SpannedTable,
    #[serde(default)]
    pub group: Vec<GroupEntry>,
    #[serde(default)]
    pub axes: BTreeMap<Spanned<String>, Spanned<AxisValues>>,
    #[serde(default)]
    pub zip: BTreeMap<Spanned<String>, ZipFields>,
    pub group_by: Option<Spanned<Vec<Spanned<String>>>>,
    /// Raises (or lowers) [`crate::MAX_RUNS`] for this sweep.
    pub max_runs: Option<Spanned<u64>>,
    /// The study's pre-registered analysis (`contrasts`, `alpha`, `equivalence_margin`): read
    /// by `stab report` from the `sweep.toml` saved in the store; no part of any run.
    #[allow(dead_code)]
    pub analysis: Option<toml::Table>,
    /// A sequential design (`crate::sequential::Stopping`): no part of any run.
    pub stopping: Option<Spanned<toml::Table>>,
    /// Every other top-level key: the launchers' tables (`[slurm]`, `[local]`), or a mistake
    /// that the checker reports (the schema does not know the launchers).
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupEntry {
    pub name: Spanned<String>,
    #[serde(default)]
    pub set: SpannedTable,
}

/// The most values a range axis may have (a million seeds is already more than any sweep runs).
pub(crate) const MAX_RANGE_VALUES: i64 = 1_000_000;

/// An axis: a list of values, or an integer range `{ start, end, step }` (end exclusive).
pub(crate) enum AxisValues {
    List(Vec<Spanned<toml::Value>>),
    Range { start: i64, end: i64, step: i64 },
}

impl<'de> Deserialize<'de> for AxisValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a list of values or a range `{ start = 0, end = 5 }`";
        impl<'de> Visitor<'de> for V {
            type Value = AxisValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AxisValues, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<toml::Value>>()? {
                    out.push(v);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("an axis needs at least one value"));
                }
                Ok(AxisValues::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AxisValues, A::Error> {
                let (mut start, mut end, mut step) = (None, None, None);
                while let Some(k) = map.next_key::<String>()? {
                    let slot = match k.as_str() {
                        "start" => &mut start,
                        "end" => &mut end,
                        "step" => &mut step,
                        other => {
                            return Err(de::Error::unknown_field(other, &["start", "end", "step"]))
                        }
                    };
                    *slot = Some(map.next_value::<i64>()?);
                }
                let start = start.ok_or_else(|| de::Error::missing_field("start"))?;
                let end = end.ok_or_else(|| de::Error::missing_field("end"))?;
                let step = step.unwrap_or(1);
                if step <= 0 || end <= start {
                    return Err(de::Error::custom(
                        "expected a non-empty range: start < end (end exclusive) and step ≥ 1",
                    ));
                }
                Ok(AxisValues::Range { start, end, step })
            }
        }
        d.deserialize_any(V)
    }
}
