//! `stab sweep`, `stab status` and the hidden `stab sweep-task` (one Slurm array task).
//! Expansion and launchers live in stab-sweep, the store in stab-store; each run is a `stab
//! run` child process. Launchers are found by name in [`stab_sweep::LAUNCHERS`]; the flags
//! below that belong to one launcher are set on top of its sweep-file table.
//!
//! Exit status of `stab sweep` ([`SWEEP_EXIT_CODES`]): a failed run is a result of the
//! launch, not a failure of the launcher, so the two get different codes and scripts can tell
//! "some runs need `--retry`" from "nothing could be launched".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use stab_store::Store;
use stab_sweep::{
    dry_run_streamed, run_slurm_task, Expansion, Launch, Launched, Overrides, Sweep, WorkerCommand,
};

/// The exit codes of `stab sweep`, as its `--help` prints them.
pub const SWEEP_EXIT_CODES: &str = "\
Exit status:
  0    every run of the sweep finished `ok` or `diverged` (diverged runs are results) or was
       `stopped` as a predicted failure by its `early_failure` policy, or
       --dry-run listed the runs, or the Slurm jobs were submitted
  1    the launch completed, but at least one run of the sweep ended in `error` (this
       launch or an earlier one): see `stab status`, rerun them with --retry
  2    the launcher failed: bad sweep file or flags, unwritable store, missing worker
  130  stopped by Ctrl-C or SIGTERM: running runs are recorded `interrupted`; rerun the
       same command to continue";

#[derive(Args)]
#[command(after_help = SWEEP_EXIT_CODES)]
pub struct SweepArgs {
    /// Sweep file (TOML), e.g. experiments/quickstart.toml.
    file: PathBuf,
    /// Data folder for every run (overrides the sweep's `data_dir`).
    #[arg(long, env = stab_data::DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
    /// Model directory for every run (overrides the sweep's `model`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Override a spec field in every run: --set epochs=1 (TOML values).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Results root; the sweep goes to <results>/<sweep name>.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// List the runs, how many are done, and the estimated cost; run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Re-run runs that ended in `error` (diverged runs are results and are kept).
    #[arg(long)]
    retry: bool,
    /// Worker processes (default: cores / threads per run).
    #[arg(long, value_parser = at_least_one)]
    workers: Option<usize>,
    /// Threads per run: sets every run's `threads` field, which is part of its spec and id
    /// (results are bit-identical only at a fixed thread count).
    #[arg(long, value_parser = at_least_one)]
    threads: Option<usize>,
    /// GPUs for local runs: `all` (those in CUDA_VISIBLE_DEVICES, else every GPU nvidia-smi
    /// lists) or a list like `0,1`. Each worker is pinned to one GPU (CUDA_VISIBLE_DEVICES);
    /// runs need device = "cuda".
    #[arg(long, value_name = "all|0,1")]
    gpus: Option<String>,
    /// Runs sharing each GPU at once. Local: `--gpus` × K workers. Slurm: K runs packed into
    /// each array task, sharing its allocation (default: the sweep's `[slurm] runs_per_gpu`, 1).
    #[arg(long, value_name = "K")]
    runs_per_gpu: Option<usize>,
    /// How to execute the runs: `local` (a pool of worker processes here) or `slurm` (one job
    /// array); settings from the sweep file's table of that name, flags on top.
    #[arg(long, default_value = "local", value_parser = launcher_name)]
    launcher: String,
    /// Slurm: partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm: time limit per run (e.g. 01:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm: GPUs per array task (e.g. 1 or a100:1), the `[slurm] gpus` of the sweep file.
    #[arg(long)]
    slurm_gpus: Option<String>,
    /// Slurm: memory per run (e.g. 16G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm: array tasks running at once (%N).
    #[arg(long, value_parser = at_least_one)]
    max_parallel: Option<usize>,
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    /// A sweep's results directory (results/<name>).
    dir: PathBuf,
}

#[derive(Args)]
pub struct TaskArgs {
    #[arg(long)]
    results: PathBuf,
    /// Runs this task executes, all at once (one worker each).
    #[arg(long, required = true)]
    run: Vec<String>,
    /// K, for the record: how many runs the task packs onto its allocation.
    #[arg(long, default_value_t = 1)]
    runs_per_gpu: usize,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long)]
    retry: bool,
}

/// The name of a launcher of [`stab_sweep::LAUNCHERS`].
fn launcher_name(s: &str) -> Result<String, String> {
    match stab_sweep::launcher(s) {
        Some(l) => Ok(l.name().to_string()),
        None => Err(format!(
            "expected one of: {}",
            stab_sweep::LAUNCHERS
                .iter()
                .map(|l| l.name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A count of at least 1 (`--workers 0` would run nothing, or silently mean 1).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number ≥ 1 ({e})")),
    }
}

pub fn sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let mut set = crate::run::parse_set(&a.set)?;
    if let Some(t) = a.threads {
        set.insert("threads".into(), toml::Value::Integer(t as i64));
    }
    let overrides = Overrides {
        data_dir: a.data_dir.clone(),
        model: a.model.clone(),
        set,
    };
    if a.dry_run {
        return dry_run(&a, &overrides);
    }
    let sweep = Sweep::load(&a.file, &overrides)?;
    check_gpu_flags(&a, &sweep)?;
    let launcher = stab_sweep::launcher(&a.launcher).expect("checked by clap");
    if launcher.name() == "local" {
        let most = sweep.runs.iter().map(|r| r.spec.threads).max().unwrap_or(1);
        crate::run::check_threads(most, "--threads")?;
    }
    let store = sweep.create_store(&a.results)?;
    let mut worker = WorkerCommand::current_exe()?;
    if let Some(d) = &a.data_dir {
        // Each worker runs `stab run --spec runs/ID/spec.json`, whose --data-dir comes from
        // STAB_DATA_DIR: it must be the launch's data folder, which the specs already hold,
        // or the worker would resolve another spec than its run's (flag and variable differ).
        worker = worker.env(stab_data::DATA_DIR_ENV, d.to_string_lossy());
    }
    prefetch_hub_models(&sweep)?;
    let launch = Launch {
        task: worker.clone().arg("sweep-task"),
        worker,
        retry: a.retry,
        threads: None,
        progress: !a.quiet,
        settings: launcher_settings(&a, &sweep),
    };
    if let Some(rule) = &sweep.stopping {
        return sequential(&sweep, &store, launcher, &launch, rule);
    }
    match launcher.launch(&store, &sweep.runs, &launch)? {
        Launched::Ran(summary) => {
            println!("{summary}");
            println!("next: stab report {}", store.root().display());
            if summary.cancelled {
                return Ok(ExitCode::from(130));
            }
            // Runs of the sweep whose record says `error`, from this launch or an earlier one.
            let errors = store.status()?.error;
            if errors > 0 {
                eprintln!(
                    "{errors} of {} runs ended in error: see `stab status {}`; rerun them with --retry",
                    sweep.runs.len(),
                    store.root().display()
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Launched::Queued(Some(what)) => {
            println!(
                "{what}; follow with: stab status {}",
                store.root().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Launched::Queued(None) => {
            println!("nothing to submit: every run is finished or queued");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The launcher's settings: its sweep-file table, with the flags that belong to it on top.
fn launcher_settings(a: &SweepArgs, sweep: &Sweep) -> toml::Table {
    let mut t = sweep.launcher_settings(&a.launcher);
    let mut set = |key: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.insert(key.into(), v);
        }
    };
    let text = |v: &Option<String>| v.clone().map(toml::Value::String);
    let count = |v: Option<usize>| v.map(|n| toml::Value::Integer(n as i64));
    set("runs_per_gpu", count(a.runs_per_gpu));
    match a.launcher.as_str() {
        "local" => {
            set("workers", count(a.workers));
            set("gpus", text(&a.gpus));
        }
        "slurm" => {
            set("partition", text(&a.partition));
            set("time", text(&a.time));
            set("gpus", text(&a.slurm_gpus));
            set("mem", text(&a.mem));
            set("max_parallel", count(a.max_parallel));
        }
        _ => {}
    }
    t
}

/// `--dry-run`, streamed: a sweep of a million runs is listed without holding a million specs.
fn dry_run(a: &SweepArgs, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("could not read {}", a.file.display()))?;
    let expansion = Expansion::new(&a.file, &text, overrides)?;
    let store = Store::open(a.results.join(expansion.name()));
    // The worker count the launch would use: the flag, else the sweep file's `[local]
    // workers`, else the launcher's default (cores / threads per run).
    let workers = a.workers.or_else(|| {
        expansion
            .launcher_settings("local")
            .get("workers")
            .and_then(|v| v.as_integer())
            .and_then(|n| usize::try_from(n).ok())
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    dry_run_streamed(&store, &expansion, workers, a.retry, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// `--gpus` and `--runs-per-gpu` against the launcher and the runs' devices.
fn check_gpu_flags(a: &SweepArgs, sweep: &Sweep) -> anyhow::Result<()> {
    if a.runs_per_gpu == Some(0) {
        anyhow::bail!("--runs-per-gpu must be at least 1");
    }
    if a.gpus.is_some() && a.launcher != "local" {
        anyhow::bail!(
            "--gpus picks this machine's GPUs for the local launcher; with --launcher slurm ask \
             for GPUs per array task with --slurm-gpus (or `[slurm] gpus`)"
        );
    }
    if a.gpus.is_some() {
        if let Some(r) = sweep
            .runs
            .iter()
            .find(|r| r.spec.device != stab_spec::Device::Cuda)
        {
            anyhow::bail!(
                "--gpus: run {} (group {}) has device = \"cpu\"; set device = \"cuda\" in the \
                 sweep (or --set device='\"cuda\"')",
                r.run_id,
                r.group
            );
        }
    }
    Ok(())
}

pub fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(a.dir);
    print!("{}", stab_sweep::status(&store)?);
    Ok(ExitCode::SUCCESS)
}

pub fn task(a: TaskArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(a.results);
    if a.run.len() > a.runs_per_gpu.max(1) {
        anyhow::bail!(
            "sweep-task: {} runs for --runs-per-gpu {}",
            a.run.len(),
            a.runs_per_gpu
        );
    }
    let s = run_slurm_task(
        &store,
        &a.run,
        a.threads,
        a.retry,
        WorkerCommand::current_exe()?,
    )?;
    println!("{s}");
    // Same codes as `stab sweep`: a run of this task that ended in error is exit 1.
    Ok(if s.cancelled {
        ExitCode::from(130)
    } else if s.error > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves each Hugging Face Hub model of the sweep once, here, before any worker starts:
/// the workers then find it in the cache (no download races, and Slurm nodes without network
/// use what the submitting machine fetched). A model that cannot be had stops the launch.
fn prefetch_hub_models(sweep: &Sweep) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for run in &sweep.runs {
        if seen.insert(run.spec.model.clone()) {
            stab_train::model_dir::resolve(&run.spec.model)
                .with_context(|| format!("model {}", run.spec.model.display()))?;
        }
    }
    Ok(())
}

/// The analyst of a sequential sweep: after each look, the group-sequential test of
/// stab-stats on the look's records; writes `sequential.json` and `sequential.md` at the
/// store's root.
struct SequentialAnalyst {
    report: stab_stats::plan::sequential::SequentialReport,
}

impl stab_sweep::Analyst for SequentialAnalyst {
    fn analyse(
        &mut self,
        store: &Store,
        look: usize,
        runs: &[stab_sweep::PlannedRun],
    ) -> Result<Option<String>, stab_sweep::Error> {
        let corrupt = |message: String| stab_sweep::Error::Corrupt {
            path: store.root().to_path_buf(),
            message,
        };
        let input = stab_stats::load_results(store.root(), None)
            .map_err(|e| corrupt(format!("{:#}", anyhow::Error::new(e))))?;
        let ids = runs.iter().map(|r| r.run_id.clone()).collect();
        let data = stab_stats::plan::sequential::look_data(&input, &ids);
        let stop = self.report.analyse(look, &data);
        for c in &self.report.contrasts {
            if let Some(l) = c.looks.last() {
                println!(
                    "look {} ({} seeds per group) `{}` vs `{}`: {}, p = {}, nominal level {:.5}{}",
                    l.look,
                    l.seeds_per_group,
                    c.a,
                    c.b,
                    l.data,
                    l.p.map_or("n/a".into(), |p| format!("{p:.4}")),
                    l.nominal_alpha,
                    if l.crossed { ": boundary crossed" } else { "" }
                );
            }
        }
        let json =
            serde_json::to_string_pretty(&self.report).map_err(|e| corrupt(e.to_string()))?;
        for (name, text) in [
            ("sequential.json", json),
            ("sequential.md", self.report.markdown()),
        ] {
            let path = store.root().join(name);
            stab_store::write_atomic(&path, text.as_bytes())
                .map_err(|source| stab_sweep::Error::Io { path, source })?;
        }
        Ok(stop.then(|| self.report.stopped.clone().unwrap_or_default()))
    }
}

/// A sweep with a `[stopping]` table: blocks of seeds, a look after each (see
/// `stab_sweep::sequential_step`). A queueing launcher (Slurm) is waited for: the store is
/// polled until the block's records are written; killing `stab sweep` meanwhile loses
/// nothing, and running it again continues from the last look.
fn sequential(
    sweep: &Sweep,
    store: &Store,
    launcher: &dyn stab_sweep::Launcher,
    launch: &Launch,
    rule: &stab_sweep::Stopping,
) -> anyhow::Result<ExitCode> {
    use stab_stats::plan::sequential::{SequentialReport, SequentialTest, Spending};
    let test = SequentialTest::parse(&rule.test).expect("checked with the sweep file");
    let spending = Spending::parse(&rule.spending).expect("checked with the sweep file");
    let report = SequentialReport::new(
        test,
        rule.alpha,
        spending,
        rule.look_every,
        rule.max_seeds,
        &rule.contrasts,
    )?;
    let mut analyst = SequentialAnalyst { report };
    let looks = rule.seeds_per_look();
    loop {
        match stab_sweep::sequential_step(store, &sweep.runs, rule, launcher, launch, &mut analyst)?
        {
            stab_sweep::Step::Stopped { reason, .. } => {
                println!("sequential sweep: {reason}");
                println!(
                    "design and looks: {}; next: stab report {}",
                    store.root().join("sequential.md").display(),
                    store.root().display()
                );
                println!("{}", stab_stats::plan::sequential::BIAS_NOTE);
                return Ok(ExitCode::SUCCESS);
            }
            stab_sweep::Step::Exhausted { looks } => {
                println!("sequential sweep: all {looks} looks analysed");
                return Ok(ExitCode::SUCCESS);
            }
            stab_sweep::Step::Unfinished { look, unfinished } => {
                eprintln!(
                    "look {} of {}: {unfinished} runs unfinished (interrupted or running elsewhere); run the same command again to continue from this look",
                    look + 1,
                    looks.len()
                );
                return Ok(ExitCode::from(130));
            }
            stab_sweep::Step::Queued { look, what } => {
                let block = stab_sweep::look_runs(&sweep.runs, looks[look]);
                println!(
                    "look {} of {}: {}; waiting for their records (Ctrl-C is safe: run the same command again to continue)",
                    look + 1,
                    looks.len(),
                    what.unwrap_or_else(|| "runs already queued".into())
                );
                while block
                    .iter()
                    .any(|r| !store.state(&r.run_id).is_final(launch.retry))
                {
                    std::thread::sleep(std::time::Duration::from_secs(15));
                    // A queue that holds nothing of the store while runs are unfinished (a
                    // task died without a record): step again, which relaunches them.
                    if let Ok(Some(q)) = launcher.queue(store) {
                        if q.error.is_none() && q.pending + q.running == 0 {
                            break;
                        }
                    }
                }
            }
        }
    }
}
