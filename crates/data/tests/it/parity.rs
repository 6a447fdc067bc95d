//! Parity with scikit-learn, SciPy and seqeval to 1e-9 on vectors from golden/make_golden.py.

use serde_json::Value;
use stab_data::{metrics, task, Label};

const TOL: f64 = 1e-9;

fn golden() -> Value {
    let text = include_str!("../golden/metrics_golden.json");
    serde_json::from_str(text).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn close(name: &str, metric: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL && got.is_finite(),
        "{name} {metric}: got {got}, reference {want}"
    );
}

#[test]
fn classification_matches_sklearn() {
    let g = golden();
    let cases = g["classification"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let gold: Vec<usize> = c["gold"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let pred: Vec<usize> = c["pred"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        close(
            name,
            "accuracy",
            metrics::accuracy(&gold, &pred),
            f(&c["accuracy"]),
        );
        close(name, "mcc", metrics::matthews(&gold, &pred), f(&c["mcc"]));
        if let Some(want) = c.get("f1") {
            close(name, "f1", metrics::f1(&gold, &pred, 1), f(want));
        }
        // The same through a task of matching arity.
        let t = task(if c["n_classes"] == 2 { "MRPC" } else { "MNLI" }).unwrap();
        let lab = |v: &[usize]| v.iter().map(|&x| Label::Class(x)).collect::<Vec<_>>();
        let m = t.evaluate(&lab(&gold), &lab(&pred)).unwrap();
        close(name, "task mcc", m["mcc"], f(&c["mcc"]));
        if let Some(want) = c.get("f1") {
            close(
                name,
                "task combined",
                m["combined"],
                (f(want) + f(&c["accuracy"])) / 2.0,
            );
        }
    }
}

#[test]
fn correlations_match_scipy() {
    let g = golden();
    let cases = g["regression"].as_array().unwrap();
    assert!(
        cases.iter().any(|c| c["reference_nan"] == true),
        "constant cases present"
    );
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let x: Vec<f64> = c["gold"].as_array().unwrap().iter().map(f).collect();
        let y: Vec<f64> = c["pred"].as_array().unwrap().iter().map(f).collect();
        close(name, "pearson", metrics::pearson(&x, &y), f(&c["pearson"]));
        close(
            name,
            "spearman",
            metrics::spearman(&x, &y),
            f(&c["spearman"]),
        );
        let t = task("STS-B").unwrap();
        let lab = |v: &[f64]| v.iter().map(|&s| Label::Score(s)).collect::<Vec<_>>();
        let m = t.evaluate(&lab(&x), &lab(&y)).unwrap();
        close(
            name,
            "combined",
            m["combined"],
            (f(&c["pearson"]) + f(&c["spearman"])) / 2.0,
        );
    }
}

#[test]
fn spans_match_seqeval() {
    let g = golden();
    let cases = g["seqeval"].as_array().unwrap();
    let conll = task("conll2003").unwrap();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let seqs = |k: &str| -> Vec<Vec<String>> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_string())
                        .collect()
                })
                .collect()
        };
        let (gold, pred) = (seqs("gold"), seqs("pred"));
        let s = metrics::span_scores(&gold, &pred);
        close(name, "precision", s.precision, f(&c["precision"]));
        close(name, "recall", s.recall, f(&c["recall"]));
        close(name, "f1", s.f1, f(&c["f1"]));
        // Through the CoNLL task when every tag is in its vocabulary.
        let ids = |v: &[Vec<String>]| -> Option<Vec<Vec<usize>>> {
            v.iter()
                .map(|s| s.iter().map(|t| conll.label_id(t)).collect())
                .collect()
        };
        if let (Some(gi), Some(pi)) = (ids(&gold), ids(&pred)) {
            let m = conll.evaluate_tags(&gi, &pi).unwrap();
            close(name, "task f1", m["f1"], f(&c["f1"]));
            close(name, "task accuracy", m["accuracy"], f(&c["accuracy"]));
        }
    }
}
