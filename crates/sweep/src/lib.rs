//! Sweeps for stab: expand a sweep file into runs and execute them with a launcher (a local
//! pool, Slurm), keeping the results in a store (stab-store) that survives crashes, Ctrl-C and
//! concurrent launchers.
//!
//! # Design
//!
//! - **Sweeper and launcher are separate** (as in hydra). [`Sweep::load`] turns a sweep file
//!   into an ordered list of fully resolved [`PlannedRun`]s with stable ids (the content hash
//!   of the resolved [`stab_spec::RunSpec`]); it knows nothing about execution. The file is
//!   read in three steps, one module each: its schema (`schema.rs`: what serde reads), the
//!   checker (`checker.rs`: every key and value against the run spec, errors located) and the
//!   expansion (`expand.rs`: groups × axes into runs, one at a time).
//! - **One launcher interface.** Every launcher implements [`Launcher`] (launch runs of a
//!   store, tell what its queue holds of it) and is listed in [`LAUNCHERS`]; its settings are
//!   the sweep file's table of its name (`[slurm]`, `[local]`). `stab sweep` and [`status`]
//!   go through the list and name no launcher; a new one is a module and an entry.
//! - **The store is the source of truth** ([`stab_store`]). A run is finished when, and only
//!   when, `runs/<id>/record.json` exists; every file is written atomically. No launcher keeps
//!   state that the store does not also have, so a launcher killed at any moment loses nothing
//!   but the runs in flight, and Slurm's accounting is never needed (without slurmdbd there is
//!   none). The store knows nothing of launchers: [`status`] composes its counts with what
//!   each launcher's queue says of the store's jobs.
//! - **A lock per run, held by the worker.** Whoever executes a run holds an exclusive `flock`
//!   on `runs/<id>/lock`, and the worker process inherits the descriptor. Two launchers on the
//!   same store (local, Slurm, or both) therefore never execute a run twice, and a launcher
//!   that is SIGKILLed leaves its workers running *and locked*: a restarted launcher waits for
//!   them instead of starting a second copy. The lock file names the launcher that took it
//!   (pid, start time, host), so a restarted launcher on the same machine can tell such
//!   orphans from the workers of a live launcher and counts them against its own `--workers`.
//!   The record is checked *after* taking the lock.
//! - **One run per process.** Worker processes, not threads: LibTorch's seed and thread count
//!   are process-global, and a crashing run must not take the sweep down. A worker that dies
//!   without a record (signal, panic, odd exit code) gets an `error` record with its exit
//!   status and the tail of its log; in a stability study failed runs are data.
//! - **Statuses decide reruns.** `ok` and `diverged` are results and never rerun, nor is
//!   `stopped` (a predicted failure its spec's `early_failure` policy stopped: rerun, it would
//!   stop again); `error` is rerun with `--retry`; `interrupted` (Ctrl-C) is rerun by the next launch. Earlier records
//!   of rerun runs are kept in `runs/<id>/attempts/`.
//!
//! # Sweep files
//!
//! ```toml
//! name = "quickstart"          # results/<name>/ (default: the file name without .toml)
//! description = "Devlin vs Mosbach on 256 RTE examples"
//! max_runs = 200000            # optional: raises the limit of 100000 runs per sweep
//!
//! [base]                       # preset + overrides of any RunSpec field, for every run
//! preset = "devlin"
//! task = "RTE"
//! data_dir = "data/glue"       # launch overrides (--data-dir, STAB_DATA_DIR) win
//! train_subset = 256
//! "optimizer.eps" = 1e-6       # nested fields by dotted key (or `optimizer = { eps = … }`)
//!
//! [[group]]                    # optional named groups: the sweep is groups × axes
//! name = "devlin"
//! set = { preset = "devlin", epochs = 3 }
//! [[group]]
//! name = "mosbach"
//! set = { preset = "mosbach", epochs = 6 }
//!
//! [axes]                       # cartesian product, first axis outermost
//! seed = { start = 0, end = 3 } # `seed` sets init_seed and data_seed together; end exclusive
//! learning_rate = [1e-5, 2e-5]
//!
//! [zip.length]                 # a zip block: one axis whose fields move together
//! labels = ["short", "long"]   # optional labels for group names
//! epochs = [1, 3]
//! warmup_fraction = [0.0, 0.1]
//!
//! [slurm]                      # settings of --launcher slurm (flags win)
//! time = "00:30:00"
//! max_parallel = 4
//!
//! [local]                      # settings of the local launcher (flags win)
//! workers = 2
//! ```
//!
//! Any run-spec field can be an axis, including `preset`, `task`, `init_seed` and `data_seed`
//! separately (a Dodge et al. grid) or `seed` for both. Values are applied in the order base,
//! group, axes; launch [`Overrides`] last.
//!
//! **Groups** say what a report compares. A run's group label is its `[[group]]` name (if any)
//! followed by `axis=value` for each axis in `group_by`, which defaults to every axis that is
//! not a seed (`seed`, `init_seed`, `data_seed`, `subset_seed`, `dev_split_seed`): runs that
//! differ only in seeds are the repetitions of one configuration. Without groups and non-seed
//! axes the label is `all`.
//!
//! Unknown keys, values of the wrong type or out of range, ragged zip blocks and runs that
//! resolve to the same spec are errors naming the file, line and column:
//!
//! ```
//! # use std::path::Path;
//! let text = "[axes]\nseed = [0, 1]\nlearnin_rate = [1e-5]\n";
//! let err = stab_sweep::Sweep::parse(Path::new("x.toml"), text, &Default::default())
//!     .unwrap_err()
//!     .to_string();
//! assert_eq!(err, "x.toml:3:17: learnin_rate: not a run-spec field (did you mean `learning_rate`?)");
//! ```
//!
//! Expansion is deterministic and ids are content hashes, so adding seeds to a file adds runs
//! and keeps the ids (and finished results) of the existing ones:
//!
//! ```
//! # use std::path::Path;
//! let a = stab_sweep::Sweep::parse(Path::new("s.toml"), "[axes]\nseed = [0, 1]\n", &Default::default()).unwrap();
//! let b = stab_sweep::Sweep::parse(Path::new("s.toml"), "[axes]\nseed = [0, 1, 2]\n", &Default::default()).unwrap();
//! assert_eq!(a.runs[1].run_id, b.runs[1].run_id);
//! assert_eq!(b.runs.len(), 3);
//! ```
//!
//! # Using it
//!
//! ```no_run
//! use stab_sweep::{run_local, LocalOptions, Overrides, Sweep, WorkerCommand};
//! # fn main() -> Result<(), stab_sweep::Error> {
//! let sweep = Sweep::load("experiments/quickstart.toml".as_ref(), &Overrides::from_env())?;
//! let store = sweep.create_store("results".as_ref())?;
//! let worker = WorkerCommand::current_exe().expect("own path");
//! let summary = run_local(&store, &sweep.runs, &LocalOptions::new(worker))?;
//! println!("{summary}\n{}", stab_sweep::status(&store)?);
//! # Ok(()) }
//! ```

mod checker;
mod exec;
mod expand;
mod gpus;
mod launcher;
mod local;
mod plan;
mod progress_log;
mod schema;
mod sequential;
mod slurm;
mod status;

use std::path::PathBuf;

pub use exec::{execute_one, WorkerCommand};
pub use expand::{canonical_task, Expansion, Overrides, Sweep, MAX_RUNS};
pub use gpus::{parse_gpus, GpuError};
pub use launcher::{
    launcher, settings, Launch, Launched, Launcher, QueueSummary, SettingsError, LAUNCHERS,
};
pub use local::{run_local, GpuSlots, Local, LocalOptions, LocalSettings, Summary};
pub use plan::{dry_run, dry_run_streamed, DryRun, DryRunEntry};
pub use progress_log::PROGRESS_INTERVAL_ENV;
pub use sequential::{look_runs, sequential_step, Analyst, Step, Stopping};
pub use slurm::{
    queue_summary, run_slurm_task, slurm_jobs, submit_slurm, Slurm, SlurmDefaults, SlurmJob,
    SlurmOptions,
};
/// The store's types in the launchers' signatures.
pub use stab_store::{PlannedRun, Store};
pub use status::{status, status_with, SweepStatus};

/// Maps an I/O error on `path` to [`Error::Io`].
pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Errors of the sweeper and the launchers. Failures of individual runs are not errors: they
/// are records.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in a sweep file, located.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Sweep {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] stab_store::Error),
    /// A worker's record that could not be read could not be moved aside either; the
    /// launcher stops rather than write the run's error record over it.
    #[error("could not keep the unreadable record {} as {}", path.display(), to.display())]
    KeepUnreadable {
        path: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start or wait for worker {}", program.display())]
    Worker {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("slurm: {0}")]
    Slurm(String),
    /// A launcher's settings (its sweep-file table with the flags on top) that it cannot take.
    #[error("{launcher} launcher: {error}")]
    Settings {
        launcher: &'static str,
        error: SettingsError,
    },
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// A launch override (`--set`, `--model`, `--data-dir`) that no run can take.
    #[error(transparent)]
    Spec(#[from] stab_spec::SpecError),
}
