//! `stab features`: hidden states and pooled vectors of a model for a file of texts or a task
//! split (stab-train does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct FeaturesArgs {
    /// Checkpoint directory, or a model on the Hugging Face Hub (`org/name[@revision]`).
    #[arg(long, env = "STAB_MODEL")]
    model: PathBuf,
    /// JSONL ({"text": …, "text_b": …}) or TSV with a header naming text/text_b columns.
    #[arg(long, conflicts_with = "task")]
    input: Option<PathBuf>,
    /// Read a task split instead (with --data-dir and --split).
    #[arg(long)]
    task: Option<String>,
    /// Data folder of --task (default: a run spec's, `data/glue`, as for `stab run`).
    #[arg(long, env = stab_data::DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
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
pub enum FeatureDevice {
    Cpu,
    Cuda,
}

/// Extracts the features `a` asks for and lists the arrays written.
pub fn features(a: FeaturesArgs) -> anyhow::Result<ExitCode> {
    use stab_train::features::{extract, FeatureOptions, Source};
    let source = match (a.input, a.task) {
        (Some(p), None) => Source::File(p),
        (None, Some(task)) => Source::Task {
            task,
            data_dir: match a.data_dir {
                Some(d) => d,
                None => stab_spec::preset(stab_spec::DEFAULT_PRESET)?.data_dir,
            },
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
