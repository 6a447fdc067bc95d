//! `stab sweep`, `stab status` and the hidden `stab sweep-task` (one Slurm array task).
//! Expansion, store and launchers live in stab-sweep; each run is a `stab run` child process.
//!
//! Exit status of `stab sweep` ([`SWEEP_EXIT_CODES`]): a failed run is a result of the
//! launch, not a failure of the launcher, so the two get different codes and scripts can tell
//! "some runs need `--retry`" from "nothing could be launched".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use stab_sweep::{
    dry_run_streamed, run_local, run_slurm_task, submit_slurm, Expansion, LocalOptions, Overrides,
    SlurmOptions, Store, Sweep, WorkerCommand,
};

#[derive(Clone, Copy, ValueEnum)]
pub enum Launcher {
    Local,
    Slurm,
}

/// The exit codes of `stab sweep`, as its `--help` prints them.
pub const SWEEP_EXIT_CODES: &str = "\
Exit status:
  0    every run of the sweep finished `ok` or `diverged` (diverged runs are results), or
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
    dry_run: bool,
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
    #[arg(long, value_enum, default_value = "local")]
    launcher: Launcher,
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
    let store = Store::create(&a.results, &sweep)?;
    let mut worker = WorkerCommand::current_exe()?;
    if let Some(d) = &a.data_dir {
        // Each worker runs `stab run --spec runs/ID/spec.json`, whose --data-dir comes from
        // STAB_DATA_DIR: it must be the launch's data folder, which the specs already hold,
        // or the worker would resolve another spec than its run's (flag and variable differ).
        worker = worker.env(stab_data::DATA_DIR_ENV, d.to_string_lossy());
    }
    prefetch_hub_models(&sweep)?;
    match a.launcher {
        Launcher::Local => launch_local(&a, &sweep, &store, worker),
        Launcher::Slurm => launch_slurm(&a, &sweep, &store, worker),
    }
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

/// `--dry-run`, streamed: a sweep of a million runs is listed without holding a million specs.
fn dry_run(a: &SweepArgs, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("could not read {}", a.file.display()))?;
    let expansion = Expansion::new(&a.file, &text, overrides)?;
    let store = Store::open(a.results.join(expansion.name()));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    dry_run_streamed(
        &store,
        &expansion,
        a.workers.unwrap_or(1),
        a.retry,
        &mut out,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `--gpus` and `--runs-per-gpu` against the launcher and the runs' devices.
fn check_gpu_flags(a: &SweepArgs, sweep: &Sweep) -> anyhow::Result<()> {
    if a.runs_per_gpu == Some(0) {
        anyhow::bail!("--runs-per-gpu must be at least 1");
    }
    if a.gpus.is_some() && matches!(a.launcher, Launcher::Slurm) {
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

/// Runs the sweep with a local pool; exit 1 when some run of the sweep ended in error.
fn launch_local(
    a: &SweepArgs,
    sweep: &Sweep,
    store: &Store,
    worker: WorkerCommand,
) -> anyhow::Result<ExitCode> {
    let mut o = LocalOptions::new(worker);
    o.workers = a.workers;
    o.retry = a.retry;
    o.progress = !a.quiet;
    if let Some(g) = &a.gpus {
        o.gpus = stab_sweep::parse_gpus(g)?;
        o.runs_per_gpu = a.runs_per_gpu.unwrap_or(1);
        let (workers, _) = o.resolve_budget(&sweep.runs);
        let slots = o.gpu_slots(workers);
        if !a.quiet {
            eprintln!(
                "stab sweep: {} workers on GPUs {} (at most {} runs per GPU)",
                slots.len(),
                o.gpus.join(","),
                o.runs_per_gpu
            );
        }
    } else if a.runs_per_gpu.is_some() {
        anyhow::bail!("--runs-per-gpu needs --gpus (which GPUs to share)");
    }
    let summary = run_local(store, &sweep.runs, &o)?;
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

/// Submits the runs that need running as one Slurm job array (flags over `[slurm]`).
fn launch_slurm(
    a: &SweepArgs,
    sweep: &Sweep,
    store: &Store,
    worker: WorkerCommand,
) -> anyhow::Result<ExitCode> {
    let mut resources = sweep.slurm.clone();
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            slot.clone_from(v);
        }
    };
    set(&mut resources.partition, &a.partition);
    set(&mut resources.time, &a.time);
    set(&mut resources.gpus, &a.slurm_gpus);
    if a.runs_per_gpu.is_some() {
        resources.runs_per_gpu = a.runs_per_gpu;
    }
    set(&mut resources.mem, &a.mem);
    if a.max_parallel.is_some() {
        resources.max_parallel = a.max_parallel;
    }
    let mut o = SlurmOptions::new(worker.arg("sweep-task"), resources);
    o.retry = a.retry;
    match submit_slurm(store, &sweep.runs, &o)? {
        Some(job) => println!(
            "submitted {job:?}; follow with: stab status {}",
            store.root().display()
        ),
        None => println!("nothing to submit: every run is finished"),
    }
    Ok(ExitCode::SUCCESS)
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
