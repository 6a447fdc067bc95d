//! Integration tests of one run: optimizer parity, determinism, seed semantics, divergence,
//! errors. They use a tiny random BERT (2 layers, hidden 32) with all-MiniLM-L6-v2's
//! tokenizer and real GLUE/CoNLL files, so each run takes about a second.

use std::path::{Path, PathBuf};

use stab_data::Label;
use stab_spec::{FeatureHead, FeatureMode, RunRecord, RunSpec, RunStatus, Timing};
use stab_test_support::{data_dir, minilm};
use stab_train::optim::{Adam, AdamConfig, AdamUpdate, Layout};
use tch::{Kind, Tensor};

/// A tiny random checkpoint, written once per test process.
fn tiny_model() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let config = stab_bert::EncoderConfig::tiny(30522);
        stab_bert::checkpoint::write_random_checkpoint(dir.path(), &config, &minilm(), 11).unwrap();
        dir
    })
    .path()
    .to_path_buf()
}

fn spec(preset: &str, extra: &[(&str, toml::Value)]) -> RunSpec {
    let mut o = toml::Table::new();
    o.insert("model".into(), tiny_model().display().to_string().into());
    o.insert("data_dir".into(), data_dir().display().to_string().into());
    o.insert("task".into(), "RTE".into());
    o.insert("train_subset".into(), 48.into());
    o.insert("epochs".into(), 2.into());
    o.insert("batch_size".into(), 8.into());
    o.insert("max_length".into(), 64.into());
    o.insert("learning_rate".into(), 1e-3.into());
    o.insert("dev_split_seed".into(), 5.into());
    for (k, v) in extra {
        o.insert(k.to_string(), v.clone());
    }
    RunSpec::resolve(preset, &o).unwrap()
}

/// LibTorch's generator and thread count are process-global: runs in one test process must
/// not overlap (stab runs one run per process for the same reason).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(spec: &RunSpec) -> RunRecord {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    stab_train::run(spec, &stab_train::RunContext::default())
}

/// Parity with the goldens of `tests/golden/make_adam_golden.py`: torch's AdamW and BERTAdam
/// (the `torch` update) and transformers' AdamW as Mosbach et al. run it (the
/// `hf` update), with and without bias correction.
#[test]
fn adam_matches_torch_adamw_the_bertadam_rule_and_hf_adamw() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/adam.json"),
    )
    .unwrap();
    let g: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vecf = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let cases = [
        (true, AdamUpdate::Torch, "adamw"),
        (false, AdamUpdate::Torch, "bertadam"),
        (true, AdamUpdate::Hf, "hf_adamw"),
        (false, AdamUpdate::Hf, "hf_bertadam"),
    ];
    let layouts = [Layout::Flat, Layout::PerTensor];
    for ((bias_correction, update, key), layout) in
        cases.into_iter().flat_map(|c| layouts.map(|l| (c, l)))
    {
        let shapes: Vec<Vec<i64>> = g["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s.as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_i64().unwrap())
                    .collect()
            })
            .collect();
        let params: Vec<Tensor> = (0..2)
            .map(|i| {
                Tensor::from_slice(&vecf(&g["p0"][i]))
                    .view(shapes[i].as_slice())
                    .set_requires_grad(true)
            })
            .collect();
        let config = AdamConfig {
            beta1: g["beta1"].as_f64().unwrap(),
            beta2: g["beta2"].as_f64().unwrap(),
            eps: g["eps"].as_f64().unwrap(),
            bias_correction,
            update,
        };
        let mut adam = Adam::with_layout(config, layout);
        adam.add(&params[0], 1.0, g["weight_decay"].as_f64().unwrap());
        adam.add(&params[1], 1.0, 0.0);
        for step in 0..6 {
            // loss = Σ p·G gives ∂loss/∂p = G.
            let loss = (0..2)
                .map(|i| {
                    let grad =
                        Tensor::from_slice(&vecf(&g["grads"][step][i])).view(shapes[i].as_slice());
                    (&params[i] * grad).sum(Kind::Double)
                })
                .reduce(|a, b| a + b)
                .unwrap();
            loss.backward();
            adam.step(g["lrs"][step].as_f64().unwrap()).unwrap();
            adam.zero_grad();
            for i in 0..2 {
                let got = Vec::<f64>::try_from(params[i].detach().view([-1])).unwrap();
                let want = vecf(&g[key][step][i]);
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        "{key} {layout:?} step {step} param {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

fn without_timing(mut r: RunRecord) -> RunRecord {
    r.timing = Timing::default();
    r
}

#[test]
fn same_spec_same_threads_gives_a_bit_identical_record() {
    let s = spec("mosbach", &[("epochs", 1.into()), ("threads", 1.into())]);
    let a = run(&s);
    assert_eq!(a.status, RunStatus::Ok, "{:?}", a.message);
    // At step 0, then 3 times per epoch.
    assert_eq!(
        a.evaluations.iter().map(|e| e.step).collect::<Vec<_>>(),
        [0, 2, 4, 6],
        "Mosbach evaluates at step 0 and 3 times per epoch"
    );
    let b = run(&s);
    assert_eq!(without_timing(a.clone()), without_timing(b));
    assert!(a.score.is_some() && a.majority_baseline.is_some());
    assert!(a.evaluations.iter().all(|e| e.report_metrics.is_some()));
    assert_eq!(a.train_loss.values.len() as u64, a.steps_done);
}

#[test]
fn init_seed_fixes_the_head_and_data_seed_fixes_the_order() {
    let st = |init: i64, data: i64| {
        let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        stab_train::initial_state(&spec(
            "devlin",
            &[("init_seed", init.into()), ("data_seed", data.into())],
        ))
        .unwrap()
    };
    let (a, b, c) = (st(1, 1), st(1, 2), st(2, 1));
    assert_eq!(a.head_weight, b.head_weight, "same init seed, same head");
    assert_ne!(
        a.first_epoch, b.first_epoch,
        "different data seed, different order"
    );
    assert_eq!(a.first_epoch, c.first_epoch, "same data seed, same order");
    assert_ne!(
        a.head_weight, c.head_weight,
        "different init seed, different head"
    );
    assert_eq!(a.head_weight.len(), 2 * 32);
}

#[test]
fn a_run_that_blows_up_is_recorded_as_diverged() {
    let r = run(&spec(
        "devlin",
        &[
            ("learning_rate", 1e30.into()),
            ("max_grad_norm", 0.0.into()),
            ("warmup_fraction", 0.0.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Diverged, "{:?}", r.message);
    // Steps count from 1 as in the curves: the diverged step is the one after the
    // last finite loss, and the message says the same step.
    let at = r.diverged_at_step.unwrap();
    assert_eq!(at, r.steps_done + 1, "{r:?}");
    assert_eq!(r.train_loss.steps.last().copied().unwrap_or(0), at - 1);
    let message = r.message.unwrap();
    assert!(message.contains("non-finite"), "{message}");
    assert!(message.ends_with(&format!("at step {at}")), "{message}");
    // The diverged model is scored, not dropped. Its NaN logits predict class
    // 0 (argmax of NaN, as the reference codes), on the report half of the dev split.
    let last = r.evaluations.last().unwrap();
    assert_eq!(last.step, at);
    let report_half = report_half_labels("RTE", 5);
    let zeros = report_half
        .iter()
        .filter(|&&l| l == Label::Class(0))
        .count();
    let constant_accuracy = zeros as f64 / report_half.len() as f64;
    assert_eq!(
        r.final_score,
        Some(constant_accuracy),
        "{:?}",
        r.evaluations
    );
    assert_eq!(r.score, r.final_score);
    assert_eq!(r.final_metrics["mcc"], 0.0);
    assert_eq!(r.final_metrics["f1"], 0.0, "class 1 is never predicted");
    assert_eq!(r.selected_step, Some(at));
    assert_eq!(r.selected_metrics, r.final_metrics);
}

/// Gold labels of the report half of a task's dev set, split as the trainer splits it.
fn report_half_labels(task: &str, seed: u64) -> Vec<Label> {
    let task = stab_data::task(task).unwrap();
    let dev = task.load_split(&data_dir(), "dev").unwrap();
    let labels = dev.labels().unwrap();
    let (_, report) = stab_data::split_halves(Some(&labels), labels.len(), seed);
    report.iter().map(|&i| labels[i]).collect()
}

/// A diverged regression run (STS-B) gets a well-defined score — its NaN
/// outputs are a constant prediction, correlation 0 — and best-checkpoint selection (Mosbach)
/// still sees it, after the step-0 evaluation.
#[test]
fn a_diverged_regression_run_is_scored() {
    let r = run(&spec(
        "mosbach",
        &[
            ("task", "STS-B".into()),
            ("epochs", 1.into()),
            ("learning_rate", 1e30.into()),
            ("max_grad_norm", 0.0.into()),
            ("warmup_fraction", 0.0.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Diverged, "{:?}", r.message);
    let at = r.diverged_at_step.unwrap();
    let steps: Vec<u64> = r.evaluations.iter().map(|e| e.step).collect();
    assert_eq!(steps.first(), Some(&0), "{steps:?}");
    assert_eq!(steps.last(), Some(&at), "{steps:?}");
    assert_eq!(r.final_score, Some(0.0));
    assert_eq!(r.final_metrics["spearman"], 0.0);
    assert!(r.score.unwrap().is_finite());
    // The best by the selection metric (pearson for STS-B under mosbach), first on ties.
    let best = r
        .evaluations
        .iter()
        .fold(None::<&stab_spec::Evaluation>, |b, e| match b {
            Some(b) if e.metrics["pearson"] <= b.metrics["pearson"] => Some(b),
            _ => Some(e),
        })
        .unwrap();
    assert_eq!(r.selected_step, Some(best.step));
    assert_eq!(r.selection_metric, "pearson");
}

/// Mosbach selects MRPC on the mean of accuracy and F1, Zhang on accuracy;
/// the reported metric stays F1.
#[test]
fn mrpc_selects_on_the_references_metric() {
    for (preset, selection) in [("mosbach", "combined"), ("zhang-longer", "accuracy")] {
        let r = run(&spec(
            preset,
            &[
                ("task", "MRPC".into()),
                ("epochs", 1.into()),
                ("max_steps", 12.into()),
                ("batch_size", 4.into()),
                ("learning_rate", 3e-3.into()),
            ],
        ));
        assert_eq!(r.status, RunStatus::Ok, "{preset}: {:?}", r.message);
        assert_eq!(
            (r.metric.as_str(), r.selection_metric.as_str()),
            ("f1", selection)
        );
        let mut best = &r.evaluations[0];
        for e in &r.evaluations {
            if e.metrics[selection] > best.metrics[selection] {
                best = e;
            }
        }
        assert_eq!(
            r.selected_step,
            Some(best.step),
            "{preset}: {:?}",
            r.evaluations
        );
        assert_eq!(r.score, best.report_metrics.as_ref().map(|m| m["f1"]));
    }
}

/// A Zhang run evaluates 10 times (every ⌊T/10⌋ steps and at T) on the
/// selection half and reports on the other, stratified half.
#[test]
fn zhang_runs_evaluate_ten_times_on_split_dev() {
    let r = run(&spec(
        "zhang-longer",
        &[("max_steps", 23.into()), ("dev_split_seed", 1.into())],
    ));
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    let steps: Vec<u64> = r.evaluations.iter().map(|e| e.step).collect();
    assert_eq!(steps, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 23]);
    assert!(r.evaluations.iter().all(|e| e.report_metrics.is_some()));
    // The report half keeps the dev set's class balance to within one example per class.
    let report = report_half_labels("RTE", 1);
    let dev = stab_data::task("RTE")
        .unwrap()
        .load_split(&data_dir(), "dev")
        .unwrap()
        .labels()
        .unwrap();
    for c in 0..2 {
        let in_dev = dev.iter().filter(|&&l| l == Label::Class(c)).count();
        let in_report = report.iter().filter(|&&l| l == Label::Class(c)).count();
        assert_eq!(in_report, in_dev - in_dev / 2);
    }
}

/// Limits of the model are checked when the run is prepared, with a message naming
/// the field, the value and the limit — not a LibTorch panic mid-run.
#[test]
fn inputs_beyond_the_model_limits_are_named_errors() {
    let r = run(&spec(
        "devlin",
        &[
            ("max_length", 600.into()),
            ("pad_to_max_length", true.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Error);
    let m = r.message.unwrap();
    assert!(
        m.contains("max_length = 600") && m.contains("max_position_embeddings = 512"),
        "{m}"
    );
    assert_eq!(r.steps_done, 0);

    // all-MiniLM-L6-v2's tokenizer (ids up to 30521) on a model with 1000 embeddings.
    let small = tempfile::tempdir().unwrap();
    let config = stab_bert::EncoderConfig::tiny(1000);
    stab_bert::checkpoint::write_random_checkpoint(small.path(), &config, &minilm(), 3).unwrap();
    let model = small.path().display().to_string();
    let r = run(&spec("devlin", &[("model", model.into())]));
    assert_eq!(r.status, RunStatus::Error);
    let m = r.message.unwrap();
    assert!(
        m.contains("token id = 30521") && m.contains("vocab_size = 1000"),
        "{m}"
    );

    // One token type, sentence pairs (RTE).
    let single = tempfile::tempdir().unwrap();
    let mut config = stab_bert::EncoderConfig::tiny(30522);
    config.type_vocab_size = 1;
    stab_bert::checkpoint::write_random_checkpoint(single.path(), &config, &minilm(), 3).unwrap();
    let model = single.path().display().to_string();
    let r = run(&spec("devlin", &[("model", model.into())]));
    assert_eq!(r.status, RunStatus::Error);
    let m = r.message.unwrap();
    assert!(m.contains("type_vocab_size = 1"), "{m}");
    assert!(m.len() < 300, "a message, not a stack trace: {m}");
}

#[test]
fn bad_inputs_become_error_records_naming_the_problem() {
    let r = run(&spec("devlin", &[("data_dir", "/nonexistent/glue".into())]));
    assert_eq!(r.status, RunStatus::Error);
    assert!(
        r.message.as_deref().unwrap().contains("/nonexistent/glue"),
        "{:?}",
        r.message
    );

    let r = run(&spec("devlin", &[("model", "/nonexistent/model".into())]));
    assert_eq!(r.status, RunStatus::Error);
    assert!(r.message.as_deref().unwrap().contains("/nonexistent/model"));

    let r = run(&spec("devlin", &[("freeze_layers", 3.into())]));
    assert!(r.message.as_deref().unwrap().contains("freeze_layers"));
}

/// A `train_subset` above the train split's size trained on all of it under a spec that says
/// otherwise; it is an error record naming both numbers.
#[test]
fn a_train_subset_larger_than_the_data_is_an_error_record() {
    let r = run(&spec("devlin", &[("train_subset", 1_000_000.into())]));
    assert_eq!(r.status, RunStatus::Error);
    let msg = r.message.as_deref().unwrap();
    assert!(
        msg.contains("train_subset = 1000000") && msg.contains("train split has 2490 examples"),
        "{msg}"
    );
}

#[test]
fn freezing_leaves_only_the_unfrozen_parameters_to_the_optimizer() {
    // Tiny BERT: vocab 30522 × 32 word embeddings, 512 + 2 positions/types, 2 layers of
    // 12,704 parameters, pooler 1,056, classifier 66.
    let count = |k: i64| {
        run(&spec(
            "devlin",
            &[("freeze_layers", k.into()), ("epochs", 1.into())],
        ))
        .trainable_parameters
    };
    let embeddings = (30522 + 512 + 2) * 32 + 2 * 32;
    let layer = 4 * (32 * 32 + 32) + 2 * 2 * 32 + (32 * 64 + 64) + (64 * 32 + 32);
    let top = 32 * 32 + 32 + 2 * 32 + 2;
    assert_eq!(count(0), (embeddings + 2 * layer + top) as u64);
    assert_eq!(count(1), (layer + top) as u64);
    assert_eq!(count(2), top as u64);
    let mut s = spec("devlin", &[("epochs", 1.into())]);
    s.feature_mode = FeatureMode::Last;
    assert_eq!(
        run(&s).trainable_parameters,
        32 * 2 + 2,
        "feature-based: the head only"
    );
}

/// Table 7's weighted sums learn their weights — the scalar mix's w (one per
/// layer mixed) and γ are handed to the optimizer with the head. The tiny model has 2 encoder
/// layers: "all layers" mixes those 2 (the embeddings are not a layer), "last four" the 2
/// there are; `scalar-mix` keeps its old meaning (3 hidden states) and `sum-last-four` stays
/// an unweighted sum with nothing to learn.
#[test]
fn weighted_sum_modes_hand_their_mix_weights_to_the_optimizer() {
    let head = 32 * 2 + 2;
    for (mode, mix) in [
        (FeatureMode::WeightedSumAllLayers, 2 + 1),
        (FeatureMode::WeightedSumLastFour, 2 + 1),
        (FeatureMode::ScalarMix, 3 + 1),
        (FeatureMode::SumLastFour, 0),
    ] {
        let mut s = spec("devlin", &[("epochs", 1.into())]);
        s.feature_mode = mode;
        let r = run(&s);
        assert_eq!(r.status, RunStatus::Ok, "{mode:?}: {:?}", r.message);
        assert_eq!(r.trainable_parameters, head + mix, "{mode:?}");
    }
}

#[test]
fn partial_freezing_and_reinit_and_regression_run() {
    let r = run(&spec(
        "zhang-reinit",
        &[("freeze_layers", 1.into()), ("reinit_layers", 1.into())],
    ));
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    let r = run(&spec(
        "devlin",
        &[("task", "STS-B".into()), ("layerwise_lr_decay", 0.9.into())],
    ));
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    assert_eq!(r.metric, "pearson");
    assert_eq!(r.majority_baseline, Some(0.0));
}

#[test]
fn feature_based_heads_train_on_cached_features() {
    for mode in [
        FeatureMode::ScalarMix,
        FeatureMode::WeightedSumLastFour,
        FeatureMode::ConcatLastFour,
    ] {
        let mut s = spec("devlin", &[("learning_rate", 1e-2.into())]);
        s.feature_mode = mode;
        let r = run(&s);
        assert_eq!(r.status, RunStatus::Ok, "{mode:?}: {:?}", r.message);
    }
    // CoNLL-2003 NER with the BiLSTM head (Devlin et al. Table 7 set-up, tiny).
    let mut s = spec(
        "devlin",
        &[
            ("task", "CoNLL-2003".into()),
            ("train_subset", 24.into()),
            ("learning_rate", 1e-2.into()),
        ],
    );
    s.feature_mode = FeatureMode::SecondToLast;
    s.feature_head = FeatureHead::Bilstm;
    s.lstm_hidden = 16;
    let r = run(&s);
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    assert_eq!(r.metric, "f1");
    assert!(r.final_metrics.contains_key("precision"));
    // A learned mix of token features under the BiLSTM (Table 7 "weighted sum all layers").
    s.feature_mode = FeatureMode::WeightedSumAllLayers;
    let r = run(&s);
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
}

#[test]
fn fine_tuned_ner_labels_first_sub_tokens() {
    let r = run(&spec(
        "devlin",
        &[
            ("task", "CoNLL-2003".into()),
            ("train_subset", 24.into()),
            ("epochs", 1.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    assert!(r.score.is_some());
}

#[test]
fn a_libtorch_failure_inside_a_run_is_an_error_record_with_its_first_line() {
    // A negative initializer_range: re-initialising the pooler calls `normal_` with a negative
    // std, which LibTorch rejects (a panic in tch's infallible API). Limits that can be checked
    // beforehand (positions, vocabulary, token types) are, so this one is not.
    let dir = tempfile::tempdir().unwrap();
    let mut config = stab_bert::EncoderConfig::tiny(30522);
    config.initializer_range = -0.02;
    stab_bert::checkpoint::write_random_checkpoint(dir.path(), &config, &minilm(), 3).unwrap();
    let r = run(&spec(
        "devlin",
        &[
            ("model", dir.path().display().to_string().into()),
            ("reinit_pooler", true.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Error);
    let m = r.message.unwrap();
    assert!(
        m.starts_with("internal error: LibTorch: normal expects std"),
        "{m}"
    );
    // The first line only; C++ frames go to the log (stderr), never the record.
    assert!(
        !m.contains('\n') && !m.contains("\\n") && !m.contains("frame #"),
        "{m}"
    );
}

#[test]
fn bf16_autocast_on_cpu_trains_close_to_fp32_and_says_so() {
    let fp32 = run(&spec("mosbach", &[("epochs", 1.into())]));
    let bf16 = run(&spec(
        "mosbach",
        &[("epochs", 1.into()), ("precision", "bf16".into())],
    ));
    assert_eq!(fp32.status, RunStatus::Ok, "{:?}", fp32.message);
    assert_eq!(bf16.status, RunStatus::Ok, "{:?}", bf16.message);
    assert_eq!(fp32.versions.precision, "fp32");
    assert_eq!(bf16.versions.precision, "bf16-autocast (cpu)");
    assert_eq!(bf16.versions.gpu, None);
    let (a, b) = (&fp32.train_loss.values, &bf16.train_loss.values);
    assert_eq!(a.len(), b.len());
    // Same seeds, same batches: bf16 rounding moves the losses a little, never far, and does
    // change them (autocast really ran).
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let worst = diffs.iter().cloned().fold(0.0, f64::max);
    assert!(
        worst < 0.05,
        "bf16 loss curve strayed by {worst}: {a:?} vs {b:?}"
    );
    assert!(
        worst > 0.0,
        "bf16 and fp32 curves are identical: autocast did not run"
    );
}

/// MNLI in the download script's layout, made up: train, dev_matched, dev_mismatched.
fn synthetic_mnli(dir: &Path) {
    use stab_test_support::{mnli_row as row, MNLI_DEV_HEADER, MNLI_TRAIN_HEADER};
    let classes = ["entailment", "neutral", "contradiction"];
    let m = dir.join("MNLI");
    std::fs::create_dir_all(&m).unwrap();
    let mut train = vec![MNLI_TRAIN_HEADER.to_string()];
    for i in 0..24 {
        let c = classes[i % 3];
        train.push(row(
            i,
            &format!("A cat sat {i}."),
            "An animal sat.",
            &[c, c],
        ));
    }
    std::fs::write(m.join("train.tsv"), train.join("\n")).unwrap();
    for (name, skew) in [("dev_matched", 0), ("dev_mismatched", 2)] {
        let mut dev = vec![MNLI_DEV_HEADER.to_string()];
        for i in 0..9 {
            // The mismatched set leans to one class, so its baseline differs from matched's.
            let c = if i < 3 + skew * 2 {
                classes[2]
            } else {
                classes[i % 2]
            };
            dev.push(row(
                i,
                "Two men walk.",
                &format!("People {i}."),
                &[c, c, c, c, c, c],
            ));
        }
        std::fs::write(m.join(format!("{name}.tsv")), dev.join("\n")).unwrap();
    }
}

#[test]
fn mnli_reports_matched_and_mismatched() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_mnli(dir.path());
    let r = run(&spec(
        "devlin",
        &[
            ("task", "MNLI".into()),
            ("data_dir", dir.path().display().to_string().into()),
            ("train_subset", toml::Value::Integer(24)),
            ("epochs", 1.into()),
        ],
    ));
    assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    for map in [&r.final_metrics, &r.selected_metrics, &r.baseline_metrics] {
        assert!(map.contains_key("accuracy"), "{map:?}");
        assert!(map.contains_key("mismatched/accuracy"), "{map:?}");
    }
    // Baselines are each set's own: 5 of 9 vs 7 of 9 in the majority class.
    assert_ne!(
        r.baseline_metrics["accuracy"],
        r.baseline_metrics["mismatched/accuracy"]
    );
    // Selection and the run's score stay on matched dev.
    assert_eq!(r.score, r.selected_metrics.get("accuracy").copied());
}

fn golden(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_close(got: &Tensor, want: &[f64], tol: f64, what: &str) {
    let got = Vec::<f64>::try_from(got.detach().to_kind(Kind::Double).view([-1])).unwrap();
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

/// Parity with `tests/golden/make_mixout_golden.py`: one mixout linear layer, two micro-batches
/// with fixed masks, against Zhang et al.'s rule (forward T + M(W − T)/(1 − p), backward M·∂L/∂W̃,
/// one mask row repeated over the output rows); W itself is back after each backward.
#[test]
fn mixout_matches_zhangs_mixlinear_forward_and_backward() {
    use stab_train::mixout::{column_mask, Mixout};
    // The layer's initialisation draws from LibTorch's generator, which a run in another test
    // thread has seeded: hold the runs' lock so that run repeats exactly.
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = golden("mixout.json");
    let shape: Vec<i64> = g["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap())
        .collect();
    let (out, inp) = (shape[0], shape[1]);
    let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let layer = tch::nn::linear(vs.root() / "dense", inp, out, Default::default());
    vs.double();
    let target = Tensor::from_slice(&floats(&g["target"])).view([out, inp]);
    let weight = Tensor::from_slice(&floats(&g["weight"])).view([out, inp]);
    tch::no_grad(|| {
        layer.ws.shallow_clone().copy_(&target);
        layer
            .bs
            .as_ref()
            .unwrap()
            .shallow_clone()
            .copy_(&Tensor::from_slice(&floats(&g["bias"])));
    });
    // Installed on the pre-trained weight, then training has moved it to `weight`.
    let mut mixout = Mixout::new(&vs, g["p"].as_f64().unwrap());
    assert_eq!(mixout.names(), vec!["dense.weight"]);
    tch::no_grad(|| layer.ws.shallow_clone().copy_(&weight));
    for (i, step) in g["steps"].as_array().unwrap().iter().enumerate() {
        let keep: Vec<bool> = floats(&g["masks"][i]).iter().map(|&m| m == 1.0).collect();
        mixout
            .mix_with(vec![column_mask(&keep, Kind::Double)], i > 0)
            .unwrap();
        let x = Tensor::from_slice(&floats(&step["x"])).view([-1, inp]);
        let r = Tensor::from_slice(&floats(&step["r"])).view([-1, out]);
        let y = tch::nn::Module::forward(&layer, &x);
        assert_close(&y, &floats(&step["y"]), 1e-12, "y");
        (&y * &r).sum(Kind::Double).backward();
        mixout.unmix().unwrap();
        assert_close(&layer.ws, &floats(&g["weight"]), 0.0, "weight restored");
        assert_close(&layer.ws.grad(), &floats(&step["weight_grad"]), 1e-12, "∂W");
        let bias_grad = layer.bs.as_ref().unwrap().grad();
        assert_close(&bias_grad, &floats(&step["bias_grad"]), 1e-12, "∂b");
    }
}

/// Parity with `tests/golden/make_prior_wd_golden.py`: three steps of weight decay toward the
/// pre-trained weights (Zhang et al.'s `PriorWD` around torch's AdamW, and around transformers'
/// AdamW without bias correction) on parameters of the held tiny checkpoint and a new head,
/// with two learning-rate scales and a parameter without weight decay.
#[test]
fn prior_weight_decay_matches_zhangs_prior_wd_on_the_tiny_checkpoint() {
    let g = golden("prior_wd.json");
    let ckpt =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bert/tests/golden/tiny/model.safetensors");
    let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&ckpt)
        .unwrap()
        .into_iter()
        .collect();
    let names: Vec<&str> = g["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let scales = floats(&g["scales"]);
    let decays = floats(&g["decays"]);
    for (update, bias_correction, eps, key) in [
        (AdamUpdate::Torch, true, 1e-8, "torch_adamw"),
        (AdamUpdate::Hf, false, 1e-6, "hf_bertadam"),
    ] {
        let mut p0: Vec<Tensor> = names
            .iter()
            .map(|n| tensors[*n].to_kind(Kind::Double))
            .collect();
        p0.push(Tensor::from_slice(&floats(&g["head_p0"])).view([2, 32]));
        let params: Vec<Tensor> = p0
            .iter()
            .map(|p| p.copy().set_requires_grad(true))
            .collect();
        let mut adam = Adam::new(AdamConfig {
            beta1: g["beta1"].as_f64().unwrap(),
            beta2: g["beta2"].as_f64().unwrap(),
            eps,
            bias_correction,
            update,
        });
        for (i, p) in params.iter().enumerate() {
            adam.add_toward_current(p, scales[i], decays[i]);
        }
        for (step, lr) in floats(&g["lrs"]).iter().enumerate() {
            let loss = params
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let grad = Tensor::from_slice(&floats(&g["grads"][step][i])).view_as(p);
                    (p * grad).sum(Kind::Double)
                })
                .reduce(|a, b| a + b)
                .unwrap();
            loss.backward();
            adam.step(*lr).unwrap();
            adam.zero_grad();
            for (i, p) in params.iter().enumerate() {
                let want = floats(&g[key][step][i]);
                assert_close(p, &want, 1e-12, &format!("{key} step {step} param {i}"));
            }
        }
    }
}

/// Batch 8 × accumulation 2 trains what batch 16 trains: the same examples per step, the same
/// loss and so the same model, within float rounding (dropout off: masks are drawn per
/// micro-batch).
#[test]
fn gradient_accumulation_equals_the_larger_batch() {
    let no_dropout = [
        ("hidden_dropout", toml::Value::from(0.0)),
        ("attention_dropout", 0.0.into()),
        ("classifier_dropout", 0.0.into()),
        ("train_subset", 44.into()), // the last step of an epoch is a short one
    ];
    let mut big = no_dropout.to_vec();
    big.push(("batch_size", 16.into()));
    let mut acc = no_dropout.to_vec();
    acc.push(("batch_size", 8.into()));
    acc.push(("gradient_accumulation_steps", 2.into()));
    let a = run(&spec("devlin", &big));
    let b = run(&spec("devlin", &acc));
    assert_eq!(
        (a.status, b.status),
        (RunStatus::Ok, RunStatus::Ok),
        "{:?}",
        b.message
    );
    assert_eq!(
        a.steps_done, 6,
        "3 steps per epoch (16 + 16 + 12 examples), 2 epochs"
    );
    assert_eq!(b.steps_done, a.steps_done);
    for (x, y) in a.train_loss.values.iter().zip(&b.train_loss.values) {
        assert!(
            (x - y).abs() < 1e-5,
            "{:?} vs {:?}",
            a.train_loss.values,
            b.train_loss.values
        );
    }
    let (x, y) = (a.final_score.unwrap(), b.final_score.unwrap());
    assert!((x - y).abs() < 1e-9, "final score {x} vs {y}");
}

/// Mixout and weight decay toward the pre-trained weights change the run, are recorded in its
/// spec, and repeat exactly under the same seeds.
#[test]
fn mixout_and_prior_weight_decay_runs_repeat_under_their_seeds() {
    let no_dropout = [
        ("hidden_dropout", toml::Value::from(0.0)),
        ("attention_dropout", 0.0.into()),
        ("classifier_dropout", 0.0.into()),
        ("weight_decay", 0.5.into()),
    ];
    let plain = run(&spec("devlin", &no_dropout));
    let mut m = no_dropout.to_vec();
    m.push(("mixout", 0.5.into()));
    let mixed = run(&spec("devlin", &m));
    let again = run(&spec("devlin", &m));
    let mut w = no_dropout.to_vec();
    w.push(("prior_weight_decay", true.into()));
    let prior = run(&spec("devlin", &w));
    for r in [&plain, &mixed, &prior] {
        assert_eq!(r.status, RunStatus::Ok, "{:?}", r.message);
    }
    assert_eq!(mixed.spec.mixout, 0.5);
    assert!(prior.spec.prior_weight_decay);
    assert_eq!(mixed.train_loss.values, again.train_loss.values);
    assert_eq!(mixed.final_score, again.final_score);
    // The first step's loss is the same model's, mixed or not (mixing starts from T = W)…
    assert!((mixed.train_loss.values[0] - plain.train_loss.values[0]).abs() < 1e-6);
    // …and then the runs part.
    assert_ne!(mixed.train_loss.values, plain.train_loss.values);
    assert_ne!(prior.train_loss.values, plain.train_loss.values);
}

/// The `early_failure` policy checks its rule once, at ⌈f·T⌉ steps, and stops a run it flags
/// as `stopped`, with no final score; `at-baseline` evaluates there first. At learning rate
/// 1e-9 the model does not leave its initialisation, so its training loss stays at about ln 2,
/// the constant predictor's loss on RTE: `loss-at-constant` must flag it.
#[test]
fn the_early_failure_policy_stops_flagged_runs_at_the_check_step() {
    let policy = |rule: &str| {
        let mut t = toml::Table::new();
        // 12 steps (48 examples, batch 8, 2 epochs), evaluated after each epoch (6, 12): the
        // check at ⌈0.25 · 12⌉ = 3 falls between scheduled evaluations.
        t.insert("after_fraction".into(), 0.25.into());
        t.insert("rule".into(), rule.into());
        toml::Value::Table(t)
    };
    let s = spec(
        "devlin",
        &[
            ("learning_rate", 1e-9.into()),
            ("early_failure", policy("loss-at-constant")),
        ],
    );
    let r = run(&s);
    assert_eq!(r.status, RunStatus::Stopped, "{:?}", r.message);
    let at = stab_spec::check_step(0.25, r.total_steps);
    assert_eq!((r.total_steps, at), (12, 3));
    assert_eq!(r.steps_done, at);
    let message = r.message.clone().unwrap();
    assert!(
        message.starts_with(&format!(
            "predicted failure at step {at} of {}",
            r.total_steps
        )) && message.contains("loss-at-constant"),
        "{message}"
    );
    assert_eq!(
        (r.final_score, r.score),
        (None, None),
        "a stopped run is not a result"
    );
    assert!(
        r.evaluations.is_empty(),
        "loss-at-constant needs no evaluation"
    );
    let h = r.constant_loss.unwrap();
    assert!(h > 0.6 && h <= std::f64::consts::LN_2 + 1e-12, "{h}");

    let s = spec(
        "devlin",
        &[
            ("learning_rate", 1e-9.into()),
            ("early_failure", policy("at-baseline")),
        ],
    );
    let r = run(&s);
    let check = r
        .evaluations
        .iter()
        .find(|e| e.step == at)
        .expect("at-baseline evaluates at the check step");
    // The selection half's baseline: RTE's dev set is split (dev_split_seed).
    let baseline = r.baseline_metrics[&format!("{}{}", stab_spec::SELECTION_HALF_PREFIX, r.metric)];
    let flagged = check.score <= baseline;
    assert_eq!(r.status == RunStatus::Stopped, flagged, "{:?}", r.message);
    if !flagged {
        assert_eq!(r.steps_done, r.total_steps);
    }
}
