//! A Hugging Face checkpoint directory: `config.json`, `model.safetensors`, tokenizer files.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;

use crate::config::BertConfig;
use crate::model::BertModel;
use crate::tokenizer::BertTokenizer;
use crate::BertError;

/// A checkpoint directory, validated on open (config parsed, weights file present).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: BertConfig,
    pub weights: PathBuf,
}

impl Checkpoint {
    pub fn open(dir: &Path) -> Result<Checkpoint, BertError> {
        if dir.as_os_str().is_empty() {
            return Err(BertError::EmptyModelPath);
        }
        if !dir.is_dir() {
            return Err(BertError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "model directory does not exist",
                ),
            });
        }
        let config = BertConfig::from_file(&dir.join("config.json"))?;
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            return Err(BertError::NoWeights { path: weights });
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config,
            weights,
        })
    }

    /// Checks that what `tokenizer` produces at up to `max_length` tokens fits the model:
    /// positions below `max_position_embeddings` and token ids below `vocab_size`. Past them
    /// an embedding lookup fails deep inside LibTorch, mid-run; here the error names the limit.
    pub fn check_limits(
        &self,
        tokenizer: &BertTokenizer,
        max_length: usize,
    ) -> Result<(), BertError> {
        let config = self.dir.join("config.json");
        let c = &self.config;
        if max_length as i64 > c.max_position_embeddings {
            return Err(BertError::Limit {
                field: "max_length".into(),
                value: max_length as i64,
                limit_name: "max_position_embeddings",
                limit: c.max_position_embeddings,
                path: config,
            });
        }
        if let Some(id) = tokenizer.max_token_id() {
            if i64::from(id) >= c.vocab_size {
                return Err(BertError::Limit {
                    field: "the tokenizer's largest token id".into(),
                    value: id.into(),
                    limit_name: "vocab_size",
                    limit: c.vocab_size,
                    path: config,
                });
            }
        }
        Ok(())
    }

    /// The checkpoint's tokenizer with truncation at `max_length` and padding off.
    pub fn tokenizer(&self, max_length: usize) -> Result<BertTokenizer, BertError> {
        BertTokenizer::from_dir(
            &self.dir,
            self.config.do_lower_case.unwrap_or(true),
            max_length,
        )
    }
}

/// Writes a randomly initialised (HF init, `seed`) BERT checkpoint to `out`, with the tokenizer
/// files copied from `tokenizer_dir`. Used to make tiny models for fast tests.
pub fn write_random_checkpoint(
    out: &Path,
    config: &BertConfig,
    tokenizer_dir: &Path,
    seed: i64,
) -> Result<(), BertError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BertError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    tch::manual_seed(seed);
    let vs = VarStore::new(tch::Device::Cpu);
    let _model = BertModel::new(vs.root(), config);
    vs.save(out.join("model.safetensors"))?;
    let json = serde_json::to_string_pretty(config).expect("config serialises");
    std::fs::write(out.join("config.json"), json).map_err(io(&out.join("config.json")))?;
    for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json"] {
        let src = tokenizer_dir.join(f);
        if src.exists() {
            std::fs::copy(&src, out.join(f)).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// Copies the checkpoint in `src` to `out` with every floating-point weight stored as `kind`
/// (integer tensors are kept as they are), config and tokenizer files alongside. Returns the
/// number of tensors written. [`crate::load_safetensors`] converts them back to the model's
/// dtype on load, so a bf16 copy is a half-size stand-in for carrying a model around.
pub fn write_converted_checkpoint(
    src: &Path,
    out: &Path,
    kind: tch::Kind,
) -> Result<usize, BertError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BertError::Io { path, source }
    };
    let ck = Checkpoint::open(src)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let tensors: Vec<(String, tch::Tensor)> = tch::Tensor::read_safetensors(&ck.weights)?
        .into_iter()
        .map(|(name, t)| {
            let t = if t.is_floating_point() {
                t.to_kind(kind)
            } else {
                t
            };
            (name, t)
        })
        .collect();
    tch::Tensor::write_safetensors(&tensors, out.join("model.safetensors"))?;
    for entry in std::fs::read_dir(src).map_err(io(src))? {
        let path = entry.map_err(io(src))?.path();
        let name = path.file_name().unwrap_or_default();
        if path.is_file() && name != "model.safetensors" {
            std::fs::copy(&path, out.join(name)).map_err(io(&path))?;
        }
    }
    Ok(tensors.len())
}
