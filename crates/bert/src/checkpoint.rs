//! A Hugging Face checkpoint directory: `config.json`, `model.safetensors`, tokenizer files.
//!
//! Opening one reads `config.json` once, picks the family from its `model_type`
//! ([`crate::family_for`]) and lets the family parse it; [`Checkpoint::encoder`] then builds
//! that family's [`Encoder`] and [`crate::load_checkpoint`] loads it strictly.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;

use crate::bert::BertModel;
use crate::config::EncoderConfig;
use crate::encoder::{Encoder, Family};
use crate::registry::family_for;
use crate::tokenizer::Tokenizer;
use crate::ModelError;

/// A checkpoint directory, validated on open (config parsed, weights file present).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
    /// The configuration facts every family shares, in BERT's vocabulary.
    pub config: EncoderConfig,
    pub weights: PathBuf,
    /// The family `config.json`'s `model_type` names.
    pub family: &'static dyn Family,
    /// `config.json` as written, for the family's own keys.
    pub raw_config: serde_json::Value,
}

impl Checkpoint {
    pub fn open(dir: &Path) -> Result<Checkpoint, ModelError> {
        if dir.as_os_str().is_empty() {
            return Err(ModelError::EmptyModelPath);
        }
        if !dir.is_dir() {
            return Err(ModelError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "model directory does not exist",
                ),
            });
        }
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let raw_config: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::Config {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let family = family_for(raw_config.get("model_type").and_then(|v| v.as_str()), &path)?;
        let config = family.config(&path, &raw_config)?;
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            return Err(ModelError::NoWeights { path: weights });
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config,
            weights,
            family,
            raw_config,
        })
    }

    /// Builds the family's encoder under `p` with HF's initialisation (load the weights with
    /// [`crate::load_checkpoint`] afterwards).
    pub fn encoder(&self, p: tch::nn::Path) -> Result<Box<dyn Encoder>, ModelError> {
        self.family.build(
            p,
            &self.config,
            &self.raw_config,
            &self.dir.join("config.json"),
        )
    }

    /// The most tokens one input may have (positions the model can embed).
    pub fn max_positions(&self) -> i64 {
        self.family.max_positions(&self.config)
    }

    /// Checks that what `tokenizer` produces at up to `max_length` tokens fits the model:
    /// positions below `max_position_embeddings` and token ids below `vocab_size`. Past them
    /// an embedding lookup fails deep inside LibTorch, mid-run; here the error names the limit.
    pub fn check_limits(&self, tokenizer: &Tokenizer, max_length: usize) -> Result<(), ModelError> {
        let config = self.dir.join("config.json");
        let c = &self.config;
        if max_length as i64 > self.max_positions() {
            return Err(ModelError::Limit {
                field: "max_length".into(),
                value: max_length as i64,
                limit_name: if self.max_positions() == c.max_position_embeddings {
                    "max_position_embeddings"
                } else {
                    "max_position_embeddings − pad_token_id − 1 (position offset)"
                },
                limit: self.max_positions(),
                path: config,
            });
        }
        if let Some(id) = tokenizer.max_token_id() {
            if i64::from(id) >= c.vocab_size {
                return Err(ModelError::Limit {
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

    /// The checkpoint's tokenizer with truncation at `max_length` and padding off. Batches are
    /// padded with the `pad_token_id` that `config.json` states (RoBERTa's position ids depend
    /// on it), else with the tokenizer's own pad token; with neither, this is an error naming
    /// the tokenizer's file ([`Tokenizer::from_dir`]). Models without token types by design
    /// (RoBERTa, ModernBERT, DeBERTa-v3) get type ids of zero ([`Family::zero_type_ids`]).
    pub fn tokenizer(&self, max_length: usize) -> Result<Tokenizer, ModelError> {
        let stated = self
            .raw_config
            .get("pad_token_id")
            .and_then(serde_json::Value::as_i64);
        let tok = Tokenizer::from_dir(
            &self.dir,
            self.config.do_lower_case.unwrap_or(true),
            max_length,
            stated,
        )?;
        Ok(if self.family.zero_type_ids(&self.config) {
            tok.without_type_ids()
        } else {
            tok
        })
    }
}

/// Writes a randomly initialised (HF init, `seed`) BERT checkpoint to `out`, with the tokenizer
/// files copied from `tokenizer_dir`. Used to make tiny models for fast tests.
pub fn write_random_checkpoint(
    out: &Path,
    config: &EncoderConfig,
    tokenizer_dir: &Path,
    seed: i64,
) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
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
) -> Result<usize, ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
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
