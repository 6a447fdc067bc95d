//! Reports end to end on synthetic sweeps.

use stab_spec::RunStatus;
use stab_stats::synthetic::record;
use stab_stats::*;

use super::util::*;

#[test]
fn full_report_writes_every_output() {
    let mut recs = two_recipes(4);
    let mut diverged = record(&run("devlin", 9, 9), 1, 20);
    diverged.status = RunStatus::Diverged;
    diverged.score = Some(0.47);
    recs.push(diverged);
    recs.push(record(
        &SyntheticRunExt::errored(run("mosbach", 9, 9)),
        1,
        0,
    ));
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    assert_eq!(input.runs.len(), 34);
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert_eq!(s.groups.len(), 2);
    let devlin = &s.groups[0];
    assert_eq!(devlin.group, "devlin");
    assert_eq!((devlin.runs, devlin.n, devlin.diverged), (17, 17, 1));
    assert!(devlin.failed >= 2, "{devlin:?}");
    let mosbach = &s.groups[1];
    assert_eq!((mosbach.runs, mosbach.n, mosbach.errors), (17, 16, 1));
    assert!(devlin.seed_variance.is_none() && devlin.seed_variance_note.is_some());
    assert_eq!(s.comparisons.len(), 1);
    let c = &s.comparisons[0];
    assert!(
        c.result("levene_median").unwrap().is_ok()
            && c.result("welch").unwrap().is_ok()
            && c.result("aso").unwrap().is_ok()
    );
    // Mosbach dominates: ε_min(mosbach, devlin) small.
    assert!(
        c.result("aso").unwrap().as_ref().unwrap()["eps_min_ba"]
            .as_f64()
            .unwrap()
            < 0.2,
        "{c:?}"
    );
    for f in &s.files {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    let md = read(&out.path().join("report.md"));
    // Failed on the final score and on the selected checkpoint, interrupted runs,
    // and n / mean without the diverged runs (this input has one diverged run).
    assert!(md.contains("| group | n | n w/o diverged | failed (final score) | failed (selected ckpt) | diverged | errors | interrupted | std | mean | median | max |"), "{md}");
    assert!(md.contains("Levene (centre: mean)") && md.contains("Brown–Forsythe (centre: median)"));
    assert!(!md.contains("NaN"), "{md}");
    let html = read(&out.path().join("report.html"));
    assert!(html.matches("<svg").count() >= 4);
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let csv = read(&out.path().join("summary.csv"));
    assert!(csv.starts_with("group,runs,n,failed,diverged,errors,"));
    assert_eq!(csv.lines().count(), 3);
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.path().join("summary.json"))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let t = terminal_table(&s);
    assert!(t.contains("devlin") && t.contains("ε(A≻B)"));
}

/// Builder shortcuts for unusual runs.
trait SyntheticRunExt {
    fn errored(self) -> Self;
}

impl SyntheticRunExt for stab_stats::synthetic::SyntheticRun {
    fn errored(mut self) -> Self {
        self.status = RunStatus::Error;
        self
    }
}

#[test]
fn crossed_seeds_give_variance_shares() {
    let recs = two_recipes(4);
    let input = load_results(sweep_dir(&recs).path(), Some("preset")).unwrap();
    let s = summarize(&input, &opts());
    let v = s.groups[1].seed_variance.expect("4 × 4 grid");
    assert_eq!((v.init_levels, v.data_levels, v.replicates), (4, 4, 1));
    assert!((v.share_init + v.share_data + v.share_residual - 1.0).abs() < 1e-12);
}

#[test]
fn report_is_identical_at_any_thread_count() {
    let input = load_results(sweep_dir(&two_recipes(3)).path(), None).unwrap();
    let at = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| summarize(&input, &opts()))
    };
    assert_eq!(at(1), at(3));
}

#[test]
fn group_by_spec_fields() {
    let mut recs = Vec::new();
    for (i, k) in [0usize, 4, 12].iter().enumerate() {
        for s in 0..3 {
            let mut r = run("mosbach", s, i as u64);
            r.freeze_layers = *k;
            r.feature_mode = ["off", "last", "embeddings"][s as usize].into();
            recs.push(record(&r, 2, 10));
        }
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), Some("freeze_layers")).unwrap();
    let labels: Vec<_> = summarize(&input, &opts())
        .groups
        .into_iter()
        .map(|g| g.group)
        .collect();
    // `field=value` as sweeps name groups, ordered by value (12 after 4).
    assert_eq!(
        labels,
        ["freeze_layers=0", "freeze_layers=4", "freeze_layers=12"]
    );
    let input = load_results(dir.path(), Some("optimizer.bias_correction,freeze_layers")).unwrap();
    let s = summarize(&input, &opts());
    assert_eq!(
        s.groups[0].group,
        "optimizer.bias_correction=true, freeze_layers=0"
    );
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert!(s.files.iter().any(|f| f == "plots/freeze_layers.png"));
    assert!(s.files.iter().any(|f| f == "plots/feature_mode.svg"));
}

#[test]
fn csv_scores_compare() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scores.tsv");
    let mut text = String::from("recipe\tseed\tacc\n");
    for i in 0..10 {
        text += &format!("a\t{i}\t{}\n", 0.7 + i as f64 * 0.001);
        text += &format!(
            "b\t{i}\t{}\n",
            if i < 4 { 0.5 } else { 0.68 + i as f64 * 0.002 }
        );
    }
    std::fs::write(&p, text).unwrap();
    let input = load_scores_csv(&p, "recipe", "acc", Some(0.527)).unwrap();
    let s = summarize(&input, &opts());
    assert_eq!(s.groups[1].failed, 4);
    assert_eq!(s.groups[0].failed, 0);
    assert_eq!(s.comparisons.len(), 1);
}

fn many_groups(k: usize, per_group: usize) -> ReportInput {
    let runs = (0..k)
        .flat_map(|g| {
            (0..per_group).map(move |i| RunEntry {
                group: format!("g{g:03}"),
                id: format!("{g}-{i}"),
                outcome: Outcome::Ok,
                score: Some(0.5 + 0.001 * g as f64 + 0.01 * ((i * 7) % 5) as f64),
                selected_score: None,
                selection: None,
                selected_step: None,
                eval_set: None,
                final_score: None,
                baseline: None,
                task: None,
                metric: None,
                init_seed: None,
                data_seed: None,
                freeze_layers: None,
                feature_mode: None,
                settings: Default::default(),
                train_loss: Vec::new(),
                dev_scores: Vec::new(),
                wall_seconds: None,
                device: None,
                dev_curve_baseline: None,
                report_half_scores: Vec::new(),
                progress: Default::default(),
            })
        })
        .collect();
    ReportInput {
        source: "synthetic".into(),
        grouping: "group".into(),
        metric: None,
        runs,
        problems: Vec::new(),
        stores: Vec::new(),
        notes: Vec::new(),
        analysis: None,
        sequential: Vec::new(),
    }
}

/// All-pairs ASO is quadratic in the number of groups: pairs are bounded, and the rule is
/// printed.
#[test]
fn pairwise_section_is_bounded() {
    let input = many_groups(40, 5);
    let s = summarize(&input, &opts());
    assert_eq!(s.comparisons.len(), 45, "all pairs of the top 10 only");
    // The top 10 by mean are g030..g039.
    assert!(s.comparisons.iter().all(|c| c.a >= "g030".into()));
    assert!(
        s.pair_rule.contains("10 groups with the highest mean"),
        "{}",
        s.pair_rule
    );
    assert!((s.aso_confidence - (0.95 + 0.05 / 45.0)).abs() < 1e-12);
    let t = terminal_table(&s);
    assert!(
        t.contains("Pairs compared: all pairs among the 10 groups"),
        "{t}"
    );

    let o = ReportOptions {
        baseline_group: Some("g007".into()),
        ..opts()
    };
    let s = summarize(&input, &o);
    assert_eq!(s.comparisons.len(), 39);
    assert!(s.comparisons.iter().all(|c| c.a == "g007" || c.b == "g007"));
    assert!(s.pair_rule.contains("`g007`"));

    // Few groups: all pairs, as before.
    let s = summarize(&many_groups(4, 5), &opts());
    assert_eq!(s.comparisons.len(), 6);
    assert_eq!(s.pair_rule, "all pairs of groups");
}

/// Progress reaches every stage with the right totals.
#[test]
fn progress_is_reported() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Log(Mutex<Vec<(String, usize, usize)>>);
    impl Progress for Log {
        fn start(&self, stage: &str, total: usize) {
            self.0.lock().unwrap().push((stage.into(), total, 0));
        }
        fn advance(&self, n: usize) {
            self.0.lock().unwrap().last_mut().unwrap().2 += n;
        }
    }
    let log = Log::default();
    summarize_with_progress(&many_groups(12, 3), &opts(), &log);
    let got = log.0.into_inner().unwrap();
    assert_eq!(
        got,
        [
            ("group statistics".to_string(), 12, 12),
            ("pairwise tests and ASO".to_string(), 45, 45)
        ]
    );
}

/// A group whose runs all failed keeps its own entry in the curve plots' legend (failed runs
/// are not one red "failed run" series), and swept-axis plots draw the baseline.
#[test]
fn plots_keep_every_group_and_draw_the_baseline() {
    let mut recs = Vec::new();
    for (k, (group, score)) in [(0usize, ("frozen-0", None)), (12, ("frozen-12", Some(0.5)))] {
        for s in 0..3 {
            let mut r = run(group, s, s);
            r.freeze_layers = k;
            r.fail_rate = 0.0;
            r.score = score;
            recs.push(record(&r, 2, 20));
        }
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    let failed = s.groups.iter().find(|g| g.group == "frozen-12").unwrap();
    assert_eq!(failed.failed, 3, "{failed:?}");
    for plot in ["train_loss", "dev_score"] {
        let svg = read(&out.path().join(format!("plots/{plot}.svg")));
        for g in ["frozen-0", "frozen-12"] {
            // plotters writes each <text> content on a line of its own.
            assert!(
                svg.lines().any(|l| l.trim() == g),
                "{plot}: legend lacks {g}"
            );
        }
        assert!(svg.contains("dashed: failed run"), "{plot}");
    }
    let svg = read(&out.path().join("plots/freeze_layers.svg"));
    assert!(
        svg.contains("majority baseline"),
        "freeze_layers plot lacks the baseline"
    );
}

/// For diverged runs: a group whose runs all diverged at the first step has
/// no curve to draw (no finite loss before divergence); it stays in the curve plots' legend,
/// saying why.
#[test]
fn a_group_that_diverged_at_once_stays_in_the_curve_legend() {
    let mut recs = Vec::new();
    for (group, diverge) in [("stable", false), ("exploding", true)] {
        for s in 0..3 {
            let mut r = record(&run(group, s, s), 2, 20);
            if diverge {
                r.status = stab_spec::RunStatus::Diverged;
                r.diverged_at_step = Some(1);
                r.train_loss = stab_spec::Curve::default();
                r.evaluations.truncate(1);
            }
            recs.push(r);
        }
    }
    let dir = sweep_dir(&recs);
    let input = load_results(dir.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    write_report(out.path(), &input, &opts()).unwrap();
    let svg = read(&out.path().join("plots/train_loss.svg"));
    assert!(svg.lines().any(|l| l.trim() == "stable"), "{svg}");
    assert!(
        svg.contains("exploding: 3 run(s), none drawn (diverged before a 2nd finite point)"),
        "the diverged group vanished from the legend"
    );
}
