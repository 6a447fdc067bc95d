//! One fine-tuning run from a resolved [`RunSpec`] to its [`RunRecord`].
//!
//! Seeds: the init seed drives LibTorch's generator while the model is built (new head,
//! re-initialised layers); the data seed then re-seeds it (dropout masks) and seeds the ChaCha
//! stream of the batch order. So runs with the same init seed start from the same head, and
//! runs with the same data seed see the same batches (Dodge et al. 2020).
//!
//! A run never disappears: bad input becomes an `error` record with the message, a non-finite
//! loss or gradient norm a `diverged` record at that step — scored, like any run, by evaluating
//! the model it diverged to — and Ctrl-C an `interrupted` one.
//!
//! Evaluations: at step 0 when `eval_at_start` (Mosbach), then every `eval_every_steps`, or every
//! ⌊T/`evals_per_run`⌋ steps (Zhang), or `evals_per_epoch` times per epoch, and always at T. The
//! best one is picked by the task's `selection_metric` on the selection half; scores are reported
//! on the report half when the dev set is split.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use stab_bert::{
    is_norm_param, load_checkpoint, BertInput, BertTokenizer, Checkpoint, Dropouts, Encoder,
    LayerKnobs, ParamRole,
};
use stab_data::{Dataset, Label, Metrics, Task, TaskKind};
use stab_spec::{
    error_chain, Curve, Device as SpecDevice, Evaluation, FeatureMode, Pooling, Precision,
    RunRecord, RunSpec, RunStatus, Selection, Timing, Versions, MISMATCHED_PREFIX,
};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::batch::{
    batches_per_epoch, make_batch, word_predictions, BatchOrder, Item, Target, IGNORE,
};
use crate::optim::{clip_grad_norm, global_norm, Adam, AdamConfig};
use crate::schedule::LrSchedule;
use crate::task_model::{
    combine_layers, feature_layers, loss, pool, FeatureModel, FineTuneModel, Output,
};
use crate::TrainError;

/// Per-invocation context that is not part of the spec (and so not of the run id).
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub group: Option<String>,
    pub sweep: Option<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Set from a signal handler to stop the run; it is then recorded as `interrupted`.
    pub interrupt: Option<&'static AtomicBool>,
}

/// Runs `spec` and returns its record — for every outcome, including errors.
pub fn run(spec: &RunSpec, ctx: &RunContext) -> RunRecord {
    let started = Instant::now();
    let started_unix = stab_spec::unix_seconds();
    // A LibTorch error surfaces as a panic in tch's infallible API; it still becomes a record.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Run::prepare(spec).and_then(|mut r| r.train(ctx))
    }));
    let message = match outcome {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(e)) if is_torch(&e) => Err(log_torch_error(&error_chain(&e))),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(format!("internal error: {}", log_torch_error(what)))
        }
    };
    let mut record =
        message.unwrap_or_else(|message| RunRecord::error(spec.clone(), RunStatus::Error, message));
    record.group = ctx.group.clone();
    record.sweep = ctx.sweep.clone();
    record.versions = versions(spec);
    record.timing.started_unix = started_unix;
    record.timing.wall_seconds = started.elapsed().as_secs_f64();
    record.timing.peak_rss_bytes = peak_rss_bytes();
    record.timing.hostname = stab_spec::hostname();
    record
}

/// What a run starts from, for checking seed semantics: the new head's weights and the first
/// epoch's batches.
pub struct InitialState {
    pub head_weight: Vec<f32>,
    pub first_epoch: Vec<Vec<usize>>,
}

/// Builds a run as [`run`] would and returns its initial head and first-epoch batch order.
pub fn initial_state(spec: &RunSpec) -> Result<InitialState, TrainError> {
    let run = Run::prepare(spec)?;
    let head = run
        ._vs
        .variables()
        .get("classifier.weight")
        .map(|t| Vec::<f32>::try_from(t.to_kind(Kind::Float).view([-1])))
        .transpose()?
        .unwrap_or_default();
    let mut order = BatchOrder::new(run.train_items.len(), spec.batch_size, spec.data_seed, None);
    Ok(InitialState {
        head_weight: head,
        first_epoch: order.next_epoch(),
    })
}

/// Whether a run's error came from LibTorch (its text carries C++ stack frames).
fn is_torch(e: &TrainError) -> bool {
    matches!(
        e,
        TrainError::Torch(_) | TrainError::Model(stab_bert::BertError::Torch(_))
    )
}

/// Logs the full text of a LibTorch error (or panic) on stderr, which is the run's log under a
/// launcher, and returns its first line for the record.
fn log_torch_error(full: &str) -> String {
    let (first, rest) = split_torch_error(full);
    if let Some(text) = rest {
        eprintln!("LibTorch error, full text:\n{text}");
    }
    first
}

/// The first line of a LibTorch error (kilobytes of C++ frames follow it) and, when there is
/// more, the whole text with its newlines.
///
/// tch's infallible API panics with the `Debug` form of its error, where the newlines are
/// escaped (`Torch("index out of range in self\nException raised from …")`), so both real and
/// escaped newlines end the first line.
fn split_torch_error(full: &str) -> (String, Option<String>) {
    let text = full.replace("\\n", "\n");
    let mut first = text.lines().next().unwrap_or("").trim_end().to_string();
    if let Some(i) = first.find("Torch(\"") {
        // `called `Result::unwrap()` on an `Err` value: Torch("…` → `LibTorch: …`
        let inner = &first[i + "Torch(\"".len()..];
        first = format!("LibTorch: {}", inner.strip_suffix("\")").unwrap_or(inner));
    }
    if text.lines().nth(1).is_none() {
        return (first, None);
    }
    first.push_str(" (full text in the run's log)");
    (first, Some(text))
}

/// Software versions for the record.
pub fn versions(spec: &RunSpec) -> Versions {
    // The device the run uses (cuda:0 is the GPU the launcher pinned through
    // CUDA_VISIBLE_DEVICES) and that pinning, for the record.
    let (device, gpu) = match spec.device {
        SpecDevice::Cpu => (Device::Cpu, None),
        SpecDevice::Cuda => (
            Device::Cuda(0),
            Some(
                std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "0 (all visible)".into()),
            ),
        ),
    };
    Versions {
        stab: env!("CARGO_PKG_VERSION").into(),
        stab_revision: env!("STAB_GIT_REVISION").into(),
        libtorch: option_env!("STAB_LIBTORCH_VERSION")
            .unwrap_or("unknown")
            .into(),
        tch: env!("STAB_TCH_VERSION").into(),
        threads: spec.threads,
        device: match device {
            Device::Cpu => "cpu",
            _ => "cuda:0",
        }
        .into(),
        precision: crate::amp::describe(spec.precision, device),
        gpu,
    }
}

/// Peak resident set size of this process (VmHWM), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// An evaluation set: items plus gold labels.
struct EvalSet {
    items: Vec<Item>,
    gold: Gold,
}

enum Gold {
    Labels(Vec<Label>),
    Tags(Vec<Vec<usize>>),
}

/// Either the fine-tuned model or a head on cached features (one per run: size is irrelevant).
#[allow(clippy::large_enum_variant)]
enum Model {
    FineTune(FineTuneModel),
    Features {
        head: FeatureModel,
        train: Vec<Tensor>,
        selection: Vec<Tensor>,
        report: Option<Vec<Tensor>>,
        mismatched: Option<Vec<Tensor>>,
    },
}

struct Run {
    spec: RunSpec,
    task: Task,
    output: Output,
    /// The reported metric.
    metric: String,
    /// The metric that picks the best evaluation.
    selection_metric: String,
    device: Device,
    tokenizer: BertTokenizer,
    train_items: Vec<Item>,
    selection: EvalSet,
    /// The half of dev used for reporting when the dev set is split (Zhang et al.).
    report: Option<EvalSet>,
    /// MNLI's mismatched dev set, scored at every evaluation and reported beside the matched
    /// one under `mismatched/<metric>` (never used for selection).
    mismatched: Option<EvalSet>,
    baseline: Metrics,
    /// Owns the variables the model and optimizer use.
    _vs: VarStore,
    model: Model,
    optimizer: Adam,
}

impl Run {
    fn prepare(spec: &RunSpec) -> Result<Run, TrainError> {
        spec.validate()?;
        tch::set_num_threads(spec.threads as i32);
        let device = match spec.device {
            SpecDevice::Cpu => Device::Cpu,
            SpecDevice::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
            SpecDevice::Cuda => {
                return Err(TrainError::Invalid(
                    "device = \"cuda\" but LibTorch sees no CUDA device (build with --features cuda on a GPU machine)".into(),
                ))
            }
        };
        if spec.precision == Precision::Bf16 {
            crate::amp::set_autocast_bf16(device);
        }

        // Model and tokenizer first: a model that cannot take these inputs fails before the
        // data is read.
        let checkpoint = Checkpoint::open(&spec.model)?;
        let config = checkpoint.config.clone();
        let tokenizer = checkpoint.tokenizer(spec.max_length)?;
        checkpoint.check_limits(&tokenizer, spec.max_length)?;

        // Data.
        let task = stab_data::task(&spec.task)?;
        let train_full = task.load_split(&spec.data_dir, "train")?;
        let dev_split = if task.name().eq_ignore_ascii_case("mnli") {
            "dev_matched"
        } else {
            "dev"
        };
        let dev = task.load_split(&spec.data_dir, dev_split)?;
        let mismatched_ds = if dev_split == "dev_matched" {
            Some(task.load_split(&spec.data_dir, "dev_mismatched")?)
        } else {
            None
        };
        if train_full.is_empty() || dev.is_empty() {
            return Err(TrainError::Invalid(format!(
                "task {}: the train or dev split is empty",
                task.name()
            )));
        }
        let train = match spec.train_subset {
            Some(n) => {
                let labels = train_full
                    .labels()
                    .unwrap_or_else(|| vec![Label::Score(0.0); train_full.len()]);
                train_full.subset(&stab_data::stratified_subset(&labels, n, spec.subset_seed))
            }
            None => train_full,
        };
        let (selection_ds, report_ds) = match spec.dev_split_seed {
            Some(seed) => {
                let labels = dev.labels();
                let (a, b) = stab_data::split_halves(labels.as_deref(), dev.len(), seed);
                (dev.subset(&a), Some(dev.subset(&b)))
            }
            None => (dev, None),
        };
        let mut baseline =
            task.majority_baseline(&train, report_ds.as_ref().unwrap_or(&selection_ds))?;
        if let Some(mm) = &mismatched_ds {
            for (k, v) in task.majority_baseline(&train, mm)? {
                baseline.insert(format!("{MISMATCHED_PREFIX}{k}"), v);
            }
        }
        let metric = spec
            .metric
            .clone()
            .unwrap_or_else(|| task.primary_metric().to_string());
        let selection_metric = spec.selection_metric_for(task.name(), &metric).to_string();
        for (field, m) in [("metric", &metric), ("selection_metric", &selection_metric)] {
            if !baseline.contains_key(m) {
                return Err(TrainError::Invalid(format!(
                    "{field} `{m}` is not computed for task {} (available: {})",
                    task.name(),
                    baseline.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let output = match task.kind() {
            TaskKind::Classification => Output::Classes(task.num_outputs() as i64),
            TaskKind::Regression => Output::Regression,
            TaskKind::Tagging => Output::Tags(task.num_outputs() as i64),
        };

        let train_items = encode(&tokenizer, &train)?;
        let selection = eval_set(&tokenizer, &selection_ds)?;
        let report = report_ds
            .as_ref()
            .map(|d| eval_set(&tokenizer, d))
            .transpose()?;
        let mismatched = mismatched_ds
            .as_ref()
            .map(|d| eval_set(&tokenizer, d))
            .transpose()?;
        // Sentence pairs use token type 1: a model with one token type cannot embed them.
        let max_type = [&train_items, &selection.items]
            .into_iter()
            .chain(report.as_ref().map(|r| &r.items))
            .chain(mismatched.as_ref().map(|r| &r.items))
            .flatten()
            .flat_map(|i| i.type_ids.iter().copied())
            .max()
            .unwrap_or(0);
        // type_vocab_size = 0 (DeBERTa-v3): no token types at all, the tokenizer zeroes them.
        if config.type_vocab_size > 0 && max_type >= config.type_vocab_size {
            return Err(TrainError::Invalid(format!(
                "task {} has sentence pairs (token type {max_type}) but the model's \
                 type_vocab_size = {} ({})",
                task.name(),
                config.type_vocab_size,
                checkpoint.dir.join("config.json").display()
            )));
        }
        let num_layers = config.num_hidden_layers as usize;
        if spec.freeze_layers > num_layers {
            return Err(TrainError::Invalid(format!(
                "freeze_layers = {} but the model has {num_layers} layers",
                spec.freeze_layers
            )));
        }
        if spec.reinit_layers > num_layers {
            return Err(TrainError::Invalid(format!(
                "reinit_layers = {} but the model has {num_layers} layers",
                spec.reinit_layers
            )));
        }

        tch::manual_seed(spec.init_seed as i64);
        let mut vs = VarStore::new(device);
        let root = vs.root();
        let mut bert = checkpoint.encoder(root.clone())?;
        bert.check_layer_knobs(&LayerKnobs {
            freeze_layers: spec.freeze_layers,
            reinit_layers: spec.reinit_layers,
            layerwise_lr_decay: spec.layerwise_lr_decay,
        })?;
        bert.set_dropouts(Dropouts {
            hidden: spec.hidden_dropout.unwrap_or(config.hidden_dropout_prob),
            attention: spec
                .attention_dropout
                .unwrap_or(config.attention_probs_dropout_prob),
        });
        let classifier_dropout = spec
            .classifier_dropout
            .or(config.classifier_dropout)
            .unwrap_or(config.hidden_dropout_prob);
        let fine_tune = spec.feature_mode == FeatureMode::Off;
        let head_model = if fine_tune {
            Ok(FineTuneModel::new(
                &root,
                bert,
                output,
                spec.pooling,
                classifier_dropout,
            ))
        } else {
            Err((
                bert,
                FeatureModel::new(
                    &root,
                    spec.feature_mode,
                    spec.feature_head,
                    config.hidden_size,
                    num_layers,
                    output,
                    classifier_dropout,
                    spec.lstm_hidden as i64,
                    config.initializer_range,
                ),
            ))
        };
        let encoder: &dyn Encoder = match &head_model {
            Ok(m) => m.bert.as_ref(),
            Err((bert, _)) => bert.as_ref(),
        };
        // New heads may be missing from the checkpoint, and a checkpoint's own sequence head
        // (a fine-tuned one, ModernBERT's pre-trained `head`) may be left unused.
        let mut new_heads: Vec<&str> = vec!["classifier.", "scalar_mix.", "lstm."];
        new_heads.extend(encoder.head_prefixes());
        load_checkpoint(&mut vs, &checkpoint, &new_heads)?;
        reinitialise(&vs, spec, encoder, config.initializer_range);

        // Trainable parameters: frozen embeddings/bottom layers, or the whole encoder in the
        // feature-based mode, are left out of the optimizer and need no gradient.
        let mut optimizer = Adam::new(AdamConfig {
            beta1: spec.optimizer.beta1,
            beta2: spec.optimizer.beta2,
            eps: spec.optimizer.eps,
            bias_correction: spec.optimizer.bias_correction,
            update: spec.optimizer.update,
        });
        let variables = vs.variables();
        let mut names: Vec<&String> = variables.keys().collect();
        names.sort();
        for name in names {
            let var = variables[name].shallow_clone();
            let role = encoder.param_role(name);
            let frozen = if !fine_tune {
                role != ParamRole::Head
            } else {
                match role {
                    ParamRole::Embeddings => spec.freeze_layers > 0,
                    ParamRole::Layer(i) => i < spec.freeze_layers,
                    // Used by every layer: frozen only with all of them (the encoder checked
                    // that freeze_layers is 0 or L).
                    ParamRole::SharedLayers => spec.freeze_layers >= num_layers,
                    ParamRole::Pooler | ParamRole::Head => false,
                }
            };
            if frozen {
                let _ = var.set_requires_grad(false);
                continue;
            }
            let lr_scale = layerwise_lr_scale(role, num_layers, spec.layerwise_lr_decay);
            // HF's no_decay = ["bias", "LayerNorm.weight"] (every family's norm layers).
            let wd = if name.contains("bias") || is_norm_param(name) {
                0.0
            } else {
                spec.weight_decay
            };
            optimizer.add(&var, lr_scale, wd);
        }

        let model = match head_model {
            Ok(m) => Model::FineTune(m),
            Err((bert, head)) => {
                let layers = feature_layers(spec.feature_mode, num_layers);
                let pooling = if spec.pooling == Pooling::Pooler {
                    Pooling::Cls
                } else {
                    spec.pooling
                };
                let cache = |items: &[Item]| {
                    cache_features(
                        bert.as_ref(),
                        items,
                        &layers,
                        spec.feature_mode,
                        pooling,
                        output,
                        tokenizer.pad_id(),
                        device,
                    )
                };
                Model::Features {
                    train: cache(&train_items),
                    selection: cache(&selection.items),
                    report: report.as_ref().map(|r| cache(&r.items)),
                    mismatched: mismatched.as_ref().map(|r| cache(&r.items)),
                    head,
                }
            }
        };
        Ok(Run {
            spec: spec.clone(),
            task,
            output,
            metric,
            selection_metric,
            device,
            tokenizer,
            train_items,
            selection,
            report,
            mismatched,
            baseline,
            _vs: vs,
            model,
            optimizer,
        })
    }

    fn train(&mut self, ctx: &RunContext) -> Result<RunRecord, TrainError> {
        let spec = self.spec.clone();
        let n = self.train_items.len();
        let per_epoch = batches_per_epoch(n, spec.batch_size) as u64;
        let total = spec.max_steps.unwrap_or(spec.epochs as u64 * per_epoch);
        let schedule = LrSchedule::new(spec.schedule, total, spec.warmup_fraction);
        let eval_steps = eval_steps(&spec, per_epoch, total);
        let lengths = spec
            .length_grouped
            .then(|| self.train_items.iter().map(|i| i.ids.len()).collect());
        let mut order = BatchOrder::new(n, spec.batch_size, spec.data_seed, lengths);
        tch::manual_seed(spec.data_seed as i64);
        let pad_to = spec.pad_to_max_length.then_some(spec.max_length);

        let mut record = RunRecord::error(spec.clone(), RunStatus::Ok, String::new());
        record.message = None;
        record.metric = self.metric.clone();
        record.majority_baseline = self.baseline.get(&self.metric).copied();
        record.baseline_metrics = self.baseline.clone();
        record.train_examples = n;
        record.trainable_parameters = self.optimizer.numel();
        record.total_steps = total;

        let bar = ctx.progress.then(|| {
            let b = stab_spec::progress_bar(
                total,
                "{spinner} {msg} [{bar:30}] {pos}/{len} steps {per_sec} eta {eta}",
            );
            b.set_message(format!("{} {}", self.task.name(), spec.run_id()));
            b
        });

        let mut losses = Vec::with_capacity(total as usize);
        let mut lrs = Vec::with_capacity(total as usize);
        let mut step: u64 = 0;
        let (mut examples, mut tokens, mut train_secs) = (0usize, 0usize, 0f64);
        record.selection_metric = self.selection_metric.clone();
        let mut best: Option<(f64, usize)> = None;
        let mut since_best = 0u32;
        let mut status = RunStatus::Ok;
        if eval_steps.contains(&0) {
            let ev = self.evaluate_at(0, 0.0)?;
            push_evaluation(&mut record, &mut best, ev, &self.selection_metric);
        }
        'epochs: while step < total {
            for batch_idx in order.next_epoch() {
                if step >= total {
                    break 'epochs;
                }
                if ctx
                    .interrupt
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::SeqCst))
                {
                    status = RunStatus::Interrupted;
                    record.message = Some(format!("interrupted at step {step}"));
                    break 'epochs;
                }
                let t0 = Instant::now();
                let batch = make_batch(
                    &self.train_items,
                    &batch_idx,
                    pad_to,
                    self.tokenizer.pad_id(),
                    self.device,
                );
                let (outputs, targets) = self.forward_train(&batch);
                let l = loss(&outputs, &targets, self.output);
                let lv = l.double_value(&[]);
                l.backward();
                let grads = self.optimizer.grads();
                let norm = if spec.max_grad_norm > 0.0 {
                    clip_grad_norm(&grads, spec.max_grad_norm)
                } else {
                    global_norm(&grads)
                };
                // A non-finite update is applied too, as the reference codes do (they keep
                // training): the model scored at divergence is the one they carry on with.
                let lr = spec.learning_rate * schedule.factor(step);
                self.optimizer.step(lr);
                self.optimizer.zero_grad();
                // Steps count from 1, as in the curves: this is step `step + 1`.
                let diverged = if !lv.is_finite() {
                    Some(format!("non-finite training loss ({lv})"))
                } else if !norm.is_finite() {
                    Some(format!("non-finite gradient norm ({norm})"))
                } else {
                    None
                };
                if let Some(what) = diverged {
                    status = RunStatus::Diverged;
                    record.diverged_at_step = Some(step + 1);
                    record.message = Some(format!("{what} at step {}", step + 1));
                    break 'epochs;
                }
                train_secs += t0.elapsed().as_secs_f64();
                examples += batch.indices.len();
                tokens += batch.real_tokens;
                losses.push(lv);
                lrs.push(lr);
                step += 1;
                if let Some(b) = &bar {
                    b.set_position(step);
                }
                if eval_steps.contains(&step) {
                    let ev = self.evaluate_at(step, step as f64 / per_epoch as f64)?;
                    if push_evaluation(&mut record, &mut best, ev, &self.selection_metric) {
                        since_best = 0;
                    } else {
                        since_best += 1;
                        if spec
                            .early_stopping_patience
                            .is_some_and(|p| since_best >= p)
                        {
                            record.message = Some(format!("early stopping at step {step}"));
                            break 'epochs;
                        }
                    }
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        record.status = status;
        record.steps_done = step;
        record.train_loss = downsample(&losses, spec.max_curve_points);
        record.learning_rate = downsample(&lrs, spec.max_curve_points);
        record.timing = Timing {
            train_seconds: train_secs,
            train_examples_per_second: examples as f64 / train_secs.max(1e-9),
            train_tokens_per_second: tokens as f64 / train_secs.max(1e-9),
            ..Timing::default()
        };
        if let Some(at) = record.diverged_at_step {
            // A diverged run is a failed run, never a missing one: its model at divergence is
            // scored like any checkpoint (NaN logits predict class 0, NaN regression outputs a
            // constant), and stands for the evaluations the reference would have gone on
            // making of the same non-finite model.
            let ev = self.evaluate_at(at, at as f64 / per_epoch as f64)?;
            push_evaluation(&mut record, &mut best, ev, &self.selection_metric);
        }
        if matches!(status, RunStatus::Ok | RunStatus::Diverged) {
            // The model after the last step: evaluated if the last step was not an eval point.
            if status == RunStatus::Ok && record.evaluations.last().is_none_or(|e| e.step != step) {
                let ev = self.evaluate_at(step, step as f64 / per_epoch as f64)?;
                push_evaluation(&mut record, &mut best, ev, &self.selection_metric);
            }
            let last = record.evaluations.last().expect("evaluated above");
            let reported = |e: &Evaluation| {
                e.report_metrics
                    .clone()
                    .unwrap_or_else(|| e.metrics.clone())
            };
            record.final_metrics = reported(last);
            record.final_score = record.final_metrics.get(&self.metric).copied();
            let chosen = match spec.selection {
                Selection::Last => record.evaluations.len() - 1,
                Selection::Best => best.map(|(_, i)| i).unwrap_or(record.evaluations.len() - 1),
            };
            let chosen = &record.evaluations[chosen];
            record.selected_step = Some(chosen.step);
            record.selected_metrics = reported(chosen);
            record.score = record.selected_metrics.get(&self.metric).copied();
        }
        Ok(record)
    }

    /// Training-mode outputs of a batch and the targets they are scored against.
    fn forward_train(&self, batch: &crate::batch::Batch) -> (Tensor, Tensor) {
        match &self.model {
            Model::FineTune(m) => {
                let input = BertInput {
                    input_ids: &batch.input_ids,
                    token_type_ids: Some(&batch.token_type_ids),
                    attention_mask: Some(&batch.attention_mask),
                };
                let out = crate::amp::maybe_autocast(self.spec.precision, self.device, || {
                    m.forward_t(&input, true)
                });
                (out, batch.targets.shallow_clone())
            }
            Model::Features { head, train, .. } => {
                let (x, lengths) = feature_batch(train, &batch.indices, self.device);
                let targets = if self.output.is_tagging() {
                    word_targets(&self.train_items, &batch.indices, x.size()[1])
                        .to_device(self.device)
                } else {
                    batch.targets.shallow_clone()
                };
                (head.forward_t(&x, Some(&lengths), true), targets)
            }
        }
    }

    fn evaluate_at(&self, step: u64, epoch: f64) -> Result<Evaluation, TrainError> {
        let (mut metrics, mut report_metrics, mismatched) = match &self.model {
            Model::FineTune(_) => (
                self.evaluate(&self.selection, None)?,
                self.report
                    .as_ref()
                    .map(|r| self.evaluate(r, None))
                    .transpose()?,
                self.mismatched
                    .as_ref()
                    .map(|r| self.evaluate(r, None))
                    .transpose()?,
            ),
            Model::Features {
                selection,
                report,
                mismatched,
                ..
            } => (
                self.evaluate(&self.selection, Some(selection))?,
                match (&self.report, report) {
                    (Some(r), Some(f)) => Some(self.evaluate(r, Some(f))?),
                    _ => None,
                },
                match (&self.mismatched, mismatched) {
                    (Some(r), Some(f)) => Some(self.evaluate(r, Some(f))?),
                    _ => None,
                },
            ),
        };
        // MNLI: the mismatched scores join whichever metrics are reported.
        if let Some(mm) = mismatched {
            let reported = report_metrics.as_mut().unwrap_or(&mut metrics);
            for (k, v) in mm {
                reported.insert(format!("{MISMATCHED_PREFIX}{k}"), v);
            }
        }
        Ok(Evaluation {
            step,
            epoch,
            score: metrics[&self.metric],
            metrics,
            report_metrics,
        })
    }

    /// Scores a set in eval mode, batched by length to minimise padding.
    fn evaluate(
        &self,
        set: &EvalSet,
        features: Option<&Vec<Tensor>>,
    ) -> Result<Metrics, TrainError> {
        let mut idx: Vec<usize> = (0..set.items.len()).collect();
        idx.sort_by_key(|&i| set.items[i].ids.len());
        let mut labels = vec![Label::Class(0); set.items.len()];
        let mut tags = vec![Vec::new(); set.items.len()];
        tch::no_grad(|| {
            for chunk in idx.chunks(64) {
                let out = match (&self.model, features) {
                    (Model::FineTune(m), _) => {
                        let b = make_batch(
                            &set.items,
                            chunk,
                            None,
                            self.tokenizer.pad_id(),
                            self.device,
                        );
                        let input = BertInput {
                            input_ids: &b.input_ids,
                            token_type_ids: Some(&b.token_type_ids),
                            attention_mask: Some(&b.attention_mask),
                        };
                        crate::amp::maybe_autocast(self.spec.precision, self.device, || {
                            m.forward_t(&input, false)
                        })
                    }
                    (Model::Features { head, .. }, Some(f)) => {
                        let (x, lengths) = feature_batch(f, chunk, self.device);
                        head.forward_t(&x, Some(&lengths), false)
                    }
                    (Model::Features { .. }, None) => {
                        unreachable!("feature models evaluate cached features")
                    }
                }
                .to_device(Device::Cpu)
                .to_kind(Kind::Float);
                match self.output {
                    Output::Classes(_) => {
                        let p = Vec::<i64>::try_from(out.argmax(-1, false)).unwrap_or_default();
                        for (&i, c) in chunk.iter().zip(p) {
                            labels[i] = Label::Class(c as usize);
                        }
                    }
                    Output::Regression => {
                        let p = Vec::<f32>::try_from(out.view([-1])).unwrap_or_default();
                        for (&i, v) in chunk.iter().zip(p) {
                            // A diverged model's NaN/inf output predicts a constant (0), the
                            // regression analogue of argmax-of-NaN's class 0: its correlations
                            // are then 0 (constant predictions), never NaN.
                            let v = if v.is_finite() { v as f64 } else { 0.0 };
                            labels[i] = Label::Score(v);
                        }
                    }
                    Output::Tags(_) => {
                        let p = out.argmax(-1, false);
                        for (row, &i) in chunk.iter().enumerate() {
                            let tok = Vec::<i64>::try_from(p.get(row as i64)).unwrap_or_default();
                            tags[i] = if features.is_some() {
                                // Feature heads predict one tag per word that has a
                                // sub-token, in order; words truncated away get `O` (tag 0),
                                // as in fine-tuning.
                                let mut tok = tok.iter();
                                set.items[i]
                                    .word_starts
                                    .iter()
                                    .map(|s| match s {
                                        Some(_) => tok.next().map_or(0, |&t| t as usize),
                                        None => 0,
                                    })
                                    .collect()
                            } else {
                                word_predictions(&set.items[i], &tok)
                            };
                        }
                    }
                }
            }
        });
        Ok(match &set.gold {
            Gold::Labels(g) => self.task.evaluate(g, &labels)?,
            Gold::Tags(g) => self.task.evaluate_tags(g, &tags)?,
        })
    }
}

/// Adds an evaluation to the record and keeps `best` (selection-metric value, index) on the
/// first strictly better one, so ties keep the earlier checkpoint (both references compare with
/// `>`); a NaN value never wins. Returns whether it improved.
fn push_evaluation(
    record: &mut RunRecord,
    best: &mut Option<(f64, usize)>,
    ev: Evaluation,
    selection_metric: &str,
) -> bool {
    let value = ev
        .metrics
        .get(selection_metric)
        .copied()
        .unwrap_or(f64::NAN);
    let improved = best.is_none_or(|(b, _)| value > b || (b.is_nan() && !value.is_nan()));
    record.evaluations.push(ev);
    if improved {
        *best = Some((value, record.evaluations.len() - 1));
    }
    improved
}

/// Re-initialises the pooler and the top `reinit_layers` layers (Zhang et al. 2021) from the
/// init seed, with HF's initialisation.
fn reinitialise(vs: &VarStore, spec: &RunSpec, encoder: &dyn Encoder, range: f64) {
    let num_layers = encoder.num_layers();
    if !spec.reinit_pooler && spec.reinit_layers == 0 {
        return;
    }
    tch::manual_seed(spec.init_seed as i64 ^ 0x5EED);
    let variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    let first = num_layers - spec.reinit_layers;
    for name in names {
        let hit = match encoder.param_role(name) {
            ParamRole::Pooler => spec.reinit_pooler,
            ParamRole::Layer(i) => spec.reinit_layers > 0 && i >= first,
            // Shared by every layer: re-initialised only with all of them (checked: 0 or L).
            ParamRole::SharedLayers => spec.reinit_layers >= num_layers,
            ParamRole::Embeddings | ParamRole::Head => false,
        };
        if !hit {
            continue;
        }
        let mut v = variables[name].shallow_clone();
        tch::no_grad(|| {
            if is_norm_param(name) && name.ends_with("weight") {
                let _ = v.fill_(1.0);
            } else if name.ends_with("bias") {
                let _ = v.zero_();
            } else {
                let _ = v.normal_(0.0, range);
            }
        });
    }
}

/// Learning-rate factor of a parameter under layer-wise decay ξ, as Zhang et al.'s
/// `get_optimizer_grouped_parameters` (`run_glue.py`): head and pooler 1, then walking down from
/// the top layer the factor is multiplied by ξ before each group — encoder layer i (0-based, of
/// L) ξ^(L−i), so the top layer ξ, and the embeddings ξ^(L+1).
/// Parameters shared by every layer (ALBERT) only occur with ξ = 1 (the encoder refuses other
/// values), so they take 1.
fn layerwise_lr_scale(role: ParamRole, num_layers: usize, decay: f64) -> f64 {
    match role {
        ParamRole::Embeddings => decay.powi(num_layers as i32 + 1),
        ParamRole::Layer(i) => decay.powi((num_layers - i) as i32),
        ParamRole::SharedLayers | ParamRole::Pooler | ParamRole::Head => 1.0,
    }
}

/// Optimizer steps after which the model is evaluated (0: before the first step).
fn eval_steps(spec: &RunSpec, per_epoch: u64, total: u64) -> BTreeSet<u64> {
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

/// Averages a per-step series into at most `max_points` buckets (each labelled with its last
/// step, 1-based); short series are kept as they are.
pub fn downsample(values: &[f64], max_points: usize) -> Curve {
    let n = values.len();
    if n <= max_points {
        return Curve {
            steps: (1..=n as u64).collect(),
            values: values.to_vec(),
        };
    }
    let mut curve = Curve::default();
    for b in 0..max_points {
        let (lo, hi) = (b * n / max_points, (b + 1) * n / max_points);
        let chunk = &values[lo..hi];
        curve.steps.push(hi as u64);
        curve
            .values
            .push(chunk.iter().sum::<f64>() / chunk.len() as f64);
    }
    curve
}

fn target_of(label: Option<Label>) -> Target {
    match label {
        Some(Label::Class(c)) => Target::Class(c as i64),
        Some(Label::Score(s)) => Target::Score(s as f32),
        None => Target::None,
    }
}

/// Tokenises a dataset into items (first sub-token of each word carries its tag).
pub fn encode(tok: &BertTokenizer, data: &Dataset) -> Result<Vec<Item>, TrainError> {
    match data {
        Dataset::Sentences(ex) => {
            let inputs: Vec<(&str, Option<&str>)> = ex
                .iter()
                .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
                .collect();
            let enc = tok.encode_batch(&inputs)?;
            Ok(enc
                .into_iter()
                .zip(ex)
                .map(|(e, x)| Item {
                    ids: e.ids,
                    type_ids: e.type_ids,
                    target: target_of(x.label),
                    word_starts: Vec::new(),
                })
                .collect())
        }
        Dataset::Tagged(sents) => sents
            .iter()
            .map(|s| {
                let e = tok.encode_words(&s.tokens)?;
                let mut starts = vec![None; s.tokens.len()];
                let mut tags = vec![IGNORE; e.ids.len()];
                let mut prev = None;
                for (p, w) in e.word_ids.iter().enumerate() {
                    if let Some(w) = *w {
                        if prev != Some(w) {
                            starts[w as usize] = Some(p);
                            tags[p] = s.tags[w as usize] as i64;
                        }
                    }
                    prev = *w;
                }
                Ok(Item {
                    ids: e.ids,
                    type_ids: e.type_ids,
                    target: Target::Tags(tags),
                    word_starts: starts,
                })
            })
            .collect(),
    }
}

fn eval_set(tok: &BertTokenizer, data: &Dataset) -> Result<EvalSet, TrainError> {
    let items = encode(tok, data)?;
    let gold = match data {
        Dataset::Sentences(ex) => Gold::Labels(stab_data::gold_labels(ex, "evaluation split")?),
        Dataset::Tagged(s) => Gold::Tags(s.iter().map(|s| s.tags.clone()).collect()),
    };
    Ok(EvalSet { items, gold })
}

/// Runs the frozen encoder once over `items` (eval mode: no dropout) and keeps, per item, the
/// feature the head reads: [F] (or [layers, H] for a learned mix) for sentences, [W, …] for
/// words — only the W words that kept a sub-token, in order: a BiLSTM reads exactly them, not
/// a stand-in vector for words truncated away.
#[allow(clippy::too_many_arguments)]
fn cache_features(
    bert: &dyn Encoder,
    items: &[Item],
    layers: &[usize],
    mode: FeatureMode,
    pooling: Pooling,
    output: Output,
    pad_id: i64,
    device: Device,
) -> Vec<Tensor> {
    let mut out: Vec<Option<Tensor>> = (0..items.len()).map(|_| None).collect();
    crate::features::hidden_states_by_length(bert, items, 64, pad_id, device, |chunk, b, hs| {
        let chosen: Vec<Tensor> = layers.iter().map(|&l| hs[l].shallow_clone()).collect();
        if output.is_tagging() {
            let f = combine_layers(mode, &chosen); // [B, T, F] or [B, T, L, H]
            for (row, &i) in chunk.iter().enumerate() {
                let starts: Vec<i64> = items[i]
                    .word_starts
                    .iter()
                    .filter_map(|s| s.map(|p| p as i64))
                    .collect();
                let idx = Tensor::from_slice(&starts).to_device(device);
                out[i] = Some(f.get(row as i64).index_select(0, &idx).copy());
            }
        } else {
            let pooled: Vec<Tensor> = chosen
                .iter()
                .map(|h| pool(h, &b.attention_mask, pooling))
                .collect();
            let f = combine_layers(mode, &pooled);
            for (row, &i) in chunk.iter().enumerate() {
                out[i] = Some(f.get(row as i64).copy());
            }
        }
    });
    out.into_iter()
        .map(|t| t.expect("every item cached"))
        .collect()
}

/// Word-level tags [B, W] of tagging items (the tag on each word's first sub-token, for the
/// words that kept one, as [`cache_features`] keeps them), padded with [`IGNORE`].
fn word_targets(items: &[Item], indices: &[usize], width: i64) -> Tensor {
    let mut t = vec![IGNORE; indices.len() * width as usize];
    for (row, &i) in indices.iter().enumerate() {
        if let Target::Tags(tags) = &items[i].target {
            for (w, p) in items[i].word_starts.iter().flatten().enumerate() {
                t[row * width as usize + w] = tags[*p];
            }
        }
    }
    Tensor::from_slice(&t).view([indices.len() as i64, width])
}

/// Stacks cached features of `indices`, padding word sequences with zeros, and gives each
/// row's length (the number of words; for sentence features, the first dimension, unused).
fn feature_batch(cache: &[Tensor], indices: &[usize], device: Device) -> (Tensor, Vec<i64>) {
    let rows: Vec<&Tensor> = indices.iter().map(|&i| &cache[i]).collect();
    let lens: Vec<i64> = rows.iter().map(|t| t.size()[0]).collect();
    let same = lens.iter().all(|&l| l == lens[0]);
    if same {
        return (Tensor::stack(&rows, 0).to_device(device), lens);
    }
    let max = *lens.iter().max().unwrap_or(&0);
    let padded: Vec<Tensor> = rows
        .iter()
        .map(|t| {
            let mut shape = t.size();
            let pad = max - shape[0];
            if pad == 0 {
                return t.shallow_clone();
            }
            shape[0] = pad;
            Tensor::cat(
                &[
                    t.shallow_clone(),
                    Tensor::zeros(&shape, (t.kind(), t.device())),
                ],
                0,
            )
        })
        .collect();
    (Tensor::stack(&padded, 0).to_device(device), lens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_libtorch_panic_keeps_its_first_line_for_the_record() {
        // The panic tch's infallible API raises on a LibTorch error, as `run` catches it.
        let panic = std::panic::catch_unwind(|| {
            Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)).view([7])
        })
        .unwrap_err();
        let what = panic
            .downcast_ref::<String>()
            .expect("tch panics with a String");
        let (first, full) = split_torch_error(what);
        assert!(
            first.starts_with("LibTorch: shape '[7]' is invalid for input of size 6"),
            "{first}"
        );
        assert!(
            !first.contains("\\n") && !first.contains("frame #"),
            "{first}"
        );
        if let Some(full) = full {
            assert!(first.ends_with("(full text in the run's log)"), "{first}");
            assert!(full.lines().count() > 1 && full.contains("shape '[7]'"));
        }
    }

    /// Issue 10 item 4: a batch of word features carries each sentence's length (for packing)
    /// and the tags line up with the words that kept a sub-token — the words the cache holds.
    #[test]
    fn issue10_word_feature_batches_carry_lengths_and_aligned_tags() {
        let cache = vec![
            Tensor::ones([3, 2], (Kind::Float, Device::Cpu)),
            Tensor::ones([1, 2], (Kind::Float, Device::Cpu)),
        ];
        let (x, lengths) = feature_batch(&cache, &[1, 0], Device::Cpu);
        assert_eq!(lengths, vec![1, 3]);
        assert_eq!(x.size(), vec![2, 3, 2]);
        assert_eq!(
            x.get(0).sum(Kind::Float).double_value(&[]),
            2.0,
            "zero padding"
        );
        // Word 1 lost its sub-tokens (None): the cache skips it, and so do the targets.
        let item = Item {
            ids: vec![101, 7, 8, 9, 102],
            type_ids: vec![0; 5],
            target: Target::Tags(vec![IGNORE, 4, 5, 6, IGNORE]),
            word_starts: vec![Some(1), None, Some(3)],
        };
        let t = word_targets(&[item], &[0], 3);
        assert_eq!(
            Vec::<i64>::try_from(t.view([-1])).unwrap(),
            vec![4, 6, IGNORE]
        );
    }

    /// Issue 10 item 6: Zhang et al.'s exponents — head and pooler η, top layer η·ξ, layer i
    /// η·ξ^(L−i), embeddings η·ξ^(L+1) (was: top layer η, embeddings η·ξ^L).
    #[test]
    fn issue10_layerwise_lr_decay_follows_zhang() {
        let vs = VarStore::new(Device::Cpu);
        let bert = stab_bert::BertModel::new(vs.root(), &stab_bert::BertConfig::tiny(10));
        let role = |name: &str| Encoder::param_role(&bert, name);
        let scale = |name: &str| layerwise_lr_scale(role(name), 2, 0.5);
        assert_eq!(scale("classifier.weight"), 1.0);
        assert_eq!(scale("pooler.dense.weight"), 1.0);
        assert_eq!(scale("encoder.layer.1.output.dense.weight"), 0.5);
        assert_eq!(scale("encoder.layer.0.attention.self.query.bias"), 0.25);
        assert_eq!(scale("embeddings.word_embeddings.weight"), 0.125);
        assert_eq!(layerwise_lr_scale(role("embeddings.x"), 12, 1.0), 1.0);
    }

    fn spec_with(o: &[(&str, toml::Value)]) -> RunSpec {
        let t: toml::Table = o.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        RunSpec::resolve("devlin", &t).unwrap()
    }

    /// Issue 10 item 3: Zhang's 10 evaluations per run — every ⌊T/10⌋ steps and at T.
    #[test]
    fn issue10_evals_per_run_every_floor_t_over_n_and_at_t() {
        let zhang = RunSpec::resolve("zhang-longer", &toml::Table::new()).unwrap();
        let steps: Vec<u64> = eval_steps(&zhang, 20, 400).into_iter().collect();
        assert_eq!(steps, (1..=10).map(|i| i * 40).collect::<Vec<_>>());
        // T = 65: every 6 steps (6 … 60) and at 65, as `global_step % 6 == 0 or == t_total`.
        let steps: Vec<u64> = eval_steps(&zhang, 20, 65).into_iter().collect();
        let mut want: Vec<u64> = (1..=10).map(|i| i * 6).collect();
        want.push(65);
        assert_eq!(steps, want);
        // T < 10: ⌊T/10⌋ = 0, only at T (the reference's `logging_steps > 0` guard).
        assert_eq!(
            eval_steps(&zhang, 20, 7).into_iter().collect::<Vec<_>>(),
            [7]
        );
        // eval_every_steps still comes first.
        let every = spec_with(&[
            ("evals_per_run", 10.into()),
            ("eval_every_steps", 50.into()),
        ]);
        assert_eq!(
            eval_steps(&every, 20, 120).into_iter().collect::<Vec<_>>(),
            [50, 100, 120]
        );
    }

    /// Issue 10 item 10: Mosbach evaluates before the first step.
    #[test]
    fn issue10_mosbach_evaluates_at_step_0() {
        let m = RunSpec::resolve("mosbach", &toml::Table::new()).unwrap();
        let steps: Vec<u64> = eval_steps(&m, 6, 12).into_iter().collect();
        assert_eq!(steps, [0, 2, 4, 6, 8, 10, 12]);
        let d = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        assert!(!eval_steps(&d, 6, 12).contains(&0));
    }

    #[test]
    fn other_errors_are_kept_whole() {
        assert_eq!(
            split_torch_error("task RTE: split \"dev\" not found"),
            ("task RTE: split \"dev\" not found".to_string(), None)
        );
    }

    #[test]
    fn records_the_resolved_tch_version() {
        // The workspace pins tch exactly; the build script reads the resolved one from Cargo.lock.
        let spec = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        assert_eq!(versions(&spec).tch, "0.24.0");
    }
}
