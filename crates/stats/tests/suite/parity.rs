//! Parity with numpy / scipy / deepsig on vectors written by `tests/golden/make_golden.py`
//! (committed as `golden.json`; see the script for versions and how to regenerate).

use serde_json::Value;
use stab_stats::*;

fn golden() -> Value {
    serde_json::from_str(include_str!("../golden/golden.json")).unwrap()
}

fn sample(g: &Value, k: &str) -> Vec<f64> {
    g["samples"][k]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[track_caller]
fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol.max(1e-14),
        "{what}: got {got:e}, want {want:e} (rel tol {rel:e})"
    );
}

#[test]
fn describe_matches_numpy() {
    let g = golden();
    for (k, d) in g["describe"].as_object().unwrap() {
        let s = describe(&sample(&g, k)).unwrap();
        close(s.mean, f(&d["mean"]), 1e-12, "mean");
        close(s.std.unwrap(), f(&d["std"]), 1e-12, "std");
        close(s.median, f(&d["median"]), 1e-12, "median");
        close(s.q1, f(&d["q1"]), 1e-12, "q1");
        close(s.q3, f(&d["q3"]), 1e-12, "q3");
        close(s.min, f(&d["min"]), 0.0, "min");
        close(s.max, f(&d["max"]), 0.0, "max");
    }
}

#[test]
fn expected_max_matches_formulas() {
    let g = golden();
    for (k, curve) in g["expected_max"].as_object().unwrap() {
        let got = expected_max_curve(&sample(&g, k));
        let want = curve.as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (p, w) in got.iter().zip(want) {
            let w = w.as_array().unwrap();
            assert_eq!(p.n as f64, f(&w[0]));
            close(
                p.with_replacement,
                f(&w[1]),
                1e-10,
                "E[max] with replacement",
            );
            close(
                p.without_replacement,
                f(&w[3]),
                1e-10,
                "E[max] without replacement",
            );
            // Standard deviations near 0 (n = N) are cancellation-dominated: absolute check.
            assert!(
                (p.with_replacement_sd - f(&w[2])).abs() < 1e-8,
                "{k} n={}",
                p.n
            );
            assert!(
                (p.without_replacement_sd - f(&w[4])).abs() < 1e-7,
                "{k} n={}",
                p.n
            );
        }
    }
}

#[test]
fn pairwise_tests_match_scipy() {
    let g = golden();
    for pair in g["pairs"].as_array().unwrap() {
        let (a, b) = (
            sample(&g, pair["a"].as_str().unwrap()),
            sample(&g, pair["b"].as_str().unwrap()),
        );
        let what = format!("{} vs {}", pair["a"], pair["b"]);
        let lm = levene(&[&a, &b], LeveneCenter::Mean).unwrap();
        close(
            lm.statistic,
            f(&pair["levene_mean"][0]),
            1e-9,
            &format!("levene F {what}"),
        );
        close(
            lm.p,
            f(&pair["levene_mean"][1]),
            1e-6,
            &format!("levene p {what}"),
        );
        let lmed = levene(&[&a, &b], LeveneCenter::Median).unwrap();
        close(
            lmed.statistic,
            f(&pair["levene_median"][0]),
            1e-9,
            "brown-forsythe F",
        );
        close(
            lmed.p,
            f(&pair["levene_median"][1]),
            1e-6,
            &format!("B-F p {what}"),
        );
        let w = welch(&a, &b).unwrap();
        close(w.t, f(&pair["welch"][0]), 1e-10, "welch t");
        close(w.df, f(&pair["welch"][1]), 1e-10, "welch df");
        close(w.p, f(&pair["welch"][2]), 1e-6, &format!("welch p {what}"));
        let mw = mann_whitney(&a, &b).unwrap();
        close(mw.u, f(&pair["mannwhitney"][0]), 0.0, "U");
        close(
            mw.p,
            f(&pair["mannwhitney"][1]),
            1e-6,
            &format!("M-W p {what}"),
        );
        let vr = violation_ratio(&a, &b, 0.005).unwrap();
        close(
            vr,
            f(&pair["violation_ratio"]),
            1e-10,
            &format!("violation ratio {what}"),
        );
    }
}

#[test]
fn levene_three_groups_matches_scipy() {
    let g = golden();
    let l = &g["levene3"];
    let s: Vec<Vec<f64>> = l["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| sample(&g, k.as_str().unwrap()))
        .collect();
    let refs: Vec<&[f64]> = s.iter().map(Vec::as_slice).collect();
    let r = levene(&refs, LeveneCenter::Median).unwrap();
    close(r.statistic, f(&l["statistic"]), 1e-9, "F");
    close(r.p, f(&l["p"]), 1e-6, "p");
}

#[test]
fn aso_matches_deepsig_within_bootstrap_noise() {
    let g = golden();
    for c in g["aso"].as_array().unwrap() {
        let (a, b) = (
            sample(&g, c["a"].as_str().unwrap()),
            sample(&g, c["b"].as_str().unwrap()),
        );
        let opts = AsoOptions {
            num_comparisons: c["num_comparisons"].as_u64().unwrap() as usize,
            seed: 99,
            ..Default::default()
        };
        let r = aso(&a, &b, &opts, 0).unwrap();
        let want = f(&c["eps_min"]);
        assert!(
            (r.eps_min_ab - want).abs() < 0.05,
            "{} vs {}: ours {} deepsig {want}",
            c["a"],
            c["b"],
            r.eps_min_ab
        );
    }
}

#[test]
fn seed_variance_matches_numpy_anova() {
    let g = golden();
    for case in g["anova"].as_array().unwrap() {
        let runs: Vec<(u64, u64, f64)> = case["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap(), f(&r[2])))
            .collect();
        let v = seed_variance(&runs).unwrap();
        for (got, key) in [
            (v.var_init, "var_init"),
            (v.var_data, "var_data"),
            (v.var_interaction, "var_interaction"),
            (v.var_residual, "var_residual"),
            (v.share_init, "share_init"),
            (v.share_data, "share_data"),
        ] {
            assert!(
                (got - f(&case[key])).abs() < 1e-12,
                "{key}: {got} vs {}",
                case[key]
            );
        }
    }
}

/// Seed groups of 3–8 runs get SciPy's exact Mann–Whitney p
/// (`method="auto"`: exact when a sample has ≤ 8 runs and nothing is tied), not the normal
/// approximation (which is up to 3.6× off on these vectors; `p_asymptotic` in the golden file).
#[test]
fn mann_whitney_is_exact_for_small_samples() {
    let g = golden();
    let cases = g["mannwhitney_small"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for c in cases {
        let v = |k: &str| -> Vec<f64> { c[k].as_array().unwrap().iter().map(f).collect() };
        let (a, b) = (v("a"), v("b"));
        let what = format!("{} vs {} runs", a.len(), b.len());
        let r = mann_whitney(&a, &b).unwrap();
        close(r.u, f(&c["u"]), 0.0, &format!("U {what}"));
        close(r.p, f(&c["p_auto"]), 1e-12, &format!("M-W p {what}"));
        assert_eq!(r.exact, c["exact"].as_bool().unwrap(), "{what}");
    }
}
