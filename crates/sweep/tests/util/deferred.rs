//! A launcher of the tests' own, added the way any launcher is: a type implementing
//! [`Launcher`]. It queues the runs that need running in a file of the store
//! (`deferred-queue.json`), as a cluster's queue would hold them, and executes nothing; the
//! queue is worked off by [`drain`], one run at a time in this process, through the worker
//! protocol ([`execute_one`]: the store's locks, the worker, a record for every run).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stab_spec::RunStatus;
use stab_sweep::{
    execute_one, settings, Error, Launch, Launched, Launcher, PlannedRun, QueueSummary,
    SettingsError, Store, WorkerCommand,
};

pub struct Deferred;

/// The `[deferred]` table of a sweep file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeferredSettings {
    /// Queue at most this many runs per launch (a block of a sequential sweep).
    block: Option<usize>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct QueueFile {
    runs: Vec<String>,
}

fn queue_file(store: &Store) -> PathBuf {
    store.root().join("deferred-queue.json")
}

fn read_queue(store: &Store) -> Result<Option<QueueFile>, Error> {
    let path = queue_file(store);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

impl Launcher for Deferred {
    fn name(&self) -> &'static str {
        "deferred"
    }

    fn check_settings(&self, table: &toml::Table) -> Result<(), SettingsError> {
        settings::<DeferredSettings>(table).map(|_| ())
    }

    fn launch(
        &self,
        store: &Store,
        runs: &[PlannedRun],
        launch: &Launch,
    ) -> Result<Launched, Error> {
        let s: DeferredSettings = settings(&launch.settings).map_err(|error| Error::Settings {
            launcher: self.name(),
            error,
        })?;
        let mut queue = read_queue(store)?.unwrap_or_default();
        let block: Vec<String> = runs
            .iter()
            .filter(|r| store.state(&r.run_id).needs_running(launch.retry))
            .filter(|r| !queue.runs.contains(&r.run_id))
            .map(|r| r.run_id.clone())
            .take(s.block.unwrap_or(usize::MAX))
            .collect();
        if block.is_empty() {
            return Ok(Launched::Queued(None));
        }
        let what = format!("queued {} runs", block.len());
        queue.runs.extend(block);
        let path = queue_file(store);
        let json = serde_json::to_string(&queue).unwrap();
        stab_store::write_atomic(&path, json.as_bytes())
            .map_err(|source| Error::Io { path, source })?;
        Ok(Launched::Queued(Some(what)))
    }

    fn queue(&self, store: &Store) -> Result<Option<QueueSummary>, Error> {
        let Some(queue) = read_queue(store)? else {
            return Ok(None);
        };
        let pending = queue
            .runs
            .iter()
            .filter(|id| store.record(id).ok().flatten().is_none())
            .count();
        Ok(Some(QueueSummary {
            launcher: self.name().into(),
            source: "deferred-queue.json".into(),
            jobs: vec!["queue".into()],
            pending,
            ..QueueSummary::default()
        }))
    }
}

/// Executes the queued runs one after another and empties the queue; the statuses of the runs
/// it executed.
pub fn drain(store: &Store, worker: &WorkerCommand) -> Result<Vec<RunStatus>, Error> {
    let Some(queue) = read_queue(store)? else {
        return Ok(Vec::new());
    };
    let expanded = store.expanded()?;
    let mut out = Vec::new();
    for id in &queue.runs {
        let run = expanded.runs.iter().find(|r| &r.run_id == id).unwrap();
        out.extend(execute_one(store, run, worker, false)?);
    }
    let path = queue_file(store);
    stab_store::write_atomic(&path, b"{\"runs\":[]}")
        .map_err(|source| Error::Io { path, source })?;
    Ok(out)
}
