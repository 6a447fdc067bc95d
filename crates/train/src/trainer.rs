//! One fine-tuning run from a resolved [`RunSpec`] to its [`RunRecord`], whatever happens:
//! the parts of a run assembled in order, and every failure turned into a record.
//!
//! The parts: [`crate::run_data`] reads and encodes the task's data; [`crate::trainable`]
//! builds what is trained (fine-tuned BERT or a head on frozen features);
//! [`crate::policy`] decides which parameters train and how; [`crate::train_loop`] trains and
//! evaluates ([`crate::evaluate`], [`crate::selection`]) to an outcome; [`crate::record`]
//! turns the outcome into the record.
//!
//! Seeds: the init seed drives LibTorch's generator while the model is built (new head,
//! re-initialised layers); the data seed then re-seeds it (dropout masks) and seeds the ChaCha
//! stream of the batch order. So runs with the same init seed start from the same head, and
//! runs with the same data seed see the same batches (Dodge et al. 2020).
//!
//! A run never disappears: bad input becomes an `error` record with the message, a non-finite
//! loss or gradient norm a `diverged` record at that step — scored, like any run, by evaluating
//! the model it diverged to — and Ctrl-C an `interrupted` one. LibTorch errors that are
//! expected come back through tch's fallible `f_` calls; a panic of its infallible API is
//! caught as the last line of defence and recorded too.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use stab_bert::{load_checkpoint, Checkpoint, Encoder};
use stab_spec::{
    error_chain, Device as SpecDevice, Precision, RunRecord, RunSpec, RunStatus, Versions,
};
use tch::nn::VarStore;
use tch::{Device, Kind};

use crate::batch::BatchOrder;
use crate::mixout::Mixout;
use crate::optim::{AdamConfig, Layout};
use crate::policy::{reinitialise, ParamPolicy};
use crate::run_data::RunData;
use crate::train_loop::Run;
use crate::trainable::{self, Setup};
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
    /// How Adam holds its state. Runs use the flat layout; the per-tensor one exists for the
    /// benchmark and the tests that compare the two (`versions.adam_layout` records which ran).
    pub adam_layout: Layout,
}

/// Runs `spec` and returns its record — for every outcome, including errors.
pub fn run(spec: &RunSpec, ctx: &RunContext) -> RunRecord {
    let started = Instant::now();
    let started_unix = stab_spec::unix_seconds();
    // A LibTorch error surfaces as a panic in tch's infallible API; it still becomes a record.
    let mut model_source = None;
    let mut newly_initialised = Vec::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let model = crate::model_dir::resolve(&spec.model)?;
        model_source = model.source.clone();
        let mut run = prepare(spec, &model.dir, ctx.adam_layout)?;
        newly_initialised = run.newly_initialised.clone();
        if !newly_initialised.is_empty() {
            eprintln!("newly initialised: {}", newly_initialised.join(", "));
        }
        let outcome = run.train(ctx)?;
        let trainable = run.optimizer.numel();
        Ok::<_, TrainError>(crate::record::record(spec, &run.data, trainable, outcome))
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
    record.model_source = model_source;
    record.newly_initialised = newly_initialised;
    record.versions = Versions {
        adam_layout: ctx.adam_layout.name().into(),
        ..versions(spec)
    };
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
    let dir = crate::model_dir::resolve(&spec.model)?.dir;
    let run = prepare(spec, &dir, Layout::default())?;
    let head = run
        .vs
        .variables()
        .get("classifier.weight")
        .map(|t| Vec::<f32>::try_from(t.to_kind(Kind::Float).view([-1])))
        .transpose()?
        .unwrap_or_default();
    let mut order = BatchOrder::new(run.data.train.len(), spec.batch_size, spec.data_seed, None);
    Ok(InitialState {
        head_weight: head,
        first_epoch: order.next_epoch(),
    })
}

/// The training loss of the best constant predictor on `spec`'s training data, as a run of
/// `spec` records it (`RunRecord::constant_loss`): for records written before the field
/// existed. Reads the tokenizer and the data, not the weights.
pub fn constant_loss_of(spec: &RunSpec) -> Result<Option<f64>, TrainError> {
    let model = crate::model_dir::resolve(&spec.model)?;
    let checkpoint = Checkpoint::open(&model.dir)?;
    let tokenizer = checkpoint.tokenizer(spec.max_length)?;
    let data = RunData::load(
        spec,
        &tokenizer,
        &checkpoint.config,
        &checkpoint.dir.join("config.json"),
    )?;
    Ok(crate::batch::constant_loss(&data.train, data.kind))
}

/// Whether a run's error came from LibTorch (its text carries C++ stack frames).
fn is_torch(e: &TrainError) -> bool {
    matches!(
        e,
        TrainError::Torch(_) | TrainError::Model(stab_bert::ModelError::Torch(_))
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

/// Whether variable `name` is a family's token-embedding matrix (`[vocab_size, E]`, looked up
/// by token id only: BERT, RoBERTa, ELECTRA, ALBERT and DeBERTa's `word_embeddings`,
/// ModernBERT's `tok_embeddings`).
fn is_token_embedding(name: &str, var: &tch::Tensor, vocab_size: i64) -> bool {
    (name.ends_with("embeddings.word_embeddings.weight")
        || name.ends_with("embeddings.tok_embeddings.weight"))
        && var.dim() == 2
        && var.size()[0] == vocab_size
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
        adam_layout: String::new(), // set by `run` from the run's context
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

/// The device a spec asks for, if LibTorch has it.
fn device_of(spec: &RunSpec) -> Result<Device, TrainError> {
    match spec.device {
        SpecDevice::Cpu => Ok(Device::Cpu),
        SpecDevice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        SpecDevice::Cuda => Err(TrainError::Invalid(
            "device = \"cuda\" but LibTorch sees no CUDA device (build with --features cuda on a GPU machine)".into(),
        )),
    }
}

/// Assembles a run from its parts: checkpoint and tokenizer first (a model that cannot take
/// these inputs fails before the data is read), then the data, what is trained (variables
/// from the init seed, then the checkpoint's weights), and the optimizer the policy fills.
fn prepare(spec: &RunSpec, model_dir: &std::path::Path, layout: Layout) -> Result<Run, TrainError> {
    spec.validate()?;
    tch::set_num_threads(spec.threads as i32);
    let device = device_of(spec)?;
    if spec.precision == Precision::Bf16 {
        crate::amp::set_autocast_bf16(device);
    }
    let checkpoint = Checkpoint::open(model_dir)?;
    let config = checkpoint.config.clone();
    let tokenizer = checkpoint.tokenizer(spec.max_length)?;
    checkpoint.check_limits(&tokenizer, spec.max_length)?;
    let data = RunData::load(
        spec,
        &tokenizer,
        &config,
        &checkpoint.dir.join("config.json"),
    )?;
    let num_layers = config.num_hidden_layers as usize;
    let policy = ParamPolicy::new(spec, num_layers)?;

    tch::manual_seed(spec.init_seed as i64);
    let mut vs = VarStore::new(device);
    let setup = Setup {
        spec,
        checkpoint: &checkpoint,
        config: &config,
        device,
        pad_id: tokenizer.pad_id(),
        kind: data.kind,
        outputs: data.outputs,
    };
    let mut newly_initialised = Vec::new();
    let mut load = |vs: &mut VarStore, encoder: &dyn Encoder| -> Result<(), TrainError> {
        // New heads may be missing from the checkpoint, and a checkpoint's own sequence head
        // (a fine-tuned one, ModernBERT's pre-trained `head`) may be left unused. A checkpoint
        // saved from a masked-LM class has no pooler: as in transformers, the pooler then
        // keeps the family's initialisation (drawn from the init seed with the rest).
        let mut new = vec!["classifier.", "scalar_mix.", "lstm.", "pooler."];
        new.extend(encoder.head_prefixes());
        let report = load_checkpoint(vs, &checkpoint, &new)?;
        newly_initialised = modules_of(&report.initialised);
        reinitialise(vs, spec, encoder, config.initializer_range);
        Ok(())
    };
    let model = trainable::build(&mut vs, &setup, &data, &mut load)?;
    let policy = ParamPolicy {
        freeze_encoder: model.freezes_encoder(),
        ..policy
    };
    let mut optimizer = policy.optimizer(
        &vs,
        model.encoder(),
        AdamConfig {
            beta1: spec.optimizer.beta1,
            beta2: spec.optimizer.beta2,
            eps: spec.optimizer.eps,
            bias_correction: spec.optimizer.bias_correction,
            update: spec.optimizer.update,
        },
        layout,
    );
    // The token embeddings' update runs over the rows of the tokens training can look up
    // (exact: `Adam::restrict_rows`); padding is looked up too.
    for (name, var) in vs.variables() {
        if is_token_embedding(&name, &var, config.vocab_size) {
            let mut ids: Vec<i64> = data
                .train
                .iter()
                .flat_map(|i| i.ids.iter().copied())
                .collect();
            ids.push(tokenizer.pad_id());
            optimizer.restrict_rows(&var, ids);
        }
    }
    // After loading, re-initialisation and freezing: the targets are the weights training
    // starts from, and frozen weights are left alone.
    let mixout = (spec.mixout > 0.0).then(|| Mixout::new(&vs, spec.mixout));
    Ok(Run {
        newly_initialised,
        spec: spec.clone(),
        data,
        model,
        optimizer,
        device,
        pad_id: tokenizer.pad_id(),
        mixout,
        vs,
    })
}

/// Module names of variable names (`pooler.dense.weight`, `pooler.dense.bias` →
/// `pooler.dense`), in order of first appearance.
fn modules_of(variables: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in variables {
        let m = v.rsplit_once('.').map(|(m, _)| m).unwrap_or(v).to_string();
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

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
