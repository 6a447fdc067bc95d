//! Parity with Hugging Face Transformers on golden values from `golden/make_golden.py`.
//!
//! Needs the all-MiniLM-L6-v2 checkpoint installed by `scripts/setup.sh` (or `STAB_MODEL`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stab_bert::{load_safetensors, BertModel, Checkpoint, EncoderConfig, EncoderInput, Tokenizer};
use tch::nn::VarStore;
use tch::{Device, Tensor};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn minilm_dir() -> PathBuf {
    let dir = std::env::var_os("STAB_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(stab_test_support::minilm_path);
    assert!(
        dir.join("model.safetensors").exists(),
        "all-MiniLM-L6-v2 not found at {}: run scripts/setup.sh",
        dir.display()
    );
    dir
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

fn load(dir: &Path) -> (BertModel, VarStore) {
    let ck = Checkpoint::open(dir).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let model = BertModel::new(vs.root(), &ck.config);
    let report = load_safetensors(&mut vs, &ck.weights, &[]).unwrap();
    assert!(report.initialised.is_empty());
    (model, vs)
}

/// Compares every output with the golden tensors; returns the largest difference seen.
fn check_outputs(
    model: &BertModel,
    g: &HashMap<String, Tensor>,
    prefix: &str,
    layers: usize,
) -> f64 {
    let input = EncoderInput {
        input_ids: &g[&format!("{prefix}input_ids")],
        token_type_ids: Some(&g[&format!("{prefix}token_type_ids")]),
        attention_mask: Some(&g[&format!("{prefix}attention_mask")]),
    };
    let out = tch::no_grad(|| model.forward_t(&input, false, true));
    let mask = input
        .attention_mask
        .unwrap()
        .unsqueeze(-1)
        .to_kind(tch::Kind::Float);
    let d = max_abs_diff(
        &(&out.last_hidden_state * &mask),
        &(&g[&format!("{prefix}last_hidden_state")] * &mask),
    );
    assert!(d <= 1e-4, "{prefix}last_hidden_state differs by {d}");
    let mut worst = d;
    let d = max_abs_diff(&out.pooled_output, &g[&format!("{prefix}pooled_output")]);
    assert!(d <= 1e-4, "{prefix}pooled_output differs by {d}");
    worst = worst.max(d);
    let hs = out.hidden_states.unwrap();
    assert_eq!(hs.len(), layers + 1);
    for (j, h) in hs.iter().enumerate() {
        let d = max_abs_diff(
            &(h * &mask),
            &(&g[&format!("{prefix}hidden_states.{j}")] * &mask),
        );
        assert!(d <= 1e-4, "{prefix}hidden_states.{j} differs by {d}");
        worst = worst.max(d);
    }
    worst
}

#[test]
fn minilm_forward_matches_hf() {
    let (model, _vs) = load(&minilm_dir());
    let g = read(&golden("minilm.safetensors"));
    let worst = (0..4)
        .map(|i| check_outputs(&model, &g, &format!("{i}."), 6))
        .fold(0.0, f64::max);
    println!("all-MiniLM-L6-v2: max |stab − HF| = {worst:e}");
}

#[test]
fn tiny_legacy_checkpoint_matches_hf_on_a_padded_batch() {
    let (model, _vs) = load(&golden("tiny"));
    assert_eq!(model.config().hidden_act, stab_bert::Activation::GeluNew);
    let g = read(&golden("tiny.safetensors"));
    let worst = check_outputs(&model, &g, "", 2);
    println!("tiny random BERT: max |stab − HF| = {worst:e}");
}

#[test]
fn a_bf16_checkpoint_is_converted_to_the_model_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let src = golden("tiny");
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    let bf16: Vec<(String, Tensor)> = Tensor::read_safetensors(src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.to_kind(tch::Kind::BFloat16)))
        .collect();
    Tensor::write_safetensors(&bf16, dir.path().join("model.safetensors")).unwrap();
    let (model, vs) = load(dir.path());
    assert!(vs
        .variables()
        .values()
        .all(|t| t.kind() == tch::Kind::Float));
    // bf16 keeps ~3 significant digits: outputs stay close to the fp32 checkpoint's.
    let g = read(&golden("tiny.safetensors"));
    let input = EncoderInput {
        input_ids: &g["input_ids"],
        token_type_ids: Some(&g["token_type_ids"]),
        attention_mask: Some(&g["attention_mask"]),
    };
    let out = tch::no_grad(|| model.forward_t(&input, false, false));
    let d = max_abs_diff(&out.pooled_output, &g["pooled_output"]);
    assert!(d < 5e-2, "bf16 weights moved the pooled output by {d}");
}

#[test]
fn tokenizer_matches_hf_fast_tokenizer() {
    let text = std::fs::read_to_string(golden("tokens.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let dir = minilm_dir();
    let mut by_len: HashMap<usize, Tokenizer> = HashMap::new();
    for c in &cases {
        let max_length = c["max_length"].as_u64().unwrap() as usize;
        let tok = by_len
            .entry(max_length)
            .or_insert_with(|| Tokenizer::from_dir(&dir, true, max_length, None).unwrap());
        let a = c["a"].as_str().unwrap();
        let b = c["b"].as_str();
        let e = tok.encode(a, b).unwrap();
        let ints = |k: &str| -> Vec<i64> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            e.ids,
            ints("input_ids"),
            "ids of {a:?} / {b:?} at {max_length}"
        );
        assert_eq!(
            e.type_ids,
            ints("token_type_ids"),
            "type ids of {a:?} / {b:?}"
        );
        assert_eq!(
            e.attention_mask,
            ints("attention_mask"),
            "mask of {a:?} / {b:?}"
        );
    }
    // The batch path gives the same encodings.
    let tok = &by_len[&128];
    let inputs: Vec<(&str, Option<&str>)> = cases
        .iter()
        .filter(|c| c["max_length"] == 128)
        .map(|c| (c["a"].as_str().unwrap(), c["b"].as_str()))
        .collect();
    let batch = tok.encode_batch(&inputs).unwrap();
    for ((a, b), e) in inputs.iter().zip(&batch) {
        assert_eq!(e, &tok.encode(a, *b).unwrap());
    }
}

#[test]
fn vocab_txt_fallback_tokenises_like_tokenizer_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(minilm_dir().join("vocab.txt"), dir.path().join("vocab.txt")).unwrap();
    let from_vocab = Tokenizer::from_dir(dir.path(), true, 128, None).unwrap();
    let from_json = Tokenizer::from_dir(&minilm_dir(), true, 128, None).unwrap();
    for (a, b) in [
        ("Hello World, it's a TEST.", None),
        ("Crème brûlée", Some("naïve café 中文")),
    ] {
        assert_eq!(
            from_vocab.encode(a, b).unwrap(),
            from_json.encode(a, b).unwrap()
        );
    }
}

#[test]
fn bad_model_dirs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = Checkpoint::open(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");

    let config = serde_json::to_string(&EncoderConfig::tiny(100)).unwrap();
    std::fs::write(dir.path().join("config.json"), &config).unwrap();
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    std::fs::write(
        dir.path().join("model.safetensors"),
        b"not a safetensors file",
    )
    .unwrap();
    let ck = Checkpoint::open(dir.path()).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let _m = BertModel::new(vs.root(), &ck.config);
    let err = load_safetensors(&mut vs, &ck.weights, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("corrupt"), "{err}");

    std::fs::write(dir.path().join("config.json"), r#"{"vocab_size": 3}"#).unwrap();
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("hidden_size"), "{err}");
}

#[test]
fn loading_is_strict_about_missing_tensors_and_shapes() {
    // A checkpoint of 2 layers loaded into a 3-layer model: layer 2 is missing.
    let dir = tempfile::tempdir().unwrap();
    let tiny = EncoderConfig::tiny(1000);
    stab_bert::checkpoint::write_random_checkpoint(dir.path(), &tiny, &minilm_dir(), 7).unwrap();
    let mut three = tiny.clone();
    three.num_hidden_layers = 3;
    let mut vs = VarStore::new(Device::Cpu);
    let _m = BertModel::new(vs.root(), &three);
    let err = load_safetensors(&mut vs, &dir.path().join("model.safetensors"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("encoder.layer.2.attention.self.query.weight"),
        "{err}"
    );

    let mut wide = tiny.clone();
    wide.intermediate_size = 65;
    let mut vs = VarStore::new(Device::Cpu);
    let _m = BertModel::new(vs.root(), &wide);
    let err = load_safetensors(&mut vs, &dir.path().join("model.safetensors"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("intermediate.dense") && err.contains("65"),
        "{err}"
    );

    // A new head may be missing when allowed.
    let mut vs = VarStore::new(Device::Cpu);
    let _m = BertModel::new(vs.root(), &tiny);
    let _h = stab_bert::LinearHead::new(vs.root(), 32, 2, 0.1, 0.02);
    let r = load_safetensors(
        &mut vs,
        &dir.path().join("model.safetensors"),
        &["classifier."],
    )
    .unwrap();
    assert_eq!(r.initialised, vec!["classifier.bias", "classifier.weight"]);
}

#[test]
fn dropout_is_active_only_in_training() {
    let (model, _vs) = load(&golden("tiny"));
    let g = read(&golden("tiny.safetensors"));
    let input = EncoderInput {
        input_ids: &g["input_ids"],
        token_type_ids: None,
        attention_mask: Some(&g["attention_mask"]),
    };
    tch::manual_seed(3);
    let a = model.forward_t(&input, true, false).pooled_output;
    let b = model.forward_t(&input, true, false).pooled_output;
    let e1 = model.forward_t(&input, false, false).pooled_output;
    let e2 = model.forward_t(&input, false, false).pooled_output;
    assert!(
        max_abs_diff(&a, &b) > 1e-6,
        "training forward passes should differ"
    );
    assert_eq!(max_abs_diff(&e1, &e2), 0.0);
}
