//! A stand-in for `stab run` in tests and benchmarks: the same worker protocol (its command
//! line is [`WorkerArgs`], its run goes through [`stab_store::execute_run`]: lock check,
//! run-directory rules, atomic record, exit code), no LibTorch.
//!
//! `fake-stab-worker [--count-log FILE] run --spec SPEC --out DIR --group G --sweep S --threads T`
//!
//! Reads the spec, writes its pid to `DIR/worker.pid`, sleeps `max_steps` milliseconds, and
//! writes a record whose score is a deterministic function of the seeds. Misbehaviour comes
//! from the environment, never from the spec: `STAB_FAKE_WORKER_MISBEHAVE` lists
//! `RUN_ID=BEHAVIOUR` pairs separated by commas, where BEHAVIOUR is `diverge` (diverged
//! record), `fail` (error record, exit 1), `crash` (abort without record), `exit3` (exit 3
//! without record) or `crash-once` (abort on the first attempt only); runs not listed behave.
//! With `--count-log`, appends `start ID` and `finish ID` lines to FILE. The
//! `CUDA_VISIBLE_DEVICES` it was started with goes to `DIR/worker.gpu`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use stab_spec::{RunRecord, RunSpec, RunStatus};
use stab_store::{exit_code, WorkerArgs, NO_RECORD_EXIT_CODE};

/// The variable naming the runs that misbehave, and how.
const MISBEHAVE_ENV: &str = "STAB_FAKE_WORKER_MISBEHAVE";

/// The command line.
#[derive(Parser)]
struct Cli {
    /// Append `start ID` and `finish ID` lines to this file.
    #[arg(long)]
    count_log: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One run, as `stab run` executes it for a launcher.
    Run(WorkerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Run(args) = &cli.command;
    let spec_path = args
        .spec
        .clone()
        .unwrap_or_else(|| die("--spec is required"));
    let out = args.out.clone().unwrap_or_else(|| die("--out is required"));
    let text = std::fs::read_to_string(&spec_path).unwrap_or_else(|e| die(&e.to_string()));
    let spec: RunSpec = serde_json::from_str(&text).unwrap_or_else(|e| die(&e.to_string()));
    let id = spec.run_id();
    let executed = stab_store::execute_run(&out, &spec, |begun| {
        log(&cli, "start", &id);
        let dir = begun.dir.path();
        std::fs::write(dir.join("worker.pid"), std::process::id().to_string()).unwrap();
        if let Ok(gpu) = std::env::var("CUDA_VISIBLE_DEVICES") {
            std::fs::write(dir.join("worker.gpu"), gpu).unwrap();
        }
        let t0 = Instant::now();
        let started_unix = stab_spec::unix_seconds();
        println!(
            "fake worker: run {id} of sweep {:?} group {:?}, {} threads",
            args.sweep,
            args.group,
            args.threads.unwrap_or(1)
        );
        std::thread::sleep(Duration::from_millis(spec.max_steps.unwrap_or(0)));
        let behaviour = misbehaviour(&id);
        match behaviour.as_str() {
            "crash" => crash(),
            "crash-once" if !dir.join("crashed-once").exists() => {
                std::fs::write(dir.join("crashed-once"), "").unwrap();
                crash()
            }
            "exit3" => {
                eprintln!("fake worker: exiting with 3");
                std::process::exit(3)
            }
            _ => {}
        }
        let status = match behaviour.as_str() {
            "diverge" => RunStatus::Diverged,
            "fail" => RunStatus::Error,
            _ => RunStatus::Ok,
        };
        let mut r = record(&spec, status, args);
        r.timing.started_unix = started_unix;
        r.timing.wall_seconds = t0.elapsed().as_secs_f64();
        r.timing.train_seconds = r.timing.wall_seconds;
        r
    });
    match executed {
        Ok(done) => {
            log(&cli, "finish", &id);
            ExitCode::from(exit_code(done.record.status))
        }
        Err(e) => {
            eprintln!("fake-stab-worker: {}", stab_spec::error_chain(&e));
            ExitCode::from(NO_RECORD_EXIT_CODE)
        }
    }
}

/// What [`MISBEHAVE_ENV`] says run `id` does (empty: behave).
fn misbehaviour(id: &str) -> String {
    let list = std::env::var(MISBEHAVE_ENV).unwrap_or_default();
    list.split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(run, _)| *run == id)
        .map(|(_, what)| what.to_string())
        .unwrap_or_default()
}

/// The record of a run that ended with `status` (not crashed).
fn record(spec: &RunSpec, status: RunStatus, args: &WorkerArgs) -> RunRecord {
    let steps = spec.max_steps.unwrap_or(1);
    let score = ((spec.init_seed * 7 + spec.data_seed * 3) % 100) as f64 / 100.0;
    let mut r = RunRecord::error(spec.clone(), status, String::new());
    r.message = (status == RunStatus::Error).then(|| "fake failure".to_string());
    r.group = args.group.clone();
    r.sweep = args.sweep.clone();
    r.metric = "accuracy".into();
    r.majority_baseline = Some(0.5);
    r.train_examples = spec.train_subset.unwrap_or(100);
    r.total_steps = steps;
    r.steps_done = steps;
    r.diverged_at_step = (status == RunStatus::Diverged).then_some(steps / 2);
    if status == RunStatus::Ok {
        r.score = Some(score);
        r.final_score = Some(score);
        r.selected_step = Some(steps);
    }
    r.versions.threads = args.threads.unwrap_or(1);
    r.versions.stab = "fake".into();
    r.timing.train_examples_per_second = 1000.0;
    r
}

/// Appends `what id` to the `--count-log` file, if one was given.
fn log(cli: &Cli, what: &str, id: &str) {
    if let Some(p) = &cli.count_log {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap_or_else(|e| die(&e.to_string()));
        f.write_all(format!("{what} {id}\n").as_bytes()).unwrap();
    }
}

fn crash() -> ! {
    eprintln!("fake worker: crashing on purpose");
    std::process::abort()
}

fn die(msg: &str) -> ! {
    eprintln!("fake-stab-worker: {msg}");
    std::process::exit(NO_RECORD_EXIT_CODE.into())
}
