//! Real few-step RTE runs on the tiny random checkpoint of every non-BERT family
//! (`crates/bert/tests/fixtures/<family>/`, made by HF Transformers with a tokenizer of the
//! family's kind), with freezing, layer-wise LR decay and re-initialisation exercised, plus the
//! feature-based mode; ALBERT's shared layers refuse the knobs they give no meaning.

use std::path::PathBuf;

use stab_spec::{RunRecord, RunSpec, RunStatus};
use stab_test_support::data_dir;

fn fixture(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bert/tests/fixtures")
        .join(name)
}

fn spec(family: &str, extra: &[(&str, toml::Value)]) -> RunSpec {
    let mut o = toml::Table::new();
    o.insert("model".into(), fixture(family).display().to_string().into());
    o.insert("data_dir".into(), data_dir().display().to_string().into());
    o.insert("task".into(), "RTE".into());
    o.insert("train_subset".into(), 32.into());
    o.insert("batch_size".into(), 8.into());
    o.insert("max_steps".into(), 3.into());
    o.insert("max_length".into(), 64.into());
    o.insert("learning_rate".into(), 1e-3.into());
    for (k, v) in extra {
        o.insert(k.to_string(), v.clone());
    }
    RunSpec::resolve("devlin", &o).unwrap()
}

/// LibTorch's generator and thread count are process-global: one run at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(spec: &RunSpec) -> RunRecord {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    stab_train::run(spec, &stab_train::RunContext::default())
}

fn knobs() -> Vec<(&'static str, toml::Value)> {
    vec![
        ("freeze_layers", 1.into()),
        ("layerwise_lr_decay", 0.9.into()),
        ("reinit_layers", 1.into()),
        ("reinit_pooler", true.into()),
    ]
}

fn assert_ok(family: &str, r: &RunRecord) {
    assert_eq!(r.status, RunStatus::Ok, "{family}: {:?}", r.message);
    assert_eq!(r.steps_done, 3, "{family}");
}

#[test]
fn every_family_fine_tunes_with_freezing_llrd_and_reinit() {
    for family in ["roberta", "electra", "deberta-v3", "modernbert"] {
        assert_ok(family, &run(&spec(family, &knobs())));
    }
}

#[test]
fn every_family_runs_the_feature_based_mode_and_cls_pooling() {
    for family in ["roberta", "electra", "albert", "deberta-v3", "modernbert"] {
        let r = run(&spec(family, &[("feature_mode", "second-to-last".into())]));
        assert_ok(family, &r);
        let r = run(&spec(family, &[("pooling", "mean".into())]));
        assert_ok(family, &r);
    }
}

#[test]
fn albert_takes_all_or_nothing_of_its_shared_layers() {
    let all = [
        ("freeze_layers", 3.into()),
        ("reinit_layers", 3.into()),
        ("reinit_pooler", true.into()),
    ];
    assert_ok("albert", &run(&spec("albert", &all)));
    for (field, value) in [
        ("freeze_layers", toml::Value::from(1)),
        ("reinit_layers", 2.into()),
        ("layerwise_lr_decay", 0.9.into()),
    ] {
        let r = run(&spec(
            "albert",
            &[(field, value), ("reinit_pooler", true.into())],
        ));
        assert_eq!(r.status, RunStatus::Error, "{field}");
        let m = r.message.unwrap();
        assert!(m.contains(field) && m.contains("share"), "{m}");
        assert_eq!(r.steps_done, 0);
    }
}

/// Mixout (every dropout off), weight decay toward the pre-trained weights and gradient
/// accumulation on every family `stab run` supports besides BERT (whose runs
/// `tests/train.rs` checks).
#[test]
fn every_family_fine_tunes_with_mixout_prior_weight_decay_and_accumulation() {
    let stabilizers = [
        ("mixout", toml::Value::from(0.1)),
        ("hidden_dropout", 0.0.into()),
        ("attention_dropout", 0.0.into()),
        ("classifier_dropout", 0.0.into()),
        ("prior_weight_decay", true.into()),
        ("gradient_accumulation_steps", 2.into()),
        ("batch_size", 4.into()),
    ];
    for family in ["roberta", "electra", "albert", "deberta-v3", "modernbert"] {
        let r = run(&spec(family, &stabilizers));
        assert_ok(family, &r);
        assert_eq!(r.spec.mixout, 0.1, "{family}");
        assert!(
            r.train_loss.values.iter().all(|l| l.is_finite()),
            "{family}"
        );
    }
}
