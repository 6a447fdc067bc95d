//! Findings at the top of every report, and plots against a swept numeric axis.

use stab_stats::counts::fisher_exact;
use stab_stats::synthetic::record;
use stab_stats::*;

use super::util::*;

/// A CSV of groups and scores; a score ≤ 0.5 fails against the baseline 0.5.
fn csv_input(
    dir: &std::path::Path,
    groups: &[(&str, &[f64])],
    baseline: Option<f64>,
) -> ReportInput {
    let p = dir.join("scores.csv");
    let mut text = String::from("group,score\n");
    for (g, scores) in groups {
        for s in *scores {
            text += &format!("\"{g}\",{s}\n");
        }
    }
    std::fs::write(&p, text).unwrap();
    load_scores_csv(&p, "group", "score", baseline).unwrap()
}

fn sentences(s: &ReportSummary) -> String {
    s.findings.sentences.join("\n")
}

const GOOD: [f64; 10] = [0.70, 0.71, 0.69, 0.72, 0.68, 0.73, 0.70, 0.71, 0.69, 0.74];
const BAD: [f64; 10] = [0.50, 0.40, 0.45, 0.50, 0.30, 0.50, 0.42, 0.49, 0.66, 0.70];

#[test]
fn findings_state_failure_rates_and_the_tests_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv_input(dir.path(), &[("a", &GOOD), ("b", &BAD)], Some(0.5));
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    let f = sentences(&s);
    // 8 of 10 failed in b, none in a: Fisher p = 0.000714 (SciPy: fisher_exact([[0,10],[8,2]])).
    let p = fisher_exact([[0, 10], [8, 2]]).p;
    assert!((p - 0.000714).abs() < 1e-5, "{p}");
    assert!(
        f.contains("`a` 0 of 10 (0%, 0%–28%); `b` 8 of 10 (80%, 49%–94%)"),
        "{f}"
    );
    assert!(f.contains("Wilson"), "{f}");
    assert!(f.contains("`b` fails more often than `a`: 80% vs 0% of runs (Fisher's exact test, two-sided, p = 7.14e-4)"), "{f}");
    assert!(f.contains("Brown–Forsythe test, p = "), "{f}");
    assert!(
        f.contains("almost stochastically dominates") || f.contains("Neither"),
        "{f}"
    );
    // At the top of both documents, and in report.json.
    let md = read(&out.path().join("report.md"));
    let first_h2 = md.find("\n## ").unwrap();
    assert!(md[first_h2..].starts_with("\n## Findings\n"), "{md}");
    assert!(md.contains("`b` fails more often than `a`"));
    let html = read(&out.path().join("report.html"));
    let h2 = html.find("<h2>").unwrap();
    assert!(
        html[h2..].starts_with("<h2>Findings</h2>\n<ul class=\"findings\">"),
        "{html}"
    );
    assert!(html.contains("<code>b</code> fails more often than <code>a</code>"));
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.path().join("report.json"))).unwrap();
    assert_eq!(json["findings"]["alpha"], 0.05);
    assert_eq!(json["groups"][1]["judged"], 10);
    assert!(json["comparisons"][0]["fisher"]["p"].as_f64().unwrap() < 0.001);
    let csv = read(&out.path().join("comparisons.csv"));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",fisher_odds_ratio,fisher_p,levene_mean_p_holm,levene_median_p_holm,welch_p_holm,mannwhitney_p_holm,fisher_p_holm"),
        "{csv}"
    );
    assert!(terminal_table(&s).starts_with("Findings:\n"));
}

#[test]
fn no_significant_difference_is_not_called_equal() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv_input(
        dir.path(),
        &[("a", &[0.7, 0.4, 0.7]), ("b", &[0.4, 0.7, 0.4])],
        Some(0.5),
    );
    let s = summarize(&input, &opts());
    let f = sentences(&s);
    assert!(
        f.contains("No significant difference in failure rate between `a` (33%) and `b` (67%): Fisher's exact test, two-sided, p = 1.0000; with 3 and 3 runs this is not evidence that the rates are equal."),
        "{f}"
    );
}

#[test]
fn degenerate_inputs_give_honest_sentences() {
    let dir = tempfile::tempdir().unwrap();
    // All failed in both groups.
    let s = summarize(
        &csv_input(
            dir.path(),
            &[("a", &[0.1, 0.2]), ("b", &[0.3, 0.4])],
            Some(0.5),
        ),
        &opts(),
    );
    assert!(sentences(&s).contains("Every run failed in both `a` and `b` (Fisher p = 1.0000)"));
    // None failed in either.
    let s = summarize(
        &csv_input(
            dir.path(),
            &[("a", &[0.6, 0.7]), ("b", &[0.8, 0.9])],
            Some(0.5),
        ),
        &opts(),
    );
    assert!(
        sentences(&s).contains("No run failed in `a` or `b`"),
        "{}",
        sentences(&s)
    );
    // No baseline: no verdicts, nothing claimed about failures.
    let s = summarize(
        &csv_input(dir.path(), &[("a", &GOOD), ("b", &BAD)], None),
        &opts(),
    );
    let f = sentences(&s);
    assert!(f.contains("Failure rates are not given"), "{f}");
    assert!(
        f.contains("Failure rates of `a` and `b` were not compared: no baseline given"),
        "{f}"
    );
    // One group.
    let s = summarize(&csv_input(dir.path(), &[("a", &GOOD)], Some(0.5)), &opts());
    let f = sentences(&s);
    assert!(
        f.contains("`a` 0 of 10") && f.contains("Only one group"),
        "{f}"
    );
    // Two runs per group, constant: both groups collapsed, so their spreads are not compared;
    // ASO is n/a, and the sentences say why.
    let s = summarize(
        &csv_input(
            dir.path(),
            &[("a", &[0.6, 0.6]), ("b", &[0.7, 0.7])],
            Some(0.5),
        ),
        &opts(),
    );
    let f = sentences(&s);
    assert!(
        f.contains(
            "`a` collapsed (every score is 0.6000) and `b` collapsed (every score is 0.7000)"
        ),
        "{f}"
    );
    assert!(!f.contains("varies more"), "{f}");
    assert!(
        f.contains("Almost stochastic order of `a` and `b` was not computed"),
        "{f}"
    );
    // No runs at all.
    let s = summarize(&ReportInput::default(), &opts());
    let f = sentences(&s);
    assert!(
        f.contains("No runs: nothing to report.") && f.contains("No group has a scored run"),
        "{f}"
    );
}

#[test]
fn findings_name_groups_by_what_sets_them_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        "task=SST-2,optimizer.bias_correction=false",
        "task=SST-2,optimizer.bias_correction=true",
    );
    let input = csv_input(dir.path(), &[(a, &GOOD), (b, &BAD)], Some(0.5));
    let s = summarize(&input, &opts());
    let f = sentences(&s);
    assert!(
        f.contains("every group has `task=SST-2`")
            && f.contains("`bias_correction=true` fails more often than `bias_correction=false`"),
        "{f}"
    );
    assert!(!f.contains("`task=SST-2,"), "{f}");
    // The tables keep the full names.
    assert!(s.groups.iter().any(|g| g.group == a), "{:?}", s.groups);
}

#[test]
fn groups_with_the_same_failure_count_share_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv_input(
        dir.path(),
        &[
            ("a", &[0.7, 0.8, 0.9]),
            ("b", &[0.6, 0.7, 0.8]),
            ("c", &[0.4, 0.7, 0.8]),
            ("d", &[0.7, 0.75, 0.8]),
        ],
        Some(0.5),
    );
    let f = sentences(&summarize(&input, &opts()));
    assert!(
        f.contains("`a`, `b` and `d` 0 of 3 each (0%, 0%–56%); `c` 1 of 3 (33%, "),
        "{f}"
    );
}

#[test]
fn many_groups_use_the_bounded_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("g{i:02}")).collect();
    let scores: Vec<Vec<f64>> = (0..12)
        .map(|i| {
            (0..4)
                .map(|j| 0.6 + 0.01 * i as f64 + 0.003 * j as f64)
                .collect()
        })
        .collect();
    let groups: Vec<(&str, &[f64])> = names
        .iter()
        .zip(&scores)
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    let s = summarize(&csv_input(dir.path(), &groups, Some(0.5)), &opts());
    assert_eq!(s.comparisons.len(), 45);
    let f = sentences(&s);
    // Every group's failure rate, whatever --top-k keeps for the tests.
    assert!(f.contains("`g10` and `g11` 0 of 4 each"), "{f}");
    assert!(f.contains("of the 45 compared pairs"), "{f}");
    assert!(
        f.contains("Holm–Bonferroni adjusted over these 45 pairs"),
        "{f}"
    );
    assert!(f.contains("10 groups with the highest mean"), "{f}");
    assert!(s.findings.sentences.len() <= 7, "{f}");
}

fn with_lr(group: &str, seed: u64, lr: f64) -> stab_spec::RunRecord {
    let mut r = record(&run(group, seed, seed), seed, 5);
    r.spec.learning_rate = lr;
    r.run_id = format!("{group}-{seed}-{lr}");
    r
}

#[test]
fn swept_learning_rate_gets_failure_and_score_plots() {
    let recs: Vec<_> = ["devlin", "mosbach"]
        .iter()
        .flat_map(|g| {
            [1e-5, 2e-5, 5e-5]
                .into_iter()
                .flat_map(move |lr| (0..4).map(move |s| with_lr(g, s, lr)))
        })
        .collect();
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    assert_eq!(input.runs[0].settings["learning_rate"], 1e-5);
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    for f in ["failure_vs_learning_rate", "scores_vs_learning_rate"] {
        assert!(s.files.contains(&format!("plots/{f}.png")), "{:?}", s.files);
        assert!(out.path().join(format!("plots/{f}.svg")).is_file());
    }
    let svg = read(&out.path().join("plots/failure_vs_learning_rate.svg"));
    assert!(
        svg.contains("learning rate (log scale)") && svg.contains("2e-5"),
        "{svg}"
    );
    assert!(svg.contains("devlin: failed / runs"));
    let md = read(&out.path().join("report.md"));
    assert!(md.contains(
        "![Failure rate vs. learning rate (log scale)](plots/failure_vs_learning_rate.png)"
    ));
}

#[test]
fn a_setting_that_only_differs_between_groups_is_not_an_axis() {
    // Devlin and Mosbach differ in epochs (3 vs 20) but each group has one value: plotting
    // against epochs would credit epochs with what the recipes do.
    let dir = sweep_dir(&two_recipes(3));
    let out = tempfile::tempdir().unwrap();
    let s = write_report(
        out.path(),
        &load_results(dir.path(), None).unwrap(),
        &opts(),
    )
    .unwrap();
    assert!(!s.files.iter().any(|f| f.contains("_vs_")), "{:?}", s.files);
    // Grouped by the setting itself, it is one.
    let input = load_results(dir.path(), Some("epochs")).unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert!(
        s.files.iter().any(|f| f == "plots/failure_vs_epochs.png"),
        "{:?}",
        s.files
    );
}

#[test]
fn numeric_csv_group_is_an_axis() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lr.csv");
    let mut text = String::from("lr,acc\n");
    for (i, lr) in ["1e-5", "3e-5", "1e-4"].iter().enumerate() {
        for j in 0..4 {
            text += &format!("{lr},{}\n", 0.7 - 0.1 * i as f64 + 0.01 * j as f64);
        }
    }
    std::fs::write(&p, text).unwrap();
    let input = load_scores_csv(&p, "lr", "acc", Some(0.55)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert!(
        s.files.iter().any(|f| f == "plots/failure_vs_lr.png"),
        "{:?}",
        s.files
    );
    assert!(s.files.iter().any(|f| f == "plots/scores_vs_lr.svg"));
}
