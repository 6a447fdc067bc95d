//! A report never calls a degenerate test significant. SciPy's answers on each
//! degenerate input are recorded by `tests/golden/make_degenerate.py` (→ `degenerate.json`);
//! stab must name the degenerate case where SciPy returns an artifact, and agree with SciPy on
//! the near-degenerate inputs that are valid.

use serde_json::Value;
use stab_stats::*;

use super::util::*;

fn golden() -> Value {
    serde_json::from_str(include_str!("../golden/degenerate.json")).unwrap()
}

/// A golden number; "inf", "-inf" and "nan" are stored as strings.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap(),
    }
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

#[track_caller]
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-12),
        "{what}: got {got:e}, SciPy {want:e}"
    );
}

/// SciPy's p-value (or statistic) for this case is an artifact: non-finite or "< 1e-20".
#[track_caller]
fn scipy_artifact(pair: &Value, what: &str) {
    let p = num(&pair[pair.as_array().unwrap().len() - 1]);
    assert!(
        !p.is_finite() || p < 1e-20,
        "{what}: SciPy gave p = {p}, not an artifact: update the rule or the case"
    );
}

type Expect = Option<DegenerateKind>;

struct Case {
    name: &'static str,
    levene: Expect,
    welch: Expect,
    mann_whitney: Expect,
    aso: Expect,
}

const CASES: [Case; 8] = {
    use DegenerateKind::*;
    [
        Case {
            name: "two_per_group",
            levene: Some(ZeroWithinSpread),
            welch: None,
            mann_whitney: None,
            aso: None,
        },
        Case {
            name: "two_per_group_rounding",
            levene: Some(ZeroWithinSpread),
            welch: None,
            mann_whitney: None,
            aso: None,
        },
        Case {
            name: "constant_groups",
            levene: Some(ConstantGroups),
            welch: Some(ConstantGroups),
            mann_whitney: None,
            aso: Some(ConstantGroups),
        },
        Case {
            name: "constant_groups_rounding",
            levene: Some(ConstantGroups),
            welch: Some(ConstantGroups),
            mann_whitney: None,
            aso: Some(ConstantGroups),
        },
        Case {
            name: "all_tied",
            levene: Some(ConstantGroups),
            welch: Some(ConstantGroups),
            mann_whitney: Some(AllTied),
            aso: Some(ConstantGroups),
        },
        Case {
            name: "single_run",
            levene: Some(TooFewRuns),
            welch: Some(TooFewRuns),
            mann_whitney: None,
            aso: None,
        },
        Case {
            name: "one_constant",
            levene: None,
            welch: None,
            mann_whitney: None,
            aso: None,
        },
        Case {
            name: "three_vs_two",
            levene: None,
            welch: None,
            mann_whitney: None,
            aso: None,
        },
    ]
};

#[test]
fn degenerate_inputs_are_named_and_valid_ones_match_scipy() {
    let g = golden();
    for case in &CASES {
        let c = &g["cases"][case.name];
        let (a, b) = (vec_of(&c["a"]), vec_of(&c["b"]));
        let name = case.name;
        for (center, key) in [
            (LeveneCenter::Mean, "levene_mean"),
            (LeveneCenter::Median, "levene_median"),
        ] {
            let got = levene(&[&a, &b], center);
            match case.levene {
                Some(kind) => {
                    // Where SciPy still returns a finite, moderate p (one run per group), stab
                    // deliberately differs: one run has no spread to compare.
                    if kind != DegenerateKind::TooFewRuns {
                        scipy_artifact(&c[key], &format!("{name} {key}"));
                    }
                    assert_eq!(got.unwrap_err().kind, kind, "{name} {key}");
                }
                None => {
                    let r = got.unwrap_or_else(|d| panic!("{name} {key}: {d}"));
                    close(r.statistic, num(&c[key][0]), &format!("{name} {key} F"));
                    close(r.p, num(&c[key][1]), &format!("{name} {key} p"));
                }
            }
        }
        match case.welch {
            Some(kind) => {
                scipy_artifact(&c["welch"], &format!("{name} welch"));
                assert_eq!(welch(&a, &b).unwrap_err().kind, kind, "{name} welch");
            }
            None => {
                let w = welch(&a, &b).unwrap_or_else(|d| panic!("{name} welch: {d}"));
                close(w.t, num(&c["welch"][0]), &format!("{name} welch t"));
                close(w.df, num(&c["welch"][1]), &format!("{name} welch df"));
                close(w.p, num(&c["welch"][2]), &format!("{name} welch p"));
            }
        }
        match case.mann_whitney {
            Some(kind) => {
                // SciPy: p = 1 when every score is tied (no artifact, but no information).
                assert_eq!(num(&c["mannwhitney"][1]), 1.0, "{name}");
                assert_eq!(mann_whitney(&a, &b).unwrap_err().kind, kind, "{name} M-W");
            }
            None => {
                let m = mann_whitney(&a, &b).unwrap_or_else(|d| panic!("{name} M-W: {d}"));
                close(m.u, num(&c["mannwhitney"][0]), &format!("{name} U"));
                close(m.p, num(&c["mannwhitney"][1]), &format!("{name} M-W p"));
            }
        }
        let opts = AsoOptions {
            seed: 7,
            ..Default::default()
        };
        let deepsig = num(&c["aso_eps_min"]);
        match case.aso {
            Some(kind) => {
                // deepsig: ε_min equals the violation ratio (no bootstrap spread), i.e. 0, ½
                // or 1 − dt-ish: a verdict with no confidence behind it.
                let vr = violation_ratio(&a, &b, 0.005).unwrap();
                assert!((deepsig - vr).abs() < 1e-12, "{name}: {deepsig} vs {vr}");
                assert_eq!(aso(&a, &b, &opts, 0).unwrap_err().kind, kind, "{name} ASO");
            }
            None => {
                let r = aso(&a, &b, &opts, 0).unwrap_or_else(|d| panic!("{name} ASO: {d}"));
                assert!(
                    (r.eps_min_ab - deepsig).abs() < 0.1,
                    "{name}: ours {} deepsig {deepsig}",
                    r.eps_min_ab
                );
            }
        }
    }
}

#[test]
fn seed_anova_of_constant_scores_is_degenerate() {
    let g = golden();
    let c = &g["anova_constant"];
    assert!(num(&c["share_init"]).is_nan(), "numpy gives 0/0");
    let runs: Vec<(u64, u64, f64)> = c["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap(), num(&r[2])))
        .collect();
    let d = seed_variance(&runs).unwrap_err();
    assert_eq!(d.kind, DegenerateKind::ConstantGroups);
    // Constant scores whose mean is inexact (0.1 · 3 / 3 ≠ 0.1) must not give noise shares.
    let runs: Vec<(u64, u64, f64)> = (0..3)
        .flat_map(|i| (0..3).map(move |d| (i, d, 0.1)))
        .collect();
    assert!(seed_variance(&runs).is_err());
}

fn csv_report(text: &str) -> (tempfile::TempDir, ReportSummary) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scores.csv");
    std::fs::write(&p, text).unwrap();
    let input = load_scores_csv(&p, "frozen", "acc", Some(0.527)).unwrap();
    let out = dir.path().join("report");
    let s = write_report(&out, &input, &opts()).unwrap();
    (dir, s)
}

/// The reported case: a freeze-depth sweep with 2 seeds per depth printed Levene and
/// Brown–Forsythe p = 0.00e0.
#[test]
fn two_runs_per_group_report_says_degenerate_everywhere() {
    let (dir, s) = csv_report(
        "frozen,seed,acc\n0,1,0.61\n0,2,0.66\n4,1,0.52\n4,2,0.71\n8,1,0.5270758\n8,2,0.6353791\n",
    );
    assert_eq!(s.comparisons.len(), 3);
    for c in &s.comparisons {
        let d = c.result("levene_mean").unwrap().as_ref().unwrap_err();
        assert_eq!(d.kind, DegenerateKind::ZeroWithinSpread);
        assert!(c.result("levene_median").unwrap().is_err());
        assert!(c.result("welch").unwrap().is_ok());
    }
    let out = dir.path().join("report");
    let t = terminal_table(&s);
    assert!(
        t.contains("n/a: degenerate (zero within-group spread)"),
        "{t}"
    );
    for f in ["report.md", "report.html", "comparisons.csv", "report.json"] {
        let text = read(&out.join(f));
        assert!(text.contains("degenerate"), "{f}: {text}");
        assert!(
            !text.contains("0.00e0") && !text.contains("inf,"),
            "{f}: {text}"
        );
    }
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("n/a: degenerate (2 runs per group: |x − centre| is equal within each group"),
        "{md}"
    );
    let csv = read(&out.join("comparisons.csv"));
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with("0,4,,\"n/a: degenerate (2 runs per group"),
        "{row}"
    );
    let json: Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let c0 = &json["comparisons"][0];
    assert_eq!(
        c0["levene_mean"]["degenerate"]["kind"], "zero-within-spread",
        "{c0}"
    );
    assert!(c0["welch"]["p"].is_number(), "{c0}");
    // The JSON reads back into the same summary.
    let back: ReportSummary = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert_eq!(back.comparisons, s.comparisons);
}

/// A sweep where one group fails entirely: every run at the majority baseline.
#[test]
fn constant_groups_are_not_significant() {
    let (dir, s) = csv_report(
        "frozen,seed,acc\n0,1,0.527\n0,2,0.527\n0,3,0.527\n12,1,0.6\n12,2,0.6\n12,3,0.6\n",
    );
    let c = &s.comparisons[0];
    for t in [
        c.result("levene_mean").unwrap(),
        c.result("levene_median").unwrap(),
    ] {
        assert_eq!(t.as_ref().unwrap_err().kind, DegenerateKind::ConstantGroups);
    }
    assert_eq!(
        c.result("welch").unwrap().as_ref().unwrap_err().kind,
        DegenerateKind::ConstantGroups
    );
    assert_eq!(
        c.result("aso").unwrap().as_ref().unwrap_err().kind,
        DegenerateKind::ConstantGroups
    );
    let md = read(&dir.path().join("report/report.md"));
    let row = md.lines().find(|l| l.starts_with("| 0 | 12 |")).unwrap();
    assert!(!row.contains("≻"), "{row}");
    assert!(
        row.contains("n/a: degenerate (both groups are constant"),
        "{row}"
    );
}
