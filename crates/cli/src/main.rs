//! `stab`: the command-line front of the stab workspace. It only parses flags and wires the
//! library crates together; every piece of work lives in a crate with one job.

mod data;
mod early_failure;
mod features;
mod model;
mod plan;
mod report;
mod run;
mod score;
mod signals;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stab",
    version,
    about = "Is this result a lucky seed? Fine-tuning-stability experiments on BERT models."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one fine-tuning run and write its record.
    Run(run::RunArgs),
    /// Extract hidden states (and [CLS]/mean vectors) of a model for a file of texts.
    Features(features::FeaturesArgs),
    /// Inspect data folders.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Score a predictions file against a gold split with the task's official metrics.
    Score(score::ScoreArgs),
    /// Expand a sweep file and run every run that is not finished (locally or on Slurm).
    Sweep(sweep::SweepArgs),
    /// Summary of a sweep's results directory: done, running, pending, diverged, error.
    Status(sweep::StatusArgs),
    /// One Slurm array task (used by the sbatch scripts `stab sweep --launcher slurm` writes).
    #[command(name = "sweep-task", hide = true)]
    SweepTask(sweep::TaskArgs),
    /// Write a randomly initialised BERT checkpoint (HF initialisation) for smoke tests.
    #[command(name = "init-model", hide = true)]
    InitModel(model::InitModelArgs),
    /// Copy a checkpoint with its weights stored in another dtype (bf16: half the size, for
    /// carrying a model to a GPU machine).
    #[command(name = "convert-model", hide = true)]
    ConvertModel(model::ConvertModelArgs),
    /// Variance report of a results directory: tables, statistics, plots, HTML.
    Report(report::ReportArgs),
    /// The same analysis for any CSV/TSV of scores with a group and a score column.
    Compare(report::CompareArgs),
    /// How many seeds? Runs per group for a target power, from assumed effects or a pilot.
    Plan(plan::PlanArgs),
    /// How well a run's first steps predict its failure: precision and recall of each
    /// early-failure rule after 10 %…50 % of training, on stored results.
    #[command(name = "early-failure")]
    EarlyFailure(early_failure::EarlyFailureArgs),
}

impl Command {
    /// Commands that read and print, and write nothing a signal could cut short (a report's
    /// files are written before its table is printed).
    fn only_prints(&self) -> bool {
        match self {
            Command::Run(a) => a.print_spec,
            Command::Sweep(a) => a.dry_run,
            Command::Status(_) | Command::Report(_) | Command::Compare(_) => true,
            Command::Data { command } => matches!(command, data::DataCommand::Check { .. }),
            _ => false,
        }
    }
}

/// `stab status … | head` ends quietly, as `ls | head` does.
///
/// Rust ignores SIGPIPE, so a closed pipe makes `println!` panic ("failed printing to stdout:
/// Broken pipe"). Commands that only print get the default action back (the process ends,
/// silently, when its reader is gone). Commands that train or launch keep ignoring it: a
/// launcher must outlive a closed pipe to record its runs, and sees the error instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: sets a signal disposition to its default; called before any other thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Keeps freed activation memory in the process between training steps.
///
/// LibTorch frees and re-allocates hundreds of MiB of activations every step. With glibc's
/// default dynamic mmap threshold those blocks are returned to the kernel and re-faulted each
/// time (≈74k page faults per step on all-MiniLM-L6-v2, batch 16, length 128: ~7% of the step,
/// scripts/bench/results/train_profile_padded.txt). Fixed thresholds keep them in the heap.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    if cli.command.only_prints() {
        restore_sigpipe();
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Features(a) => features::features(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Status(a) => sweep::status(a),
        Command::SweepTask(a) => sweep::task(a),
        Command::Report(a) => report::report(a),
        Command::Compare(a) => report::compare(a),
        Command::Plan(a) => plan::plan(a),
        Command::EarlyFailure(a) => early_failure::early_failure(a),
        Command::InitModel(a) => model::init_model(a),
        Command::ConvertModel(a) => model::convert_model(a),
        Command::Data { command } => data::data(command),
        Command::Score(a) => score::score(a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    fn long_help(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        let mut sub = &mut cmd;
        for p in path {
            sub = sub.find_subcommand_mut(p).expect("subcommand exists");
        }
        sub.render_long_help().to_string()
    }

    /// The help describes the NER predictions format `stab score` reads.
    #[test]
    fn score_help_describes_ner_predictions() {
        let help = long_help(&["score"]);
        assert!(
            help.contains("one sentence per line") && help.contains("separated by spaces"),
            "{help}"
        );
    }

    #[test]
    fn data_check_help_mentions_task_toml() {
        let help = long_help(&["data", "check"]);
        assert!(help.contains("TASK.toml"), "{help}");
    }
}
