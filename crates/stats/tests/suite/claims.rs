//! Claims that survive review: like scores compared with like, p-values adjusted over the
//! family of pairs (Holm, checked against statsmodels), equivalence only from TOST, collapsed
//! groups said as such, every group's failures reported, diverged runs failed by definition,
//! and groups on different evaluation sets never compared.

use std::collections::BTreeMap;

use stab_spec::RunStatus;
use stab_stats::synthetic::record;
use stab_stats::*;

use super::util::*;

fn golden() -> serde_json::Value {
    let text = include_str!("../golden/family.json");
    serde_json::from_str(text).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: {a} vs statsmodels {b}"
    );
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn holm_matches_statsmodels_multipletests() {
    for case in golden()["holm"].as_array().unwrap() {
        let (p, expect) = (floats(&case["p"]), floats(&case["holm"]));
        for (i, (got, want)) in holm(&p).iter().zip(&expect).enumerate() {
            close(*got, *want, &format!("holm {p:?}[{i}]"));
        }
    }
}

#[test]
fn tost_matches_statsmodels_ttost_ind_unequal() {
    for case in golden()["tost"].as_array().unwrap() {
        let (a, b) = (floats(&case["a"]), floats(&case["b"]));
        let r = tost(&a, &b, case["margin"].as_f64().unwrap()).unwrap();
        for (got, key) in [
            (r.p, "p"),
            (r.t_lower, "t_lower"),
            (r.p_lower, "p_lower"),
            (r.t_upper, "t_upper"),
            (r.p_upper, "p_upper"),
            (r.df, "df"),
        ] {
            close(got, case[key].as_f64().unwrap(), key);
        }
    }
}

/// A CSV input of the golden report's four groups.
fn golden_groups_input(g: &serde_json::Value) -> (tempfile::TempDir, ReportInput) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("group,score\n");
    for (label, scores) in g["groups"].as_object().unwrap() {
        for s in floats(scores) {
            text += &format!("{label},{s}\n");
        }
    }
    let path = dir.path().join("scores.csv");
    std::fs::write(&path, text).unwrap();
    let input = load_scores_csv(&path, "group", "score", Some(0.5)).unwrap();
    (dir, input)
}

/// report.json carries each test's Holm-adjusted p over the pairs compared, and TOST's p,
/// equal to statsmodels' on the same scores.
#[test]
fn report_json_holm_and_tost_match_statsmodels() {
    let g = golden()["report"].clone();
    let (dir, input) = golden_groups_input(&g);
    let opts = ReportOptions {
        equivalence_margin: Some(g["margin"].as_f64().unwrap()),
        plots: false,
        ..opts()
    };
    let out = dir.path().join("report");
    write_report(&out, &input, &opts).unwrap();
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let comparisons = json["comparisons"].as_array().unwrap();
    let pairs = g["pairs"].as_array().unwrap();
    assert_eq!(comparisons.len(), pairs.len());
    for (i, (c, pair)) in comparisons.iter().zip(pairs).enumerate() {
        assert_eq!((&c["a"], &c["b"]), (&pair[0], &pair[1]));
        for (key, field, golden_key) in [
            ("welch", "p", "welch_p"),
            ("welch", "p_holm", "welch_p_holm"),
            ("tost", "p", "tost_p"),
            ("tost", "p_holm", "tost_p_holm"),
        ] {
            let got = c[key][field]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}.{field} in {c}"));
            close(
                got,
                g[golden_key][i].as_f64().unwrap(),
                &format!("{key}.{field} pair {i}"),
            );
        }
    }
    let csv = read(&out.join("comparisons.csv"));
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with("welch_p_holm,mannwhitney_p_holm,fisher_p_holm,tost_p_holm"),
        "{header}"
    );
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("Holm–Bonferroni adjusted over the 6 pairs"),
        "{md}"
    );
    // The findings decide on the adjusted p: a vs c is p = 0.0129 raw, 0.0563 adjusted.
    let s = summarize(&input, &opts);
    let text = s.findings.sentences.join("\n");
    assert!(!text.contains("`a` vs `c` (p = 0.0129"), "{text}");
    assert!(
        text.contains("`c` vs `d` (p = 0.0030, Holm-adjusted 0.0180)"),
        "{text}"
    );
}

/// Without a margin a non-significant mean difference is "inconclusive" with the smallest
/// difference the data can exclude; with one, TOST says whether the groups are equivalent.
#[test]
fn no_difference_is_claimed_only_by_an_equivalence_test() {
    let g = golden()["report"].clone();
    let (_dir, input) = golden_groups_input(&g);
    let pair = |opts: &ReportOptions| {
        let opts = ReportOptions {
            contrasts: vec![("a".into(), "b".into())],
            plots: false,
            ..opts.clone()
        };
        summarize(&input, &opts).findings.sentences.join("\n")
    };
    let plain = pair(&opts());
    assert!(
        plain.contains("No significant difference in mean score between `a` and `b`"),
        "{plain}"
    );
    let bound = excludable_difference(&floats(&g["groups"]["a"]), &floats(&g["groups"]["b"]), 0.05)
        .unwrap();
    assert!(
        plain.contains(&format!(
            "inconclusive at n = 6 and 6: the data exclude only differences in mean larger than {bound:.4}"
        )),
        "{plain}"
    );
    let wide = pair(&ReportOptions {
        equivalence_margin: Some(0.03),
        ..opts()
    });
    assert!(
        wide.contains("`a` and `b` are equivalent within ±0.03"),
        "{wide}"
    );
    let narrow = pair(&ReportOptions {
        equivalence_margin: Some(0.005),
        ..opts()
    });
    assert!(
        narrow.contains("Equivalence of `a` and `b` within ±0.005 is not shown"),
        "{narrow}"
    );
    assert!(narrow.contains("inconclusive at n = 6 and 6"), "{narrow}");
}

/// Planned contrasts are exactly the pairs compared, and the family Holm adjusts over.
#[test]
fn planned_contrasts_define_the_family() {
    let g = golden()["report"].clone();
    let (_dir, input) = golden_groups_input(&g);
    let opts = ReportOptions {
        contrasts: vec![("a".into(), "c".into()), ("c".into(), "d".into())],
        plots: false,
        ..opts()
    };
    let s = summarize(&input, &opts);
    let pairs: Vec<(&str, &str)> = s
        .comparisons
        .iter()
        .map(|c| (c.a.as_str(), c.b.as_str()))
        .collect();
    assert_eq!(pairs, [("a", "c"), ("c", "d")]);
    let p: Vec<f64> = s
        .comparisons
        .iter()
        .map(|c| {
            c.result("welch").unwrap().as_ref().unwrap()["p"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let expect = holm(&p);
    for (c, e) in s.comparisons.iter().zip(expect) {
        let adj = c.result("welch").unwrap().as_ref().unwrap()["p_holm"]
            .as_f64()
            .unwrap();
        assert_eq!(adj, e);
    }
    assert!(
        s.pair_rule.contains("2 planned contrast(s)"),
        "{}",
        s.pair_rule
    );
    let bad = ReportOptions {
        contrasts: vec![("a".into(), "nope".into())],
        ..opts.clone()
    };
    let out = tempfile::tempdir().unwrap();
    let e = write_report(out.path(), &input, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nope` is not a group of the input"), "{e}");
}

/// A record of `preset` with a final score, a selected score and step.
fn scored(preset: &str, seed: u64, selected: f64, last: f64, step: u64) -> stab_spec::RunRecord {
    let mut run = run(preset, seed, seed);
    run.preset = preset.into();
    let mut r = record(&run, 1, 8);
    r.score = Some(selected);
    r.final_score = Some(last);
    r.selected_step = Some(step);
    r
}

/// On a sweep mixing `devlin` (last checkpoint) and `mosbach` (best on the scored dev set),
/// the default statistics use final scores and say so in report.md, report.html and
/// report.json; `--score selected` compares selected scores with a visible warning.
#[test]
fn mixed_selection_rules_compare_final_scores_by_default() {
    let mut recs = Vec::new();
    for s in 0..4 {
        recs.push(scored(
            "devlin",
            s,
            0.60 + s as f64 * 0.01,
            0.60 + s as f64 * 0.01,
            100,
        ));
        recs.push(scored(
            "mosbach",
            s,
            0.80 + s as f64 * 0.01,
            0.62 + s as f64 * 0.01,
            40,
        ));
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), Some("preset")).unwrap();
    let out = dir.path().join("report");
    let s = write_report(
        &out,
        &input,
        &ReportOptions {
            plots: false,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(s.score.kind, ScoreKind::Final);
    let mosbach = s
        .groups
        .iter()
        .find(|g| g.group == "preset=mosbach")
        .unwrap();
    assert!((mosbach.stats.as_ref().unwrap().mean - 0.635).abs() < 1e-12);
    for f in ["report.md", "report.html"] {
        let text = read(&out.join(f));
        assert!(
            text.contains("final score (the model after the last step) of every run"),
            "{f}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert_eq!(json["score"]["kind"], "final");

    let sel = ReportOptions {
        score: ScoreChoice::Selected,
        plots: false,
        ..opts()
    };
    let out = dir.path().join("selected");
    let s = write_report(&out, &input, &sel).unwrap();
    assert_eq!(s.score.kind, ScoreKind::Selected);
    let mosbach = s
        .groups
        .iter()
        .find(|g| g.group == "preset=mosbach")
        .unwrap();
    assert!((mosbach.stats.as_ref().unwrap().mean - 0.815).abs() < 1e-12);
    assert!(s.score.warning.is_some());
    assert!(
        s.findings.sentences[0].starts_with("Warning: these statistics compare selected scores")
    );
    for f in ["report.md", "report.html"] {
        assert!(
            read(&out.join(f)).contains("Warning: these statistics compare selected scores"),
            "{f}"
        );
    }
}

/// A run whose selected checkpoint is the untrained model (step 0) is flagged "never
/// improved" and counted as failed in the selected-checkpoint column; the step is shown.
#[test]
fn selecting_the_untrained_model_is_never_improved_and_failed() {
    let recs: Vec<_> = (0..3)
        .map(|s| {
            scored(
                "mosbach",
                s,
                0.70,
                0.69,
                if s == 0 { 0 } else { 300 + s * 100 },
            )
        })
        .collect();
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = dir.path().join("report");
    let s = write_report(
        &out,
        &input,
        &ReportOptions {
            plots: false,
            ..opts()
        },
    )
    .unwrap();
    let g = &s.groups[0];
    assert_eq!((g.never_improved, g.failed_selected, g.failed), (1, 1, 0));
    assert_eq!(g.selected_steps, vec![0, 400, 500]);
    let md = read(&out.join("report.md"));
    assert!(md.contains("| 1 (1 never improved) |"), "{md}");
    assert!(
        md.contains("selected step: median (range)") && md.contains("| 400 (0–500) |"),
        "{md}"
    );
    assert!(
        md.contains("never improved: the selected checkpoint is the untrained model"),
        "{md}"
    );
}

/// A diverged run is failed whatever its predictions at divergence score.
#[test]
fn diverged_runs_are_failed_by_definition() {
    let mut r = scored("devlin", 0, 0.9, 0.9, 100);
    r.status = RunStatus::Diverged;
    let ok = scored("devlin", 1, 0.7, 0.7, 100);
    let dir = sweep_dir(&[r, ok]);
    let s = summarize(&load_results(dir.path(), None).unwrap(), &opts());
    assert_eq!((s.groups[0].failed, s.groups[0].failed_selected), (1, 1));
}

/// Every group's failure rate is in the findings, whatever `--top-k` keeps.
#[test]
fn failure_findings_cover_every_group() {
    let mut text = String::from("group,score\n");
    for g in 0..5 {
        for s in 0..4 {
            // group 4 fails most and has the lowest mean.
            let v = if g == 4 && s < 3 {
                0.5
            } else {
                0.6 + g as f64 * 0.01 + s as f64 * 0.003
            };
            let v = if g == 4 && s == 3 { 0.55 } else { v };
            text += &format!("g{g},{v}\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(&path, text).unwrap();
    let input = load_scores_csv(&path, "group", "score", Some(0.5)).unwrap();
    let s = summarize(&input, &ReportOptions { top_k: 2, ..opts() });
    assert!(s.comparisons.iter().all(|c| c.a != "g4" && c.b != "g4"));
    let failures = &s.findings.sentences[0];
    assert!(failures.contains("`g4` 3 of 4"), "{failures}");
}

/// A group whose runs all failed (all at the baseline) is said to have collapsed: its spread
/// is not compared; the spread of the runs that did not fail is given.
#[test]
fn a_collapsed_group_does_not_vary_less() {
    let mut text = String::from("group,score\n");
    for s in 0..5 {
        text += &format!("devlin,0.5\nmosbach,{}\n", 0.55 + s as f64 * 0.02);
    }
    text += "mosbach,0.5\nmosbach,0.5\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(&path, text).unwrap();
    let input = load_scores_csv(&path, "group", "score", Some(0.5)).unwrap();
    let s = summarize(&input, &opts());
    let text = s.findings.sentences.join("\n");
    assert!(!text.contains("varies more"), "{text}");
    assert!(
        text.contains("`devlin` collapsed (every run failed: 5 of 5)"),
        "{text}"
    );
    let m = s.groups.iter().find(|g| g.group == "mosbach").unwrap();
    assert_eq!(m.n_not_failed, 5);
    assert!(m.std_not_failed.is_some());
}

/// Groups scored on the report half of a split dev set are a section of their own: never
/// compared with full-dev groups.
#[test]
fn groups_on_different_evaluation_sets_are_never_compared() {
    let mut recs = Vec::new();
    for s in 0..3 {
        recs.push(scored(
            "devlin",
            s,
            0.6 + s as f64 * 0.01,
            0.6 + s as f64 * 0.01,
            100,
        ));
        let mut z = scored("mosbach", s, 0.7 + s as f64 * 0.01, 0.7, 100);
        z.spec.dev_split_seed = Some(1);
        recs.push(z);
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), Some("preset")).unwrap();
    let sections: BTreeMap<String, ReportInput> = input.sections().into_iter().collect();
    assert_eq!(sections.len(), 2, "{:?}", sections.keys());
    assert!(sections
        .keys()
        .any(|k| k.ends_with("report half of dev (split seed 1)")));
    let s = summarize(&input, &opts());
    assert!(s.comparisons.is_empty());
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("scored on different evaluation sets")),
        "{:?}",
        s.notes
    );
}
