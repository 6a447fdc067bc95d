//! `stab score`: the official metrics of another system's predictions against a gold split
//! (stab-data does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

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

/// Prints the task's metrics of a predictions file against a gold split.
pub fn score(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let task = stab_data::task(&a.task)?;
    let metrics = stab_data::score_predictions(&task, &a.gold, &a.predictions)?;
    for (k, v) in &metrics {
        println!("{k}\t{v:.6}");
    }
    Ok(ExitCode::SUCCESS)
}
