//! The worker side of the launcher contract.
//!
//! A launcher starts a worker as `<program> <prefix…> run --spec <runs/ID/spec.json> --out
//! <runs/ID> --group <G> --sweep <NAME> --threads <T>` ([`WorkerArgs::to_args`]), with the
//! run's lock descriptor inherited and named in [`LOCK_FD_ENV`](crate::LOCK_FD_ENV). The worker
//! executes the run through [`execute_run`], which writes `record.json` atomically for `ok`,
//! `diverged`, `error` and `interrupted` outcomes, and exits with [`exit_code`] of the record's
//! status (0 for ok and diverged, 1 for error and interrupted). Anything else — a signal, a
//! panic, another exit code, a missing or unreadable record — makes the launcher write an
//! `error` record itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use stab_spec::{RunRecord, RunSpec, RunStatus};

use crate::lock::{lock_run_dir, LOCK_FD_ENV};
use crate::store::{io_err, prepare_run_dir, write_atomic, RunDir};
use crate::Error;

/// The exit status of a worker that could not write a record (bad flags or spec, unusable
/// `--out`).
pub const NO_RECORD_EXIT_CODE: u8 = 2;

/// The worker's exit status for a run that ended with `status`: 0 when it is a result (`ok`,
/// `diverged`) or a run the spec's policy stopped as a predicted failure (`stopped`), 1 when
/// it is not (`error`, `interrupted`); its record says why.
pub fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Ok | RunStatus::Diverged | RunStatus::Stopped => 0,
        RunStatus::Error | RunStatus::Interrupted => 1,
    }
}

/// The worker's command line after its subcommand (`run`): built by launchers
/// ([`WorkerArgs::to_args`]), parsed by workers. With the `clap` feature it is a
/// `clap::Args`, which `stab run` and the test worker flatten into their own flags.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct WorkerArgs {
    /// Run spec: TOML (preset + overrides) or JSON (fully resolved, as written in run dirs).
    #[cfg_attr(feature = "clap", arg(long))]
    pub spec: Option<PathBuf>,
    /// Directory for spec.json and record.json (default: results/runs/<run id>). A directory
    /// of another run is refused; an earlier record of this run is kept in DIR/attempts/.
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: Option<PathBuf>,
    /// Sweep group (stored in the record, not part of the run id).
    #[cfg_attr(feature = "clap", arg(long))]
    pub group: Option<String>,
    /// Sweep name (stored in the record).
    #[cfg_attr(feature = "clap", arg(long))]
    pub sweep: Option<String>,
    /// Threads of the run (sets the spec's `threads`, part of its id).
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
}

impl WorkerArgs {
    /// The subcommand a launcher puts before the flags.
    pub const SUBCOMMAND: &'static str = "run";

    /// The arguments of the worker of the run in `dir` of sweep `sweep`, in group `group`.
    pub fn for_run(dir: &RunDir, group: &str, sweep: &str, threads: usize) -> WorkerArgs {
        WorkerArgs {
            spec: Some(dir.spec()),
            out: Some(dir.path().to_path_buf()),
            group: Some(group.to_string()),
            sweep: Some(sweep.to_string()),
            threads: Some(threads),
        }
    }

    /// `run --spec S --out D --group G --sweep N --threads T` (flags that are `None` left out).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![Self::SUBCOMMAND.into()];
        // `--name=VALUE`, one argument each, so that a value may start with `-` (a group
        // named `-2`) without being read as a flag.
        let mut flag = |name: &str, value: Option<OsString>| {
            if let Some(v) = value {
                let mut arg = OsString::from(format!("--{name}="));
                arg.push(v);
                out.push(arg);
            }
        };
        flag("spec", self.spec.clone().map(Into::into));
        flag("out", self.out.clone().map(Into::into));
        flag("group", self.group.clone().map(Into::into));
        flag("sweep", self.sweep.clone().map(Into::into));
        flag("threads", self.threads.map(|t| t.to_string().into()));
        out
    }
}

/// A run whose directory is ready: locked, free of another run's files, earlier record kept.
#[derive(Debug)]
pub struct Begun {
    /// The run's directory (`--out`).
    pub dir: RunDir,
    /// Where an earlier record of this run was moved (`attempts/`), if there was one.
    pub kept: Option<PathBuf>,
}

/// What [`execute_run`] left: the record and where it is.
#[derive(Debug)]
pub struct Executed {
    pub record: RunRecord,
    pub path: PathBuf,
}

/// Executes the run of `spec` in `dir` inside the launcher contract: creates `dir`, checks the
/// lock descriptor inherited from a launcher ([`LOCK_FD_ENV`]) or takes the lock itself
/// (refusing a run another process executes), refuses a directory of another run, keeps an
/// earlier record of this run in `attempts/`, writes `spec.json`, calls `run`, and writes its
/// record atomically. The lock is held until the record is written.
///
/// `Err` means no record was written ([`NO_RECORD_EXIT_CODE`]); otherwise exit with
/// [`exit_code`] of the record's status.
pub fn execute_run(
    dir: &Path,
    spec: &RunSpec,
    run: impl FnOnce(&Begun) -> RunRecord,
) -> Result<Executed, Error> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let inherited = std::env::var(LOCK_FD_ENV).ok();
    let _lock = lock_run_dir(dir, inherited.as_deref())?;
    let kept = prepare_run_dir(dir, &spec.run_id())?;
    let begun = Begun {
        dir: RunDir::new(dir),
        kept,
    };
    let spec_path = begun.dir.spec();
    write_atomic(&spec_path, spec.canonical_json().as_bytes()).map_err(io_err(&spec_path))?;
    let record = run(&begun);
    let path = begun.dir.record();
    write_atomic(&path, record.to_json().as_bytes()).map_err(io_err(&path))?;
    Ok(Executed { record, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_args_lay_out_the_run_subcommand_and_its_flags() {
        let dir = RunDir::new("/r/runs/ab");
        let args = WorkerArgs::for_run(&dir, "devlin", "q", 2).to_args();
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            words,
            [
                "run",
                "--spec=/r/runs/ab/spec.json",
                "--out=/r/runs/ab",
                "--group=devlin",
                "--sweep=q",
                "--threads=2"
            ]
        );
        let none = WorkerArgs::default().to_args();
        assert_eq!(none, [OsString::from("run")]);
    }

    #[test]
    fn a_run_executed_in_the_contract_leaves_spec_and_record_and_keeps_the_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let spec = stab_spec::preset("devlin").unwrap();
        let first = execute_run(&out, &spec, |b| {
            assert_eq!(b.kept, None);
            // The run is locked while it executes.
            assert!(crate::is_locked(&b.dir));
            RunRecord::error(spec.clone(), RunStatus::Error, "first".into())
        })
        .unwrap();
        assert_eq!(exit_code(first.record.status), 1);
        assert_eq!(
            std::fs::read_to_string(out.join("spec.json")).unwrap(),
            spec.canonical_json()
        );
        let second = execute_run(&out, &spec, |b| {
            let kept = b.kept.as_ref().expect("the error record was kept");
            assert!(kept.to_string_lossy().ends_with("-error.json"), "{kept:?}");
            RunRecord::error(spec.clone(), RunStatus::Diverged, String::new())
        })
        .unwrap();
        assert_eq!(second.path, out.join("record.json"));
        assert_eq!(exit_code(second.record.status), 0);
        assert!(!crate::is_locked(&RunDir::new(&out)), "released");

        // Another run's directory is refused before anything runs.
        let other = stab_spec::preset("mosbach").unwrap();
        let e = execute_run(&out, &other, |_| unreachable!("refused")).unwrap_err();
        assert!(e.to_string().contains("holds run"), "{e}");
    }
}
