//! Dry run: what a launch would do and roughly what it costs.

use std::fmt;

use stab_spec::{RunRecord, RunSpec, RunStatus};

use crate::store::{RunState, Store};
use crate::sweep::PlannedRun;

/// Training-set sizes of the tasks stab knows, for cost estimates without reading the data.
const TRAIN_SIZES: &[(&str, u64)] = &[
    ("CoLA", 8_551),
    ("SST-2", 67_349),
    ("MRPC", 3_668),
    ("STS-B", 5_749),
    ("QQP", 363_846),
    ("MNLI", 392_702),
    ("QNLI", 104_743),
    ("RTE", 2_490),
    ("WNLI", 635),
    ("CoNLL-2003", 14_041),
];

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
            .filter(|e| !e.state.is_final(self.retry) && e.state != RunState::Running)
    }

    /// Estimated wall-clock seconds of the runs to execute, spread over the workers.
    pub fn estimated_seconds(&self) -> Option<f64> {
        let (rate, _) = self.examples_per_second?;
        let examples: u64 = self.to_run().map(|e| e.examples).sum::<Option<u64>>()?;
        Some(examples as f64 / rate / self.workers.max(1) as f64)
    }
}

/// Lists `runs` with their state in `store` (which need not exist) and a cost estimate: steps ×
/// batch from the spec and known training-set sizes, seconds from the examples/s of past ok
/// records in this store and its sibling stores. Reads only.
pub fn dry_run(store: &Store, runs: &[PlannedRun], workers: usize, retry: bool) -> DryRun {
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
        examples_per_second: past_speed(store, runs),
        entries,
        retry,
        workers,
    }
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

/// Median examples/s of past ok records, preferring runs of the same model and length.
fn past_speed(store: &Store, runs: &[PlannedRun]) -> Option<(f64, usize)> {
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
        let Ok(dir) = std::fs::read_dir(root.join("runs")) else {
            continue;
        };
        for e in dir.flatten() {
            if let Ok(r) = RunRecord::read(&e.path().join("record.json")) {
                if r.status == RunStatus::Ok && r.timing.train_examples_per_second > 0.0 {
                    records.push(r);
                }
            }
        }
    }
    let similar: Vec<f64> = records
        .iter()
        .filter(|r| {
            runs.iter().any(|p| {
                p.spec.model == r.spec.model
                    && p.spec.max_length == r.spec.max_length
                    && p.spec.fine_tunes() == r.spec.fine_tunes()
            })
        })
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

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4}  {:16}  {:11}  {:>8}  group / axes",
            "#", "run id", "state", "steps"
        )?;
        for e in &self.entries {
            let axes: Vec<String> = e.run.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let steps = e.steps.map_or("?".into(), |s| s.to_string());
            writeln!(
                f,
                "{:>4}  {:16}  {:11}  {:>8}  {}  [{}]",
                e.run.index,
                e.run.run_id,
                state_str(&e.state),
                steps,
                e.run.group,
                axes.join(", ")
            )?;
        }
        let done = self
            .entries
            .iter()
            .filter(|e| e.state.is_final(self.retry))
            .count();
        let running = self
            .entries
            .iter()
            .filter(|e| e.state == RunState::Running)
            .count();
        let todo: Vec<&DryRunEntry> = self.to_run().collect();
        let steps: Option<u64> = todo.iter().map(|e| e.steps).sum();
        let examples: Option<u64> = todo.iter().map(|e| e.examples).sum();
        write!(
            f,
            "{} runs: {done} already done, {running} running elsewhere, {} to run",
            self.entries.len(),
            todo.len()
        )?;
        match (steps, examples) {
            (Some(s), Some(x)) => write!(f, "; {s} optimizer steps, {x} training examples")?,
            _ => write!(
                f,
                "; cost unknown (a task of unknown size without train_subset)"
            )?,
        }
        match (self.estimated_seconds(), self.examples_per_second) {
            (Some(secs), Some((rate, n))) => writeln!(
                f,
                "\nestimate: ~{:.1} min with {} workers at {rate:.1} examples/s per run (median \
                 of {n} past runs; evaluation not included)",
                secs / 60.0,
                self.workers
            ),
            _ => writeln!(f, "\nno past records to estimate time from"),
        }
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
