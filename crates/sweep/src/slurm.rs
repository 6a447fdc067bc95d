//! The Slurm launcher: one job array per submission, one array task per pending run.
//!
//! Each array task runs the *task command*, which executes its run exactly like the local
//! launcher does ([`run_slurm_task`]: lock, worker process, record on crash), so results land
//! in the same store and a run is never executed twice, even with a local launcher pointed at
//! the same store. Slurm's own accounting is not needed: without slurmdbd there is no `sacct`,
//! and a cancelled pending task leaves no trace in Slurm at all, so the store decides what has
//! finished; `squeue` only tells what is still queued.
//!
//! The launcher's files in the store: `slurm-jobs.json` (submissions: job id → run ids; a
//! corrupt file is an error, never read as "nothing queued"), `slurm-jobs.lock` (held while
//! it is updated) and `slurm/` (sbatch scripts and array-task output).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use stab_spec::unix_seconds;
use stab_store::{write_atomic, PlannedRun, Store};

use crate::exec::WorkerCommand;
use crate::launcher::{settings, Launch, Launched, Launcher, QueueSummary, SettingsError};
use crate::local::{run_local, LocalOptions, Summary};
use crate::{io_err, Error};

/// The Slurm launcher ([`submit_slurm`] behind the [`Launcher`] interface): settings from the
/// sweep file's `[slurm]` table ([`SlurmDefaults`]), queue from `squeue`.
pub struct Slurm;

impl Launcher for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn check_settings(&self, table: &toml::Table) -> Result<(), SettingsError> {
        settings::<SlurmDefaults>(table).map(|_| ())
    }

    fn launch(
        &self,
        store: &Store,
        runs: &[PlannedRun],
        launch: &Launch,
    ) -> Result<Launched, Error> {
        let resources =
            settings::<SlurmDefaults>(&launch.settings).map_err(|e| Error::Settings {
                launcher: self.name(),
                error: e,
            })?;
        let mut o = SlurmOptions::new(launch.task.clone(), resources);
        o.retry = launch.retry;
        o.threads = launch.threads;
        Ok(Launched::Queued(
            submit_slurm(store, runs, &o)?.map(|job| format!("submitted {job:?}")),
        ))
    }

    fn queue(&self, store: &Store) -> Result<Option<QueueSummary>, Error> {
        queue_summary(store)
    }
}

/// `slurm-jobs.json`: the Slurm submissions of the store.
fn jobs_file(store: &Store) -> PathBuf {
    store.root().join("slurm-jobs.json")
}

/// `slurm-jobs.lock`: held while `slurm-jobs.json` is updated.
fn jobs_lock(store: &Store) -> PathBuf {
    store.root().join("slurm-jobs.lock")
}

/// `slurm/`: sbatch scripts and the output of array tasks.
fn slurm_dir(store: &Store) -> PathBuf {
    store.root().join("slurm")
}

/// Slurm resources given in the sweep file's `[slurm]` table (flags win over them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmDefaults {
    pub partition: Option<String>,
    /// Wall-clock limit per array task, in any `sbatch --time` format (`01:30:00`).
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    /// `--gpus-per-task` value (`1`, `a100:1`).
    pub gpus: Option<String>,
    /// `--mem` value (`16G`).
    pub mem: Option<String>,
    /// At most this many array tasks at once (`--array=…%N`).
    pub max_parallel: Option<usize>,
    /// Runs packed into one array task, executed at once by that many workers sharing the
    /// task's allocation (one GPU with `gpus = "1"`); `None`: 1.
    pub runs_per_gpu: Option<usize>,
    /// Further `#SBATCH` lines, verbatim (`--account=foo`).
    #[serde(default)]
    pub extra: Vec<String>,
}

/// Options of [`submit_slurm`].
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// What each array task runs: `<program> <args_prefix…> --results <store> --run <ID>
    /// --threads <T> [--retry]`, which must call [`run_slurm_task`] (for `stab`: its hidden
    /// `sweep-task` subcommand, say).
    pub task: WorkerCommand,
    /// Thread budget of each run (`--threads`, and `--cpus-per-task` unless given); `None`:
    /// the largest `threads` of the runs.
    pub threads: Option<usize>,
    /// Also resubmit runs that ended in `error`.
    pub retry: bool,
    /// Partition, time, cpus, gpus, mem, `%max-parallel`: usually the sweep file's `[slurm]`
    /// table with flags applied on top.
    pub resources: SlurmDefaults,
    /// The `sbatch` program.
    pub sbatch: PathBuf,
    /// The `squeue` program.
    pub squeue: PathBuf,
    /// Directory the tasks start in (relative model and data paths resolve there); `None`:
    /// the current directory.
    pub workdir: Option<PathBuf>,
}

impl SlurmOptions {
    pub fn new(task: WorkerCommand, resources: SlurmDefaults) -> SlurmOptions {
        SlurmOptions {
            task,
            threads: None,
            retry: false,
            resources,
            sbatch: PathBuf::from("sbatch"),
            squeue: PathBuf::from(SQUEUE),
            workdir: None,
        }
    }
}

/// A submitted job array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmJob {
    pub job_id: String,
    pub submitted_unix: f64,
    pub script: PathBuf,
    /// Run ids in array order: task i executes `runs[i·K .. i·K + K]`.
    pub runs: Vec<String>,
    /// K, the runs each array task executes at once; optional in `slurm-jobs.json`, 1 when
    /// absent.
    #[serde(default = "one")]
    pub runs_per_task: usize,
}

fn one() -> usize {
    1
}

impl SlurmJob {
    /// The runs array task `task` executes.
    pub fn task_runs(&self, task: usize) -> &[String] {
        let k = self.runs_per_task.max(1);
        let start = (task * k).min(self.runs.len());
        &self.runs[start..(start + k).min(self.runs.len())]
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JobsFile {
    jobs: Vec<SlurmJob>,
}

/// Writes the sbatch script for the runs of `runs` that still need running (no final record,
/// not running now, not already queued in one of this store's jobs), submits it and records
/// the job in `slurm-jobs.json`. `Ok(None)` when nothing needs submitting. When the store has
/// jobs but `squeue` cannot say which of them are still queued, nothing is submitted (queued
/// runs would be submitted twice): that is an error.
pub fn submit_slurm(
    store: &Store,
    runs: &[PlannedRun],
    opts: &SlurmOptions,
) -> Result<Option<SlurmJob>, Error> {
    let queued = queued_runs(store, &opts.squeue)?;
    let pending: Vec<&PlannedRun> = runs
        .iter()
        .filter(|r| store.state(&r.run_id).needs_running(opts.retry) && !queued.contains(&r.run_id))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let threads = opts
        .threads
        .unwrap_or_else(|| runs.iter().map(|r| r.spec.threads).max().unwrap_or(1))
        .max(1);
    // Absolute: the array tasks start elsewhere (`--chdir`).
    let store = Store::open(std::path::absolute(store.root()).map_err(io_err(store.root()))?);
    let slurm_dir = slurm_dir(&store);
    std::fs::create_dir_all(&slurm_dir).map_err(io_err(&slurm_dir))?;
    let workdir = match &opts.workdir {
        Some(w) => w.clone(),
        None => std::env::current_dir().map_err(io_err(Path::new(".")))?,
    };
    let sweep = store.expanded()?.sweep;
    let ids: Vec<String> = pending.iter().map(|r| r.run_id.clone()).collect();
    let per_task = opts.resources.runs_per_gpu.unwrap_or(1).max(1);
    let script = sbatch_script(&sweep, &store, &workdir, &ids, threads, opts);
    let script_path = slurm_dir.join(format!("submit-{}.sbatch", unix_seconds() as u64));
    write_atomic(&script_path, script.as_bytes()).map_err(io_err(&script_path))?;

    let out = Command::new(&opts.sbatch)
        .arg("--parsable")
        .arg(&script_path)
        .current_dir(&workdir)
        .output()
        .map_err(|e| Error::Slurm(format!("could not run {}: {e}", opts.sbatch.display())))?;
    if !out.status.success() {
        return Err(Error::Slurm(format!(
            "sbatch failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| Error::Slurm(format!("unexpected sbatch output: {stdout:?}")))?
        .to_string();
    let job = SlurmJob {
        job_id,
        submitted_unix: unix_seconds(),
        script: script_path,
        runs: ids,
        runs_per_task: per_task,
    };
    record_job(&store, &job)?;
    Ok(Some(job))
}

fn sbatch_script(
    sweep: &str,
    store: &Store,
    workdir: &Path,
    ids: &[String],
    threads: usize,
    opts: &SlurmOptions,
) -> String {
    let r = &opts.resources;
    let k = r.runs_per_gpu.unwrap_or(1).max(1);
    let tasks = ids.len().div_ceil(k);
    let mut s = String::from("#!/bin/bash\n");
    let mut line = |l: String| s.push_str(&format!("#SBATCH {l}\n"));
    line(format!("--job-name=stab-{sweep}"));
    let throttle = r.max_parallel.map(|m| format!("%{m}")).unwrap_or_default();
    line(format!("--array=0-{}{throttle}", tasks - 1));
    line(format!(
        "--output={}",
        slurm_dir(store).join("%A_%a.out").display()
    ));
    line(format!("--chdir={}", workdir.display()));
    line("--ntasks=1".into());
    line(format!(
        "--cpus-per-task={}",
        r.cpus_per_task.unwrap_or(threads * k)
    ));
    if let Some(p) = &r.partition {
        line(format!("--partition={p}"));
    }
    if let Some(t) = &r.time {
        line(format!("--time={t}"));
    }
    if let Some(g) = &r.gpus {
        line(format!("--gpus-per-task={g}"));
    }
    if let Some(m) = &r.mem {
        line(format!("--mem={m}"));
    }
    for e in &r.extra {
        line(e.clone());
    }
    if k == 1 {
        s.push_str(&format!(
            "# Generated by stab-sweep for sweep {sweep}: array task i executes run RUNS[i].\n\
             set -eu\nRUNS=({})\nRUN=\"${{RUNS[$SLURM_ARRAY_TASK_ID]}}\"\n",
            ids.join(" ")
        ));
    } else {
        // K runs per task, executed at once by K workers sharing the task's allocation.
        s.push_str(&format!(
            "# Generated by stab-sweep for sweep {sweep}: array task i executes runs \
             RUNS[{k}i .. {k}i+{k}] at once.\n\
             set -eu\nRUNS=({})\nARGS=()\n\
             for RUN in \"${{RUNS[@]:$((SLURM_ARRAY_TASK_ID * {k})):{k}}}\"; do ARGS+=(--run \"$RUN\"); done\n",
            ids.join(" ")
        ));
    }
    for (k, v) in &opts.task.env {
        s.push_str(&format!("export {k}={}\n", quote(v)));
    }
    let mut cmd = vec![quote(&opts.task.program.to_string_lossy())];
    cmd.extend(opts.task.args_prefix.iter().map(|a| quote(a)));
    cmd.push("--results".into());
    cmd.push(quote(&store.root().to_string_lossy()));
    if k == 1 {
        cmd.push("--run".into());
        cmd.push("\"$RUN\"".into());
    } else {
        cmd.push("\"${ARGS[@]}\"".into());
        cmd.push("--runs-per-gpu".into());
        cmd.push(k.to_string());
    }
    cmd.push("--threads".into());
    cmd.push(threads.to_string());
    if opts.retry {
        cmd.push("--retry".into());
    }
    s.push_str(&format!("exec {}\n", cmd.join(" ")));
    s
}

/// Single-quotes a word for bash.
fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn record_job(store: &Store, job: &SlurmJob) -> Result<(), Error> {
    let lock_path = jobs_lock(store);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    lock.lock().map_err(io_err(&lock_path))?;
    let mut file = read_jobs(store)?;
    file.jobs.push(job.clone());
    let path = jobs_file(store);
    let json = serde_json::to_string_pretty(&file).expect("jobs serialise");
    write_atomic(&path, json.as_bytes()).map_err(io_err(&path))
}

fn read_jobs(store: &Store) -> Result<JobsFile, Error> {
    let path = jobs_file(store);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JobsFile::default()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// The jobs this store submitted.
pub fn slurm_jobs(store: &Store) -> Result<Vec<SlurmJob>, Error> {
    Ok(read_jobs(store)?.jobs)
}

/// One array task as `squeue` shows it.
#[derive(Debug, Clone, PartialEq)]
struct QueuedTask {
    job_id: String,
    task: Option<usize>,
    state: String,
}

/// The `squeue` program `stab status` asks.
const SQUEUE: &str = "squeue";

fn squeue(program: &Path) -> Result<Vec<QueuedTask>, String> {
    let out = Command::new(program)
        .args(["-h", "-r", "-o", "%i|%T"])
        .output()
        .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "squeue failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_squeue(text: &str) -> Vec<QueuedTask> {
    text.lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once('|')?;
            let (job, task) = match id.split_once('_') {
                Some((j, t)) => (j, t.parse().ok()),
                None => (id, None),
            };
            Some(QueuedTask {
                job_id: job.to_string(),
                task,
                state: state.to_string(),
            })
        })
        .collect()
}

/// A store's Slurm jobs and what `squeue` says of them.
struct StoreQueue {
    jobs: Vec<SlurmJob>,
    /// The array tasks of these jobs that `squeue` lists, or why it could not be asked.
    tasks: Result<Vec<QueuedTask>, String>,
}

/// The jobs of `store` and their queued tasks; `None` when the store was never submitted to
/// Slurm (then `squeue` is not asked). A `slurm-jobs.json` that cannot be read is an error.
fn queue_of(store: &Store, squeue_program: &Path) -> Result<Option<StoreQueue>, Error> {
    let jobs = read_jobs(store)?.jobs;
    if jobs.is_empty() {
        return Ok(None);
    }
    let tasks = squeue(squeue_program).map(|q| {
        q.into_iter()
            .filter(|t| jobs.iter().any(|j| j.job_id == t.job_id))
            .collect()
    });
    Ok(Some(StoreQueue { jobs, tasks }))
}

/// Run ids of this store queued (pending or running) in Slurm right now. An error when the
/// store has jobs and `squeue` cannot be asked.
fn queued_runs(store: &Store, squeue_program: &Path) -> Result<Vec<String>, Error> {
    let Some(StoreQueue { jobs, tasks }) = queue_of(store, squeue_program)? else {
        return Ok(Vec::new());
    };
    let tasks = tasks.map_err(|e| {
        Error::Slurm(format!(
            "{e}; not submitting: without the queue, runs of {} still queued in jobs {} would be \
             submitted twice (check `squeue`, then launch again)",
            store.root().display(),
            jobs.iter()
                .map(|j| j.job_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let mut out = Vec::new();
    for t in tasks {
        let Some(job) = jobs.iter().find(|j| j.job_id == t.job_id) else {
            continue;
        };
        match t.task {
            Some(i) => out.extend(job.task_runs(i).iter().cloned()),
            // A whole array not yet split into tasks: all its runs are queued.
            None => out.extend(job.runs.iter().cloned()),
        }
    }
    Ok(out)
}

/// What `squeue` says about the jobs of `store`; `None` when the store was never submitted to
/// Slurm. A `squeue` that fails is reported in the summary; a corrupt `slurm-jobs.json` is an
/// error.
pub fn queue_summary(store: &Store) -> Result<Option<QueueSummary>, Error> {
    let Some(StoreQueue { jobs, tasks }) = queue_of(store, Path::new(SQUEUE))? else {
        return Ok(None);
    };
    let mut s = QueueSummary {
        launcher: "slurm".into(),
        source: "squeue".into(),
        jobs: jobs.into_iter().map(|j| j.job_id).collect(),
        ..QueueSummary::default()
    };
    match tasks {
        Err(e) => s.error = Some(e),
        Ok(q) => {
            for t in &q {
                match t.state.as_str() {
                    "PENDING" => s.pending += 1,
                    "RUNNING" | "COMPLETING" | "CONFIGURING" => s.running += 1,
                    _ => s.other += 1,
                }
            }
        }
    }
    Ok(Some(s))
}

/// The body of one array task: executes the runs `run_ids` of the store (as listed in its
/// `expanded.json`) exactly as the local launcher would, with one worker per run, all at once
/// (K runs sharing the task's GPU). SIGTERM (`scancel`, time limit) stops the workers and
/// records their runs as `interrupted`.
pub fn run_slurm_task(
    store: &Store,
    run_ids: &[String],
    threads: usize,
    retry: bool,
    worker: WorkerCommand,
) -> Result<Summary, Error> {
    let expanded = store.expanded()?;
    let runs = run_ids
        .iter()
        .map(|id| {
            expanded
                .runs
                .iter()
                .find(|r| &r.run_id == id)
                .cloned()
                .ok_or_else(|| {
                    Error::Slurm(format!("run {id} is not in {}", store.root().display()))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut opts = LocalOptions::new(worker);
    opts.workers = Some(runs.len().max(1));
    opts.threads = Some(threads);
    opts.retry = retry;
    opts.progress = false;
    run_local(store, &runs, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_jobs_file_is_an_error_not_an_empty_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        assert_eq!(queue_summary(&store).unwrap(), None, "never submitted");
        std::fs::write(jobs_file(&store), "{ torn").unwrap();
        for e in [
            queue_summary(&store).unwrap_err(),
            queued_runs(&store, Path::new(SQUEUE)).unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(text.contains("slurm-jobs.json"), "{text}");
        }
    }

    #[test]
    fn a_failed_squeue_stops_a_submission() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        let job = SlurmJob {
            job_id: "7".into(),
            submitted_unix: 0.0,
            script: "s".into(),
            runs: vec!["a".into()],
            runs_per_task: 1,
        };
        record_job(&store, &job).unwrap();
        let missing = dir.path().join("no-squeue");
        let e = queued_runs(&store, &missing).unwrap_err().to_string();
        assert!(
            e.contains("could not run") && e.contains("no-squeue"),
            "{e}"
        );
        assert!(e.contains("not submitting") && e.contains("jobs 7"), "{e}");
        // Without jobs there is nothing to ask squeue about.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            queued_runs(&Store::open(empty.path()), &missing).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn squeue_lines_parse() {
        let q = parse_squeue("12_3|RUNNING\n12_4|PENDING\n13|PENDING\n");
        assert_eq!(q[0].job_id, "12");
        assert_eq!(q[0].task, Some(3));
        assert_eq!(q[2].task, None);
    }

    #[test]
    fn script_maps_array_tasks_to_runs_and_quotes() {
        let mut opts = SlurmOptions::new(
            WorkerCommand::new("/opt/my stab")
                .arg("sweep-task")
                .env("STAB_X", "a b"),
            SlurmDefaults {
                max_parallel: Some(2),
                partition: Some("gpu".into()),
                mem: Some("8G".into()),
                ..SlurmDefaults::default()
            },
        );
        opts.retry = true;
        let s = sbatch_script(
            "q",
            &Store::open("/r/q"),
            Path::new("/w"),
            &["a1".into(), "b2".into(), "c3".into()],
            2,
            &opts,
        );
        assert!(s.contains("#SBATCH --array=0-2%2\n"), "{s}");
        assert!(s.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(s.contains("#SBATCH --partition=gpu\n"));
        assert!(s.contains("#SBATCH --mem=8G\n"));
        assert!(s.contains("RUNS=(a1 b2 c3)"));
        assert!(s.contains("\nexport STAB_X='a b'\nexec "), "{s}");
        assert!(s.contains(
            "exec '/opt/my stab' sweep-task --results /r/q --run \"$RUN\" --threads 2 --retry\n"
        ));
    }

    #[test]
    fn k_runs_per_task_share_one_allocation() {
        let opts = SlurmOptions::new(
            WorkerCommand::new("stab").arg("sweep-task"),
            SlurmDefaults {
                gpus: Some("1".into()),
                runs_per_gpu: Some(4),
                ..SlurmDefaults::default()
            },
        );
        let ids: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
        let s = sbatch_script("q", &Store::open("/r/q"), Path::new("/w"), &ids, 2, &opts);
        assert!(
            s.contains("#SBATCH --array=0-2\n"),
            "10 runs in 3 tasks: {s}"
        );
        assert!(
            s.contains("#SBATCH --cpus-per-task=8\n"),
            "4 runs × 2 threads"
        );
        assert!(s.contains("#SBATCH --gpus-per-task=1\n"));
        assert!(
            s.contains("${RUNS[@]:$((SLURM_ARRAY_TASK_ID * 4)):4}"),
            "{s}"
        );
        assert!(
            s.contains(
                "exec stab sweep-task --results /r/q \"${ARGS[@]}\" --runs-per-gpu 4 --threads 2\n"
            ),
            "{s}"
        );
        let job = SlurmJob {
            job_id: "7".into(),
            submitted_unix: 0.0,
            script: "x".into(),
            runs: ids.clone(),
            runs_per_task: 4,
        };
        assert_eq!(job.task_runs(0), &ids[0..4]);
        assert_eq!(job.task_runs(2), &ids[8..10]);
        assert!(job.task_runs(3).is_empty());
        // `runs_per_task` is optional in slurm-jobs.json: a job without it runs one per task.
        let old: SlurmJob = serde_json::from_str(
            r#"{"job_id":"1","submitted_unix":0.0,"script":"s","runs":["a","b"]}"#,
        )
        .unwrap();
        assert_eq!(old.task_runs(1), ["b".to_string()]);
    }
}
