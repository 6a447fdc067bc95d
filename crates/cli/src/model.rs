//! `stab init-model` and `stab convert-model`: write checkpoints for smoke tests and for carrying
//! a model to a GPU machine (stab-bert does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct InitModelArgs {
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
pub struct ConvertModelArgs {
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
pub enum WeightsDtype {
    Bf16,
    Fp16,
    Fp32,
}

/// Writes a randomly initialised BERT with the tokenizer of `a.tokenizer_from`.
pub fn init_model(a: InitModelArgs) -> anyhow::Result<ExitCode> {
    let tok = stab_bert::Tokenizer::from_dir(&a.tokenizer_from, true, 512, None)?;
    let mut config = stab_bert::EncoderConfig::tiny(tok.vocab_size() as i64);
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
    stab_bert::checkpoint::write_random_checkpoint(&a.out, &config, &a.tokenizer_from, a.seed)?;
    eprintln!(
        "wrote a random BERT (L={}, H={}, A={}) to {}",
        a.layers,
        a.hidden,
        a.heads,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies a checkpoint with its weights stored as `a.dtype`.
pub fn convert_model(a: ConvertModelArgs) -> anyhow::Result<ExitCode> {
    let kind = match a.dtype {
        WeightsDtype::Bf16 => tch::Kind::BFloat16,
        WeightsDtype::Fp16 => tch::Kind::Half,
        WeightsDtype::Fp32 => tch::Kind::Float,
    };
    let n = stab_bert::checkpoint::write_converted_checkpoint(&a.from, &a.out, kind)?;
    eprintln!("wrote {} tensors as {kind:?} to {}", n, a.out.display());
    Ok(ExitCode::SUCCESS)
}
