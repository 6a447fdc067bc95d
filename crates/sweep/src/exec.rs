//! The launcher side of the worker protocol: claim a run's lock, start its worker
//! ([`stab_store::WorkerArgs`]) with the lock inherited, make sure a record exists when it
//! exits. The worker side is [`stab_store::execute_run`].

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use stab_spec::{hostname, unix_millis, unix_seconds, utc_timestamp, RunRecord, RunStatus};
use stab_store::{
    keep_earlier_record, write_atomic, PlannedRun, RunLock, Store, WorkerArgs, LOCK_FD_ENV,
};

use crate::{io_err, Error};

/// Lines of the log quoted in the record of a worker that died without writing one.
const TAIL_LINES: usize = 40;

/// How to start a worker. The launcher runs `<program> <args_prefix…>` followed by the
/// run's [`WorkerArgs`] (`run --spec=<runs/ID/spec.json> --out=<runs/ID> --group=<G>
/// --sweep=<NAME> --threads=<T>`, one argument each so that a value may start with `-`) with
/// stdout and stderr appended to `runs/ID/log.txt` and `env` added to the launcher's environment.
///
/// The worker follows [`stab_store::execute_run`]: it writes `record.json` atomically and exits
/// with [`stab_store::exit_code`]. Anything else — a signal, a panic, another exit code, a
/// missing or unreadable record — makes the launcher write an `error` record itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args_prefix: Vec<String>,
    /// Variables set for the worker on top of the launcher's environment (for a Slurm task
    /// command: exported by the sbatch script).
    pub env: Vec<(String, String)>,
    /// `program` is the launcher's own executable: a local worker then executes the
    /// launcher's image itself (`/proc/self/exe` on Linux) rather than whatever file is at
    /// `program` now, so that rebuilding stab while a sweep runs never mixes two versions in
    /// one study (an older launcher cannot read the newer worker's records; the results stay
    /// safe but the runs read as errors).
    pub own_image: bool,
}

impl WorkerCommand {
    pub fn new(program: impl Into<PathBuf>) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args_prefix: Vec::new(),
            env: Vec::new(),
            own_image: false,
        }
    }

    /// The running executable itself (`stab` launching `stab run`), pinned to the image
    /// running now ([`WorkerCommand::own_image`]).
    pub fn current_exe() -> std::io::Result<WorkerCommand> {
        Ok(WorkerCommand {
            own_image: true,
            ..WorkerCommand::new(std::env::current_exe()?)
        })
    }

    /// What a local launcher executes: in the forked child, `/proc/self/exe` is still the
    /// launcher's image (deleted or replaced on disk or not) until the exec.
    fn exec_path(&self) -> &Path {
        const OWN: &str = "/proc/self/exe";
        if self.own_image && cfg!(target_os = "linux") && Path::new(OWN).exists() {
            Path::new(OWN)
        } else {
            &self.program
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> WorkerCommand {
        self.args_prefix.push(a.into());
        self
    }

    /// Sets `key` to `value` in the worker's environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> WorkerCommand {
        self.env.push((key.into(), value.into()));
        self
    }
}

pub(crate) enum Claim {
    /// Somebody else holds the run's lock.
    Busy,
    /// Nothing to do: the run has a final record.
    Final,
    /// We hold the lock and the run needs executing.
    Claimed(RunLock),
}

/// Takes the run's lock, then (under the lock, so no race with a finishing worker) decides
/// whether it still needs running. Earlier non-final records are moved to `attempts/`.
pub(crate) fn claim(store: &Store, run: &PlannedRun, retry: bool) -> Result<Claim, Error> {
    let dir = store.run(&run.run_id);
    // Deleted while the sweep went on: recreated, and the run executes as if never started.
    restore_run_dir(store, run)?;
    if !dir.spec().exists() {
        return Err(Error::Corrupt {
            path: dir.spec(),
            message: "missing: the store was not created for this sweep".into(),
        });
    }
    let Some(lock) = RunLock::try_acquire(dir.path()).map_err(io_err(dir.path()))? else {
        return Ok(Claim::Busy);
    };
    let state = store.state_unlocked(&run.run_id);
    if state.is_final(retry) {
        return Ok(Claim::Final);
    }
    keep_earlier_record(dir.path())?;
    lock.write_owner().map_err(io_err(&dir.lock()))?;
    Ok(Claim::Claimed(lock))
}

/// Recreates the directory of `run` with its `spec.json` when somebody deleted it during the
/// sweep (the store's `runs/` folder still there): that run is recorded or rerun, and the
/// launcher goes on with the others instead of failing on the missing folder. Returns
/// whether it had to.
fn restore_run_dir(store: &Store, run: &PlannedRun) -> Result<bool, Error> {
    let dir = store.run(&run.run_id);
    let runs = dir.path().parent().unwrap_or(store.root());
    if dir.path().exists() || !runs.is_dir() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir.path()).map_err(io_err(dir.path()))?;
    let spec = serde_json::to_string_pretty(&run.spec).expect("spec serialises");
    write_atomic(&dir.spec(), spec.as_bytes()).map_err(io_err(&dir.spec()))?;
    Ok(true)
}

/// Executes one run of `store` in the calling thread, inside the contract: claims its lock,
/// starts its worker, waits for it and makes sure the run has a record. `Ok(None)` when the
/// run was not executed: it has a final record, or somebody else holds its lock. For launchers
/// that execute runs one at a time (the local pool runs many at once and can stop them).
pub fn execute_one(
    store: &Store,
    run: &PlannedRun,
    worker: &WorkerCommand,
    retry: bool,
) -> Result<Option<RunStatus>, Error> {
    let lock = match claim(store, run, retry)? {
        Claim::Busy | Claim::Final => return Ok(None),
        Claim::Claimed(lock) => lock,
    };
    let sweep = store.expanded()?.sweep;
    let mut started = start(store, run, &sweep, &lock, worker, run.spec.threads, None)?;
    let status = started.child.wait().map_err(|source| Error::Worker {
        program: worker.program.clone(),
        source,
    })?;
    finish(store, run, &sweep, &started, status, false).map(Some)
}

/// A worker that has been started.
pub(crate) struct Started {
    pub child: std::process::Child,
    pub log_offset: u64,
    pub started: Instant,
    pub started_unix: f64,
}

/// Starts the worker in its own process group (a terminal Ctrl-C reaches only the launcher,
/// which then stops the workers itself) with the run's lock descriptor inherited, so the run
/// stays locked for as long as the worker lives.
pub(crate) fn start(
    store: &Store,
    run: &PlannedRun,
    sweep: &str,
    lock: &RunLock,
    worker: &WorkerCommand,
    threads: usize,
    gpu: Option<&str>,
) -> Result<Started, Error> {
    let dir = store.run(&run.run_id);
    restore_run_dir(store, run)?;
    let log_path = dir.log();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err(&log_path))?;
    let log_offset = log.seek(SeekFrom::End(0)).map_err(io_err(&log_path))?;
    let started_unix = unix_seconds();
    let on_gpu = gpu.map(|g| format!(", GPU {g}")).unwrap_or_default();
    writeln!(
        log,
        "--- stab-sweep: attempt started at {} (unix {started_unix:.3}) by launcher pid {} on {}{on_gpu} ---",
        utc_timestamp(started_unix),
        std::process::id(),
        hostname()
    )
    .map_err(io_err(&log_path))?;
    let err_log = log.try_clone().map_err(io_err(&log_path))?;
    let lock_fd = lock.file().as_raw_fd();
    let mut cmd = Command::new(worker.exec_path());
    cmd.arg0(&worker.program)
        .args(&worker.args_prefix)
        .args(WorkerArgs::for_run(&dir, &run.group, sweep, threads).to_args())
        .envs(worker.env.iter().map(|(k, v)| (k, v)))
        .env(LOCK_FD_ENV, lock_fd.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0);
    if let Some(gpu) = gpu {
        cmd.env("CUDA_VISIBLE_DEVICES", gpu);
    }
    // SAFETY: only async-signal-safe calls (fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(lock_fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| Error::Worker {
        program: worker.program.clone(),
        source,
    })?;
    Ok(Started {
        child,
        log_offset,
        started: Instant::now(),
        started_unix,
    })
}

/// After the worker exited: keeps its record if it wrote a valid one, else writes an `error`
/// record (or `interrupted` when the launcher stopped it) with the exit status and log tail.
pub(crate) fn finish(
    store: &Store,
    run: &PlannedRun,
    sweep: &str,
    started: &Started,
    status: ExitStatus,
    interrupted: bool,
) -> Result<RunStatus, Error> {
    let dir = store.run(&run.run_id);
    let record_path = dir.record();
    let problem = match store.record(&run.run_id) {
        Ok(Some(r)) => return Ok(r.status),
        Ok(None) => None,
        Err(e) => {
            // Kept beside the run, never written over: if it cannot be moved, the launcher
            // stops with the reason instead of replacing it.
            let to = dir.unreadable_record(unix_millis());
            std::fs::rename(&record_path, &to).map_err(|source| Error::KeepUnreadable {
                path: record_path.clone(),
                to,
                source,
            })?;
            Some(e.to_string())
        }
    };
    let (kind, mut message) = if interrupted {
        (
            RunStatus::Interrupted,
            format!(
                "interrupted: the launcher stopped the worker ({})",
                describe(status)
            ),
        )
    } else {
        (
            RunStatus::Error,
            format!("worker {} without writing a record", describe(status)),
        )
    };
    if let Some(p) = problem {
        message.push_str(&format!(" (its record was unreadable: {p})"));
    }
    if restore_run_dir(store, run)? {
        message.push_str(
            "; its run directory was deleted while it ran (recreated for this record, \
             rerun with --retry)",
        );
    }
    let tail = log_tail(&dir.log(), started.log_offset);
    if !tail.is_empty() {
        message.push_str(&format!("\n--- last lines of log.txt ---\n{tail}"));
    }
    let mut record = RunRecord::error(run.spec.clone(), kind, message);
    record.group = Some(run.group.clone());
    record.sweep = Some(sweep.to_string());
    record.timing.started_unix = started.started_unix;
    record.timing.wall_seconds = started.started.elapsed().as_secs_f64();
    record.timing.hostname = hostname();
    write_atomic(&record_path, record.to_json().as_bytes()).map_err(io_err(&record_path))?;
    Ok(kind)
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("was killed by signal {s}{}", signal_name(s)),
        _ => format!("ended with {status}"),
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGINT => " (SIGINT)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGBUS => " (SIGBUS)",
        _ => "",
    }
}

/// The last [`TAIL_LINES`] lines written to the log since `offset`.
fn log_tail(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        // Read at most the last 64 KiB of this attempt.
        let from = offset.max(len.saturating_sub(64 * 1024));
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let mut bytes = Vec::new();
            let _ = f.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("--- stab-sweep: attempt started"))
        .collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A launcher running itself as the worker executes its own image, whatever is at its path
    /// on disk by then; any other worker program is executed by its path.
    #[test]
    fn the_launchers_own_binary_is_executed_from_its_image() {
        let own = WorkerCommand::current_exe().unwrap();
        assert!(own.own_image);
        if cfg!(target_os = "linux") {
            assert_eq!(own.exec_path(), Path::new("/proc/self/exe"));
            // In a child, /proc/self/exe is the launcher's image until the exec: the test
            // binary runs itself and lists its tests.
            let out = Command::new(own.exec_path())
                .arg0(&own.program)
                .args([
                    "--list",
                    "--exact",
                    "exec::tests::the_launchers_own_binary_is_executed_from_its_image",
                ])
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&out.stdout);
            assert!(
                listed.contains("the_launchers_own_binary_is_executed_from_its_image"),
                "{listed}"
            );
        }
        let other = WorkerCommand::new("/usr/bin/env");
        assert_eq!(other.exec_path(), Path::new("/usr/bin/env"));
    }
}
