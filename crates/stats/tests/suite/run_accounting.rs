//! Every run counts (diverged runs scored and marked, failed = final score at or below the
//! baseline), the report counts exactly the runs `stab status` counts, tasks and metrics are
//! never pooled, MNLI matched and mismatched are reported apart, and ASO's confidence
//! adjustment is named for what it is.

use stab_spec::{RunRecord, RunStatus};
use stab_stats::synthetic::record;
use stab_stats::*;
use stab_store::{Expanded, PlannedRun, Store};

use super::util::*;

fn rec(group: &str, seed: u64, score: f64) -> RunRecord {
    let mut r = run(group, seed, seed);
    r.score = Some(score);
    record(&r, 1, 8)
}

/// Writes a sweep store: `expanded.json` listing `expanded`, and each record in
/// `runs/<folder>/record.json`.
fn store(dir: &std::path::Path, expanded: &[&RunRecord], placed: &[(&str, &RunRecord)]) {
    let runs = expanded
        .iter()
        .enumerate()
        .map(|(index, r)| PlannedRun {
            index,
            run_id: r.run_id.clone(),
            group: r.group.clone().unwrap(),
            axes: Vec::new(),
            spec: r.spec.clone(),
        })
        .collect();
    let e = Expanded {
        sweep: "s".into(),
        runs,
    };
    std::fs::write(
        dir.join("expanded.json"),
        serde_json::to_string(&e).unwrap(),
    )
    .unwrap();
    for (folder, r) in placed {
        let d = dir.join("runs").join(folder);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("record.json"), r.to_json()).unwrap();
    }
}

/// Records left from an earlier sweep file and a record in another run's folder are
/// left out and listed; the report counts exactly what `stab status` counts.
#[test]
fn report_counts_what_status_counts() {
    let results = tempfile::tempdir().unwrap();
    let dir = results.path().join("s");
    std::fs::create_dir_all(&dir).unwrap();
    let a: Vec<RunRecord> = (0..3)
        .map(|s| rec("devlin", s, 0.6 + s as f64 * 0.01))
        .collect();
    let mut div = rec("devlin", 3, 0.47);
    div.status = RunStatus::Diverged;
    let stale = rec("devlin", 7, 0.99); // not in the expansion any more
    let foreign = rec("devlin", 8, 0.98); // its record sits in the folder of `pending`
    let pending = rec("devlin", 9, 0.5);
    let mut err = rec("devlin", 10, 0.5);
    err.status = RunStatus::Error;
    err.score = None;
    err.final_score = None;
    let expanded: Vec<&RunRecord> = a.iter().chain([&div, &pending, &err]).collect();
    let mut placed: Vec<(&str, &RunRecord)> = a.iter().map(|r| (r.run_id.as_str(), r)).collect();
    placed.push((&div.run_id, &div));
    placed.push((&stale.run_id, &stale));
    placed.push((&pending.run_id, &foreign));
    placed.push((&err.run_id, &err));
    store(&dir, &expanded, &placed);

    let status = Store::open(&dir).status().unwrap();
    assert_eq!(
        (
            status.ok,
            status.diverged,
            status.error,
            status.unreadable.len()
        ),
        (3, 1, 1, 1)
    );
    // Read from the store itself and from its parent (a results/ folder of sweeps).
    for root in [dir.as_path(), results.path()] {
        let input = load_results(root, None).unwrap();
        let mut ids: Vec<&str> = input.runs.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let mut want: Vec<&str> = a
            .iter()
            .chain([&div, &err])
            .map(|r| r.run_id.as_str())
            .collect();
        want.sort_unstable();
        assert_eq!(
            ids, want,
            "exactly the runs `stab status` counts as finished"
        );
        let c = &input.stores[0];
        assert_eq!(
            (c.total, c.ok, c.diverged, c.error, c.unreadable, c.stale),
            (6, 3, 1, 1, 1, 1)
        );
        let problems: Vec<&str> = input.problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            problems.iter().any(|m| m.starts_with("left out")
                && m.contains(&stale.run_id)
                && m.contains("expanded.json")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|m| m.starts_with("left out")
                && m.contains(&foreign.run_id)
                && m.contains(&pending.run_id)),
            "{problems:?}"
        );
        let out = tempfile::tempdir().unwrap();
        let s = write_report(out.path(), &input, &opts()).unwrap();
        assert_eq!(s.groups[0].runs, 5);
        let md = read(&out.path().join("report.md"));
        assert!(
            md.contains("6 runs in its expansion, as `stab status`: 3 ok, 1 diverged, 1 error"),
            "{md}"
        );
        assert!(
            md.contains("record(s) not in the expansion left out"),
            "{md}"
        );
    }
}

/// RTE accuracy and CoLA MCC are never pooled or compared with each other.
#[test]
fn tasks_and_metrics_are_never_pooled() {
    let mut recs = Vec::new();
    for g in ["devlin", "mosbach"] {
        for s in 0..4 {
            recs.push(rec(g, s, 0.6 + s as f64 * 0.01));
            let mut c = rec(g, s, 0.3 + s as f64 * 0.02);
            c.spec.task = "CoLA".into();
            c.run_id = c.spec.run_id();
            c.metric = "mcc".into();
            c.majority_baseline = Some(0.0);
            recs.push(c);
        }
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    assert_eq!(input.section_labels(), ["CoLA · mcc", "RTE · accuracy"]);
    let s = summarize(&input, &opts());
    assert_eq!(s.groups.len(), 4, "one group per task · metric and recipe");
    for g in &s.groups {
        assert_eq!(g.n, 4, "{}", g.group);
        assert!(g.group.starts_with(&g.section), "{}", g.group);
    }
    assert_eq!(
        s.comparisons.len(),
        2,
        "devlin vs mosbach within each task only"
    );
    for c in &s.comparisons {
        assert_eq!(c.a.split(" | ").next(), c.b.split(" | ").next(), "{c:?}");
    }
    assert!(s.notes.iter().any(|n| n.contains("never pooled")));

    let out = tempfile::tempdir().unwrap();
    let parts = write_sectioned_report(out.path(), &input, &opts(), &NoProgress).unwrap();
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert_eq!(p.summary.groups.len(), 2);
        assert!(p.dir.join("report.md").is_file());
        assert!(p.dir.join("plots/scores_box.png").is_file());
    }
    assert_eq!(parts[0].summary.metric.as_deref(), Some("mcc"));
    let index = read(&out.path().join("report.md"));
    assert!(index.contains("never pooled") && index.contains("CoLA-mcc/report.md"));
}

/// Diverged runs count everywhere (scored ones in n and the statistics, unscored
/// ones as failed), errored ones are counted apart, and failed runs are judged on the final
/// score; the selected checkpoint's count is labelled separately.
#[test]
fn every_run_counts_and_failed_is_the_final_score() {
    let mut recs: Vec<RunRecord> = (0..5)
        .map(|s| rec("devlin", s, 0.70 + s as f64 * 0.01))
        .collect();
    // Collapsed late: the best checkpoint is fine, the end of training is at the baseline.
    recs[0].final_score = Some(0.527);
    // Diverged, scored at divergence (constant predictions: the majority baseline).
    let mut d = rec("devlin", 5, 0.527);
    d.status = RunStatus::Diverged;
    recs.push(d);
    // Diverged, an old record without a score.
    let mut old = rec("devlin", 6, 0.5);
    old.status = RunStatus::Diverged;
    old.score = None;
    old.final_score = None;
    recs.push(old);
    let mut e = rec("devlin", 7, 0.5);
    e.status = RunStatus::Error;
    e.score = None;
    e.final_score = None;
    recs.push(e);
    let mut i = rec("devlin", 8, 0.5);
    i.status = RunStatus::Interrupted;
    i.score = None;
    i.final_score = None;
    recs.push(i);
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    let g = &s.groups[0];
    assert_eq!(g.runs, 9);
    assert_eq!((g.n, g.n_without_diverged), (6, 5));
    assert_eq!((g.diverged, g.diverged_unscored), (2, 1));
    assert_eq!((g.errors, g.interrupted), (1, 1));
    // Final score: the late collapse, the scored diverged run, the unscored diverged run.
    assert_eq!(g.failed, 3);
    // Selected score: the diverged runs only.
    assert_eq!(g.failed_selected, 2);
    assert!(
        g.scores.contains(&0.527),
        "the diverged run's score enters the statistics"
    );
    let mean_all = g.stats.as_ref().unwrap().mean;
    assert!(g.mean_without_diverged.unwrap() > mean_all);
    let md = read(&out.path().join("report.md"));
    assert!(md.contains("2 (1 without score)"), "{md}");
    assert!(md.contains("dev score at the end of training"), "{md}");
    assert!(md.contains("1 errored and 1 interrupted run(s)"), "{md}");
    let svg = read(&out.path().join("plots/scores_box.svg"));
    assert!(
        svg.contains("diverged run (scored at divergence"),
        "box plot marks diverged runs"
    );
    assert!(svg.contains("1 diverged run(s) without a score"), "{svg}");
    let svg = read(&out.path().join("plots/dev_score.svg"));
    assert!(
        svg.contains("diverged here"),
        "curves mark where runs diverged"
    );
    let csv = read(&out.path().join("summary.csv"));
    assert!(csv.lines().next().unwrap().contains("failed_selected"));
}

/// MNLI's matched and mismatched dev scores are two sections, never pooled.
#[test]
fn mnli_matched_and_mismatched_are_reported_apart() {
    let mut recs = Vec::new();
    for s in 0..3 {
        let mut r = rec("mosbach", s, 0.80 + s as f64 * 0.01);
        r.spec.task = "MNLI".into();
        r.run_id = r.spec.run_id();
        r.majority_baseline = Some(0.35);
        let key = format!("{MISMATCHED_PREFIX}accuracy");
        r.selected_metrics
            .insert(key.clone(), 0.78 + s as f64 * 0.01);
        r.final_metrics.insert(key.clone(), 0.775);
        r.baseline_metrics.insert(key, 0.352);
        recs.push(r);
    }
    // An MNLI record without mismatched scores is reported as such.
    let mut r = rec("mosbach", 9, 0.81);
    r.spec.task = "MNLI".into();
    r.run_id = r.spec.run_id();
    recs.push(r);
    let input = load_results(sweep_dir(&recs).path(), None).unwrap();
    let sections = input.sections();
    assert_eq!(
        sections.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["MNLI-m · accuracy", "MNLI-mm · accuracy"]
    );
    assert_eq!(sections[0].1.runs.len(), 4);
    let mm = &sections[1].1.runs;
    assert_eq!(mm.len(), 3);
    assert_eq!(mm[0].baseline, Some(0.352));
    assert_eq!(mm[2].score, Some(0.80));
    assert!(input
        .notes
        .iter()
        .any(|n| n.contains("matched dev set only")));
}

/// The ASO confidence adjustment is deepsig's c + (1−c)/m, not Bonferroni.
#[test]
fn aso_adjustment_is_named() {
    let mut recs = two_recipes(3);
    for r in two_recipes(3).into_iter().take(9) {
        let mut r = r;
        r.group = Some("third".into());
        r.spec.init_seed += 100;
        r.run_id = r.spec.run_id();
        recs.push(r);
    }
    let input = load_results(sweep_dir(&recs).path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert_eq!(s.comparisons.len(), 3);
    // deepsig: 0.95 + 0.05 / 3; Bonferroni would be 1 − 0.05 / 3.
    assert!((s.aso_confidence - (0.95 + 0.05 / 3.0)).abs() < 1e-12);
    let md = read(&out.path().join("report.md"));
    assert!(md.contains("deepsig's rule c + (1−c)/m"), "{md}");
    assert!(!md.contains("Bonferroni-adjusted"), "{md}");
}

/// A store's saved sweep file may carry the study's pre-registered analysis (`[analysis]`):
/// its contrasts, α and equivalence margin reach the report input; a malformed table is an
/// error naming the file.
#[test]
fn the_sweep_files_analysis_table_is_read() {
    let results = tempfile::tempdir().unwrap();
    let dir = results.path().join("s");
    std::fs::create_dir_all(&dir).unwrap();
    let runs: Vec<RunRecord> = ["devlin", "mosbach"]
        .iter()
        .flat_map(|g| (0..2).map(move |s| rec(g, s, 0.6 + s as f64 * 0.01)))
        .collect();
    let expanded: Vec<&RunRecord> = runs.iter().collect();
    let placed: Vec<(&str, &RunRecord)> = runs.iter().map(|r| (r.run_id.as_str(), r)).collect();
    store(&dir, &expanded, &placed);
    std::fs::write(
        dir.join("sweep.toml"),
        "name = \"s\"\n[analysis]\ncontrasts = [[\"devlin\", \"mosbach\"]]\nalpha = 0.01\nequivalence_margin = 0.02\n",
    )
    .unwrap();
    let input = load_results(results.path(), None).unwrap();
    let a = input.analysis.expect("the [analysis] table");
    assert_eq!(a.contrasts, [("devlin".to_string(), "mosbach".to_string())]);
    assert_eq!((a.alpha, a.equivalence_margin), (Some(0.01), Some(0.02)));

    std::fs::write(dir.join("sweep.toml"), "[analysis]\ncontrast = []\n").unwrap();
    let e = load_results(results.path(), None).unwrap_err().to_string();
    assert!(
        e.contains("sweep.toml: invalid [analysis] table") && e.contains("contrast"),
        "{e}"
    );
}

/// Runs an `early_failure` policy stopped count as failed — and every place that counts them
/// says so: their own column, the group's note (rule, precision, steps saved) and the findings'
/// failure sentence. They have no score, so the score statistics leave them out.
#[test]
fn stopped_runs_are_failures_that_say_so() {
    let policy = stab_spec::EarlyFailure {
        after_fraction: 0.3,
        rule: stab_spec::EarlyFailureRule::AtBaseline,
        measured_precision: Some(0.95),
        measured_on: Some("results/early-failure".into()),
    };
    let mut recs: Vec<RunRecord> = (0..3)
        .map(|s| rec("devlin", s, 0.70 + s as f64 * 0.01))
        .collect();
    for s in 3..5 {
        let mut r = rec("devlin", s, 0.5);
        r.spec.early_failure = Some(policy.clone());
        r.run_id = r.spec.run_id();
        r.status = RunStatus::Stopped;
        r.score = None;
        r.final_score = None;
        r.steps_done = 300;
        recs.push(r);
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    let g = &s.groups[0];
    assert_eq!((g.runs, g.n, g.stopped), (5, 3, 2));
    assert_eq!((g.failed, g.judged), (2, 5), "stopped runs are failures");
    assert_eq!((g.steps_planned, g.steps_saved), (5000, 1400));
    let note = g
        .notes
        .iter()
        .find(|n| n.contains("stopped as predicted failures"))
        .expect("a note on the stopped runs");
    assert!(
        note.contains("rule `at-baseline` after 30 %")
            && note.contains("measured precision 0.95 on results/early-failure")
            && note.contains("saved 1400 of 5000 planned steps (28 %)"),
        "{note}"
    );
    let md = read(&out.path().join("report.md"));
    assert!(md.contains("stopped (predicted failure)"), "{md}");
    assert!(
        md.contains("These counts include runs stopped as predicted failures"),
        "{md}"
    );
    // A study without a policy has no such column.
    let dir = sweep_dir(&recs[..3]);
    let input = load_results(dir.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    write_report(out.path(), &input, &opts()).unwrap();
    assert!(!read(&out.path().join("report.md")).contains("stopped (predicted failure)"));
}
