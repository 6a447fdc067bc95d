//! The results store: the source of truth for what has finished, and the one owner of the
//! names of the files in its layout.
//!
//! ```text
//! results/<sweep>/
//!   sweep.toml          the sweep file as given (latest launch)
//!   expanded.json       the expansion: every run with its id, group, axis values and spec
//!   (launcher files)    whatever a launcher keeps beside the runs, under names it owns
//!                       (the Slurm launcher: slurm-jobs.json, slurm-jobs.lock, slurm/)
//!   runs/<id>/spec.json     the resolved spec the worker reads
//!   runs/<id>/record.json   written only when the run finished (any status)
//!   runs/<id>/log.txt       worker stdout and stderr, one header line per attempt
//!   runs/<id>/lock          flock held by whoever executes the run (launcher and worker)
//!   runs/<id>/attempts/     records of earlier attempts (error, interrupted) that were rerun
//! ```
//!
//! Every file is written atomically ([`write_atomic`]), so a reader sees either the old or the
//! new content, never a torn one, and a crash leaves at most a stray temporary file. The store
//! knows nothing of launchers: what a launcher's queue says is composed above it (stab-sweep's
//! `status`).

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stab_spec::{RunRecord, RunSpec, RunStatus};

use crate::lock::RunLock;
use crate::Error;

/// Writes `bytes` to `path` atomically and durably: a temporary file in the same directory,
/// fsync, rename over the target, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // 0666 less the umask, as `File::create` would: tempfile's own 0600 made records, specs and
    // sweep files unreadable to the group of a store shared on a cluster.
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// `std::fs::create_dir_all`, except that a path which cannot be looked at (a symbolic-link
/// loop) is reported as such: `mkdir` on a loop says "File exists".
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path).map_err(|e| match std::fs::metadata(path) {
        Err(why) if why.kind() != io::ErrorKind::NotFound => why,
        _ => e,
    })
}

/// The store's file names at its root (the run folders' names are [`RunDir`]'s).
const SWEEP_FILE: &str = "sweep.toml";
const EXPANDED_FILE: &str = "expanded.json";
const RUNS_DIR: &str = "runs";

/// Maps an I/O error on `path` to [`Error::Io`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of one run's directory: `runs/<id>/` in a store, or the `--out` folder of a
/// single `stab run`. Every name in it comes from here.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir(path.into())
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `spec.json`: the resolved spec the worker reads.
    pub fn spec(&self) -> PathBuf {
        self.0.join("spec.json")
    }

    /// `record.json`: exists only once the run finished (any status).
    pub fn record(&self) -> PathBuf {
        self.0.join("record.json")
    }

    /// `log.txt`: the worker's stdout and stderr.
    pub fn log(&self) -> PathBuf {
        self.0.join("log.txt")
    }

    /// `lock`: the file whose `flock` says who executes the run.
    pub fn lock(&self) -> PathBuf {
        self.0.join("lock")
    }

    /// `record.unreadable-<unix ms>.json`: where an unreadable record of a worker is kept when
    /// the launcher writes the run's record itself.
    pub fn unreadable_record(&self, unix_millis: u128) -> PathBuf {
        self.0.join(format!("record.unreadable-{unix_millis}.json"))
    }

    /// `attempts/`: records of earlier attempts that were rerun.
    pub fn attempts(&self) -> PathBuf {
        self.0.join("attempts")
    }
}

/// What the store says about one run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// No record and nobody holds its lock.
    Pending,
    /// Its lock is held: a launcher or Slurm task is executing it now.
    Running,
    /// Finished with this status (record.json exists).
    Finished(RunStatus),
    /// record.json exists but cannot be read; treated as not finished (it is rerun).
    Unreadable(String),
}

impl RunState {
    /// Whether a launch executes the run: it is not final and nobody is running it.
    pub fn needs_running(&self, retry: bool) -> bool {
        !self.is_final(retry) && *self != RunState::Running
    }

    /// Whether a launcher should leave the run alone: ok and diverged are results, and a run
    /// stopped as a predicted failure is done too (running it again would stop it again);
    /// errors are retried only with `retry`; interrupted runs are always rerun.
    pub fn is_final(&self, retry: bool) -> bool {
        match self {
            RunState::Finished(RunStatus::Ok | RunStatus::Diverged | RunStatus::Stopped) => true,
            RunState::Finished(RunStatus::Error) => !retry,
            _ => false,
        }
    }
}

/// One run of an expanded sweep: a fully resolved spec, its id and where it sits in the sweep.
/// The store keeps the expansion (`expanded.json`); how a sweep file expands is stab-sweep's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Position in the expansion (file order: groups, then axes, first axis outermost).
    pub index: usize,
    /// Content hash of `spec` ([`RunSpec::run_id`]).
    pub run_id: String,
    /// Group label: what this run is compared as.
    pub group: String,
    /// The axis values that produced this run, as `(axis, value)` in axis order.
    pub axes: Vec<(String, String)>,
    pub spec: RunSpec,
}

/// The on-disk form of `expanded.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expanded {
    pub sweep: String,
    pub runs: Vec<PlannedRun>,
}

/// One sweep's results directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store at `root` (`results/<sweep>`), which need not exist yet.
    pub fn open(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// Creates (or updates) the store at `root` (`results/<sweep>`) for an expansion: writes
    /// `sweep.toml` (the sweep file's text, `source`), `expanded.json` and each run's
    /// `spec.json` (only when missing or different). Runs already in the store are kept,
    /// whether or not the expansion still lists them.
    pub fn create(
        root: impl Into<PathBuf>,
        source: &str,
        expanded: &Expanded,
    ) -> Result<Store, Error> {
        let store = Store::open(root);
        let runs_dir = store.runs_dir();
        create_dir_all(&runs_dir).map_err(io_err(&runs_dir))?;
        store.write_if_changed(&store.root.join(SWEEP_FILE), source.as_bytes())?;
        let json = serde_json::to_string_pretty(expanded).expect("expansion serialises");
        store.write_if_changed(&store.expanded_file(), json.as_bytes())?;
        for run in &expanded.runs {
            let dir = store.run(&run.run_id);
            create_dir_all(dir.path()).map_err(io_err(dir.path()))?;
            let spec = serde_json::to_string_pretty(&run.spec).expect("spec serialises");
            store.write_if_changed(&dir.spec(), spec.as_bytes())?;
        }
        Ok(store)
    }

    fn write_if_changed(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        if std::fs::read(path).ok().as_deref() == Some(bytes) {
            return Ok(());
        }
        write_atomic(path, bytes).map_err(io_err(path))
    }

    /// `results/<sweep>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `results/<sweep>/runs/<id>`.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(run_id)
    }

    /// The files of run `run_id`.
    pub fn run(&self, run_id: &str) -> RunDir {
        RunDir::new(self.run_dir(run_id))
    }

    /// `results/<sweep>/runs`.
    fn runs_dir(&self) -> PathBuf {
        self.root.join(RUNS_DIR)
    }

    /// Every folder under `runs/`, by name, whether or not the expansion lists it (none when
    /// the store does not exist), and the entries that could not be read, with why: a folder
    /// that cannot be listed is not the same as an empty one.
    pub fn run_dirs(&self) -> (Vec<RunDir>, Vec<(PathBuf, String)>) {
        let runs = self.runs_dir();
        let mut problems = Vec::new();
        let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&runs) {
            Ok(rd) => rd
                .filter_map(|e| match e {
                    Ok(e) => Some(e.path()),
                    Err(e) => {
                        problems.push((runs.clone(), format!("could not read an entry: {e}")));
                        None
                    }
                })
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                problems.push((
                    runs.clone(),
                    format!("could not list the runs' folders: {e}"),
                ));
                Vec::new()
            }
        };
        dirs.sort();
        (dirs.into_iter().map(RunDir).collect(), problems)
    }

    /// `expanded.json`.
    fn expanded_file(&self) -> PathBuf {
        self.root.join(EXPANDED_FILE)
    }

    /// The expansion saved by the last launch.
    pub fn expanded(&self) -> Result<Expanded, Error> {
        let path = self.expanded_file();
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path,
            message: e.to_string(),
        })
    }

    /// The run's record, `None` when it has not finished.
    pub fn record(&self, run_id: &str) -> Result<Option<RunRecord>, Error> {
        let path = self.run(run_id).record();
        if !path.exists() {
            return Ok(None);
        }
        let record = RunRecord::read(&path)?;
        if record.run_id != run_id {
            return Err(Error::Corrupt {
                path,
                message: format!(
                    "record of run {} in the directory of {run_id}",
                    record.run_id
                ),
            });
        }
        Ok(Some(record))
    }

    /// One run's record, if it has a readable one, and the state the record alone gives.
    fn read_state(&self, run_id: &str) -> (RunState, Option<RunRecord>) {
        match self.record(run_id) {
            Ok(Some(r)) => (RunState::Finished(r.status), Some(r)),
            Err(e) => (RunState::Unreadable(e.to_string()), None),
            Ok(None) => (RunState::Pending, None),
        }
    }

    /// The state of one run from its record alone (no lock probe).
    pub fn state_unlocked(&self, run_id: &str) -> RunState {
        self.read_state(run_id).0
    }

    /// The state of one run (reads its record, probes its lock).
    pub fn state(&self, run_id: &str) -> RunState {
        self.probe_lock(run_id, self.state_unlocked(run_id))
    }

    /// `state` of a run without a record checked against its lock: held means running.
    fn probe_lock(&self, run_id: &str, state: RunState) -> RunState {
        if state != RunState::Pending {
            return state;
        }
        match RunLock::try_acquire(self.run(run_id).path()) {
            Ok(None) => RunState::Running,
            Ok(Some(_)) | Err(_) => RunState::Pending,
        }
    }

    /// Counts of the runs of the last expansion by state (what the store alone knows; `stab
    /// status` adds the launchers' queues).
    pub fn status(&self) -> Result<StatusSummary, Error> {
        self.tally(None)
    }

    /// What `stab report` reads from a store: the records of exactly the runs [`Store::status`]
    /// counts as finished (the same code walks the store for both), and every `record.json`
    /// under `runs/` that `status` does not count, with the reason; entries of `runs/` that
    /// could not be read are listed there too.
    pub fn scan(&self) -> Result<StoreScan, Error> {
        let mut records = Vec::new();
        let status = self.tally(Some(&mut records))?;
        let expanded: std::collections::BTreeSet<String> = self
            .expanded()?
            .runs
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        let (dirs, mut left_out) = self.run_dirs();
        for dir in dirs {
            let record = dir.record();
            let name = dir
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !record.is_file() {
                continue;
            }
            if expanded.contains(&name) {
                // Counted by `status`: as finished, or as unreadable (below).
                continue;
            }
            let whose = match RunRecord::read(&record) {
                Ok(r) if r.run_id != name => format!("record of run {} in folder {name}", r.run_id),
                Ok(r) => format!("record of run {}", r.run_id),
                Err(_) => "unreadable record".into(),
            };
            left_out.push((
                record,
                format!(
                    "{whose}: not a run of the sweep's current expansion (expanded.json), e.g. left \
                     from an earlier version of the sweep file; not counted by `stab status`"
                ),
            ));
        }
        for msg in &status.unreadable {
            left_out.push((
                self.runs_dir(),
                format!("{msg}; counted as unreadable by `stab status`"),
            ));
        }
        Ok(StoreScan {
            status,
            records,
            left_out,
        })
    }

    /// Counts the runs of the last expansion by state; collects the finished runs' records.
    fn tally(&self, mut records: Option<&mut Vec<RunRecord>>) -> Result<StatusSummary, Error> {
        let expanded = self.expanded()?;
        let mut s = StatusSummary {
            sweep: expanded.sweep.clone(),
            root: self.root.clone(),
            total: expanded.runs.len(),
            ..StatusSummary::default()
        };
        for run in &expanded.runs {
            // One read of the record: the state counted and the record kept agree.
            let (state, record) = self.read_state(&run.run_id);
            if let (Some(r), Some(v)) = (record, records.as_deref_mut()) {
                v.push(r);
            }
            match self.probe_lock(&run.run_id, state) {
                RunState::Pending => s.pending += 1,
                RunState::Running => s.running += 1,
                RunState::Finished(RunStatus::Ok) => s.ok += 1,
                RunState::Finished(RunStatus::Diverged) => s.diverged += 1,
                RunState::Finished(RunStatus::Error) => s.error += 1,
                RunState::Finished(RunStatus::Interrupted) => s.interrupted += 1,
                RunState::Finished(RunStatus::Stopped) => s.stopped += 1,
                RunState::Unreadable(msg) => s.unreadable.push(msg),
            }
        }
        Ok(s)
    }
}

/// A store as `stab report` sees it (see [`Store::scan`]).
#[derive(Debug, Clone)]
pub struct StoreScan {
    /// What `stab status` prints (without the Slurm queue).
    pub status: StatusSummary,
    /// The records of the runs `status` counts as finished, in expansion order.
    pub records: Vec<RunRecord>,
    /// Records that `status` does not count as a finished run, and entries of `runs/` that
    /// could not be read, with why: (path, reason).
    pub left_out: Vec<(PathBuf, String)>,
}

/// Moves `dir/record.json` to `dir/attempts/<unix ms>-<tag>.json` (tag: the record's status,
/// or `unreadable`), so that rerunning a run never loses its earlier record. Returns the new
/// path, or `None` when there was no record.
pub fn keep_earlier_record(dir: &Path) -> Result<Option<PathBuf>, Error> {
    let dir = RunDir::new(dir);
    let record = dir.record();
    if !record.exists() {
        return Ok(None);
    }
    let tag = match RunRecord::read(&record) {
        Ok(r) => r.status.as_str(),
        Err(_) => "unreadable",
    };
    let attempts = dir.attempts();
    std::fs::create_dir_all(&attempts).map_err(io_err(&attempts))?;
    let millis = stab_spec::unix_millis();
    let to = attempts.join(format!("{millis}-{tag}.json"));
    std::fs::rename(&record, &to).map_err(io_err(&record))?;
    Ok(Some(to))
}

/// Prepares `dir` for run `run_id` outside a sweep (`stab run --out DIR`), with the store's
/// rules: a directory that holds another run (its `spec.json` or `record.json` names another
/// id) is refused, and an earlier record of the same run is kept in `attempts/`. Returns where
/// that record went.
pub fn prepare_run_dir(dir: &Path, run_id: &str) -> Result<Option<PathBuf>, Error> {
    check_run_dir(dir, run_id)?;
    keep_earlier_record(dir)
}

/// The first half of [`prepare_run_dir`], which changes nothing: an error when `dir` holds
/// another run. `stab run` asks before taking the lock, so that a directory where another
/// run is executing is refused for what it is (another run), not as a busy copy of this one.
pub fn check_run_dir(dir: &Path, run_id: &str) -> Result<(), Error> {
    let other = |path: PathBuf, holds: &str, what: &str| Error::Corrupt {
        message: format!(
            "holds run {holds} ({what}), not run {run_id}: choose another directory, or remove \
             this one to replace that run"
        ),
        path,
    };
    let files = RunDir::new(dir);
    if let Ok(r) = RunRecord::read(&files.record()) {
        if r.run_id != run_id {
            return Err(other(dir.to_path_buf(), &r.run_id, "its record.json"));
        }
    }
    if let Ok(text) = std::fs::read_to_string(files.spec()) {
        if let Ok(s) = serde_json::from_str::<stab_spec::RunSpec>(&text) {
            if s.run_id() != run_id {
                return Err(other(dir.to_path_buf(), &s.run_id(), "its spec.json"));
            }
        }
    }
    Ok(())
}

/// The counts `stab status` prints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusSummary {
    pub sweep: String,
    pub root: PathBuf,
    pub total: usize,
    /// Finished ok.
    pub ok: usize,
    /// Lock held right now.
    pub running: usize,
    pub pending: usize,
    pub diverged: usize,
    pub error: usize,
    pub interrupted: usize,
    /// Stopped by the spec's `early_failure` policy (predicted failures): done, not results.
    pub stopped: usize,
    /// Records that exist but cannot be read (messages).
    pub unreadable: Vec<String>,
}

impl StatusSummary {
    /// Runs that need no more work (ok, diverged, or stopped as predicted failures).
    pub fn done(&self) -> usize {
        self.ok + self.diverged + self.stopped
    }
}

impl fmt::Display for StatusSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sweep {} ({})", self.sweep, self.root.display())?;
        let stopped = if self.stopped > 0 {
            format!(", {} stopped as predicted failures", self.stopped)
        } else {
            String::new()
        };
        write!(
            f,
            "  {} runs: {} done ({} ok, {} diverged{stopped}), {} running, {} pending, {} error, {} interrupted",
            self.total,
            self.done(),
            self.ok,
            self.diverged,
            self.running,
            self.pending,
            self.error,
            self.interrupted
        )?;
        // Unreadable records are counted too, so that the numbers add up to the total.
        if !self.unreadable.is_empty() {
            write!(f, ", {} unreadable", self.unreadable.len())?;
        }
        writeln!(f)?;
        for m in &self.unreadable {
            writeln!(f, "  unreadable record: {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Atomic writes follow the umask like every other file (tempfile creates 0600).
    #[test]
    fn atomic_writes_get_the_permissions_of_an_ordinary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("a.json"), dir.path().join("b.json"));
        write_atomic(&atomic, b"x").unwrap();
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            format!("{:o}", mode(&atomic)),
            format!("{:o}", mode(&plain))
        );
    }

    /// `stab run --out DIR` on a directory of another run is refused; a record of the same run
    /// (readable or not) is kept in `attempts/`, never overwritten.
    #[test]
    fn a_run_directory_is_never_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let spec = stab_spec::preset("devlin").unwrap();
        let other = stab_spec::preset("mosbach").unwrap();
        let id = spec.run_id();
        assert_eq!(prepare_run_dir(dir.path(), &id).unwrap(), None);

        let record = RunRecord::error(other.clone(), RunStatus::Ok, String::new());
        write_atomic(&dir.path().join("record.json"), record.to_json().as_bytes()).unwrap();
        let err = prepare_run_dir(dir.path(), &id).unwrap_err().to_string();
        assert!(
            err.contains(&format!("holds run {}", other.run_id())),
            "{err}"
        );
        assert!(dir.path().join("record.json").exists());

        std::fs::remove_file(dir.path().join("record.json")).unwrap();
        std::fs::write(dir.path().join("spec.json"), other.canonical_json()).unwrap();
        let err = prepare_run_dir(dir.path(), &id).unwrap_err().to_string();
        assert!(err.contains("its spec.json"), "{err}");

        std::fs::write(dir.path().join("spec.json"), spec.canonical_json()).unwrap();
        let mine = RunRecord::error(spec.clone(), RunStatus::Error, "x".into());
        write_atomic(&dir.path().join("record.json"), mine.to_json().as_bytes()).unwrap();
        let kept = prepare_run_dir(dir.path(), &id).unwrap().unwrap();
        assert!(kept.to_string_lossy().ends_with("-error.json"), "{kept:?}");
        assert!(!dir.path().join("record.json").exists());

        std::fs::write(dir.path().join("record.json"), "{ torn").unwrap();
        let kept = prepare_run_dir(dir.path(), &id).unwrap().unwrap();
        assert!(
            kept.to_string_lossy().ends_with("-unreadable.json"),
            "{kept:?}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("attempts"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn final_states() {
        assert!(RunState::Finished(RunStatus::Ok).is_final(true));
        assert!(RunState::Finished(RunStatus::Diverged).is_final(true));
        assert!(RunState::Finished(RunStatus::Error).is_final(false));
        assert!(!RunState::Finished(RunStatus::Error).is_final(true));
        assert!(!RunState::Finished(RunStatus::Interrupted).is_final(false));
        assert!(!RunState::Pending.is_final(false));
    }

    #[test]
    fn a_launch_runs_what_is_neither_final_nor_running() {
        assert!(RunState::Pending.needs_running(false));
        assert!(RunState::Unreadable("torn".into()).needs_running(false));
        assert!(RunState::Finished(RunStatus::Interrupted).needs_running(false));
        assert!(!RunState::Running.needs_running(true));
        assert!(!RunState::Finished(RunStatus::Error).needs_running(false));
        assert!(RunState::Finished(RunStatus::Error).needs_running(true));
        assert!(!RunState::Finished(RunStatus::Diverged).needs_running(true));
    }
}
