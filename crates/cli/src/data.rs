//! `stab data check`: rows, labels and majority baseline of the tasks in a data folder, or of
//! one custom task (stab-data does the work).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

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
