//! The launcher interface: what every way of executing a sweep's runs (a local pool, Slurm, a
//! cluster added later) offers, so that `stab sweep` and `stab status` deal with launchers,
//! never with one by name.
//!
//! A launcher has a name (`--launcher NAME`, and the sweep file's `[NAME]` table of settings),
//! checks its settings when the sweep file is read, launches runs of a store, and tells what its
//! queue holds of a store. The store stays the source of truth: a launcher hands runs to
//! workers that follow the worker protocol (`stab_store::execute_run`), and whether a run has
//! finished is read from the store, never from the launcher. So a caller can launch a block of
//! runs, wait for their records, analyse them and launch the next block, whatever the launcher.
//!
//! Adding a launcher (Kubernetes, Ray) is one module implementing [`Launcher`] plus its entry in
//! [`LAUNCHERS`]; the store, the status code and the statistics do not change. The tests add a
//! launcher of their own this way (`tests/util/deferred.rs`).

use std::fmt;

use serde::de::DeserializeOwned;
use stab_store::{PlannedRun, Store};

use crate::exec::WorkerCommand;
use crate::local::{Local, Summary};
use crate::slurm::Slurm;
use crate::Error;

/// Every launcher `stab sweep --launcher` can name, and whose queue `stab status` asks.
pub static LAUNCHERS: &[&dyn Launcher] = &[&Local, &Slurm];

/// The launcher called `name`, from [`LAUNCHERS`].
pub fn launcher(name: &str) -> Option<&'static dyn Launcher> {
    LAUNCHERS.iter().copied().find(|l| l.name() == name)
}

/// A way of executing the runs of a store.
pub trait Launcher: Sync {
    /// Its name: `stab sweep --launcher NAME`, and the sweep file's `[NAME]` table.
    fn name(&self) -> &'static str;

    /// Checks the launcher's settings (the sweep file's `[NAME]` table), so that a mistake in
    /// them is an error when the file is read, before anything runs.
    fn check_settings(&self, settings: &toml::Table) -> Result<(), SettingsError>;

    /// Executes, or hands to a queue, the runs of `runs` that need running (no final record,
    /// nobody executing them).
    fn launch(
        &self,
        store: &Store,
        runs: &[PlannedRun],
        launch: &Launch,
    ) -> Result<Launched, Error>;

    /// What this launcher's queue holds of `store`'s runs; `None` when it keeps no queue there
    /// (the local pool's runs show as running through their locks).
    fn queue(&self, store: &Store) -> Result<Option<QueueSummary>, Error>;
}

/// What a launch is given besides the runs.
#[derive(Debug, Clone)]
pub struct Launch {
    /// How to start the worker of one run (`stab run`, [`stab_store::WorkerArgs`]).
    pub worker: WorkerCommand,
    /// How to start, elsewhere, the execution of runs of a store by id (`stab sweep-task
    /// --results STORE --run ID… --threads T [--retry]`), for launchers that hand runs to
    /// another machine.
    pub task: WorkerCommand,
    /// Also rerun runs that ended in `error`.
    pub retry: bool,
    /// Thread budget of each run; `None`: the largest `threads` of the runs.
    pub threads: Option<usize>,
    /// Show progress on stderr (bars, lines about GPUs).
    pub progress: bool,
    /// The launcher's settings: the sweep file's `[NAME]` table, with the launch's flags set
    /// on top.
    pub settings: toml::Table,
}

/// What a launch did.
#[derive(Debug, Clone, PartialEq)]
pub enum Launched {
    /// The runs were executed here, to their end or until the launch was stopped.
    Ran(Summary),
    /// The runs were handed to a queue and finish later (`stab status` follows them): what
    /// was queued, or `None` when no run needed queueing.
    Queued(Option<String>),
}

/// A launcher setting that is not one the launcher takes, or has the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The setting (dotted for nested ones); empty when the table as a whole is wrong.
    pub field: String,
    pub message: String,
}

/// Reads a launcher's settings table into its settings type, naming the offending field.
pub fn settings<T: DeserializeOwned>(table: &toml::Table) -> Result<T, SettingsError> {
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let message = e.inner().to_string();
        let mut field = e.path().to_string();
        if field == "." {
            field = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split_once('`'))
                .map(|(name, _)| name.to_string())
                .unwrap_or_default();
        }
        SettingsError { field, message }
    })
}

/// What a launcher's queue says about a store's jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueSummary {
    /// The launcher whose queue this is.
    pub launcher: String,
    /// Where the queue was read (`squeue`).
    pub source: String,
    /// The store's jobs in that queue.
    pub jobs: Vec<String>,
    pub pending: usize,
    pub running: usize,
    pub other: usize,
    /// Why the queue could not be read, if it could not.
    pub error: Option<String>,
}

impl fmt::Display for QueueSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} jobs {}: ", self.launcher, self.jobs.join(", "))?;
        match &self.error {
            Some(e) => writeln!(f, "queue unknown ({e})"),
            None => writeln!(
                f,
                "{} tasks running, {} pending, {} in other states ({})",
                self.running, self.pending, self.other, self.source
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_found_by_name() {
        assert_eq!(launcher("slurm").map(|l| l.name()), Some("slurm"));
        assert_eq!(launcher("local").map(|l| l.name()), Some("local"));
        assert!(launcher("kubernetes").is_none());
    }

    #[test]
    fn settings_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            time: Option<String>,
        }
        let t: toml::Table = toml::from_str("tme = \"1\"").unwrap();
        let e = settings::<S>(&t).unwrap_err();
        assert_eq!(e.field, "tme");
        assert!(e.message.contains("unknown field `tme`"), "{e}");
        let t: toml::Table = toml::from_str("time = 1").unwrap();
        let e = settings::<S>(&t).unwrap_err();
        assert_eq!(e.field, "time");
        assert!(e.message.contains("invalid type"), "{e}");
    }
}
