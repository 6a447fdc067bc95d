//! Parity of `stab plan` with statsmodels and SciPy, on the values written by
//! `tests/golden/make_plan.py` (committed as `plan.json`; the script gives the versions and how
//! to regenerate): the noncentral t, Welch and TOST power to 1e-6, the exact Fisher n exactly.

use serde_json::Value;
use stab_stats::plan::power::{nct_cdf, tost_power, welch_power};
use stab_stats::{sample_size, Effect, PlanOptions};

fn golden() -> Value {
    serde_json::from_str(include_str!("../golden/plan.json")).unwrap()
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn u(v: &Value, k: &str) -> usize {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}")) as usize
}

#[test]
fn noncentral_t_cdf_matches_scipy_nct() {
    for c in golden()["nct"].as_array().unwrap() {
        let got = nct_cdf(f(c, "t"), f(c, "df"), f(c, "nc"));
        assert!((got - f(c, "cdf")).abs() < 1e-9, "{c}: got {got}");
    }
}

#[test]
fn welch_power_matches_statsmodels_ttestindpower() {
    for c in golden()["ttest_ind_power"].as_array().unwrap() {
        let n = u(c, "n");
        let got = welch_power(f(c, "diff"), f(c, "sd"), f(c, "sd"), n, n, f(c, "alpha"));
        assert!((got - f(c, "power")).abs() < 1e-6, "{c}: got {got}");
    }
}

#[test]
fn welch_power_with_unequal_spreads_matches_scipy_nct() {
    for c in golden()["welch"].as_array().unwrap() {
        let n = u(c, "n");
        let got = welch_power(
            f(c, "diff"),
            f(c, "sd_a"),
            f(c, "sd_b"),
            n,
            n,
            f(c, "alpha"),
        );
        assert!((got - f(c, "power")).abs() < 1e-6, "{c}: got {got}");
    }
}

#[test]
fn welch_seeds_needed_are_the_ceiling_of_statsmodels_solution() {
    for c in golden()["tt_ind_solve_power"].as_array().unwrap() {
        let e = Effect::Welch {
            mean_a: f(c, "diff"),
            mean_b: 0.0,
            sd_a: f(c, "sd"),
            sd_b: f(c, "sd"),
        };
        let opts = PlanOptions {
            alpha: f(c, "alpha"),
            power: f(c, "power"),
            ..PlanOptions::default()
        };
        let s = sample_size(&e, &opts);
        let want = f(c, "nobs1").ceil() as usize;
        assert_eq!(s.n, Some(want), "{c}");
    }
}

#[test]
fn tost_power_matches_the_exact_integral() {
    for c in golden()["tost"].as_array().unwrap() {
        let n = u(c, "n");
        let got = tost_power(
            f(c, "diff"),
            f(c, "sd_a"),
            f(c, "sd_b"),
            n,
            n,
            f(c, "margin"),
            f(c, "alpha"),
        );
        assert!((got - f(c, "power")).abs() < 1e-6, "{c}: got {got}");
    }
}

#[test]
fn fisher_seeds_needed_match_exact_enumeration_with_scipy() {
    for c in golden()["fisher"].as_array().unwrap() {
        let e = Effect::Fisher {
            p_a: f(c, "p_a"),
            p_b: f(c, "p_b"),
        };
        let opts = PlanOptions {
            alpha: f(c, "alpha"),
            power: f(c, "power"),
            ..PlanOptions::default()
        };
        let s = sample_size(&e, &opts);
        assert_eq!(s.n, Some(u(c, "n")), "{c}");
        assert_eq!(s.n_stable, Some(u(c, "n_stable")), "{c}");
        assert_eq!(s.checked_to, u(c, "checked_to"), "{c}");
        for point in c["curve"].as_array().unwrap() {
            let (n, want) = (
                point[0].as_u64().unwrap() as usize,
                point[1].as_f64().unwrap(),
            );
            let got = e.power(n, opts.alpha);
            assert!((got - want).abs() < 1e-12, "{c} at n = {n}: got {got}");
        }
    }
}
