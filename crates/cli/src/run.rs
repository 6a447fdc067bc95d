//! `stab run`: one run from flags or a spec file; writes `record.json` (and `spec.json`)
//! atomically into `--out`.
//!
//! `stab run` is the worker of the launchers: its `--spec`, `--out`, `--group`, `--sweep` and
//! `--threads` are [`stab_store::WorkerArgs`], the type launchers build the worker's command
//! line from, and the run executes through [`stab_store::execute_run`], as the test worker's
//! does. Exit status (the launchers' contract, [`RUN_EXIT_CODES`], [`stab_store::exit_code`]):
//! 0 when the run finished (`ok` or `diverged`: both are results), 1 when it ended in `error`
//! or was `interrupted` (record written either way), 2 when not even a record could be
//! written.
//!
//! `--out` follows the store's rules: a directory that holds another run is refused, an
//! earlier record of the same run is kept in `attempts/` rather than overwritten, and the
//! run's lock is held while it executes (taken here, or inherited from a sweep's launcher), so
//! a second `stab run` into the same directory is refused instead of racing the first.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use stab_spec::RunSpec;
use stab_store::WorkerArgs;

/// The exit codes of `stab run`, as its `--help` prints them.
pub const RUN_EXIT_CODES: &str = "\
Exit status:
  0  the run finished `ok` or `diverged` (a diverged run is a result)
  1  the run ended in `error` or was interrupted; its record says why
  2  no record was written: bad flags or spec, model limits exceeded (--print-spec), or
     --out holds another run";

#[derive(Args)]
#[command(after_help = RUN_EXIT_CODES)]
pub struct RunArgs {
    /// The flags a launcher gives its worker: --spec, --out, --group, --sweep, --threads.
    #[command(flatten)]
    worker: WorkerArgs,
    /// Preset: devlin (the default), mosbach, zhang-reinit, zhang-longer. With a TOML spec it
    /// replaces the file's `preset`; `--set preset=P` is the same.
    #[arg(long)]
    preset: Option<String>,
    /// Override any spec field: --set epochs=5 --set optimizer.eps=1e-8 (TOML values).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Checkpoint directory, or a model on the Hugging Face Hub (`org/name[@revision]`),
    /// taken from the Hugging Face cache or downloaded into it.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    task: Option<String>,
    /// Data folder (GLUE layout); also from STAB_DATA_DIR.
    #[arg(long, env = stab_data::DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
    /// Print the resolved spec (TOML) and its run id, then exit without running.
    #[arg(long)]
    pub(crate) print_spec: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// How Adam holds its state: `flat` (one buffer per parameter group, the default) or
    /// `per-tensor` (the earlier implementation), for the benchmarks that compare the two;
    /// the record's `versions.adam_layout` says which ran.
    #[arg(long, hide = true, value_parser = ["flat", "per-tensor"], default_value = "flat")]
    adam_layout: String,
}

/// Parses `FIELD=VALUE` with VALUE as a TOML value (bare words become strings).
pub fn parse_set(set: &[String]) -> anyhow::Result<toml::Table> {
    let mut table = toml::Table::new();
    for s in set {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("--set {s:?}: expected FIELD=VALUE"))?;
        let value = format!("v = {v}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.to_string()));
        table.insert(k.trim().to_string(), value);
    }
    Ok(table)
}

/// The preset given by `--preset` or `--set preset=…` (the same thing; both must agree), taken
/// out of the overrides: a preset is where resolving starts, not a field to overwrite.
fn take_preset(preset: Option<&str>, set: &mut toml::Table) -> anyhow::Result<Option<String>> {
    let from_set = match set.remove("preset") {
        Some(v) => Some(
            stab_spec::parse_preset_name(&v)
                .context("--set preset")?
                .to_string(),
        ),
        None => None,
    };
    if let Some(p) = preset {
        stab_spec::preset(p).context("--preset")?;
    }
    match (preset, from_set) {
        (Some(a), Some(b)) if a != b => {
            anyhow::bail!("--preset {a} and --set preset={b} disagree: give one")
        }
        (Some(a), _) => Ok(Some(a.to_string())),
        (None, b) => Ok(b),
    }
}

pub fn resolve(args: &RunArgs) -> anyhow::Result<RunSpec> {
    let mut o = parse_set(&args.set)?;
    let preset = take_preset(args.preset.as_deref(), &mut o)?;
    let base = match &args.worker.spec {
        Some(p) if p.extension().is_some_and(|e| e == "json") => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("could not read run spec {}", p.display()))?;
            let spec = RunSpec::from_json_str(p, &text)?;
            if let Some(name) = preset.filter(|name| *name != spec.preset) {
                anyhow::bail!(
                    "preset {name}: {} is a fully resolved spec (preset {}); a preset applies \
                     to a TOML spec or to no spec",
                    p.display(),
                    spec.preset
                );
            }
            spec
        }
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("could not read run spec {}", p.display()))?;
            RunSpec::from_toml_str_with_preset(p, &text, preset.as_deref())?
        }
        None => stab_spec::preset(preset.as_deref().unwrap_or(stab_spec::DEFAULT_PRESET))?,
    };
    let mut put = |k: &str, v: toml::Value| {
        o.insert(k.to_string(), v);
    };
    if let Some(m) = &args.model {
        put("model", toml::Value::String(m.display().to_string()));
    }
    if let Some(t) = &args.task {
        put("task", toml::Value::String(t.clone()));
    }
    if let Some(d) = &args.data_dir {
        put("data_dir", toml::Value::String(d.display().to_string()));
    }
    if let Some(t) = args.worker.threads {
        put("threads", toml::Value::Integer(t as i64));
    }
    let spec = base.with_overrides(&o)?;
    // A fully resolved JSON spec keeps its task as written (its run id is its directory's),
    // unless the task was given here.
    let json = args
        .worker
        .spec
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    Ok(if json && !o.contains_key("task") {
        spec
    } else {
        stab_sweep::canonical_task(spec)
    })
}

/// Refuses a thread count above this machine's cores: LibTorch would start them all, and
/// 10 000 threads made a 2-step run take minutes (and as long to stop). Only where the run
/// executes here: `--print-spec` and Slurm sweeps describe runs for other machines.
pub fn check_threads(threads: usize, flag: &str) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > cores {
        anyhow::bail!(
            "threads = {threads} but this machine has {cores} cores: give {flag} {cores} or \
             fewer (the thread count is part of the run id, so it is refused, not capped)"
        );
    }
    Ok(())
}

/// The model's input limits against the spec, where the model can be read (`--print-spec`
/// shows specs for other machines too: a model that is not here is not an error). A Hub model
/// is looked up in the Hugging Face cache only (printing never downloads); its repository,
/// commit and weights hash are printed as comments.
fn check_model_limits(spec: &RunSpec) -> anyhow::Result<()> {
    let dir = match stab_train::model_dir::cached(&spec.model) {
        Some(m) => {
            let s = m.source.expect("a cached Hub model has a source");
            println!(
                "# model {}: repo {}, revision {}, commit {}, weights sha256 {} (Hugging Face cache: {})",
                spec.model.display(),
                s.repo,
                s.revision,
                s.commit,
                s.weights_sha256,
                m.dir.display()
            );
            m.dir
        }
        None => {
            let name = spec.model.to_str().and_then(stab_hub::ModelRef::parse);
            if let Some(name) = name {
                println!(
                    "# model {name}: a Hugging Face Hub model not in the cache yet; `stab run` downloads it"
                );
            }
            spec.model.clone()
        }
    };
    let Ok(checkpoint) = stab_bert::Checkpoint::open(&dir) else {
        return Ok(());
    };
    let tokenizer = checkpoint.tokenizer(spec.max_length)?;
    checkpoint.check_limits(&tokenizer, spec.max_length)?;
    check_layer_knobs(&checkpoint, spec)?;
    Ok(())
}

/// The layer-wise knobs against the model's structure, by the family's own rule (the one the
/// run applies: depths beyond the model, ALBERT's shared layers). The encoder is built on
/// the CPU without its weights, only to be asked.
fn check_layer_knobs(checkpoint: &stab_bert::Checkpoint, spec: &RunSpec) -> anyhow::Result<()> {
    let _no_grad = tch::no_grad_guard();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let encoder = checkpoint.encoder(vs.root())?;
    encoder.check_layer_knobs(&stab_bert::LayerKnobs {
        freeze_layers: spec.freeze_layers,
        reinit_layers: spec.reinit_layers,
        layerwise_lr_decay: spec.layerwise_lr_decay,
    })?;
    Ok(())
}

/// One line about a finished run. A run without a score (an error before evaluation, whose
/// record may not even name its metric) says so instead of printing `error:  = - (baseline -)`.
fn summary_line(record: &stab_spec::RunRecord) -> String {
    let head = format!("run {} {}", record.run_id, record.status.as_str());
    let steps = format!("{} steps", record.steps_done);
    match record.score {
        Some(score) => {
            let metric = if record.metric.is_empty() {
                "score"
            } else {
                record.metric.as_str()
            };
            let baseline = record
                .majority_baseline
                .map(|b| format!("{b:.4}"))
                .unwrap_or_else(|| "unknown".into());
            format!(
                "{head}: {metric} = {score:.4} (majority baseline {baseline}), {steps}, {:.1} examples/s",
                record.timing.train_examples_per_second
            )
        }
        None => format!("{head}: no score, {steps}"),
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let spec = resolve(&args)?;
    if args.print_spec {
        check_model_limits(&spec)?;
        println!("# run id {}", spec.run_id());
        println!("# evaluations: {}", spec.evaluation_schedule());
        let (table, unset) = spec.listed();
        print!("{}", toml::to_string(&table)?);
        if !unset.is_empty() {
            println!("# unset (TOML has no null; set with --set FIELD=VALUE):");
            for f in unset {
                println!("# {f} = (unset)");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    check_threads(spec.threads, "--threads")?;
    let out = args
        .worker
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/runs").join(spec.run_id()));
    stab_store::create_dir_all(&out)
        .with_context(|| format!("could not create {}", out.display()))?;
    // Another run's directory is refused as such, before its lock could call it "busy".
    stab_store::check_run_dir(&out, &spec.run_id())?;
    let done = stab_store::execute_run(&out, &spec, |begun| {
        if let Some(kept) = &begun.kept {
            eprintln!("kept the earlier record of this run as {}", kept.display());
        }
        let ctx = stab_train::RunContext {
            group: args.worker.group.clone(),
            sweep: args.worker.sweep.clone(),
            progress: !args.quiet,
            interrupt: Some(crate::signals::install()),
            adam_layout: match args.adam_layout.as_str() {
                "per-tensor" => stab_train::optim::Layout::PerTensor,
                _ => stab_train::optim::Layout::Flat,
            },
        };
        stab_train::run(&spec, &ctx)
    })?;
    let record = &done.record;
    eprintln!("{} → {}", summary_line(record), done.path.display());
    if let Some(m) = &record.message {
        eprintln!("  {m}");
    }
    Ok(ExitCode::from(stab_store::exit_code(record.status)))
}

#[cfg(test)]
mod tests {
    use stab_spec::RunStatus;

    use super::*;

    /// A run without a score says so instead of printing `error:  = - (baseline -)`.
    #[test]
    fn summary_of_a_run_without_score_is_meaningful() {
        let spec = stab_spec::RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        let mut r = stab_spec::RunRecord::error(spec, RunStatus::Error, "no such model".into());
        let line = summary_line(&r);
        assert!(line.contains("error: no score"), "{line}");
        assert!(
            !line.contains(" = -") && !line.contains("(baseline -)"),
            "{line}"
        );
        r.status = RunStatus::Ok;
        r.score = Some(0.6789);
        r.metric = "accuracy".into();
        r.majority_baseline = Some(0.527);
        let line = summary_line(&r);
        assert!(
            line.contains("ok: accuracy = 0.6789 (majority baseline 0.5270)"),
            "{line}"
        );
    }

    /// The worker's command line that launchers build is one `stab run` parses into the same
    /// values.
    #[test]
    fn the_launchers_worker_command_line_is_stab_run() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Command,
        }
        #[derive(clap::Subcommand)]
        enum Command {
            Run(RunArgs),
        }
        let dir = stab_store::RunDir::new("/r/q/runs/0123456789abcdef");
        let args = WorkerArgs::for_run(&dir, "devlin/lr=1e-5", "q", 2);
        let argv = std::iter::once("stab".into()).chain(args.to_args());
        let Command::Run(parsed) = Cli::try_parse_from(argv).unwrap().command;
        assert_eq!(parsed.worker, args);
    }
}
