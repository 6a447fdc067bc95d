//! `stab data check`: rows, labels and majority baseline of the tasks in a data folder, or of
//! one custom task (stab-data does the work). `stab data fetch glue`: GLUE from the Hugging
//! Face Hub's parquet files into the layout stab reads (stab-hub does the work).

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
    /// Download a data set from the Hugging Face Hub (through its cache, honouring
    /// HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE=1) and write it in the layout stab reads:
    /// `glue` → DIR/glue/<TASK>/{train,dev,test}.tsv from the parquet files of nyu-mll/glue,
    /// each split's row count checked against GLUE's published size.
    Fetch {
        /// The data set (only `glue` for now).
        #[arg(value_parser = ["glue"])]
        dataset: String,
        /// Tasks, comma-separated (CoLA,SST-2,MRPC,STS-B,QQP,MNLI,QNLI,RTE,WNLI,AX); all when
        /// not given.
        #[arg(long, value_delimiter = ',')]
        tasks: Vec<String>,
        /// Where to write (`DIR/glue/<TASK>/…`); default $STAB_DATA_DIR, else `data`.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The Hub repository and revision to read (`org/name[@revision]`).
        #[arg(long, default_value = stab_hub::glue::GLUE_REPO)]
        repo: String,
    },
}

/// Dispatches a `stab data` subcommand.
pub fn data(command: DataCommand) -> anyhow::Result<ExitCode> {
    match command {
        DataCommand::Check { dir } => check(&dir),
        DataCommand::Fetch {
            dataset: _,
            tasks,
            dir,
            repo,
        } => fetch_glue(&tasks, dir, &repo),
    }
}

/// `stab data fetch glue`.
fn fetch_glue(tasks: &[String], dir: Option<PathBuf>, repo: &str) -> anyhow::Result<ExitCode> {
    let mut chosen = Vec::new();
    for t in tasks {
        let task = stab_hub::glue::glue_task(t.trim()).ok_or_else(|| {
            let names: Vec<&str> = stab_hub::glue::GLUE_TASKS.iter().map(|t| t.name).collect();
            anyhow::anyhow!(
                "--tasks: unknown GLUE task {t:?} (GLUE has {})",
                names.join(", ")
            )
        })?;
        chosen.push(task);
    }
    let dir = dir
        .or_else(|| std::env::var_os(stab_data::DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    let (repo, revision) = repo.split_once('@').unwrap_or((repo, "main"));
    let settings = stab_hub::HubSettings::from_env();
    eprintln!(
        "fetching GLUE ({}) from {} ({repo}@{revision}, cache {}) into {}",
        if chosen.is_empty() {
            "all tasks".to_string()
        } else {
            chosen.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
        },
        if settings.offline {
            "the Hugging Face cache (HF_HUB_OFFLINE=1)".to_string()
        } else {
            settings.endpoint.clone()
        },
        settings.cache.display(),
        dir.display()
    );
    stab_hub::glue::fetch_glue(&settings, repo, revision, &chosen, &[], &dir, |t| {
        let files: Vec<String> = t
            .files
            .iter()
            .map(|(p, n)| {
                format!(
                    "{} {n}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                )
            })
            .collect();
        eprintln!("  {}: {}", t.task, files.join(", "));
    })?;
    println!("{}", dir.join("glue").display());
    Ok(ExitCode::SUCCESS)
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
