//! Sequential sweeps: the `[stopping]` table, and a driver that runs a sweep in blocks of
//! seeds through any [`Launcher`], asking an analyst after each block whether to stop.
//!
//! ```toml
//! [stopping]
//! contrast = ["devlin", "mosbach"]   # or [["a", "b"], ["a", "c"]]: the planned comparison(s)
//! test = "fisher"                    # or "welch"
//! alpha = 0.05
//! look_every = 5                     # seeds per group between analyses
//! max_seeds = 25
//! spending = "obrien-fleming"        # Lan–DeMets alpha spending; or "pocock"
//! ```
//!
//! Design decisions:
//! - **The whole study moves in blocks.** Look k covers the first n_k runs of *every* group
//!   (n_k = k·look_every, and max_seeds at the last look), in expansion order within the group
//!   (seed order for a seed axis), so a stopped study is balanced and its other groups are
//!   reported at the same n. Runs of a group past `max_seeds` are never launched.
//! - **The store stays the source of truth; the driver keeps no state.** Each call walks the
//!   looks from the first: a look whose runs all have final records is re-analysed (the
//!   analysis is a pure function of the records, so it gives the same answer), the first look
//!   with unfinished runs is launched. Resuming a stopped or killed sequential sweep therefore
//!   continues from its last look, and a look already past a boundary launches nothing more.
//! - **The statistics are not here.** This crate knows no statistics (and links none); the
//!   caller's [`Analyst`] decides at each look (`stab sweep` uses stab-stats' group-sequential
//!   designs), and the driver only orders the blocks.
//! - **Any launcher.** A launcher that runs the block here ([`Launched::Ran`]) lets the driver
//!   analyse at once; one that queues it ([`Launched::Queued`], Slurm) ends the step with
//!   [`Step::Queued`]: the caller waits for the records (or is run again later) and steps on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stab_store::{PlannedRun, Store};

use crate::{Error, Launch, Launched, Launcher};

/// A contrast as written: one pair, or a list of pairs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum ContrastSpec {
    One(String, String),
    Many(Vec<(String, String)>),
}

/// The `[stopping]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoppingFile {
    contrast: ContrastSpec,
    test: String,
    #[serde(default = "default_alpha")]
    alpha: f64,
    look_every: usize,
    max_seeds: usize,
    #[serde(default = "default_spending")]
    spending: String,
}

fn default_alpha() -> f64 {
    0.05
}

fn default_spending() -> String {
    "obrien-fleming".into()
}

/// A sweep's stopping rule: its `[stopping]` table, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopping {
    /// The planned comparisons (group labels).
    pub contrasts: Vec<(String, String)>,
    /// `fisher` or `welch`.
    pub test: String,
    /// Two-sided level of the whole design (split equally over the contrasts).
    pub alpha: f64,
    pub look_every: usize,
    pub max_seeds: usize,
    /// `obrien-fleming` or `pocock`.
    pub spending: String,
}

impl Stopping {
    /// Reads and checks a `[stopping]` table; the error names the field.
    pub(crate) fn from_table(table: &toml::Table) -> Result<Stopping, (String, String)> {
        let f: StoppingFile = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| (e.path().to_string(), e.inner().to_string()))?;
        let contrasts = match f.contrast {
            ContrastSpec::One(a, b) => vec![(a, b)],
            ContrastSpec::Many(v) => v,
        };
        if contrasts.is_empty() {
            return Err((
                "contrast".into(),
                "needs at least one pair of groups".into(),
            ));
        }
        if let Some((a, _)) = contrasts.iter().find(|(a, b)| a == b) {
            return Err(("contrast".into(), format!("`{a}` is compared with itself")));
        }
        if !["fisher", "welch"].contains(&f.test.as_str()) {
            return Err((
                "test".into(),
                format!("expected \"fisher\" or \"welch\", got \"{}\"", f.test),
            ));
        }
        if !["obrien-fleming", "pocock"].contains(&f.spending.as_str()) {
            return Err((
                "spending".into(),
                format!(
                    "expected \"obrien-fleming\" or \"pocock\" (Lan–DeMets alpha spending), got \"{}\"",
                    f.spending
                ),
            ));
        }
        if !(f.alpha > 0.0 && f.alpha < 1.0) {
            return Err((
                "alpha".into(),
                format!("must be in (0, 1), got {}", f.alpha),
            ));
        }
        if f.look_every == 0 {
            return Err(("look_every".into(), "must be at least 1".into()));
        }
        if f.max_seeds < 2 || f.max_seeds < f.look_every {
            return Err((
                "max_seeds".into(),
                format!(
                    "must be at least 2 and at least look_every ({}), got {}",
                    f.look_every, f.max_seeds
                ),
            ));
        }
        Ok(Stopping {
            contrasts,
            test: f.test,
            alpha: f.alpha,
            look_every: f.look_every,
            max_seeds: f.max_seeds,
            spending: f.spending,
        })
    }

    /// Seeds per group at each look: look_every, 2·look_every, …, and max_seeds last.
    pub fn seeds_per_look(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (1..)
            .map(|k| k * self.look_every)
            .take_while(|&n| n < self.max_seeds)
            .collect();
        v.push(self.max_seeds);
        v
    }

    /// Checks the rule against the expansion: every contrast group exists and has at least
    /// `max_seeds` runs.
    pub(crate) fn check_runs(&self, runs: &[PlannedRun]) -> Result<(), String> {
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for r in runs {
            *sizes.entry(r.group.as_str()).or_default() += 1;
        }
        for (a, b) in &self.contrasts {
            for g in [a, b] {
                match sizes.get(g.as_str()) {
                    None => {
                        return Err(format!(
                            "contrast: `{g}` is not a group of this sweep (groups: {})",
                            sizes
                                .keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                    Some(&n) if n < self.max_seeds => {
                        return Err(format!(
                            "max_seeds: group `{g}` has only {n} runs; the sweep's axes must give at least max_seeds = {} per group",
                            self.max_seeds
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The runs of each look: for every group, its first n_k runs in expansion order.
pub fn look_runs(runs: &[PlannedRun], n: usize) -> Vec<PlannedRun> {
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    runs.iter()
        .filter(|r| {
            let c = taken.entry(r.group.as_str()).or_default();
            *c += 1;
            *c <= n
        })
        .cloned()
        .collect()
}

/// Decides at a look whether the study stops.
pub trait Analyst {
    /// Analyses look `look` (0-based) over `runs` (the look's runs of every group, all
    /// finished); `Some(reason)` stops the sweep.
    fn analyse(
        &mut self,
        store: &Store,
        look: usize,
        runs: &[PlannedRun],
    ) -> Result<Option<String>, Error>;
}

/// What one step of a sequential sweep did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A boundary was crossed at this look (0-based): the sweep is done.
    Stopped { look: usize, reason: String },
    /// Every look was run and analysed without a crossing: the sweep is done at max_seeds.
    Exhausted { looks: usize },
    /// The launcher queued this look's runs; step again when they have records.
    Queued { look: usize, what: Option<String> },
    /// This look's runs are not all finished after the launcher ran (interrupted, or running
    /// elsewhere): step again later.
    Unfinished { look: usize, unfinished: usize },
}

/// One step: analyses the finished looks in order and launches the first unfinished one (see
/// the module docs). A local launcher makes this run until the sweep stops or a launch leaves
/// runs unfinished; a queueing one returns after queueing a block.
pub fn sequential_step(
    store: &Store,
    runs: &[PlannedRun],
    rule: &Stopping,
    launcher: &dyn Launcher,
    launch: &Launch,
    analyst: &mut dyn Analyst,
) -> Result<Step, Error> {
    let looks = rule.seeds_per_look();
    for (k, &n) in looks.iter().enumerate() {
        let block = look_runs(runs, n);
        let unfinished = |store: &Store| {
            block
                .iter()
                .filter(|r| !store.state(&r.run_id).is_final(launch.retry))
                .count()
        };
        if unfinished(store) > 0 {
            match launcher.launch(store, &block, launch)? {
                Launched::Queued(what) if unfinished(store) > 0 => {
                    return Ok(Step::Queued { look: k, what })
                }
                _ => {}
            }
            let left = unfinished(store);
            if left > 0 {
                return Ok(Step::Unfinished {
                    look: k,
                    unfinished: left,
                });
            }
        }
        if let Some(reason) = analyst.analyse(store, k, &block)? {
            return Ok(Step::Stopped { look: k, reason });
        }
    }
    Ok(Step::Exhausted { looks: looks.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn a_stopping_table_reads_one_or_many_contrasts() {
        let one = Stopping::from_table(&table(
            "contrast = [\"a\", \"b\"]\ntest = \"fisher\"\nlook_every = 5\nmax_seeds = 25\n",
        ))
        .unwrap();
        assert_eq!(one.contrasts, vec![("a".into(), "b".into())]);
        assert_eq!(one.spending, "obrien-fleming");
        assert_eq!(one.seeds_per_look(), vec![5, 10, 15, 20, 25]);
        let many = Stopping::from_table(&table(
            "contrast = [[\"a\", \"b\"], [\"a\", \"c\"]]\ntest = \"welch\"\nlook_every = 4\nmax_seeds = 10\nspending = \"pocock\"\n",
        ))
        .unwrap();
        assert_eq!(many.contrasts.len(), 2);
        assert_eq!(many.seeds_per_look(), vec![4, 8, 10]);
    }

    #[test]
    fn stopping_mistakes_name_the_field() {
        let e = |s: &str| Stopping::from_table(&table(s)).unwrap_err();
        let base = "contrast = [\"a\", \"b\"]\nlook_every = 5\nmax_seeds = 25\n";
        assert_eq!(e(&format!("{base}test = \"t\"\n")).0, "test");
        assert_eq!(
            e(&format!("{base}test = \"fisher\"\nspending = \"linear\"\n")).0,
            "spending"
        );
        assert_eq!(
            e(&format!("{base}test = \"fisher\"\nalpha = 1.5\n")).0,
            "alpha"
        );
        assert_eq!(
            e("contrast = [\"a\", \"b\"]\ntest = \"fisher\"\nlook_every = 5\nmax_seeds = 3\n").0,
            "max_seeds"
        );
        assert!(e(&format!("{base}test = \"fisher\"\nlooks = 3\n"))
            .1
            .contains("unknown field"));
    }
}
