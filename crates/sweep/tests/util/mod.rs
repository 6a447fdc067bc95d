//! Helpers shared by the integration tests: temporary sweeps, the fake worker, execution logs.
#![allow(dead_code)]

pub mod deferred;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stab_spec::RunRecord;
use stab_sweep::{LocalOptions, Overrides, PlannedRun, Store, Sweep, WorkerCommand};

pub const FAKE: &str = env!("CARGO_BIN_EXE_fake-stab-worker");
pub const HARNESS: &str = env!("CARGO_BIN_EXE_stab-sweep-harness");
/// The variable the fake worker takes its misbehaviour from (`RUN_ID=BEHAVIOUR,…`).
pub const MISBEHAVE_ENV: &str = "STAB_FAKE_WORKER_MISBEHAVE";

/// The value of [`MISBEHAVE_ENV`] that makes `runs[i]` do `behaviours[i]` (`ok`: behave).
pub fn misbehaviour(runs: &[PlannedRun], behaviours: &[&str]) -> String {
    assert_eq!(runs.len(), behaviours.len(), "one behaviour per run");
    let pairs: Vec<String> = runs
        .iter()
        .zip(behaviours)
        .filter(|(_, b)| **b != "ok")
        .map(|(r, b)| format!("{}={b}", r.run_id))
        .collect();
    pairs.join(",")
}

/// A temporary directory with a sweep file, a results directory and an execution log.
pub struct Env {
    pub dir: tempfile::TempDir,
    /// [`MISBEHAVE_ENV`] for the workers of this env (empty: every run behaves).
    pub misbehave: String,
}

impl Env {
    /// A sweep named `t` with `body` appended to a base of tiny fake runs.
    pub fn new(body: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name = \"t\"\n[base]\ntask = \"RTE\"\ntrain_subset = 10\ndata_dir = \"data\"\n{body}"
        );
        std::fs::write(dir.path().join("sweep.toml"), text).unwrap();
        Env {
            dir,
            misbehave: String::new(),
        }
    }

    pub fn sweep_file(&self) -> PathBuf {
        self.dir.path().join("sweep.toml")
    }

    pub fn results(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    pub fn count_log(&self) -> PathBuf {
        self.dir.path().join("executions.log")
    }

    pub fn sweep(&self) -> Sweep {
        Sweep::load(&self.sweep_file(), &Overrides::default()).unwrap()
    }

    pub fn store(&self) -> Store {
        self.sweep().create_store(&self.results()).unwrap()
    }

    pub fn worker(&self) -> WorkerCommand {
        WorkerCommand::new(FAKE)
            .arg("--count-log")
            .arg(self.count_log().to_string_lossy())
            .env(MISBEHAVE_ENV, &self.misbehave)
    }

    pub fn options(&self, workers: usize) -> LocalOptions {
        let mut o = LocalOptions::new(self.worker());
        o.workers = Some(workers);
        o.progress = false;
        o.handle_signals = false;
        o
    }

    /// `stab-sweep-harness launch` on this sweep, as a separate process.
    pub fn spawn_launcher(&self, workers: usize, extra: &[&str]) -> Child {
        let mut cmd = Command::new(HARNESS);
        cmd.arg("launch")
            .arg("--sweep")
            .arg(self.sweep_file())
            .arg("--results")
            .arg(self.results())
            .arg("--worker")
            .arg(FAKE)
            .arg("--worker-arg")
            .arg("--count-log")
            .arg("--worker-arg")
            .arg(self.count_log())
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--quiet")
            .args(extra)
            .env(MISBEHAVE_ENV, &self.misbehave)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    }

    /// (starts, finishes) of each run id according to the fake worker's log.
    pub fn executions(&self) -> BTreeMap<String, (usize, usize)> {
        let text = std::fs::read_to_string(self.count_log()).unwrap_or_default();
        let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for line in text.lines() {
            let (what, id) = line.split_once(' ').expect("well-formed log line");
            let e = out.entry(id.to_string()).or_default();
            match what {
                "start" => e.0 += 1,
                "finish" => e.1 += 1,
                _ => panic!("bad log line {line:?}"),
            }
        }
        out
    }

    /// Reads every run's record (panics on a missing or corrupt one).
    pub fn records(&self, store: &Store) -> Vec<RunRecord> {
        let sweep = self.sweep();
        sweep
            .runs
            .iter()
            .map(|r| {
                store
                    .record(&r.run_id)
                    .unwrap_or_else(|e| panic!("{}: {e}", r.run_id))
                    .unwrap_or_else(|| panic!("no record for {}", r.run_id))
            })
            .collect()
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits for a child with a deadline, killing it if it overstays.
pub fn wait_child(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > timeout {
            let _ = child.kill();
            panic!("launcher did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pid files of workers that have started (fake worker writes runs/<id>/worker.pid).
pub fn worker_pids(store: &Store) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(store.root().join("runs")) else {
        return out;
    };
    for e in dir.flatten() {
        if let Ok(t) = std::fs::read_to_string(e.path().join("worker.pid")) {
            if let Ok(pid) = t.trim().parse() {
                out.push((e.file_name().to_string_lossy().into_owned(), pid));
            }
        }
    }
    out
}

/// A record without the fields that legitimately differ between executions.
pub fn comparable(r: &RunRecord) -> RunRecord {
    let mut r = r.clone();
    r.timing = Default::default();
    r
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
