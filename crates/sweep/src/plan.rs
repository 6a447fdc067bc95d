//! Dry run: what a launch would do and roughly what it costs.
//!
//! The listing is written entry by entry ([`Listing`]), so `stab sweep --dry-run` can stream a
//! sweep of any size ([`dry_run_streamed`]) while [`dry_run`] keeps the entries for callers
//! that want them.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::io;
use std::path::PathBuf;

use stab_data::BUILTIN_TRAIN_SIZES as TRAIN_SIZES;
use stab_spec::{RunRecord, RunSpec, RunStatus};

use stab_store::{PlannedRun, RunState, Store};

use crate::expand::Expansion;
use crate::Error;

/// One line of a dry run.
#[derive(Debug, Clone)]
pub struct DryRunEntry {
    pub run: PlannedRun,
    pub state: RunState,
    /// Optimizer steps, when the training-set size is known.
    pub steps: Option<u64>,
    /// Training examples processed (steps × batch size).
    pub examples: Option<u64>,
}

/// The result of [`dry_run`]; its `Display` is the listing `stab sweep --dry-run` prints.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub sweep: String,
    pub entries: Vec<DryRunEntry>,
    pub retry: bool,
    pub workers: usize,
    /// Median training examples per second of past ok runs like these, and how many.
    pub examples_per_second: Option<(f64, usize)>,
}

impl DryRun {
    /// Runs a launch would execute.
    pub fn to_run(&self) -> impl Iterator<Item = &DryRunEntry> {
        self.entries
            .iter()
            .filter(|e| e.state.needs_running(self.retry))
    }

    /// Estimated wall-clock seconds of the runs to execute, spread over the workers.
    pub fn estimated_seconds(&self) -> Option<f64> {
        let examples: u64 = self.to_run().map(|e| e.examples).sum::<Option<u64>>()?;
        Some(estimate(examples, self.examples_per_second?, self.workers))
    }
}

/// Lists `runs` with their state in `store` (which need not exist) and a cost estimate: steps ×
/// batch from the spec and known training-set sizes, seconds from the examples/s of past ok
/// records in this store and its sibling stores. Reads only.
pub fn dry_run(store: &Store, runs: &[PlannedRun], workers: usize, retry: bool) -> DryRun {
    let keys: HashSet<SpeedKey> = runs.iter().map(|r| speed_key(&r.spec)).collect();
    let entries: Vec<DryRunEntry> = runs
        .iter()
        .map(|r| {
            let steps = steps(&r.spec);
            DryRunEntry {
                run: r.clone(),
                state: store.state(&r.run_id),
                steps,
                examples: steps.map(|s| s * r.spec.batch_size as u64),
            }
        })
        .collect();
    let sweep = store
        .root()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    DryRun {
        sweep,
        examples_per_second: past_speed(store, &keys),
        entries,
        retry,
        workers,
    }
}

/// Wall-clock seconds of `examples` training examples at the past `(examples/s, runs)` speed
/// per run, spread over `workers`.
fn estimate(examples: u64, (rate, _): (f64, usize), workers: usize) -> f64 {
    examples as f64 / rate / workers.max(1) as f64
}

fn steps(spec: &RunSpec) -> Option<u64> {
    if let Some(m) = spec.max_steps {
        return Some(m);
    }
    let size = TRAIN_SIZES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(&spec.task))
        .map(|(_, n)| *n);
    let n = match (spec.train_subset, size) {
        (Some(s), Some(size)) => (s as u64).min(size),
        (Some(s), None) => s as u64,
        (None, size) => size?,
    };
    Some(n.div_ceil(spec.batch_size as u64) * spec.epochs as u64)
}

/// [`dry_run`] for sweeps of any size: resolves the runs of `expansion` one at a time and
/// writes each line to `out` as it goes, keeping only totals. A closed pipe (`| head`) ends the
/// listing quietly.
pub fn dry_run_streamed(
    store: &Store,
    expansion: &Expansion,
    workers: usize,
    retry: bool,
    out: &mut dyn io::Write,
) -> Result<(), Error> {
    let write_err = |source: io::Error| Error::Io {
        path: PathBuf::from("<stdout>"),
        source,
    };
    let mut listing = Listing::new(retry, workers);
    let mut keys = HashSet::new();
    let mut line = Listing::header();
    let result = out
        .write_all(line.as_bytes())
        .map_err(write_err)
        .and_then(|()| {
            expansion.for_each_run(|run| {
                keys.insert(speed_key(&run.spec));
                let state = store.state(&run.run_id);
                line.clear();
                listing.entry(&mut line, &run, &state, steps(&run.spec));
                out.write_all(line.as_bytes()).map_err(write_err)
            })
        });
    match result {
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            return Ok(())
        }
        r => r?,
    };
    line.clear();
    listing.summary(&mut line, past_speed(store, &keys));
    match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(write_err(e)),
        _ => Ok(()),
    }
}

/// What makes past runs comparable in speed: model, length and whether the encoder trains.
type SpeedKey = (PathBuf, usize, bool);

fn speed_key(spec: &RunSpec) -> SpeedKey {
    (spec.model.clone(), spec.max_length, spec.fine_tunes())
}

/// Median examples/s of past ok records, preferring runs of the same model and length.
fn past_speed(store: &Store, keys: &HashSet<SpeedKey>) -> Option<(f64, usize)> {
    let mut records = Vec::new();
    let mut roots = vec![store.root().to_path_buf()];
    if let Some(parent) = store.root().parent() {
        if let Ok(dir) = std::fs::read_dir(parent) {
            roots.extend(
                dir.flatten()
                    .map(|e| e.path())
                    .filter(|p| p != store.root()),
            );
        }
    }
    for root in roots {
        // An estimate: folders that cannot be read only leave it with fewer samples.
        for dir in Store::open(root).run_dirs().0 {
            if let Ok(r) = RunRecord::read(&dir.record()) {
                if r.status == RunStatus::Ok && r.timing.train_examples_per_second > 0.0 {
                    records.push(r);
                }
            }
        }
    }
    let similar: Vec<f64> = records
        .iter()
        .filter(|r| keys.contains(&speed_key(&r.spec)))
        .map(|r| r.timing.train_examples_per_second)
        .collect();
    let mut speeds = if similar.is_empty() {
        records
            .iter()
            .map(|r| r.timing.train_examples_per_second)
            .collect()
    } else {
        similar
    };
    if speeds.is_empty() {
        return None;
    }
    speeds.sort_by(|a, b| a.total_cmp(b));
    Some((speeds[speeds.len() / 2], speeds.len()))
}

fn state_str(s: &RunState) -> &'static str {
    match s {
        RunState::Pending => "pending",
        RunState::Running => "running",
        RunState::Finished(st) => st.as_str(),
        RunState::Unreadable(_) => "unreadable",
    }
}

/// A dry run's listing, written entry by entry with running totals.
struct Listing {
    retry: bool,
    workers: usize,
    total: usize,
    done: usize,
    running: usize,
    todo: usize,
    /// Steps and examples of the runs to execute; `None` once one of them is unknown.
    steps: Option<u64>,
    examples: Option<u64>,
}

impl Listing {
    fn new(retry: bool, workers: usize) -> Listing {
        Listing {
            retry,
            workers,
            total: 0,
            done: 0,
            running: 0,
            todo: 0,
            steps: Some(0),
            examples: Some(0),
        }
    }

    fn header() -> String {
        format!(
            "{:>4}  {:16}  {:11}  {:>8}  group / axes\n",
            "#", "run id", "state", "steps"
        )
    }

    /// Appends the line of one run to `out` and counts it.
    fn entry(&mut self, out: &mut String, run: &PlannedRun, state: &RunState, steps: Option<u64>) {
        let axes: Vec<String> = run.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let shown = steps.map_or("?".into(), |s| s.to_string());
        let _ = writeln!(
            out,
            "{:>4}  {:16}  {:11}  {:>8}  {}  [{}]",
            run.index,
            run.run_id,
            state_str(state),
            shown,
            run.group,
            axes.join(", ")
        );
        self.total += 1;
        if state.is_final(self.retry) {
            self.done += 1;
        } else if *state == RunState::Running {
            self.running += 1;
        } else {
            self.todo += 1;
            let examples = steps.map(|s| s * run.spec.batch_size as u64);
            self.steps = self.steps.zip(steps).map(|(a, b)| a + b);
            self.examples = self.examples.zip(examples).map(|(a, b)| a + b);
        }
    }

    fn estimated_seconds(&self, speed: Option<(f64, usize)>) -> Option<f64> {
        Some(estimate(self.examples?, speed?, self.workers))
    }

    /// Appends the totals and the time estimate to `out`.
    fn summary(&self, out: &mut String, speed: Option<(f64, usize)>) {
        let _ = write!(
            out,
            "{} runs: {} already done, {} running elsewhere, {} to run",
            self.total, self.done, self.running, self.todo
        );
        let _ = match (self.steps, self.examples) {
            (Some(s), Some(x)) => write!(out, "; {s} optimizer steps, {x} training examples"),
            _ => write!(
                out,
                "; cost unknown (a task of unknown size without train_subset)"
            ),
        };
        let _ = match (self.estimated_seconds(speed), speed) {
            (Some(secs), Some((rate, n))) => writeln!(
                out,
                "\nestimate: ~{:.1} min with {} workers at {rate:.1} examples/s per run (median \
                 of {n} past runs; evaluation not included)",
                secs / 60.0,
                self.workers
            ),
            _ => writeln!(out, "\nno past records to estimate time from"),
        };
    }
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut listing = Listing::new(self.retry, self.workers);
        let mut text = Listing::header();
        for e in &self.entries {
            listing.entry(&mut text, &e.run, &e.state, e.steps);
        }
        listing.summary(&mut text, self.examples_per_second);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_use_subset_epochs_and_max_steps() {
        let mut s = stab_spec::preset("devlin").unwrap();
        assert_eq!(steps(&s), Some(2490u64.div_ceil(16) * 3));
        s.train_subset = Some(100);
        assert_eq!(steps(&s), Some(7 * 3));
        s.max_steps = Some(5);
        assert_eq!(steps(&s), Some(5));
        s.max_steps = None;
        s.train_subset = None;
        s.task = "custom.toml".into();
        assert_eq!(steps(&s), None);
    }
}
