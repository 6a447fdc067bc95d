//! Bad input: every case gives a clear message, and the valid rest is still reported.

use stab_spec::RunStatus;
use stab_stats::synthetic::record;
use stab_stats::*;

use super::util::*;

#[test]
fn corrupt_record_is_reported_and_counted() {
    let dir = sweep_dir(&two_recipes(2));
    let bad = dir.path().join("runs/zz-broken");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("record.json"), "{ not json").unwrap();
    let input = load_results(dir.path(), None).unwrap();
    assert_eq!(input.runs.len(), 8);
    assert_eq!(input.problems.len(), 1);
    assert!(input.problems[0].location.contains("zz-broken"));
    let out = tempfile::tempdir().unwrap();
    write_report(out.path(), &input, &opts()).unwrap();
    assert!(read(&out.path().join("report.md")).contains("zz-broken"));
}

#[test]
fn single_run_group_says_std_undefined() {
    let mut recs = two_recipes(2);
    recs.push(record(&run("lonely", 0, 0), 1, 5));
    let input = load_results(sweep_dir(&recs).path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    let g = s.groups.iter().find(|g| g.group == "lonely").unwrap();
    assert_eq!(g.stats.as_ref().unwrap().std, None);
    let md = read(&out.path().join("report.md"));
    assert!(md.contains("n/a (1 run)"), "{md}");
    assert!(!md.contains("NaN"));
    assert!(md.contains("standard deviation undefined"));
    let c = s
        .comparisons
        .iter()
        .find(|c| c.b == "lonely" || c.a == "lonely")
        .unwrap();
    for d in [
        c.result("welch").unwrap().as_ref().unwrap_err(),
        c.result("levene_mean").unwrap().as_ref().unwrap_err(),
    ] {
        assert_eq!(d.kind, DegenerateKind::TooFewRuns);
        assert!(d.reason.contains("1 run"), "{d}");
    }
}

#[test]
fn nan_scores_are_excluded_and_counted() {
    let mut recs = two_recipes(2);
    recs[0].score = Some(f64::NAN);
    // JSON cannot hold NaN: serde writes null. Use a CSV for true NaN handling.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(
        &p,
        "g,score\na,0.7\na,nan\na,\na,0.72\nb,oops\nb,0.6\nb,0.61\n",
    )
    .unwrap();
    let input = load_scores_csv(&p, "g", "score", None).unwrap();
    assert_eq!(input.problems.len(), 1);
    assert!(input.problems[0].message.contains("`oops`"));
    let s = summarize(&input, &opts());
    assert_eq!((s.groups[0].n, s.groups[0].non_finite), (2, 2));
    assert!(s.groups[0].notes.iter().any(|n| n.contains("NaN")));
    let t = terminal_table(&s);
    let row = t.lines().find(|l| l.starts_with("a ")).unwrap();
    assert!(row.contains("2 of 4") && !row.contains("NaN"), "{t}");
}

#[test]
fn no_finished_runs_still_reports() {
    let mut recs = two_recipes(1);
    for r in &mut recs {
        r.status = RunStatus::Error;
        r.score = None;
    }
    let input = load_results(sweep_dir(&recs).path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert!(s.notes.iter().any(|n| n.contains("no finished run")));
    assert!(s.groups.iter().all(|g| g.errors == 1 && g.stats.is_none()));
    assert!(s.comparisons.is_empty());
    assert!(read(&out.path().join("report.md")).contains("no finished run"));
}

#[test]
fn empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_results(dir.path(), None).unwrap_err();
    assert!(matches!(e, StatsError::NoRecords(_)));
    assert!(e.to_string().contains("no run records"));
    let e = load_results(&dir.path().join("nope"), None).unwrap_err();
    assert!(matches!(e, StatsError::NotADirectory(_)));
}

#[test]
fn csv_without_the_named_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(&p, "recipe,acc\na,0.7\n").unwrap();
    let e = load_scores_csv(&p, "recipe", "score", None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no column `score`") && msg.contains("`acc`"),
        "{msg}"
    );
}

#[test]
fn unknown_group_by_field_names_the_field() {
    let dir = sweep_dir(&two_recipes(1));
    let e = load_results(dir.path(), Some("optimizer.momentum")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("optimizer.momentum") && msg.contains("bias_correction"),
        "{msg}"
    );
}

#[test]
fn empty_input_gives_an_empty_report() {
    let input = ReportInput::default();
    let out = tempfile::tempdir().unwrap();
    let s = write_report(out.path(), &input, &opts()).unwrap();
    assert!(s.groups.is_empty());
    assert!(s.notes.iter().any(|n| n.contains("no usable runs")));
}

fn csv(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

/// A row with more or fewer fields than the header is an error naming file and line.
#[test]
fn ragged_rows_are_errors_naming_file_and_line() {
    for text in [
        "g,score\na,0.7\na,0.71,extra\nb,0.6\n",
        "g,seed,score\na,1,0.7\na,0.71\nb,2,0.6\n",
    ] {
        let (_d, p) = csv(text);
        let e = load_scores_csv(&p, "g", "score", None).unwrap_err();
        assert!(matches!(e, StatsError::RaggedRow { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("{}:3", p.display())), "{msg}");
        assert!(msg.contains("the header has"), "{msg}");
    }
}

/// A non-numeric score keeps its row in its group, which reads `10 of 11`, and is listed.
#[test]
fn unreadable_score_is_counted_in_its_group() {
    let mut text = String::from("g,score\n");
    for i in 0..10 {
        text += &format!("a,{}\n", 0.7 + i as f64 * 0.01);
    }
    text += "a,oops\nb,0.6\nb,0.61\n";
    let (_d, p) = csv(&text);
    let input = load_scores_csv(&p, "g", "score", None).unwrap();
    assert_eq!(input.problems.len(), 1);
    assert!(input.problems[0].location.ends_with(":12"));
    let s = summarize(&input, &opts());
    let a = &s.groups[0];
    assert_eq!((a.runs, a.n, a.unreadable), (11, 10, 1));
    let t = terminal_table(&s);
    let row = t.lines().find(|l| l.starts_with("a ")).unwrap();
    assert!(row.contains("10 of 11"), "{t}");
    assert!(a.notes.iter().any(|n| n.contains("not a number")), "{a:?}");
}

/// A header-only file is an error, not an empty report.
#[test]
fn empty_csv_is_an_error() {
    for text in ["g,score\n", "g,score", ""] {
        let (_d, p) = csv(text);
        let e = load_scores_csv(&p, "g", "score", None).unwrap_err();
        assert!(matches!(e, StatsError::EmptyInput { .. }), "{text:?}: {e}");
        assert!(e.to_string().contains("nothing to compare"), "{e}");
    }
}

#[test]
fn unknown_baseline_group_is_an_error() {
    let (_d, p) = csv("g,score\na,0.7\na,0.71\nb,0.6\nb,0.65\n");
    let input = load_scores_csv(&p, "g", "score", None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = ReportOptions {
        baseline_group: Some("c".into()),
        ..opts()
    };
    let msg = write_report(out.path(), &input, &o)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`c`") && msg.contains("`a`, `b`"), "{msg}");
}

/// A CSV's empty or NaN scores (a collapsed or diverged run) counted neither as failed nor in
/// the findings: "0 of 44 failed" for a group of 50. They count as failed by default, are left
/// out with `Unscored::Excluded`, and the findings name them either way.
#[test]
fn unscored_csv_runs_are_named_and_count_as_failed_unless_excluded() {
    let mut text = String::from("g,score\n");
    for i in 0..44 {
        text += &format!("a,{}\n", 0.7 + i as f64 * 0.001);
        text += &format!("b,{}\n", 0.6 + i as f64 * 0.001);
    }
    for cell in ["", "nan", "NaN", "", "nan", ""] {
        text += &format!("a,{cell}\n");
    }
    let (_d, p) = csv(&text);
    let input = load_scores_csv(&p, "g", "score", Some(0.5)).unwrap();

    let s = summarize(&input, &opts());
    let a = s.groups.iter().find(|g| g.group == "a").unwrap();
    assert_eq!((a.runs, a.n, a.unscored), (50, 44, 6));
    assert_eq!((a.failed, a.judged), (6, 50));
    let said = s.findings.sentences.join("\n");
    assert!(said.contains("6 of 50 runs have no score"), "{said}");
    assert!(said.contains("count as failed"), "{said}");
    assert!(said.contains("6 of 50 ("), "{said}");

    let o = ReportOptions {
        unscored: Unscored::Excluded,
        ..opts()
    };
    let s = summarize(&input, &o);
    let a = s.groups.iter().find(|g| g.group == "a").unwrap();
    assert_eq!((a.failed, a.judged, a.unscored), (0, 44, 6));
    let said = s.findings.sentences.join("\n");
    assert!(said.contains("6 of 50 runs have no score"), "{said}");
    assert!(said.contains("left out of the failure rate"), "{said}");
    // Without a baseline nothing is judged, unscored or not; the runs are still named.
    let input = load_scores_csv(&p, "g", "score", None).unwrap();
    let s = summarize(&input, &opts());
    let a = s.groups.iter().find(|g| g.group == "a").unwrap();
    assert_eq!((a.failed, a.judged), (0, 0));
    assert!(s
        .findings
        .sentences
        .join("\n")
        .contains("6 of 50 runs have no score"));
}

/// Group names that a spreadsheet would run as formulas are written as text in every CSV of
/// the report; plain negative numbers stay numbers.
#[test]
fn csv_outputs_neutralise_formula_cells() {
    let names = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+1+cmd",
        "@SUM(1)",
        "-2+3",
        "\tTAB",
    ];
    let mut text = String::from("g,score\n");
    for (i, n) in names.iter().enumerate() {
        for k in 0..3 {
            let name = n.replace('"', "\"\"");
            text += &format!("\"{name}\",{}\n", 0.5 + i as f64 * 0.05 + k as f64 * 0.01);
        }
    }
    let (_d, p) = csv(&text);
    let input = load_scores_csv(&p, "g", "score", Some(0.55)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = ReportOptions {
        plots: false,
        bootstrap_iterations: 50,
        ..opts()
    };
    write_report(out.path(), &input, &o).unwrap();
    let mut negative_numbers = 0;
    for file in ["summary.csv", "comparisons.csv"] {
        let path = out.path().join(file);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&path)
            .unwrap();
        for rec in r.records() {
            for cell in rec.unwrap().iter() {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    assert!(cell.parse::<f64>().is_ok(), "{file}: formula cell {cell:?}");
                    negative_numbers += 1;
                }
            }
        }
        let raw = read(&path);
        assert!(
            raw.contains("'=HYPERLINK") && raw.contains("'+1+cmd"),
            "{file}: {raw}"
        );
        assert!(
            raw.contains("'@SUM(1)") && raw.contains("'-2+3"),
            "{file}: {raw}"
        );
    }
    assert!(negative_numbers > 0, "score differences stay numbers");
    assert_eq!(csv_safe("-0.05"), "-0.05");
    assert_eq!(csv_safe("\rx"), "'\rx");
    assert_eq!(csv_safe("devlin"), "devlin");
}

/// Two header columns of the same name: the first was used silently.
#[test]
fn a_duplicate_score_or_group_column_is_an_error() {
    for (text, column) in [
        ("g,score,score\na,0.1,0.9\n", "score"),
        ("g,g,score\na,b,0.9\n", "g"),
    ] {
        let (_d, p) = csv(text);
        let e = load_scores_csv(&p, "g", "score", None).unwrap_err();
        assert!(matches!(e, StatsError::DuplicateColumn { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{column}` appears twice")), "{msg}");
    }
    // Another column repeated is no matter.
    let (_d, p) = csv("g,x,x,score\na,1,2,0.9\n");
    assert!(load_scores_csv(&p, "g", "score", None).is_ok());
}
