//! Parity of every non-BERT family with HF Transformers on the tiny random checkpoints in
//! `fixtures/<family>/`, made (with their golden values) by `fixtures/make_fixtures.py`:
//!
//! - every hidden state of the base model (eval) within 1e-4 on a padded batch of RTE pairs;
//! - the logits of the family's sequence-classification head (eval) within 1e-4;
//! - one training step: the cross-entropy loss (dropout off, gradients on), the global L2 norm
//!   of all gradients, and the loss after one SGD step p ← p − 0.5·∇p;
//! - the family's tokenizer: pair encoding with its special tokens and longest-first truncation,
//!   id for id with HF's fast tokenizer.
//!
//! Each test prints its figures (`cargo test -p stab-bert --test families -- --nocapture`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stab_bert::{load_checkpoint, Checkpoint, Encoder, EncoderInput, LayerKnobs, SequenceHead};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

struct Loaded {
    vs: VarStore,
    encoder: Box<dyn Encoder>,
    head: Box<dyn SequenceHead>,
}

fn load(name: &str) -> Loaded {
    let ck = Checkpoint::open(&fixture(name)).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let encoder = ck.encoder(vs.root()).unwrap();
    let dropout = ck
        .config
        .classifier_dropout
        .unwrap_or(ck.config.hidden_dropout_prob);
    let head = encoder.sequence_head(&vs.root(), 2, dropout);
    // Strict: the fixture is a full HF task checkpoint, so nothing may be missing or left over.
    let report = load_checkpoint(&mut vs, &ck, &[]).unwrap();
    assert!(report.initialised.is_empty(), "{:?}", report.initialised);
    assert!(report.unused.is_empty(), "{:?}", report.unused);
    Loaded { vs, encoder, head }
}

#[derive(Debug)]
struct Figures {
    hidden: f64,
    logits: f64,
    loss: f64,
    grad_norm: f64,
    loss_after_step: f64,
}

/// Checks a family against its golden file and returns the largest differences.
fn parity(name: &str) -> Figures {
    let m = load(name);
    let g = read(&fixture(name).join("golden.safetensors"));
    let input = EncoderInput {
        input_ids: &g["input_ids"],
        token_type_ids: Some(&g["token_type_ids"]),
        attention_mask: Some(&g["attention_mask"]),
    };
    let mask = g["attention_mask"].unsqueeze(-1).to_kind(Kind::Float);

    let (out, logits) = tch::no_grad(|| {
        let out = m.encoder.forward_t(&input, false, true);
        let logits = m.head.forward_t(&out, false);
        (out, logits)
    });
    let hs = out.hidden_states.as_ref().unwrap();
    assert_eq!(hs.len(), m.encoder.num_layers() + 1);
    let mut hidden: f64 = 0.0;
    for (j, h) in hs.iter().enumerate() {
        let d = max_abs_diff(&(h * &mask), &(&g[&format!("hidden_states.{j}")] * &mask));
        assert!(d <= 1e-4, "{name}: hidden_states.{j} differs by {d}");
        hidden = hidden.max(d);
    }
    let logit_d = max_abs_diff(&logits, &g["logits"]);
    assert!(logit_d <= 1e-4, "{name}: logits differ by {logit_d}");

    // One training step, dropout off as in the golden script.
    let labels = Tensor::from_slice(&[0i64, 1, 1]);
    let step_loss = |m: &Loaded| {
        let out = m.encoder.forward_t(&input, false, false);
        m.head
            .forward_t(&out, false)
            .cross_entropy_for_logits(&labels)
    };
    let loss = step_loss(&m);
    loss.backward();
    let vars = m.vs.trainable_variables();
    let sq: f64 = vars
        .iter()
        .map(|v| {
            let gr = v.grad();
            if gr.defined() {
                gr.to_kind(Kind::Double)
                    .square()
                    .sum(Kind::Double)
                    .double_value(&[])
            } else {
                0.0
            }
        })
        .sum();
    let grad_norm = sq.sqrt();
    tch::no_grad(|| {
        for v in &vars {
            let gr = v.grad();
            if gr.defined() {
                let _ = v.shallow_clone().g_sub_(&(gr * 0.5));
            }
        }
    });
    let after = tch::no_grad(|| step_loss(&m));
    let loss_d = (loss.double_value(&[]) - g["loss"].double_value(&[0])).abs();
    let gn_ref = g["grad_norm"].double_value(&[0]);
    let gn_d = (grad_norm - gn_ref).abs();
    let after_d = (after.double_value(&[]) - g["loss_after_step"].double_value(&[0])).abs();
    assert!(loss_d <= 1e-5, "{name}: loss differs by {loss_d}");
    assert!(
        gn_d <= 1e-4 * gn_ref.max(1.0),
        "{name}: gradient norm {grad_norm} vs HF {gn_ref}"
    );
    assert!(
        after_d <= 1e-5,
        "{name}: loss after one step differs by {after_d}"
    );
    let f = Figures {
        hidden,
        logits: logit_d,
        loss: loss_d,
        grad_norm: gn_d,
        loss_after_step: after_d,
    };
    println!(
        "{name}: max |Δ| hidden {:.1e}, logits {:.1e}, loss {:.1e}, grad norm {:.1e} (HF {gn_ref:.6}), loss after a step {:.1e}",
        f.hidden, f.logits, f.loss, f.grad_norm, f.loss_after_step
    );
    f
}

/// The family's tokenizer encodes pairs as HF's fast tokenizer does.
fn tokenizer_parity(name: &str) {
    let ck = Checkpoint::open(&fixture(name)).unwrap();
    let text = std::fs::read_to_string(fixture(name).join("tokens.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let one_type = ck.family.zero_type_ids(&ck.config);
    for c in &cases {
        let max_length = c["max_length"].as_u64().unwrap() as usize;
        let tok = ck.tokenizer(max_length).unwrap();
        let (a, b) = (c["a"].as_str().unwrap(), c["b"].as_str());
        let e = tok.encode(a, b).unwrap();
        let ints = |k: &str| -> Vec<i64> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        };
        assert_eq!(e.ids, ints("input_ids"), "{name}: ids of {a:?} / {b:?}");
        let types = if one_type {
            vec![0; e.ids.len()]
        } else {
            ints("token_type_ids")
        };
        assert_eq!(e.type_ids, types, "{name}: type ids of {a:?} / {b:?}");
        assert!(e.ids.len() <= max_length);
    }
    assert_eq!(
        ck.tokenizer(8).unwrap().pad_id(),
        ck.config.pad_token_id,
        "{name}: batches are padded with the model's pad_token_id"
    );
}

#[test]
fn roberta_matches_hf() {
    parity("roberta");
}

#[test]
fn roberta_tokenizer_matches_hf() {
    tokenizer_parity("roberta");
    // `<s> A </s></s> B </s>`
    let ck = Checkpoint::open(&fixture("roberta")).unwrap();
    let e = ck.tokenizer(128).unwrap().encode("a", Some("b")).unwrap();
    let (bos, eos) = (0, 2);
    assert_eq!(e.ids[0], bos);
    assert_eq!(
        e.ids.iter().filter(|&&i| i == eos).count(),
        3,
        "{:?}",
        e.ids
    );
}

#[test]
fn electra_matches_hf() {
    parity("electra");
}

#[test]
fn electra_tokenizer_matches_hf() {
    tokenizer_parity("electra");
}

#[test]
fn albert_matches_hf() {
    parity("albert");
}

#[test]
fn albert_tokenizer_matches_hf() {
    tokenizer_parity("albert");
}

#[test]
fn roberta_limits_count_the_position_offset() {
    let ck = Checkpoint::open(&fixture("roberta")).unwrap();
    // max_position_embeddings 130, pad 1: 128 tokens fit, 129 do not.
    assert_eq!(ck.max_positions(), 128);
    let tok = ck.tokenizer(128).unwrap();
    ck.check_limits(&tok, 128).unwrap();
    let err = ck.check_limits(&tok, 129).unwrap_err().to_string();
    assert!(
        err.contains("128") && err.contains("position offset"),
        "{err}"
    );
}

#[test]
fn parameters_are_classified_per_family() {
    use stab_bert::ParamGroup::*;
    let cases: &[(&str, &[(&str, stab_bert::ParamGroup)])] = &[
        (
            "roberta",
            &[
                ("embeddings.word_embeddings.weight", Embeddings),
                ("encoder.layer.1.output.dense.weight", Layer(1)),
                ("classifier.out_proj.weight", Head),
            ],
        ),
        (
            "electra",
            &[
                ("embeddings_project.weight", Embeddings),
                ("encoder.layer.0.attention.self.query.bias", Layer(0)),
                ("classifier.dense.weight", Head),
            ],
        ),
        (
            "albert",
            &[
                ("encoder.embedding_hidden_mapping_in.weight", Embeddings),
                (
                    "encoder.albert_layer_groups.0.albert_layers.0.ffn.weight",
                    SharedLayers,
                ),
                ("pooler.weight", Pooler),
                ("classifier.weight", Head),
            ],
        ),
        (
            "deberta-v3",
            &[
                ("encoder.rel_embeddings.weight", Embeddings),
                ("encoder.layer.1.attention.self.query_proj.weight", Layer(1)),
                ("pooler.dense.weight", Pooler),
            ],
        ),
        (
            "modernbert",
            &[
                ("embeddings.tok_embeddings.weight", Embeddings),
                ("layers.0.attn.Wqkv.weight", Layer(0)),
                ("layers.2.mlp.Wo.weight", Layer(2)),
                ("final_norm.weight", Layer(2)),
                ("head.dense.weight", Pooler),
            ],
        ),
    ];
    for (name, roles) in cases {
        let m = load(name);
        let vars = m.vs.variables();
        for (var, role) in *roles {
            assert!(vars.contains_key(*var), "{name}: no variable {var}");
            assert_eq!(m.encoder.param_group(var), *role, "{name}: {var}");
        }
        // Every variable of the encoder has a role other than Head, and the head's are Head.
        for var in vars.keys() {
            let is_head = var.starts_with("classifier.");
            assert_eq!(m.encoder.param_group(var) == Head, is_head, "{name}: {var}");
        }
    }
}

#[test]
fn albert_refuses_knobs_that_shared_layers_give_no_meaning() {
    let m = load("albert");
    let l = m.encoder.num_layers();
    assert_eq!(l, 3);
    let knobs = |freeze_layers, reinit_layers, layerwise_lr_decay| LayerKnobs {
        freeze_layers,
        reinit_layers,
        layerwise_lr_decay,
    };
    m.encoder.check_layer_knobs(&knobs(0, 0, 1.0)).unwrap();
    m.encoder.check_layer_knobs(&knobs(l, 0, 1.0)).unwrap();
    m.encoder.check_layer_knobs(&knobs(0, l, 1.0)).unwrap();
    for (k, field) in [
        (knobs(1, 0, 1.0), "freeze_layers"),
        (knobs(0, 2, 1.0), "reinit_layers"),
    ] {
        let err = m.encoder.check_layer_knobs(&k).unwrap_err().to_string();
        assert!(err.contains(field) && err.contains("share"), "{err}");
    }
    let err = m
        .encoder
        .check_layer_knobs(&knobs(0, 0, 0.9))
        .unwrap_err()
        .to_string();
    assert!(err.contains("layerwise_lr_decay"), "{err}");
    // Families with a parameter set per layer take every count up to L.
    let r = load("roberta");
    r.encoder.check_layer_knobs(&knobs(1, 1, 0.9)).unwrap();
    assert!(r.encoder.check_layer_knobs(&knobs(3, 0, 1.0)).is_err());
}

#[test]
fn unknown_and_missing_tensors_are_errors_that_name_them() {
    let src = fixture("electra");
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let mut tensors: Vec<(String, Tensor)> =
        Tensor::read_safetensors(src.join("model.safetensors"))
            .unwrap()
            .into_iter()
            .filter(|(k, _)| k != "electra.encoder.layer.1.output.dense.bias")
            .collect();
    tensors.push((
        "electra.encoder.extra.weight".into(),
        Tensor::zeros([2], (Kind::Float, Device::Cpu)),
    ));
    // A pre-training head is not an error.
    tensors.push((
        "discriminator_predictions.dense.weight".into(),
        Tensor::zeros([2], (Kind::Float, Device::Cpu)),
    ));
    let weights = dir.path().join("model.safetensors");
    Tensor::write_safetensors(&tensors, &weights).unwrap();
    let ck = Checkpoint::open(dir.path()).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let enc = ck.encoder(vs.root()).unwrap();
    let _h = enc.sequence_head(&vs.root(), 2, 0.1);
    let err = load_checkpoint(&mut vs, &ck, &[]).unwrap_err().to_string();
    assert!(err.contains("encoder.layer.1.output.dense.bias"), "{err}");

    tensors.retain(|(k, _)| k != "electra.encoder.extra.weight");
    let layer = Tensor::read_safetensors(src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "electra.encoder.layer.1.output.dense.bias")
        .unwrap();
    tensors.push(layer);
    tensors.push((
        "electra.encoder.extra.weight".into(),
        Tensor::zeros([2], (Kind::Float, Device::Cpu)),
    ));
    Tensor::write_safetensors(&tensors, &weights).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let enc = ck.encoder(vs.root()).unwrap();
    let _h = enc.sequence_head(&vs.root(), 2, 0.1);
    let err = load_checkpoint(&mut vs, &ck, &[]).unwrap_err().to_string();
    assert!(
        err.contains("encoder.extra.weight") && !err.contains("discriminator"),
        "{err}"
    );
}

#[test]
fn unknown_model_types_are_named_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("roberta").join("config.json")).unwrap(),
    )
    .unwrap();
    cfg["model_type"] = "gpt2".into();
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("gpt2") && err.contains("roberta") && err.contains("albert"),
        "{err}"
    );
}

#[test]
fn deberta_v3_matches_hf() {
    parity("deberta-v3");
}

#[test]
fn deberta_v3_tokenizer_matches_hf() {
    tokenizer_parity("deberta-v3");
}

#[test]
fn deberta_pooler_is_part_of_the_head_and_relative_embeddings_are_embeddings() {
    use stab_bert::ParamGroup::*;
    let m = load("deberta-v3");
    assert_eq!(
        m.encoder.param_group("encoder.rel_embeddings.weight"),
        Embeddings
    );
    assert_eq!(
        m.encoder.param_group("encoder.LayerNorm.weight"),
        Embeddings
    );
    assert_eq!(m.encoder.param_group("pooler.dense.weight"), Pooler);
    assert_eq!(
        m.encoder
            .param_group("encoder.layer.1.attention.self.query_proj.weight"),
        Layer(1)
    );
    assert_eq!(m.encoder.head_prefixes(), &["classifier.", "pooler."]);
}

#[test]
fn modernbert_matches_hf() {
    parity("modernbert");
}

#[test]
fn modernbert_tokenizer_matches_hf() {
    tokenizer_parity("modernbert");
}
