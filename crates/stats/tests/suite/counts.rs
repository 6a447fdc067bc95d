//! Parity of Fisher's exact test and the binomial intervals with SciPy, on the tables and
//! counts written by `tests/golden/make_counts.py` (committed as `counts.json`; the script
//! gives the version and how to regenerate).

use serde_json::Value;
use stab_stats::counts::{clopper_pearson, fisher_exact, wilson};

fn golden() -> Value {
    serde_json::from_str(include_str!("../golden/counts.json")).unwrap()
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: got {got:e}, want {want:e}"
    );
}

#[test]
fn binomial_intervals_match_scipy_binomtest() {
    let g = golden();
    for c in g["proportions"].as_array().unwrap() {
        let (k, n, level) = (
            c["k"].as_u64().unwrap(),
            c["n"].as_u64().unwrap(),
            c["level"].as_f64().unwrap(),
        );
        let what = format!("k = {k}, n = {n}, level {level}");
        let w = wilson(k, n, level).unwrap();
        close(
            w.lower,
            c["wilson"][0].as_f64().unwrap(),
            1e-12,
            &format!("Wilson low, {what}"),
        );
        close(
            w.upper,
            c["wilson"][1].as_f64().unwrap(),
            1e-12,
            &format!("Wilson high, {what}"),
        );
        let e = clopper_pearson(k, n, level).unwrap();
        close(
            e.lower,
            c["exact"][0].as_f64().unwrap(),
            1e-10,
            &format!("C–P low, {what}"),
        );
        close(
            e.upper,
            c["exact"][1].as_f64().unwrap(),
            1e-10,
            &format!("C–P high, {what}"),
        );
    }
}

#[test]
fn fisher_exact_matches_scipy() {
    let g = golden();
    for c in g["fisher"].as_array().unwrap() {
        let t: Vec<Vec<u64>> = serde_json::from_value(c["table"].clone()).unwrap();
        let table = [[t[0][0], t[0][1]], [t[1][0], t[1][1]]];
        let r = fisher_exact(table);
        let what = format!("{table:?}");
        close(r.p, c["p"].as_f64().unwrap(), 1e-9, &format!("p, {what}"));
        match c["odds_ratio"].as_f64() {
            Some(want) => close(r.odds_ratio.unwrap(), want, 1e-12, &format!("OR, {what}")),
            // SciPy's inf / nan: undefined here.
            None => assert_eq!(r.odds_ratio, None, "OR, {what}"),
        }
    }
}

#[test]
fn no_runs_have_no_interval() {
    assert!(wilson(0, 0, 0.95).is_none());
    assert!(clopper_pearson(0, 0, 0.95).is_none());
}
