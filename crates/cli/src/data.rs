//! `stab data check` and `stab score`: inspect data folders and score predictions files
//! (stab-data does the work).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Rows per split, label distribution and majority baseline of every task in DIR, or of
    /// one custom task described by a .toml file (as `stab run --task` accepts); exits
    /// non-zero on any malformed file.
    Check {
        /// A data folder (e.g. data/glue) or a custom task description (task.toml).
        #[arg(value_name = "DIR|TASK.toml")]
        dir: PathBuf,
    },
}

#[derive(Args)]
pub struct ScoreArgs {
    /// Task name (RTE, CoLA, …, CoNLL-2003) or custom task description (.toml).
    #[arg(long)]
    task: String,
    /// A labelled split in the task's format (e.g. glue/RTE/dev.tsv).
    #[arg(long)]
    gold: PathBuf,
    /// Sentence tasks: one label (name or id) or value per line, or the GLUE submission format
    /// `index<TAB>prediction`. NER (CoNLL-2003): one sentence per line, its tags (names or ids)
    /// separated by spaces, in the order of the gold file's sentences.
    #[arg(long)]
    predictions: PathBuf,
}

/// Dispatches a `stab data` subcommand.
pub fn data(command: DataCommand) -> anyhow::Result<ExitCode> {
    match command {
        DataCommand::Check { dir } => check(&dir),
    }
}

/// Checks every task in `dir` (or one custom task); fails on any malformed file.
fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    let report = stab_data::check(dir)?;
    print!("{report}");
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the task's metrics of a predictions file against a gold split.
pub fn score(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let task = stab_data::task(&a.task)?;
    let metrics = stab_data::score_predictions(&task, &a.gold, &a.predictions)?;
    for (k, v) in &metrics {
        println!("{k}\t{v:.6}");
    }
    Ok(ExitCode::SUCCESS)
}
