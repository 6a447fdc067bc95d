//! The fully resolved run specification.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Errors raised while resolving or reading a run spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown preset `{0}` (known: {known})", known = crate::PRESETS.join(", "))]
    UnknownPreset(String),
    #[error("invalid run spec: {0}")]
    Invalid(String),
    /// A value out of range, or inconsistent with another field (checked on the whole spec).
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// A field the spec does not have, or a value of the wrong type: wrong on its own, whatever
    /// the other fields say. `field` is the dotted path (`optimizer.eps`).
    #[error("{field}: {message}")]
    Value { field: String, message: String },
    #[error("could not read run spec {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not parse run spec {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A problem at a known place of a run-spec file (1-based line and column, in characters).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Located {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Learning-rate schedule. All schedules warm up linearly over `warmup_fraction` of the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Linear warmup, then linear decay to 0 at the last step (BERT, HF `get_linear_schedule_with_warmup`).
    Linear,
    /// Constant learning rate, warmup ignored.
    Constant,
    /// Linear warmup, then constant.
    WarmupConstant,
}

/// Which checkpoint's score a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The model after the last step (Devlin et al.).
    Last,
    /// The evaluation with the best dev score (Mosbach et al.); kept in memory, no checkpoints.
    Best,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// fp32 everywhere.
    Fp32,
    /// bf16 autocast for the forward pass (LibTorch's autocast, on CUDA and on CPU); master
    /// weights, gradients and optimizer state fp32.
    Bf16,
}

/// Which representation a sentence-level head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// BERT's pooler (tanh(W·h_CLS + b)), as `BertForSequenceClassification`.
    Pooler,
    /// The [CLS] hidden state itself.
    Cls,
    /// Mean of the hidden states over non-padding tokens.
    Mean,
}

/// Feature-based mode (Devlin et al. 2019 Table 7; Peters et al. 2019): the encoder is frozen,
/// run without dropout, and only a head on top of these features is trained.
///
/// Table 7's rows are `embeddings`, `second-to-last`, `last`, `weighted-sum-last-four`,
/// `concat-last-four` and `weighted-sum-all-layers`. Its two "weighted sum" rows are learned
/// weightings: a scalar mix γ · Σ softmax(w)ᵢ hᵢ (Peters et al. 2018, ELMo; AllenNLP's
/// `ScalarMix`), w = 0 and γ = 1 at the start, both trained with the head. The paper does not
/// spell the weighting out; the scalar mix is the one its §5.3 cites (ELMo) and the one
/// Peters et al. (2019) use for BERT features.
///
/// Two further modes are not Table 7 rows, and their names are part of specs, sweep files
/// and run ids, so they keep their meaning: `sum-last-four` is the *unweighted* sum, and
/// `scalar-mix` mixes all L + 1 hidden states, the embeddings included (ELMo's and AllenNLP's
/// convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureMode {
    /// Fine-tuning: no feature extraction.
    Off,
    /// The embedding layer output (hidden state 0).
    Embeddings,
    /// The last encoder layer.
    Last,
    /// The second-to-last encoder layer.
    SecondToLast,
    /// Unweighted sum of the last four encoder layers (not a Table 7 row: see
    /// `weighted-sum-last-four`).
    SumLastFour,
    /// Learned scalar mix of the last four encoder layers (Table 7 "weighted sum last four
    /// hidden").
    WeightedSumLastFour,
    /// Concatenation of the last four encoder layers (4 × hidden wide).
    ConcatLastFour,
    /// Learned scalar mix of the L encoder layers, embeddings excluded (Table 7 "weighted sum
    /// all 12 layers" for BERT-base).
    WeightedSumAllLayers,
    /// Learned scalar mix of all L + 1 hidden states, the embeddings included (ELMo, AllenNLP;
    /// not a Table 7 row: see `weighted-sum-all-layers`).
    ScalarMix,
}

impl FeatureMode {
    /// Whether the head learns a scalar mix of the layers the mode reads.
    pub fn learns_mix(self) -> bool {
        matches!(
            self,
            FeatureMode::WeightedSumLastFour
                | FeatureMode::WeightedSumAllLayers
                | FeatureMode::ScalarMix
        )
    }
}

/// Head used in feature-based mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureHead {
    /// A linear layer (on the pooled vector for sentence tasks, per token for NER).
    Linear,
    /// Two-layer bidirectional LSTM then a linear layer (Devlin et al. Table 7, NER).
    Bilstm,
}

/// Where ε and the weight decay sit in the Adam update: the two AdamW implementations the
/// reference codes use (the exact rules are in `stab_train::optim`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdamUpdate {
    /// `torch.optim.AdamW` (Zhang et al., `--use_torch_adamw`): θ ← θ(1 − lr·λ) first, then
    /// θ ← θ − lr·m̂/(√v̂ + ε) — ε is added to the bias-corrected √v̂. Without bias correction
    /// this is Google's BERTAdam (`optimization.py`). The value of a spec whose `optimizer`
    /// has no `update` field.
    #[default]
    Torch,
    /// Hugging Face `transformers.AdamW`, which Mosbach et al. run (`mAdamW` in
    /// `examples/bert_stable_fine_tuning/adamw.py`): θ ← θ − lr·(√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√v + ε),
    /// then θ ← θ(1 − lr·λ) on the updated θ — ε is added to the uncorrected √v.
    Hf,
}

/// Adam with decoupled weight decay; `bias_correction = false` is BERTAdam.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// Use m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (PyTorch AdamW, Mosbach) or not (original BERT code).
    pub bias_correction: bool,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Placement of ε and of the weight decay (`torch` or `hf`).
    #[serde(default)]
    pub update: AdamUpdate,
}

/// One fine-tuning run, fully resolved: every field has a value and a documented default
/// (the `devlin` preset's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Name of the preset the spec was resolved from (informational; part of the hash).
    pub preset: String,
    /// Hugging Face BERT checkpoint directory (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    /// GLUE task name (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI), `CoNLL-2003`, or
    /// the path of a custom task description (TOML).
    pub task: String,
    /// Directory holding `<TASK>/{train,dev}.tsv` (GLUE layout) or the CoNLL files.
    pub data_dir: PathBuf,
    /// Train on a seeded, stratified subset of this many examples (None: the whole set).
    #[serde(default)]
    pub train_subset: Option<usize>,
    /// Seed of the training subset.
    pub subset_seed: u64,
    /// When set, the dev set is split in two halves with this seed, stratified per class: model
    /// selection on the first (⌊n_c/2⌋ of each class), reported scores on the second (Zhang et
    /// al. 2021, `--test_val_split`; see `stab_data::split_halves`).
    #[serde(default)]
    pub dev_split_seed: Option<u64>,
    /// Maximum sequence length in tokens (longest-first truncation for pairs).
    pub max_length: usize,
    pub batch_size: usize,
    /// Number of epochs (ignored when `max_steps` is set).
    pub epochs: u32,
    /// Total optimizer steps; overrides `epochs` when set.
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Fraction of the total steps spent in linear warmup.
    pub warmup_fraction: f64,
    pub schedule: Schedule,
    pub optimizer: OptimizerSpec,
    /// Decoupled weight decay; never applied to biases and LayerNorm weights.
    pub weight_decay: f64,
    /// Global-norm gradient clipping; 0 disables it (as HF Trainer).
    pub max_grad_norm: f64,
    /// Layer-wise learning-rate decay ξ as Zhang et al.'s `get_optimizer_grouped_parameters`:
    /// head and pooler get lr, encoder layer i (0-based, of L) lr·ξ^(L−i) — the top layer lr·ξ —
    /// and the embeddings lr·ξ^(L+1). 1.0 disables it.
    pub layerwise_lr_decay: f64,
    /// Override of the checkpoint's `hidden_dropout_prob`.
    #[serde(default)]
    pub hidden_dropout: Option<f64>,
    /// Override of the checkpoint's `attention_probs_dropout_prob`.
    #[serde(default)]
    pub attention_dropout: Option<f64>,
    /// Dropout before the classifier (default: the checkpoint's `classifier_dropout`, else its
    /// hidden dropout, as HF).
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// Seed of the new head and of re-initialised layers (Dodge et al. 2020 "weight init").
    pub init_seed: u64,
    /// Seed of the data order and of dropout masks (Dodge et al. 2020 "data order").
    pub data_seed: u64,
    /// Evaluations per epoch (Mosbach: 3). Ignored when `eval_every_steps` or `evals_per_run`
    /// is set.
    pub evals_per_epoch: u32,
    /// Evaluate every K optimizer steps instead (first choice when set).
    #[serde(default)]
    pub eval_every_steps: Option<u64>,
    /// Evaluate every ⌊T/n⌋ of the T steps and at T (Zhang et al.'s `--num_loggings 10`; only
    /// at T when T < n). Used unless `eval_every_steps` is set.
    #[serde(default)]
    pub evals_per_run: Option<u32>,
    /// Also evaluate the model before the first step; `selection = "best"` then starts from it
    /// (Mosbach et al.'s `run_finetuning.py` evaluates at step 0 and keeps it as the first best).
    #[serde(default)]
    pub eval_at_start: bool,
    pub selection: Selection,
    /// Metric that picks the best evaluation, per task (task name → metric name, e.g.
    /// `MRPC = "combined"`): the reference codes select on other metrics than the ones they
    /// report. A task not listed selects on `metric`.
    #[serde(default)]
    pub selection_metric: BTreeMap<String, String>,
    /// Stop after this many evaluations without improvement of the dev score.
    #[serde(default)]
    pub early_stopping_patience: Option<u32>,
    /// Override of the task's primary metric (e.g. `accuracy` for MRPC instead of `f1`).
    #[serde(default)]
    pub metric: Option<String>,
    /// Freeze the embeddings and the bottom k encoder layers (Merchant et al. 2020); 0 = none.
    pub freeze_layers: usize,
    /// Re-initialise the pooler from N(0, initializer_range) with the init seed.
    pub reinit_pooler: bool,
    /// Re-initialise the top L encoder layers with the init seed (Zhang et al. 2021); only
    /// together with `reinit_pooler`, as the reference asserts.
    pub reinit_layers: usize,
    pub feature_mode: FeatureMode,
    pub feature_head: FeatureHead,
    /// Hidden units per direction of the BiLSTM feature head (Devlin et al.: 768).
    pub lstm_hidden: usize,
    pub pooling: Pooling,
    /// Pad every batch to `max_length` (HF run_glue's default) instead of dynamic padding.
    pub pad_to_max_length: bool,
    /// Group examples of similar length into batches (order still fixed by the data seed).
    pub length_grouped: bool,
    /// Intra-op threads (LibTorch); results are bit-identical only at a fixed count.
    pub threads: usize,
    pub device: Device,
    pub precision: Precision,
    /// The loss curve keeps every step up to this many points, then is averaged into buckets.
    pub max_curve_points: usize,
    /// Micro-batches of `batch_size` whose gradients make one optimizer step (HF's
    /// `--gradient_accumulation_steps`): a step sees `batch_size` × this many examples, and
    /// `epochs` count such steps. Omitted from the spec's JSON at 1, so run ids of specs
    /// without it are unchanged.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub gradient_accumulation_steps: u32,
    /// Mixout probability p (Lee et al. 2020, as Zhang et al. 2021 run it): in training, each
    /// input column of every linear weight is replaced by its value at the start of training
    /// (pre-trained; a new head's or re-initialised layer's initial value) with probability p,
    /// rescaled to keep the expectation (`stab_train::mixout`). Zhang's code turns every
    /// dropout off with it, so p > 0 needs the three dropouts set to 0. 0 disables it (and is
    /// omitted from the spec's JSON).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mixout: f64,
    /// Weight decay pulls toward the weights at the start of training instead of toward 0
    /// (Zhang et al.'s `PriorWD`), with `weight_decay` as its strength; the same parameters
    /// decay as without it (not biases and norms). Omitted from the spec's JSON when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub prior_weight_decay: bool,
    /// Stop the run when a rule predicts, after a fraction of its steps, that it will fail
    /// (Dodge et al. 2020; [`crate::EarlyFailure`]); recorded as `stopped`. Omitted from the
    /// spec's JSON when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_failure: Option<crate::EarlyFailure>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl RunSpec {
    /// Resolves `preset` with `overrides` (field → value, nested tables for `optimizer`).
    ///
    /// ```
    /// let mut o = toml::Table::new();
    /// o.insert("epochs".into(), toml::Value::Integer(5));
    /// let spec = stab_spec::RunSpec::resolve("mosbach", &o).unwrap();
    /// assert_eq!(spec.epochs, 5);
    /// assert!(spec.optimizer.bias_correction);
    /// ```
    pub fn resolve(preset: &str, overrides: &toml::Table) -> Result<RunSpec, SpecError> {
        let base = crate::preset(preset)?;
        base.with_overrides(overrides)
    }

    /// Applies overrides to an already resolved spec.
    ///
    /// A field the spec does not have, or a value of the wrong type, is a
    /// [`SpecError::Value`] naming the field and the value (`epochs: expected a whole number,
    /// got "x"`); a value out of range a [`SpecError::Field`].
    pub fn with_overrides(&self, overrides: &toml::Table) -> Result<RunSpec, SpecError> {
        let base = toml::Table::try_from(self)
            .map_err(|e| SpecError::Invalid(format!("cannot serialise spec: {e}")))?;
        let mut table = base.clone();
        for (key, value) in overrides {
            if key == "preset" {
                // The preset chose the base: restating it is harmless, another one is not
                // (its values would have to replace the base's, which only resolving can do).
                self.check_same_preset(value)?;
                continue;
            }
            merge_override(&mut table, key, value.clone());
        }
        let spec: RunSpec = match toml::Value::Table(table).try_into() {
            Ok(spec) => spec,
            // serde's message names neither the field nor the value: find the override that
            // fails on its own and say which (only on failure, so resolving stays cheap).
            Err(e) => {
                let e: toml::de::Error = e;
                return Err(crate::diagnose::culprit(&base, overrides)
                    .unwrap_or_else(|| SpecError::Invalid(e.message().to_string())));
            }
        };
        spec.validate()?;
        Ok(spec)
    }

    /// A `preset` override of an already resolved spec: the spec's own preset, or an error
    /// (an unknown name, or another preset, which would silently train this spec's recipe).
    fn check_same_preset(&self, value: &toml::Value) -> Result<(), SpecError> {
        let name = parse_preset_name(value)?;
        if name == self.preset {
            return Ok(());
        }
        Err(SpecError::Value {
            field: "preset".into(),
            message: format!(
                "cannot change a resolved spec's preset from `{}` to `{name}`: resolve from the \
                 preset instead (`preset =` in a TOML spec, --preset, or --set preset=…)",
                self.preset
            ),
        })
    }

    /// Reads a run-spec TOML file: an optional `preset = "…"` (default `devlin`) and overrides.
    /// Errors name the file, line and column of the offending key or value where they can.
    pub fn from_toml_file(path: &std::path::Path) -> Result<RunSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        RunSpec::from_toml_str(path, &text)
    }

    /// [`RunSpec::from_toml_file`] on text already read; `path` names the file in messages.
    pub fn from_toml_str(path: &std::path::Path, text: &str) -> Result<RunSpec, SpecError> {
        RunSpec::from_toml_str_with_preset(path, text, None)
    }

    /// [`RunSpec::from_toml_str`] with the file's `preset` replaced by `preset` when given
    /// (`stab run --spec F.toml --set preset=mosbach`): the file's other keys are overrides of
    /// that preset, exactly as if the file said `preset = "mosbach"`.
    pub fn from_toml_str_with_preset(
        path: &std::path::Path,
        text: &str,
        preset: Option<&str>,
    ) -> Result<RunSpec, SpecError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let message = e.message().trim().to_string();
            match e.span() {
                Some(span) => crate::diagnose::located(path, text, span.start, message),
                None => SpecError::Parse {
                    path: path.to_path_buf(),
                    message,
                },
            }
        })?;
        if let Some(p) = preset {
            table.insert("preset".into(), toml::Value::String(p.into()));
        }
        let preset = match table.get("preset") {
            None => Ok(crate::DEFAULT_PRESET),
            Some(value) => parse_preset_name(value),
        };
        preset
            .and_then(|p| RunSpec::resolve(p, &table))
            .map_err(|e| {
                let field = match &e {
                    SpecError::Field { field, .. } | SpecError::Value { field, .. } => {
                        Some(field.as_str())
                    }
                    SpecError::UnknownPreset(_) => Some("preset"),
                    _ => None,
                };
                match field.and_then(|f| crate::diagnose::value_offset(text, f)) {
                    Some(offset) => crate::diagnose::located(path, text, offset, e.to_string()),
                    None => SpecError::Parse {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    },
                }
            })
    }

    /// Reads a fully resolved run spec in JSON (a run directory's `spec.json`: every field
    /// present, no preset) and validates it. Errors name the file, line and column, and the
    /// field as a dotted path (`optimizer.eps: invalid type: string "x", expected f64`), which
    /// serde_json alone does not.
    pub fn from_json_str(path: &std::path::Path, text: &str) -> Result<RunSpec, SpecError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: RunSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            let (line, column) = (e.inner().line(), e.inner().column());
            let full = e.inner().to_string();
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m);
            let (field, message) = match message.strip_prefix("unknown field `") {
                Some(rest) => {
                    let name = rest.split_once('`').map_or(rest, |(n, _)| n);
                    // The path ends at the unknown key itself.
                    let field = if at == "." { name.to_string() } else { at };
                    let text = toml::Value::String(name.into());
                    (field, crate::diagnose::describe(message, &text))
                }
                None => (at, message.to_string()),
            };
            let message = format!("{field}: {message}");
            if line > 0 {
                SpecError::Located {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message,
                }
            } else {
                SpecError::Parse {
                    path: path.to_path_buf(),
                    message,
                }
            }
        })?;
        spec.validate().map_err(|e| SpecError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(spec)
    }

    /// Checks value ranges that serde cannot.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |field: &str, message: &str| {
            Err(SpecError::Field {
                field: field.into(),
                message: message.into(),
            })
        };
        for (name, path) in [("model", &self.model), ("data_dir", &self.data_dir)] {
            if path.as_os_str().is_empty() {
                return bad(name, "is empty: give a directory");
            }
        }
        if self.task.trim().is_empty() {
            return bad(
                "task",
                "is empty: give a task name or a task description file",
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_length < 2 {
            return bad("max_length", "must be at least 2 ([CLS] and [SEP])");
        }
        if self.epochs == 0 && self.max_steps.is_none() {
            return bad("epochs", "must be at least 1 (or set max_steps)");
        }
        if self.max_steps == Some(0) {
            return bad("max_steps", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a positive number");
        }
        if !(0.0..=1.0).contains(&self.warmup_fraction) {
            return bad("warmup_fraction", "must be in [0, 1]");
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return bad("weight_decay", "must be ≥ 0");
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm < 0.0 {
            return bad("max_grad_norm", "must be ≥ 0 (0 disables clipping)");
        }
        if !(self.layerwise_lr_decay > 0.0 && self.layerwise_lr_decay <= 1.0) {
            return bad("layerwise_lr_decay", "must be in (0, 1]");
        }
        let o = &self.optimizer;
        if !(0.0..1.0).contains(&o.beta1) {
            return bad("optimizer.beta1", "must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&o.beta2) {
            return bad("optimizer.beta2", "must be in [0, 1)");
        }
        if o.eps.is_nan() || o.eps <= 0.0 {
            return bad("optimizer.eps", "must be > 0");
        }
        for (name, p) in [
            ("hidden_dropout", self.hidden_dropout),
            ("attention_dropout", self.attention_dropout),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            if let Some(p) = p {
                if !(0.0..1.0).contains(&p) {
                    return bad(name, "must be in [0, 1)");
                }
            }
        }
        if self.evals_per_epoch == 0 && self.eval_every_steps.is_none() {
            return bad(
                "evals_per_epoch",
                "must be at least 1 (or set eval_every_steps)",
            );
        }
        if self.eval_every_steps == Some(0) {
            return bad("eval_every_steps", "must be at least 1");
        }
        if self.evals_per_run == Some(0) {
            return bad("evals_per_run", "must be at least 1");
        }
        if let Some(p) = &self.early_failure {
            if !(p.after_fraction > 0.0 && p.after_fraction < 1.0) {
                return bad("early_failure.after_fraction", "must be in (0, 1)");
            }
            if p.measured_precision
                .is_some_and(|x| !(0.0..=1.0).contains(&x))
            {
                return bad("early_failure.measured_precision", "must be in [0, 1]");
            }
        }
        if self.reinit_layers > 0 && !self.reinit_pooler {
            return bad(
                "reinit_layers",
                "re-initialising layers needs reinit_pooler = true (Zhang et al. re-initialise \
                 the top layers only together with the pooler)",
            );
        }
        if self.threads == 0 {
            return bad("threads", "must be at least 1");
        }
        if self.train_subset == Some(0) {
            return bad(
                "train_subset",
                "must be at least 1 (omit it for the whole set)",
            );
        }
        if self.max_curve_points < 2 {
            return bad("max_curve_points", "must be at least 2");
        }
        if self.gradient_accumulation_steps == 0 {
            return bad(
                "gradient_accumulation_steps",
                "must be at least 1 (1: no accumulation)",
            );
        }
        if !(0.0..1.0).contains(&self.mixout) {
            return bad("mixout", "must be in [0, 1) (0 disables it)");
        }
        if self.mixout > 0.0 {
            if !self.fine_tunes() {
                return bad(
                    "mixout",
                    "mixes fine-tuned weights with their pre-trained values; the feature-based \
                     mode (feature_mode) fine-tunes none",
                );
            }
            for (name, p) in [
                ("hidden_dropout", self.hidden_dropout),
                ("attention_dropout", self.attention_dropout),
                ("classifier_dropout", self.classifier_dropout),
            ] {
                if p != Some(0.0) {
                    let now = p.map_or("the checkpoint's value".to_string(), |p| p.to_string());
                    return bad(
                        "mixout",
                        &format!(
                            "mixout replaces dropout (Zhang et al.'s run_glue.py sets every \
                             dropout probability to 0 with --mixout): set {name} = 0 (it is \
                             {now}), and the other dropouts too"
                        ),
                    );
                }
            }
        }
        if self.feature_mode == FeatureMode::Off && self.feature_head == FeatureHead::Bilstm {
            return bad(
                "feature_head",
                "the BiLSTM head needs a feature_mode (the encoder is fine-tuned otherwise)",
            );
        }
        Ok(())
    }

    /// Canonical JSON of the spec: the bytes that are hashed.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a RunSpec always serialises")
    }

    /// Every field with its value, as `stab run --print-spec` lists them: a TOML table of the
    /// set fields — including those the run id's JSON omits at their default value
    /// (`gradient_accumulation_steps`, `mixout`, `prior_weight_decay`: omitted so that adding
    /// them kept earlier run ids; listing them at that value resolves to the same spec) — and
    /// the dotted names of the options left unset, which TOML cannot write.
    pub fn listed(&self) -> (toml::Table, Vec<String>) {
        let mut table = toml::Table::try_from(self).expect("a RunSpec always serialises to TOML");
        let defaults: [(&str, toml::Value); 3] = [
            (
                "gradient_accumulation_steps",
                toml::Value::Integer(self.gradient_accumulation_steps as i64),
            ),
            ("mixout", toml::Value::Float(self.mixout)),
            (
                "prior_weight_decay",
                toml::Value::Boolean(self.prior_weight_decay),
            ),
        ];
        for (k, v) in defaults {
            table.entry(k).or_insert(v);
        }
        let json = serde_json::to_value(self).expect("a RunSpec always serialises");
        let mut unset = Vec::new();
        fn nulls(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            if let Some(o) = v.as_object() {
                for (k, x) in o {
                    let name = format!("{prefix}{k}");
                    match x {
                        serde_json::Value::Null => out.push(name),
                        serde_json::Value::Object(_) => nulls(&format!("{name}."), x, out),
                        _ => {}
                    }
                }
            }
        }
        nulls("", &json, &mut unset);
        (table, unset)
    }

    /// Which evaluation schedule is in force, in words: `eval_every_steps` wins over
    /// `evals_per_run`, which wins over `evals_per_epoch` (as the training loop reads them).
    pub fn evaluation_schedule(&self) -> String {
        let start = if self.eval_at_start {
            ", and once before the first step (eval_at_start)"
        } else {
            ""
        };
        match (self.eval_every_steps, self.evals_per_run) {
            (Some(k), _) => format!(
                "eval_every_steps = {k} is in force (every {k} steps and at the end{start}); evals_per_epoch{} ignored",
                if self.evals_per_run.is_some() { " and evals_per_run are" } else { " is" }
            ),
            (None, Some(n)) => format!(
                "evals_per_run = {n} is in force (every ⌊T/{n}⌋ steps and at the end{start}); evals_per_epoch = {} is ignored",
                self.evals_per_epoch
            ),
            (None, None) => format!(
                "evals_per_epoch = {} is in force (and at the end{start})",
                self.evals_per_epoch
            ),
        }
    }

    /// Stable content hash of the resolved spec (16 hex digits): the run id.
    pub fn run_id(&self) -> String {
        let digest = Sha256::digest(self.canonical_json().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The metric that selects the best evaluation on `task` (its canonical name): the
    /// `selection_metric` entry for the task (names compared case-insensitively), else `metric`.
    pub fn selection_metric_for<'a>(&'a self, task: &str, metric: &'a str) -> &'a str {
        self.selection_metric
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(task))
            .map_or(metric, |(_, m)| m.as_str())
    }

    /// Whether the encoder is fine-tuned (as opposed to the feature-based approach).
    pub fn fine_tunes(&self) -> bool {
        self.feature_mode == FeatureMode::Off
    }
}

/// A `preset` value: a string naming a known preset.
/// Optimizer steps after which the model is evaluated (0: before the first step).
pub fn eval_steps(spec: &RunSpec, per_epoch: u64, total: u64) -> BTreeSet<u64> {
    let mut steps = BTreeSet::new();
    if spec.eval_at_start {
        steps.insert(0);
    }
    // Zhang et al.: `logging_steps = t_total // num_loggings`, evaluated when
    // `global_step % logging_steps == 0 or global_step == t_total` (never at 0 steps apart).
    let every = spec
        .eval_every_steps
        .or_else(|| spec.evals_per_run.map(|n| total / n as u64));
    match every {
        Some(0) => {}
        Some(k) => steps.extend((1..=total / k).map(|i| i * k)),
        None => {
            let n = spec.evals_per_epoch as u64;
            let epochs = total.div_ceil(per_epoch);
            for e in 0..epochs {
                for j in 1..=n {
                    let s = e * per_epoch + (j * per_epoch).div_ceil(n);
                    if s <= total {
                        steps.insert(s);
                    }
                }
            }
        }
    }
    steps.insert(total);
    steps
}

pub fn parse_preset_name(value: &toml::Value) -> Result<&str, SpecError> {
    match value {
        toml::Value::String(s) if crate::PRESETS.contains(&s.as_str()) => Ok(s.as_str()),
        toml::Value::String(s) => Err(SpecError::UnknownPreset(s.clone())),
        other => Err(SpecError::Value {
            field: "preset".into(),
            message: format!(
                "expected a preset name, one of: {}, got {other}",
                crate::PRESETS.join(", ")
            ),
        }),
    }
}

/// Sets `key` (which may be dotted, `optimizer.eps`) in an override table, merging nested
/// tables: the one rule by which run specs, flags and sweep axes apply overrides.
pub fn merge_override(table: &mut toml::Table, key: &str, value: toml::Value) {
    if let Some((head, rest)) = key.split_once('.') {
        let entry = table
            .entry(head.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(inner) = entry {
            merge_override(inner, rest, value);
        } else {
            *entry = toml::Value::Table(toml::Table::from_iter([(rest.to_string(), value)]));
        }
        return;
    }
    match (table.get_mut(key), value) {
        (Some(toml::Value::Table(existing)), toml::Value::Table(new)) => {
            for (k, v) in new {
                merge_override(existing, &k, v);
            }
        }
        (_, value) => {
            table.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(pairs: &[(&str, toml::Value)]) -> toml::Table {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn json_spec_errors_name_the_field_and_the_place() {
        let p = std::path::Path::new("runs/x/spec.json");
        let good = RunSpec::resolve("mosbach", &toml::Table::new()).unwrap();
        let json = good.canonical_json();
        assert_eq!(RunSpec::from_json_str(p, &json).unwrap(), good);

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["optimizer"]["eps"] = "tiny".into();
        let text = serde_json::to_string_pretty(&v).unwrap();
        let e = RunSpec::from_json_str(p, &text).unwrap_err().to_string();
        let line = 1 + text[..text.find("\"tiny\"").unwrap()].matches('\n').count();
        assert!(
            e.starts_with(&format!("runs/x/spec.json:{line}:"))
                && e.contains("optimizer.eps: invalid type: string \"tiny\""),
            "{e}"
        );

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["optimizer"]["epss"] = 1e-8.into();
        let e = RunSpec::from_json_str(p, &v.to_string())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("optimizer.epss: not a run-spec field (did you mean `eps`?)"),
            "{e}"
        );

        // Well-typed but out of range: validated like a TOML spec.
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["batch_size"] = 0.into();
        let e = RunSpec::from_json_str(p, &v.to_string())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.json") && e.contains("batch_size: must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn presets_differ_where_the_papers_do() {
        let d = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let m = RunSpec::resolve("mosbach", &toml::Table::new()).unwrap();
        assert!(!d.optimizer.bias_correction && m.optimizer.bias_correction);
        assert_eq!((d.epochs, m.epochs), (3, 20));
        assert_eq!(
            (d.selection, m.selection),
            (Selection::Last, Selection::Best)
        );
        assert_eq!(m.evals_per_epoch, 3);
        assert_eq!(d.learning_rate, 2e-5);
        assert_eq!(d.optimizer.eps, 1e-6);
    }

    #[test]
    fn overrides_reach_nested_fields_and_change_the_hash() {
        let base = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let o = over(&[("optimizer.eps", toml::Value::Float(1e-8))]);
        let s = base.with_overrides(&o).unwrap();
        assert_eq!(s.optimizer.eps, 1e-8);
        assert_ne!(s.run_id(), base.run_id());
        assert_eq!(base.run_id(), base.clone().run_id());
        assert_eq!(base.run_id().len(), 16);
    }

    #[test]
    fn a_preset_override_applies_the_preset_or_is_refused() {
        let p = std::path::Path::new("spec.toml");
        let text = "epochs = 4\n";
        let m = RunSpec::from_toml_str_with_preset(p, text, Some("mosbach")).unwrap();
        let file = RunSpec::from_toml_str(p, "preset = \"mosbach\"\nepochs = 4\n").unwrap();
        assert_eq!(m, file);
        assert!(m.optimizer.bias_correction);
        // Over a file that names another preset, the given one wins.
        let over_file = RunSpec::from_toml_str_with_preset(
            p,
            "preset = \"devlin\"\nepochs = 4\n",
            Some("mosbach"),
        )
        .unwrap();
        assert_eq!(over_file, file);
        let e = RunSpec::from_toml_str_with_preset(p, text, Some("nonsense"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown preset `nonsense`"), "{e}");

        // A resolved spec keeps its own preset, and refuses to pretend it took another.
        let d = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let same = over(&[("preset", toml::Value::String("devlin".into()))]);
        assert_eq!(d.with_overrides(&same).unwrap(), d);
        for bad in ["mosbach", "nonsense"] {
            let o = over(&[("preset", toml::Value::String(bad.into()))]);
            let e = d.with_overrides(&o).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("preset"), "{e}");
        }
    }

    #[test]
    fn unknown_field_is_named() {
        let o = over(&[("learnin_rate", toml::Value::Float(1e-5))]);
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(err.contains("learnin_rate"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let o = over(&[("warmup_fraction", toml::Value::Float(1.5))]);
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(err.contains("warmup_fraction"), "{err}");
        let o = over(&[("batch_size", toml::Value::String("x".into()))]);
        assert!(RunSpec::resolve("devlin", &o).is_err());
    }

    /// An empty model or data path is an error naming the field, not `could not read : …` when
    /// the run starts.
    #[test]
    fn empty_paths_are_named() {
        for field in ["model", "data_dir"] {
            let o = over(&[(field, toml::Value::String(String::new()))]);
            let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
            assert_eq!(err, format!("{field}: is empty: give a directory"));
        }
    }

    #[test]
    fn unknown_preset_is_an_error() {
        assert!(matches!(
            RunSpec::resolve("nope", &toml::Table::new()),
            Err(SpecError::UnknownPreset(_))
        ));
    }

    /// Table 7's weighted sums are their own modes; `sum-last-four` and `scalar-mix` keep
    /// their meaning (the unweighted sum and the learned mix).
    #[test]
    fn feature_modes_include_table_7_weighted_sums_beside_the_unweighted_ones() {
        for (name, mode, mix) in [
            ("sum-last-four", FeatureMode::SumLastFour, false),
            ("scalar-mix", FeatureMode::ScalarMix, true),
            (
                "weighted-sum-last-four",
                FeatureMode::WeightedSumLastFour,
                true,
            ),
            (
                "weighted-sum-all-layers",
                FeatureMode::WeightedSumAllLayers,
                true,
            ),
            ("concat-last-four", FeatureMode::ConcatLastFour, false),
        ] {
            let o = over(&[("feature_mode", toml::Value::String(name.into()))]);
            let s = RunSpec::resolve("devlin", &o).unwrap();
            assert_eq!(s.feature_mode, mode, "{name}");
            assert_eq!(mode.learns_mix(), mix, "{name}");
            assert!(s
                .canonical_json()
                .contains(&format!("\"feature_mode\":\"{name}\"")));
        }
        let o = over(&[("feature_mode", toml::Value::String("weighted-sum".into()))]);
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(
            err.contains("feature_mode") && err.contains("weighted-sum-last-four"),
            "{err}"
        );
    }

    /// The Zhang presets split dev, use eps 1e-8 and torch's AdamW, evaluate 10 times per run,
    /// and take L and T from the published sample commands.
    #[test]
    fn zhang_presets_have_zhangs_values() {
        for name in ["zhang-standard", "zhang-reinit", "zhang-longer"] {
            let z = RunSpec::resolve(name, &toml::Table::new()).unwrap();
            assert_eq!(z.dev_split_seed, Some(1), "{name}");
            assert_eq!(z.optimizer.eps, 1e-8, "{name}");
            assert_eq!(z.optimizer.update, AdamUpdate::Torch, "{name}");
            assert!(z.optimizer.bias_correction);
            assert_eq!(z.evals_per_run, Some(10), "{name}");
            assert_eq!((z.batch_size, z.weight_decay), (32, 0.0));
            assert_eq!(z.selection, Selection::Best);
        }
        let r = RunSpec::resolve("zhang-reinit", &toml::Table::new()).unwrap();
        assert_eq!((r.reinit_pooler, r.reinit_layers), (true, 5));
        let l = RunSpec::resolve("zhang-longer", &toml::Table::new()).unwrap();
        assert_eq!(l.max_steps, Some(400));
    }

    /// `--print-spec`'s listing names every field: the ones omitted from the JSON at their
    /// default, and the unset options; and says which evaluation schedule is in force.
    #[test]
    fn the_listing_names_every_field_and_the_schedule_in_force() {
        let s = RunSpec::resolve("zhang-reinit", &toml::Table::new()).unwrap();
        let (table, unset) = s.listed();
        for k in [
            "gradient_accumulation_steps",
            "mixout",
            "prior_weight_decay",
            "evals_per_run",
        ] {
            assert!(table.contains_key(k), "{k}");
        }
        for k in ["max_steps", "train_subset", "eval_every_steps", "metric"] {
            assert!(unset.contains(&k.to_string()), "{k}: {unset:?}");
        }
        // Every field of the JSON is either listed or unset.
        let json = serde_json::to_value(&s).unwrap();
        for k in json.as_object().unwrap().keys() {
            assert!(table.contains_key(k) || unset.contains(k), "{k}");
        }
        // Listing the default-omitted fields resolves to the same spec, hence the same id.
        let back: RunSpec = toml::Value::Table(table).try_into().unwrap();
        assert_eq!(back.run_id(), s.run_id());
        assert!(s
            .evaluation_schedule()
            .starts_with("evals_per_run = 10 is in force"));
        let d = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        assert!(d
            .evaluation_schedule()
            .starts_with("evals_per_epoch = 1 is in force"));
    }

    /// `zhang-standard` is `zhang-reinit` without re-initialisation under its own name (Zhang's
    /// `debiased_adam_baseline.sh`), and adding it left every other preset's run id as it was.
    #[test]
    fn zhang_standard_is_the_reinit_recipe_without_reinit_and_other_ids_are_unchanged() {
        let get = |p: &str| RunSpec::resolve(p, &toml::Table::new()).unwrap();
        let s = get("zhang-standard");
        assert_eq!(s.preset, "zhang-standard");
        let r = get("zhang-reinit");
        let control = RunSpec {
            preset: "zhang-standard".into(),
            reinit_layers: 0,
            reinit_pooler: false,
            ..r
        };
        assert_eq!(s, control);
        assert_eq!((s.epochs, s.max_steps), (3, None));
        // As `stab run --preset P --print-spec` printed them before `zhang-standard` existed.
        for (p, id) in [
            ("devlin", "75288cedcdfee78a"),
            ("mosbach", "917d05ee1251e98a"),
            ("zhang-reinit", "cd8c68c39b290ef0"),
            ("zhang-longer", "05422f983f024112"),
            ("zhang-mixout", "406297702bf26be9"),
            ("zhang-prior-wd", "61a5d8905eecb489"),
        ] {
            assert_eq!(get(p).run_id(), id, "{p}");
        }
        assert!(crate::PRESETS.contains(&"zhang-standard"));
    }

    /// Re-initialised layers only together with the pooler (the reference asserts it).
    #[test]
    fn reinit_layers_need_the_pooler() {
        let o = over(&[("reinit_layers", toml::Value::Integer(2))]);
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(
            err.starts_with("reinit_layers: ") && err.contains("reinit_pooler"),
            "{err}"
        );
        let o = over(&[("reinit_pooler", toml::Value::Boolean(false))]);
        assert!(RunSpec::resolve("zhang-reinit", &o).is_err());
        let o = over(&[
            ("reinit_layers", toml::Value::Integer(2)),
            ("reinit_pooler", toml::Value::Boolean(true)),
        ]);
        assert!(RunSpec::resolve("devlin", &o).is_ok());
    }

    /// Selection metric, optimizer update and step-0 evaluation per preset, as each reference
    /// runs them.
    #[test]
    fn selection_metric_update_and_step0_per_preset() {
        let get = |p: &str| RunSpec::resolve(p, &toml::Table::new()).unwrap();
        let (d, m, z) = (get("devlin"), get("mosbach"), get("zhang-reinit"));
        assert_eq!(m.selection_metric_for("MRPC", "f1"), "combined");
        assert_eq!(d.selection_metric_for("mrpc", "f1"), "combined");
        assert_eq!(m.selection_metric_for("RTE", "accuracy"), "accuracy");
        assert_eq!(z.selection_metric_for("MRPC", "f1"), "accuracy");
        assert_eq!(z.selection_metric_for("STS-B", "pearson"), "spearman");
        assert_eq!(z.selection_metric_for("CoLA", "mcc"), "mcc");
        assert_eq!(m.optimizer.update, AdamUpdate::Hf);
        assert_eq!(d.optimizer.update, AdamUpdate::Hf);
        assert!(m.eval_at_start && !d.eval_at_start && !z.eval_at_start);
        let o = over(&[("selection_metric.MRPC", toml::Value::String("f1".into()))]);
        let m2 = m.with_overrides(&o).unwrap();
        assert_eq!(m2.selection_metric_for("MRPC", "f1"), "f1");
        let o = over(&[("optimizer.update", toml::Value::String("torch".into()))]);
        assert_eq!(
            m.with_overrides(&o).unwrap().optimizer.update,
            AdamUpdate::Torch
        );
    }

    /// `evals_per_run`, `eval_at_start`, `selection_metric` and `optimizer.update` are optional
    /// in a spec's JSON: without them a spec reads as Torch's Adam update, no step-0
    /// evaluation and the task's own selection metric.
    #[test]
    fn specs_without_the_evaluation_and_update_fields_read_with_their_defaults() {
        let s = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&s.canonical_json()).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in ["evals_per_run", "eval_at_start", "selection_metric"] {
            o.remove(k);
        }
        o["optimizer"].as_object_mut().unwrap().remove("update");
        let old: RunSpec = serde_json::from_value(v).unwrap();
        assert_eq!(old.optimizer.update, AdamUpdate::Torch);
        assert!(!old.eval_at_start && old.selection_metric.is_empty());
    }

    #[test]
    fn stabilizer_fields_at_their_defaults_leave_the_json_and_the_run_id_unchanged() {
        let s = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let json = s.canonical_json();
        for k in [
            "gradient_accumulation_steps",
            "mixout",
            "prior_weight_decay",
        ] {
            assert!(!json.contains(k), "{k} in {json}");
        }
        // The devlin preset's run id, as `stab run --print-spec` printed it before these
        // fields were added.
        assert_eq!(s.run_id(), "75288cedcdfee78a");
        let o = over(&[("prior_weight_decay", true.into())]);
        let p = s.with_overrides(&o).unwrap();
        assert!(p.canonical_json().contains("\"prior_weight_decay\":true"));
        assert_ne!(p.run_id(), s.run_id());
        let back: RunSpec = serde_json::from_str(&p.canonical_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn mixout_needs_every_dropout_off_and_fine_tuning() {
        let o = over(&[("mixout", 0.1.into())]);
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(
            err.starts_with("mixout:") && err.contains("hidden_dropout = 0"),
            "{err}"
        );
        let mut o = o;
        for k in ["hidden_dropout", "attention_dropout", "classifier_dropout"] {
            o.insert(k.into(), 0.0.into());
        }
        assert_eq!(RunSpec::resolve("devlin", &o).unwrap().mixout, 0.1);
        o.insert("feature_mode".into(), "last".into());
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(err.contains("feature-based"), "{err}");
        for bad in [1.0, -0.1] {
            let o = over(&[("mixout", bad.into())]);
            let err = RunSpec::resolve("zhang-mixout", &o)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("mixout: must be in [0, 1)"), "{err}");
        }
        let o = over(&[("gradient_accumulation_steps", 0.into())]);
        assert!(RunSpec::resolve("devlin", &o).is_err());
    }

    /// `sample_commands/mixout.sh` and `pretrained_wd.sh` of Zhang et al.'s repository.
    #[test]
    fn zhang_mixout_and_prior_wd_presets_have_the_sample_commands_values() {
        let m = RunSpec::resolve("zhang-mixout", &toml::Table::new()).unwrap();
        assert_eq!(m.mixout, 0.1);
        assert_eq!((m.batch_size, m.gradient_accumulation_steps), (16, 2));
        assert_eq!(m.weight_decay, 0.0);
        assert_eq!(
            (m.hidden_dropout, m.attention_dropout, m.classifier_dropout),
            (Some(0.0), Some(0.0), Some(0.0))
        );
        let w = RunSpec::resolve("zhang-prior-wd", &toml::Table::new()).unwrap();
        assert!(w.prior_weight_decay && w.weight_decay == 1e-3 && w.batch_size == 32);
        for s in [&m, &w] {
            assert_eq!(s.optimizer.update, AdamUpdate::Torch);
            assert!(s.optimizer.bias_correction && s.optimizer.eps == 1e-8);
            assert_eq!((s.evals_per_run, s.dev_split_seed), (Some(10), Some(1)));
            assert_eq!(
                (s.epochs, s.learning_rate, s.warmup_fraction),
                (3, 2e-5, 0.1)
            );
        }
    }

    #[test]
    fn spec_round_trips_through_json() {
        let s = RunSpec::resolve("zhang-reinit", &toml::Table::new()).unwrap();
        let back: RunSpec = serde_json::from_str(&s.canonical_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.run_id(), s.run_id());
    }

    #[test]
    fn early_failure_policy_is_set_like_any_field_and_checked() {
        let mut o = toml::Table::new();
        o.insert(
            "early_failure".into(),
            toml::Value::Table(
                toml::from_str("after_fraction = 0.3\nrule = \"at-baseline\"").unwrap(),
            ),
        );
        let spec = RunSpec::resolve("devlin", &o).unwrap();
        let p = spec.early_failure.clone().unwrap();
        assert_eq!(
            (p.after_fraction, p.rule),
            (0.3, crate::EarlyFailureRule::AtBaseline)
        );
        assert_ne!(spec.run_id(), crate::preset("devlin").unwrap().run_id());
        assert!(!crate::preset("devlin")
            .unwrap()
            .canonical_json()
            .contains("early_failure"));
        let mut o = toml::Table::new();
        o.insert(
            "early_failure".into(),
            toml::Value::Table(
                toml::from_str("after_fraction = 1.5\nrule = \"loss-at-constant\"").unwrap(),
            ),
        );
        let err = RunSpec::resolve("devlin", &o).unwrap_err().to_string();
        assert!(err.contains("early_failure.after_fraction"), "{err}");
    }
}
