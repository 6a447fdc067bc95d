//! The results store of stab: the one owner of what a run leaves on disk, read alike by the
//! launchers (stab-sweep), the worker (`stab run`) and the statistics (stab-stats).
//!
//! # Design
//!
//! - **A leaf crate.** The store depends on the run spec and record types (stab-spec) and on
//!   nothing of the sweep-file parser, the launchers or the training code, so the statistics
//!   read results without pulling any of them in (as uv's `uv-cache` serves resolver,
//!   installer and CLI alike).
//! - **The store is the source of truth.** A run is finished when, and only when,
//!   `runs/<id>/record.json` exists; every file is written atomically ([`write_atomic`]). No
//!   launcher keeps state that the store does not also have, so a launcher killed at any moment
//!   loses nothing but the runs in flight. The store owns the names of its files ([`Store`],
//!   [`RunDir`]); a launcher that keeps files of its own beside the runs names them itself.
//! - **A lock per run, held by whoever executes it** ([`RunLock`]); the worker inherits the
//!   launcher's descriptor ([`LOCK_FD_ENV`]), so a run is never executed twice and a killed
//!   launcher's workers stay locked until they exit.
//! - **One worker protocol.** [`WorkerArgs`] is the worker's command line, built by launchers
//!   and parsed by workers from the same type; [`execute_run`] is what a worker does inside the
//!   contract (check or take the lock, refuse another run's folder, keep an earlier record,
//!   write `spec.json` and, atomically, `record.json`); [`exit_code`] maps the record's status
//!   to the exit status launchers expect. `stab run` and the test worker both go through it.
//!
//! # Record format
//!
//! `record.json` is a [`stab_spec::RunRecord`]; its schema version and the versions it reads
//! are stab-spec's. `expanded.json` is [`Expanded`]: the sweep's name and its [`PlannedRun`]s.

mod lock;
mod store;
mod worker;

use std::path::PathBuf;

pub use lock::{held_by_orphan, is_locked, lock_run_dir, HeldLock, RunLock, LOCK_FD_ENV};
pub use store::{
    keep_earlier_record, prepare_run_dir, write_atomic, Expanded, PlannedRun, RunDir, RunState,
    StatusSummary, Store, StoreScan,
};
pub use worker::{execute_run, exit_code, Begun, Executed, WorkerArgs, NO_RECORD_EXIT_CODE};

/// Errors of the store: a file that cannot be read or written, or that does not say what the
/// store expects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// Another process holds the run's lock: it is executing the run in that directory.
    #[error("{}: another process is executing this run (its lock file is held); wait for it to finish or choose another directory", path.display())]
    Busy { path: PathBuf },
    #[error(transparent)]
    Record(#[from] stab_spec::RecordError),
}
