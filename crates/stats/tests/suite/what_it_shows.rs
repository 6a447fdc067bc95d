//! What a researcher sees: every mark, label and sentence of a report says the same thing as
//! the numbers — failure marks at the score that decided them, axes that name their half of a
//! split dev set, a first sentence when nothing was learned, findings that count only the tests
//! that ran, and a table of scores spoken of as scores.

use stab_spec::{RunRecord, SELECTION_HALF_PREFIX};
use stab_stats::synthetic::record;
use stab_stats::*;

use super::util::*;

/// A run of `preset` whose selected checkpoint scores `selected` and whose last `last`
/// (accuracy; majority baseline 0.527).
fn run_of(preset: &str, group: &str, seed: u64, selected: f64, last: f64) -> RunRecord {
    let mut s = run(group, seed, seed);
    s.preset = preset.into();
    s.group = group.into();
    let mut r = record(&s, 1, 8);
    r.score = Some(selected);
    r.final_score = Some(last);
    r.selected_step = Some(40);
    r
}

fn svg(out: &std::path::Path, name: &str) -> String {
    read(&out.join("plots").join(format!("{name}.svg")))
}

/// Under one selection rule the box plot shows selected scores, but a run fails on its final
/// score: a run selected above the baseline that ended below it is drawn at both, its cross at
/// the final score, and the axis and the table say which score they show.
#[test]
fn failure_marks_sit_at_the_final_score_and_axes_name_their_score() {
    let mut recs = Vec::new();
    for s in 0..4 {
        // Selected 0.60–0.63 (above the baseline), final 0.50 (failed) for seeds 0 and 1.
        let last = if s < 2 { 0.50 } else { 0.60 + s as f64 * 0.01 };
        recs.push(run_of(
            "mosbach",
            "mosbach",
            s,
            0.60 + s as f64 * 0.01,
            last,
        ));
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = dir.path().join("report");
    let s = write_report(&out, &input, &opts()).unwrap();
    assert_eq!(s.score.kind, ScoreKind::Selected);
    assert_eq!(s.groups[0].failed, 2);
    assert_eq!(s.score.label, "dev accuracy, selected checkpoint's score");
    let b = svg(&out, "scores_box");
    assert!(b.contains("dev accuracy, selected checkpoint"), "axis");
    assert!(b.contains("failed run, at its final score"), "legend");
    assert!(
        b.contains("linked to its final score"),
        "legend of the ring"
    );
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("## Scores per group (dev accuracy, selected checkpoint's score)"),
        "{md}"
    );
    // Final scores compared: the plotted score is the one that decides, nothing is linked.
    let fin = ReportOptions {
        score: ScoreChoice::Final,
        ..opts()
    };
    let out = dir.path().join("final");
    let s = write_report(&out, &input, &fin).unwrap();
    assert_eq!(s.score.label, "dev accuracy, final score");
    assert!(!svg(&out, "scores_box").contains("linked to its final score"));
}

/// A group whose runs all end at (or just above) the majority baseline learned nothing: the
/// findings say so first, with the rule, and its low spread is not read as stability.
#[test]
fn a_group_that_learned_nothing_is_said_first_and_never_more_stable() {
    let mut recs = Vec::new();
    for s in 0..5 {
        // At the baseline or within 0.01 above it: collapsed onto the majority class.
        let flat = 0.527 + if s % 2 == 0 { 0.0 } else { 0.005 };
        recs.push(run_of("devlin", "devlin", s, flat, flat));
        let learned = 0.66 + s as f64 * 0.02;
        recs.push(run_of("devlin", "learned", s, learned, learned));
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let s = summarize(&input, &opts());
    let first = &s.findings.sentences[0];
    assert!(
        first.starts_with("Nothing was learned in `devlin`")
            && first.contains("within 0.01 of the majority baseline"),
        "{first}"
    );
    let devlin = &s.groups[0];
    assert!(devlin.nothing_learned.is_some() && devlin.collapsed.is_some());
    // Not every run failed (two ended 0.005 above the baseline), yet nothing was learned.
    assert_eq!((devlin.failed, devlin.judged), (3, 5));
    for sentence in &s.findings.sentences {
        assert!(
            !sentence.contains("varies more than `devlin`")
                && !sentence.contains("`devlin` varies less"),
            "{sentence}"
        );
    }
    assert!(s
        .findings
        .sentences
        .iter()
        .any(|x| x.contains("spreads of `devlin` and `learned` are not compared")));

    // Every group: one sentence says nothing in the sweep trained.
    let flat: Vec<RunRecord> = recs
        .iter()
        .filter(|r| r.group.as_deref() == Some("devlin"))
        .cloned()
        .chain((0..5).map(|s| run_of("devlin", "other", s, 0.527, 0.527)))
        .collect();
    let dir = sweep_dir(&flat);
    let s = summarize(&load_results(dir.path(), None).unwrap(), &opts());
    assert!(
        s.findings.sentences[0].starts_with("Nothing was learned in any of the 2 groups"),
        "{:?}",
        s.findings.sentences
    );
}

/// Under a Zhang preset the evaluations during training are on the selection half and the
/// scores on the report half: each plot names its half and draws that half's baseline.
#[test]
fn split_dev_plots_name_their_half_and_draw_its_baseline() {
    let mut recs = Vec::new();
    for s in 0..3 {
        let mut r = run_of("zhang-reinit", "zhang", s, 0.62, 0.60);
        r.baseline_metrics
            .insert(format!("{SELECTION_HALF_PREFIX}accuracy"), 0.531);
        for e in r.evaluations.iter_mut() {
            e.report_metrics = Some([("accuracy".to_string(), e.score - 0.01)].into());
        }
        recs.push(r);
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    assert_eq!(input.runs[0].dev_curve_baseline, Some(0.531));
    let out = dir.path().join("report");
    let s = write_report(&out, &input, &opts()).unwrap();
    assert!(s.score.label.starts_with("dev (report half) accuracy"));
    let sel = svg(&out, "dev_score");
    assert!(sel.contains("dev (selection half) accuracy"), "axis");
    assert!(
        sel.contains("majority baseline (selection half)"),
        "baseline"
    );
    let rep = svg(&out, "dev_score_report_half");
    assert!(rep.contains("dev (report half) accuracy"), "axis");
    assert!(rep.contains("majority baseline (report half)"), "baseline");
    assert!(svg(&out, "scores_box").contains("dev (report half) accuracy"));
}

/// With every pair's spread test n/a, the summary sentence counts no pair as tested and says
/// why; ASO is not computed from 2 runs per group.
#[test]
fn summary_sentences_count_only_the_tests_that_ran() {
    let mut recs = Vec::new();
    for g in 0..5 {
        for s in 0..2 {
            let v = 0.60 + g as f64 * 0.03 + s as f64 * 0.01;
            recs.push(run_of("mosbach", &format!("g{g}"), s, v, v));
        }
    }
    let dir = sweep_dir(&recs);
    let s = summarize(&load_results(dir.path(), None).unwrap(), &opts());
    assert_eq!(s.comparisons.len(), 10);
    let spread = s
        .findings
        .sentences
        .iter()
        .find(|x| x.contains("Brown–Forsythe"))
        .unwrap();
    assert!(
        spread.starts_with("No pair was tested (Brown–Forsythe test), so nothing is said")
            && spread.contains(": 10 of the 10 compared pairs n/a:"),
        "{spread}"
    );
    assert!(!spread.contains("None of the 10"), "{spread}");
    let aso = s
        .findings
        .sentences
        .iter()
        .find(|x| x.contains("ASO"))
        .unwrap();
    assert!(
        aso.contains("n/a: a group has 2 runs; the test needs 5 per group"),
        "{aso}"
    );
}

/// ASO's ε_min for the same two groups of runs does not depend on the other groups or on the
/// labels: only on the number of pairs compared (deepsig's confidence adjustment).
#[test]
fn aso_gives_the_same_eps_for_the_same_runs_whatever_the_other_groups() {
    let mut recs = Vec::new();
    for s in 0..6 {
        recs.push(run_of("mosbach", "a", s, 0.60 + s as f64 * 0.01, 0.6));
        recs.push(run_of("mosbach", "b", s, 0.62 + s as f64 * 0.013, 0.6));
    }
    let eps = |recs: &[RunRecord]| {
        let dir = sweep_dir(recs);
        let o = ReportOptions {
            contrasts: vec![("a".into(), "b".into())],
            ..opts()
        };
        let s = summarize(&load_results(dir.path(), None).unwrap(), &o);
        let c = s.comparisons.iter().find(|c| c.a == "a").unwrap();
        c.result("aso").unwrap().clone().unwrap()["eps_min_ab"]
            .as_f64()
            .unwrap()
    };
    let alone = eps(&recs);
    let mut more = recs.clone();
    more.extend((0..6).map(|s| run_of("mosbach", "c", s, 0.7 + s as f64 * 0.02, 0.6)));
    assert_eq!(alone, eps(&more));
}

/// `stab compare` on a plain CSV speaks of scores: no checkpoints, no "final dev score", no
/// divergence; Fisher without a baseline says so; an empty cell is named as such.
#[test]
fn a_table_of_scores_is_spoken_of_as_scores() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scores.csv");
    let mut text = String::from("system,score\n");
    for i in 0..5 {
        text += &format!("a,{}\n", 0.7 + i as f64 * 0.01);
        text += &format!("b,{}\n", 0.6 + i as f64 * 0.01);
    }
    text += "b,\n";
    std::fs::write(&p, text).unwrap();
    let input = load_scores_csv(&p, "system", "score", None).unwrap();
    let out = dir.path().join("report");
    let s = write_report(&out, &input, &opts()).unwrap();
    assert!(s.scores_only);
    assert_eq!(s.score.label, "score (score)");
    let fisher = s.comparisons[0]
        .result("fisher")
        .unwrap()
        .clone()
        .unwrap_err();
    assert!(fisher.reason.starts_with("no baseline given"), "{fisher:?}");
    let md = read(&out.join("report.md"));
    for word in ["checkpoint", "final dev score", "diverged", "selected ckpt"] {
        assert!(!md.contains(word), "`{word}` in {md}");
    }
    assert!(md.contains("n/a: no baseline given"), "{md}");
    assert!(
        s.groups[1]
            .notes
            .iter()
            .any(|n| n.contains("empty, NaN or infinite score cell")),
        "{:?}",
        s.groups[1].notes
    );
    assert!(!svg(&out, "scores_box").contains("final score"));
}

/// Seeds tied by one `seed` axis cannot be decomposed: the report says how to get the
/// decomposition instead of an unexplained n/a.
#[test]
fn tied_seeds_say_how_to_get_the_seed_variance() {
    let recs: Vec<RunRecord> = (0..4)
        .map(|s| run_of("mosbach", "m", s, 0.6 + s as f64 * 0.01, 0.6))
        .collect();
    let dir = sweep_dir(&recs);
    let s = summarize(&load_results(dir.path(), None).unwrap(), &opts());
    let note = s.groups[0].seed_variance_note.as_ref().unwrap();
    assert!(
        note.reason.contains("tied") && note.reason.contains("data_seed = {"),
        "{note:?}"
    );
}
