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
use stab_spec::{eval_steps, RunRecord, RunSpec, RunStatus};

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
    /// Evaluations the run makes (as its training loop schedules them).
    pub evals: Option<u64>,
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
    /// Median seconds per evaluation of those runs (their wall time outside training, setup
    /// included, over their evaluations), when they have evaluations.
    pub seconds_per_eval: Option<f64>,
}

impl DryRun {
    /// Runs a launch would execute.
    pub fn to_run(&self) -> impl Iterator<Item = &DryRunEntry> {
        self.entries
            .iter()
            .filter(|e| e.state.needs_running(self.retry))
    }

    /// Estimated wall-clock seconds of the runs to execute, training and evaluation, spread
    /// over the workers.
    pub fn estimated_seconds(&self) -> Option<f64> {
        let examples: u64 = self.to_run().map(|e| e.examples).sum::<Option<u64>>()?;
        let evals: Option<u64> = self.to_run().map(|e| e.evals).sum();
        Some(estimate(examples, evals, &self.speed()?, self.workers))
    }

    fn speed(&self) -> Option<PastSpeed> {
        let (rate, runs) = self.examples_per_second?;
        Some(PastSpeed {
            rate,
            runs,
            per_eval: self.seconds_per_eval,
        })
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
                examples: steps.map(|s| s * step_batch(&r.spec)),
                evals: evals(&r.spec),
            }
        })
        .collect();
    let sweep = store
        .root()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let speed = past_speed(store, &keys);
    DryRun {
        sweep,
        examples_per_second: speed.as_ref().map(|p| (p.rate, p.runs)),
        seconds_per_eval: speed.and_then(|p| p.per_eval),
        entries,
        retry,
        workers,
    }
}

/// The speed of past runs like these: median training examples/s per run, how many runs, and
/// the median seconds per evaluation.
#[derive(Debug, Clone, PartialEq)]
struct PastSpeed {
    rate: f64,
    runs: usize,
    per_eval: Option<f64>,
}

/// Wall-clock seconds of `examples` training examples and `evals` evaluations at the past
/// speed, spread over `workers`. Evaluations count when both their number and their past
/// cost are known.
fn estimate(examples: u64, evals: Option<u64>, speed: &PastSpeed, workers: usize) -> f64 {
    let eval = match (evals, speed.per_eval) {
        (Some(n), Some(s)) => n as f64 * s,
        _ => 0.0,
    };
    (examples as f64 / speed.rate + eval) / workers.max(1) as f64
}

/// Examples per optimizer step: the batch times its gradient accumulation.
fn step_batch(spec: &RunSpec) -> u64 {
    spec.batch_size as u64 * spec.gradient_accumulation_steps.max(1) as u64
}

/// (steps per epoch, total steps), when the training-set size is known.
fn schedule(spec: &RunSpec) -> Option<(u64, u64)> {
    let size = TRAIN_SIZES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(&spec.task))
        .map(|(_, n)| *n);
    let n = match (spec.train_subset, size) {
        (Some(s), Some(size)) => Some((s as u64).min(size)),
        (Some(s), None) => Some(s as u64),
        (None, size) => size,
    };
    let per_epoch = n.map(|n| n.div_ceil(step_batch(spec)));
    match (spec.max_steps, per_epoch) {
        (Some(m), Some(p)) => Some((p, m)),
        // Without the size, only the total is known: an epoch is taken as the whole run.
        (Some(m), None) => Some((m, m)),
        (None, Some(p)) => Some((p, p * spec.epochs as u64)),
        (None, None) => None,
    }
}

fn steps(spec: &RunSpec) -> Option<u64> {
    schedule(spec).map(|(_, total)| total)
}

/// Evaluations the run makes, as its training loop schedules them ([`eval_steps`]).
fn evals(spec: &RunSpec) -> Option<u64> {
    let (per_epoch, total) = schedule(spec)?;
    Some(eval_steps(spec, per_epoch.max(1), total).len() as u64)
}

/// [`dry_run`] for sweeps of any size: resolves the runs of `expansion` one at a time and
/// writes each line to `out` as it goes, keeping only totals. A closed pipe (`| head`) ends the
/// listing quietly.
///
/// `workers`: the local launcher's worker count when given (flag or sweep file); `None` plans
/// with the launcher's own default, cores / the largest `threads` of the runs.
pub fn dry_run_streamed(
    store: &Store,
    expansion: &Expansion,
    workers: Option<usize>,
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
                listing.entry(&mut line, &run, &state, steps(&run.spec), evals(&run.spec));
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

/// Median examples/s and seconds per evaluation of past ok records, preferring runs of the
/// same model and length.
fn past_speed(store: &Store, keys: &HashSet<SpeedKey>) -> Option<PastSpeed> {
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
    let similar: Vec<&RunRecord> = records
        .iter()
        .filter(|r| keys.contains(&speed_key(&r.spec)))
        .collect();
    let used: Vec<&RunRecord> = if similar.is_empty() {
        records.iter().collect()
    } else {
        similar
    };
    let median = |mut v: Vec<f64>| -> Option<f64> {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied()
    };
    let rate = median(
        used.iter()
            .map(|r| r.timing.train_examples_per_second)
            .collect(),
    )?;
    // A run's time outside training (evaluation, loading, writing) per evaluation it made.
    let per_eval = median(
        used.iter()
            .filter(|r| !r.evaluations.is_empty() && r.timing.wall_seconds > r.timing.train_seconds)
            .map(|r| (r.timing.wall_seconds - r.timing.train_seconds) / r.evaluations.len() as f64)
            .collect(),
    );
    Some(PastSpeed {
        rate,
        runs: used.len(),
        per_eval,
    })
}

/// The local launcher's default worker count for runs of at most `threads` threads: cores /
/// threads, at least 1 ([`crate::LocalOptions::resolve_budget`]).
fn default_workers(threads: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / threads.max(1)).max(1)
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
    /// Given worker count; `None`: the launcher's default for the largest `threads` seen.
    workers: Option<usize>,
    threads: usize,
    /// Evaluations of the runs to execute; `None` once one of them is unknown.
    evals: Option<u64>,
    total: usize,
    done: usize,
    running: usize,
    todo: usize,
    /// Steps and examples of the runs to execute; `None` once one of them is unknown.
    steps: Option<u64>,
    examples: Option<u64>,
}

impl Listing {
    fn new(retry: bool, workers: Option<usize>) -> Listing {
        Listing {
            retry,
            workers,
            threads: 1,
            evals: Some(0),
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
    fn entry(
        &mut self,
        out: &mut String,
        run: &PlannedRun,
        state: &RunState,
        steps: Option<u64>,
        evals: Option<u64>,
    ) {
        self.threads = self.threads.max(run.spec.threads);
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
            let examples = steps.map(|s| s * step_batch(&run.spec));
            self.steps = self.steps.zip(steps).map(|(a, b)| a + b);
            self.examples = self.examples.zip(examples).map(|(a, b)| a + b);
            self.evals = self.evals.zip(evals).map(|(a, b)| a + b);
        }
    }

    fn workers(&self) -> usize {
        self.workers
            .unwrap_or_else(|| default_workers(self.threads))
    }

    fn estimated_seconds(&self, speed: Option<&PastSpeed>) -> Option<f64> {
        Some(estimate(self.examples?, self.evals, speed?, self.workers()))
    }

    /// Appends the totals and the time estimate to `out`.
    fn summary(&self, out: &mut String, speed: Option<PastSpeed>) {
        let speed = speed.as_ref();
        let _ = write!(
            out,
            "{} runs: {} already done, {} running elsewhere, {} to run",
            self.total, self.done, self.running, self.todo
        );
        let _ = match (self.steps, self.examples) {
            (Some(s), Some(x)) => write!(
                out,
                "; {s} optimizer steps, {x} training examples{}",
                self.evals
                    .map_or(String::new(), |e| format!(", {e} evaluations"))
            ),
            _ => write!(
                out,
                "; cost unknown (a task of unknown size without train_subset)"
            ),
        };
        let workers = match self.workers {
            Some(w) => format!("{w} workers"),
            None => format!(
                "{} workers (the sweep's default: cores / {} thread(s) per run)",
                self.workers(),
                self.threads
            ),
        };
        let _ = match (self.estimated_seconds(speed), speed) {
            (Some(secs), Some(p)) => {
                let eval = match (p.per_eval, self.evals) {
                    (Some(e), Some(_)) => format!(
                        "; evaluation {e:.1} s each, setup included (median of the same runs' time outside training)"
                    ),
                    (None, _) => "; evaluation not included: the past runs have no evaluation time".into(),
                    (_, None) => "; evaluation not included: the number of evaluations is unknown".into(),
                };
                writeln!(
                    out,
                    "\nestimate: ~{:.1} min with {workers}: training at {:.1} examples/s per run (median of {} past runs){eval}",
                    secs / 60.0,
                    p.rate,
                    p.runs
                )
            }
            _ => writeln!(out, "\nno past records to estimate time from"),
        };
    }
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut listing = Listing::new(self.retry, Some(self.workers));
        let mut text = Listing::header();
        for e in &self.entries {
            listing.entry(&mut text, &e.run, &e.state, e.steps, e.evals);
        }
        listing.summary(&mut text, self.speed());
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

    /// The estimate counts each run's evaluations as its training loop schedules them, at the
    /// past runs' seconds per evaluation, and plans with the launcher's default workers.
    #[test]
    fn the_estimate_includes_evaluation_and_the_default_workers() {
        let mut m = stab_spec::preset("mosbach").unwrap();
        m.task = "RTE".into();
        m.train_subset = Some(160);
        m.epochs = 2;
        // 10 steps per epoch, 3 evaluations per epoch and one at step 0.
        assert_eq!(evals(&m), Some(1 + 3 * 2));
        let mut z = stab_spec::preset("zhang-reinit").unwrap();
        z.train_subset = Some(320);
        assert_eq!(evals(&z), Some(10));
        let speed = PastSpeed {
            rate: 100.0,
            runs: 3,
            per_eval: Some(5.0),
        };
        // 1000 examples at 100/s, 7 evaluations of 5 s, over 2 workers.
        assert_eq!(estimate(1000, Some(7), &speed, 2), (10.0 + 35.0) / 2.0);
        let mut l = Listing::new(false, None);
        let run = PlannedRun {
            index: 0,
            run_id: m.run_id(),
            group: "g".into(),
            axes: Vec::new(),
            spec: m.clone(),
        };
        let mut text = String::new();
        l.entry(&mut text, &run, &RunState::Pending, steps(&m), evals(&m));
        text.clear();
        l.summary(&mut text, Some(speed));
        assert!(text.contains(", 7 evaluations"), "{text}");
        assert!(text.contains("evaluation 5.0 s each"), "{text}");
        assert!(!text.contains("not included"), "{text}");
        assert!(
            text.contains(&format!(
                "{} workers (the sweep's default",
                default_workers(1)
            )),
            "{text}"
        );
    }
}
