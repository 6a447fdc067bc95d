//! `stab`: the command-line front of the stab workspace. It only parses flags and wires the
//! library crates together; every piece of work lives in a crate with one job.

mod report;
mod run;
mod signals;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

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
    Features(FeaturesArgs),
    /// Inspect data folders.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Score a predictions file against a gold split with the task's official metrics.
    Score(ScoreArgs),
    /// Expand a sweep file and run every run that is not finished (locally or on Slurm).
    Sweep(sweep::SweepArgs),
    /// Summary of a sweep's results directory: done, running, pending, diverged, error.
    Status(sweep::StatusArgs),
    /// One Slurm array task (used by the sbatch scripts `stab sweep --launcher slurm` writes).
    #[command(name = "sweep-task", hide = true)]
    SweepTask(sweep::TaskArgs),
    /// Write a randomly initialised BERT checkpoint (HF initialisation) for smoke tests.
    #[command(name = "init-model", hide = true)]
    InitModel(InitModelArgs),
    /// Copy a checkpoint with its weights stored in another dtype (bf16: half the size, for
    /// carrying a model to a GPU machine).
    #[command(name = "convert-model", hide = true)]
    ConvertModel(ConvertModelArgs),
    /// Variance report of a results directory: tables, statistics, plots, HTML.
    Report(report::ReportArgs),
    /// The same analysis for any CSV/TSV of scores with a group and a score column.
    Compare(report::CompareArgs),
}

#[derive(Subcommand)]
enum DataCommand {
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
struct InitModelArgs {
    /// Copy tokenizer files (tokenizer.json, vocab.txt) from this checkpoint directory.
    #[arg(long, env = "STAB_MODEL")]
    tokenizer_from: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Hidden size.
    #[arg(long, default_value_t = 32)]
    hidden: i64,
    /// Encoder layers (BERT-base: 12, BERT-large: 24).
    #[arg(long, default_value_t = 2)]
    layers: i64,
    /// Attention heads (BERT-base: 12, BERT-large: 16).
    #[arg(long, default_value_t = 4)]
    heads: i64,
    /// Feed-forward size (default: 2 × hidden; BERT uses 4 × hidden).
    #[arg(long)]
    intermediate: Option<i64>,
    #[arg(long, default_value_t = 0)]
    seed: i64,
}

#[derive(Args)]
struct ConvertModelArgs {
    /// Checkpoint directory to convert.
    #[arg(long)]
    from: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Storage dtype of the weights (stab loads any of them into an fp32 model).
    #[arg(long, value_enum, default_value = "bf16")]
    dtype: WeightsDtype,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum WeightsDtype {
    Bf16,
    Fp16,
    Fp32,
}

#[derive(Args)]
struct ScoreArgs {
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

#[derive(Args)]
struct FeaturesArgs {
    /// Hugging Face BERT checkpoint directory.
    #[arg(long, env = "STAB_MODEL")]
    model: PathBuf,
    /// JSONL ({"text": …, "text_b": …}) or TSV with a header naming text/text_b columns.
    #[arg(long, conflicts_with = "task")]
    input: Option<PathBuf>,
    /// Read a task split instead (with --data-dir and --split).
    #[arg(long)]
    task: Option<String>,
    #[arg(long, env = stab_data::DATA_DIR_ENV, default_value = "data")]
    data_dir: PathBuf,
    #[arg(long, default_value = "dev")]
    split: String,
    /// Output file: .safetensors (any arrays) or .npy (one array).
    #[arg(long, short)]
    output: PathBuf,
    /// Hidden states to write: 0 = embeddings, negative from the end (-1 = last layer).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "-1",
        allow_hyphen_values = true
    )]
    layers: Vec<i64>,
    /// Also write every token's hidden state and the attention mask.
    #[arg(long)]
    tokens: bool,
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    device: FeatureDevice,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FeatureDevice {
    Cpu,
    Cuda,
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
        Command::Features(a) => features(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Status(a) => sweep::status(a),
        Command::SweepTask(a) => sweep::task(a),
        Command::InitModel(a) => {
            let tok = stab_bert::BertTokenizer::from_dir(&a.tokenizer_from, true, 512)?;
            let mut config = stab_bert::BertConfig::tiny(tok.vocab_size() as i64);
            config.hidden_size = a.hidden;
            config.num_hidden_layers = a.layers;
            config.num_attention_heads = a.heads;
            config.intermediate_size = a.intermediate.unwrap_or(2 * a.hidden);
            if a.hidden % a.heads != 0 {
                anyhow::bail!(
                    "--hidden {} is not a multiple of --heads {}",
                    a.hidden,
                    a.heads
                );
            }
            stab_bert::checkpoint::write_random_checkpoint(
                &a.out,
                &config,
                &a.tokenizer_from,
                a.seed,
            )?;
            eprintln!(
                "wrote a random BERT (L={}, H={}, A={}) to {}",
                a.layers,
                a.hidden,
                a.heads,
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::ConvertModel(a) => {
            let kind = match a.dtype {
                WeightsDtype::Bf16 => tch::Kind::BFloat16,
                WeightsDtype::Fp16 => tch::Kind::Half,
                WeightsDtype::Fp32 => tch::Kind::Float,
            };
            let n = stab_bert::checkpoint::write_converted_checkpoint(&a.from, &a.out, kind)?;
            eprintln!("wrote {} tensors as {kind:?} to {}", n, a.out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(a) => report::report(a),
        Command::Compare(a) => report::compare(a),
        Command::Data {
            command: DataCommand::Check { dir },
        } => {
            let report = stab_data::check(&dir)?;
            print!("{report}");
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Score(a) => {
            let task = stab_data::task(&a.task)?;
            let metrics = stab_data::score_predictions(&task, &a.gold, &a.predictions)?;
            for (k, v) in &metrics {
                println!("{k}\t{v:.6}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn features(a: FeaturesArgs) -> anyhow::Result<ExitCode> {
    use stab_train::features::{extract, FeatureOptions, Source};
    let source = match (a.input, a.task) {
        (Some(p), None) => Source::File(p),
        (None, Some(task)) => Source::Task {
            task,
            data_dir: a.data_dir,
            split: a.split,
        },
        _ => anyhow::bail!("give either --input FILE or --task T"),
    };
    let summary = extract(&FeatureOptions {
        model: a.model,
        source,
        output: a.output.clone(),
        layers: a.layers,
        tokens: a.tokens,
        max_length: a.max_length,
        batch_size: a.batch_size,
        threads: a.threads,
        device: match a.device {
            FeatureDevice::Cpu => tch::Device::Cpu,
            FeatureDevice::Cuda => {
                if !tch::Cuda::is_available() {
                    anyhow::bail!("--device cuda: LibTorch sees no CUDA device (build with --features cuda and run on a GPU machine)");
                }
                tch::Device::Cuda(0)
            }
        },
        progress: true,
    })
    .context("feature extraction failed")?;
    eprintln!(
        "wrote {} ({} examples in {:.2} s, {:.1} examples/s)",
        a.output.display(),
        summary.examples,
        summary.seconds,
        summary.examples as f64 / summary.seconds
    );
    for (name, shape) in summary.arrays {
        println!("{name}\t{shape:?}");
    }
    Ok(ExitCode::SUCCESS)
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

    /// Issue 15, item 3: the help must describe the NER predictions format `stab score` reads.
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
