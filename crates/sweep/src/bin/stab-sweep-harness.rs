//! A minimal command line over the library, for integration tests and benchmarks (the real
//! interface is `stab sweep` / `stab status`).
//!
//! ```text
//! stab-sweep-harness launch --sweep FILE --results DIR --worker PROG [--worker-arg A]…
//!                           [--workers N] [--threads T] [--retry] [--data-dir D] [--quiet]
//!                           [--gpus 0,1] [--runs-per-gpu K]
//! stab-sweep-harness task --results STORE --run ID [--run ID]… --threads T [--retry] --worker PROG [--worker-arg A]…
//! stab-sweep-harness status --results STORE
//! stab-sweep-harness dry-run --sweep FILE --results DIR
//! ```
//! Exit codes: 0 done, 1 error, 130 stopped by a signal.

use std::path::PathBuf;

use stab_sweep::{
    dry_run, run_local, run_slurm_task, Error, LocalOptions, Overrides, Store, Sweep, WorkerCommand,
};

#[derive(Default)]
struct Args {
    sweep: Option<PathBuf>,
    results: Option<PathBuf>,
    run: Vec<String>,
    gpus: Vec<String>,
    runs_per_gpu: usize,
    worker: Option<PathBuf>,
    worker_args: Vec<String>,
    workers: Option<usize>,
    threads: Option<usize>,
    retry: bool,
    quiet: bool,
    data_dir: Option<PathBuf>,
}

fn main() {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_default();
    let a = parse_flags(it);
    let result = match cmd.as_str() {
        "launch" => launch(&a),
        "task" => task(&a),
        "status" => status(&a),
        "dry-run" => dry(&a),
        other => fail(format!(
            "unknown command {other:?} (launch, task, status, dry-run)"
        )),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("stab-sweep-harness: {}", stab_spec::error_chain(&e));
            std::process::exit(1)
        }
    }
}

fn parse_flags(mut it: impl Iterator<Item = String>) -> Args {
    let mut a = Args::default();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| fail(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--sweep" => a.sweep = Some(val().into()),
            "--results" => a.results = Some(val().into()),
            "--run" => a.run.push(val()),
            "--gpus" => {
                a.gpus = stab_sweep::parse_gpus(&val()).unwrap_or_else(|e| fail(e.to_string()))
            }
            "--runs-per-gpu" => a.runs_per_gpu = number(&flag, &val()),
            "--worker" => a.worker = Some(val().into()),
            "--worker-arg" => a.worker_args.push(val()),
            "--workers" => a.workers = Some(number(&flag, &val())),
            "--threads" => a.threads = Some(number(&flag, &val())),
            "--data-dir" => a.data_dir = Some(val().into()),
            "--retry" => a.retry = true,
            "--quiet" => a.quiet = true,
            other => fail(format!("unknown argument {other}")),
        }
    }
    a
}

fn number(flag: &str, value: &str) -> usize {
    value
        .parse()
        .unwrap_or_else(|_| fail(format!("bad {flag}")))
}

impl Args {
    fn need(&self, o: &Option<PathBuf>, name: &str) -> PathBuf {
        o.clone()
            .unwrap_or_else(|| fail(format!("{name} is required")))
    }

    fn worker(&self) -> WorkerCommand {
        let mut w = WorkerCommand::new(self.need(&self.worker, "--worker"));
        w.args_prefix = self.worker_args.clone();
        w
    }

    fn sweep(&self) -> Result<Sweep, Error> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            ..Overrides::default()
        };
        Sweep::load(&self.need(&self.sweep, "--sweep"), &overrides)
    }
}

fn launch(a: &Args) -> Result<i32, Error> {
    let sweep = a.sweep()?;
    let store = sweep.create_store(&a.need(&a.results, "--results"))?;
    let mut o = LocalOptions::new(a.worker());
    o.workers = a.workers;
    o.threads = a.threads;
    o.retry = a.retry;
    o.progress = !a.quiet;
    o.gpus = a.gpus.clone();
    o.runs_per_gpu = a.runs_per_gpu.max(1);
    let s = run_local(&store, &sweep.runs, &o)?;
    println!("{s}");
    Ok(if s.cancelled { 130 } else { 0 })
}

fn task(a: &Args) -> Result<i32, Error> {
    let store = Store::open(a.need(&a.results, "--results"));
    if a.run.is_empty() {
        fail("--run is required".into());
    }
    let s = run_slurm_task(&store, &a.run, a.threads.unwrap_or(1), a.retry, a.worker())?;
    println!("{s}");
    Ok(if s.cancelled { 130 } else { 0 })
}

fn status(a: &Args) -> Result<i32, Error> {
    let store = Store::open(a.need(&a.results, "--results"));
    print!("{}", stab_sweep::status(&store)?);
    Ok(0)
}

fn dry(a: &Args) -> Result<i32, Error> {
    let sweep = a.sweep()?;
    let store = sweep.store_in(&a.need(&a.results, "--results"));
    print!(
        "{}",
        dry_run(&store, &sweep.runs, a.workers.unwrap_or(1), a.retry)
    );
    Ok(0)
}

fn fail(msg: String) -> ! {
    eprintln!("stab-sweep-harness: {msg}");
    std::process::exit(2)
}
