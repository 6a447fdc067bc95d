//! What a report says and in which order: the one place that decides the sections of
//! `report.md`, `report.html` and the terminal summary, and of the index of a sectioned report.

use super::document::{Block, Cell, Document, Figure, Table};
use super::tables::{comparison_table, expected_max_table, group_table, seed_table, Style};
use super::SectionReport;
use crate::load::ReportInput;
use crate::plan::sequential::SequentialReport;
use crate::plots::PlotFile;
use crate::summary::{GroupSummary, ReportSummary};

/// The report of one summary: findings first, then the tables, notes and plots.
pub(crate) fn report_document(s: &ReportSummary, plots: &[PlotFile]) -> Document {
    let mut d = Document::new(&s.options.title);
    d.section("Findings", [Block::Highlight(s.findings.sentences.clone())]);
    d.section("About these runs", [Block::Bullets(header_lines(s))]);
    // The table names its score (set, metric, which score): failure columns say their own.
    d.section(
        &format!("Scores per group ({})", s.score.label),
        [Block::Table(group_table(s, true))],
    );
    if !s.comparisons.is_empty() {
        d.section(
            "Comparisons",
            [Block::Table(comparison_table(s, Style::Full))],
        );
    }
    if s.groups.iter().any(|g| g.n > 0) {
        d.section(
            &format!("Expected maximum after n runs ({})", s.score.label),
            [
                Block::Paragraph("Each cell: Dodge et al. (2019) estimate (with replacement) ± its standard deviation / unbiased estimate (without replacement).".into()),
                Block::Table(expected_max_table(s)),
            ],
        );
    }
    if let Some(t) = seed_table(s) {
        d.section(
            "Variance share of init seed vs. data seed",
            [
                Block::Paragraph("Two-way random-effects ANOVA (Dodge et al. 2020), components from mean squares, negative estimates clipped to 0.".into()),
                Block::Table(t),
            ],
        );
    }
    for q in &s.sequential {
        d.section("Sequential design", sequential_blocks(q));
    }
    let problems = problem_lines(s);
    if !problems.is_empty() {
        d.section("Notes and problems", [Block::Bullets(problems)]);
    }
    if !plots.is_empty() {
        d.section(
            "Plots",
            plots.iter().map(|p| {
                Block::Figure(Figure {
                    name: p.name.clone(),
                    title: p.title.clone(),
                    svg: p.svg.clone(),
                })
            }),
        );
    }
    d
}

/// A compact summary for a terminal: findings, groups, comparisons, the first notes.
pub fn terminal_table(s: &ReportSummary) -> String {
    let mut out = String::new();
    if !s.findings.sentences.is_empty() {
        out += "Findings:\n";
        for l in &s.findings.sentences {
            out += &format!("  - {l}\n");
        }
        out += "\n";
    }
    out += &format!("Scores: {}.\n", s.score.label);
    out += &group_table(s, false).text();
    if !s.comparisons.is_empty() {
        out += &format!("\nPairs compared: {}.\n\n", s.pair_rule);
        out += &comparison_table(s, Style::Short).text();
    }
    let problems = problem_lines(s);
    if !problems.is_empty() {
        out += &format!("\n{} note(s):\n", problems.len());
        for l in problems.iter().take(10) {
            out += &format!("  - {l}\n");
        }
        if problems.len() > 10 {
            out += &format!("  … and {} more (see report.md)\n", problems.len() - 10);
        }
    }
    out
}

fn header_lines(s: &ReportSummary) -> Vec<String> {
    let mut v = vec![
        format!("Source: `{}`", s.source),
        format!("Grouped by: `{}`", s.grouping),
    ];
    for c in &s.stores {
        v.push(format!("Runs: {c}. The report counts exactly these runs."));
    }
    let metric = s
        .metric
        .as_ref()
        .map_or(String::new(), |m| format!("`{m}`, "));
    if s.scores_only {
        v.push(format!(
            "Score compared: {metric}the score given in each row."
        ));
    } else {
        v.push(format!(
            "Score compared: {metric}{} (a diverged run: its predictions at divergence). `--score final|selected` chooses.",
            s.score.reason
        ));
    }
    if let Some(w) = &s.score.warning {
        v.push(w.clone());
    }
    let sections: std::collections::BTreeSet<&str> =
        s.groups.iter().map(|g| g.section.as_str()).collect();
    if sections.len() > 1 {
        v.push(format!(
            "Tasks/metrics: {} — never pooled; each group is of one task · metric and groups are compared within their task · metric only.",
            sections.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    if s.scores_only {
        v.push(format!(
            "Failed run: a row whose score is at or below the baseline{}; rows without a score count as `--unscored` says. Failure rates: failed / rows with a verdict, with Wilson score intervals (Clopper–Pearson in report.json); Fisher's exact test (two-sided) compares two groups' rates.",
            match s.options.baseline {
                Some(b) => format!(" given ({b})"),
                None => " (none given: `--baseline B`)".into(),
            }
        ));
    } else {
        v.push(format!(
        "Failed run: diverged (failed by definition), or dev score at the end of training at or below the majority-class baseline{} (Mosbach et al. 2021; Dodge et al. 2020); `failed (selected ckpt)` applies the same rule to the selected checkpoint's score and also counts the runs that never improved (selected checkpoint: the untrained model at step 0). Failure rates: failed / runs with a verdict, with Wilson score intervals (Clopper–Pearson in report.json); Fisher's exact test (two-sided) compares two groups' rates.",
        match s.options.baseline {
            Some(b) => format!(" (given: {b})"),
            None => " of the run's task".into(),
        }
    ));
    }
    if s.groups.iter().any(|g| g.nothing_learned.is_some()) {
        v.push(format!(
            "Nothing learned: a group every run of which diverged or ended (final score) at or within {} of its majority baseline — one point of the metric, at least one example's worth of accuracy on a dev set of 100 or more — predicts (about) the majority class; its spread is not compared and the findings say so first.",
            crate::summary::NOTHING_LEARNED_BAND
        ));
    }
    if !s.scores_only {
        v.push(
            "Diverged and errored runs are counted, never dropped: n counts every run with a score, finished or diverged (a diverged run is scored on its predictions at divergence and marked ▲ in the plots; `n w/o diverged` and `mean w/o diverged` leave them out); errored and interrupted runs have no score and are counted in their own columns."
                .into(),
        );
    }
    v.push(format!(
        "std: sample standard deviation (ddof 1). IQR: numpy linear percentiles. CIs: percentile bootstrap, {} resamples, seed {}.",
        s.options.bootstrap_iterations, s.options.seed
    ));
    v.push(format!(
        "ASO: ε_min(A≻B) < τ = {} means A almost stochastically dominates B (ε_min(B≻A) the other way); confidence {} adjusted to {:.4} over {} comparison(s) by deepsig's rule c + (1−c)/m (deepsig 1.2.8; not Bonferroni, whose 1 − (1−c)/m is stricter for m > 2); {} bootstrap iterations, seeded by the pair's scores alone, so that the same two groups of runs get the same ε_min in any report that compares as many pairs (a report with more pairs raises the confidence, and with it ε_min); not computed under 5 runs per group.",
        s.options.aso_tau,
        s.options.confidence_level,
        s.aso_confidence,
        s.comparisons.len(),
        s.options.bootstrap_iterations
    ));
    v.push(format!("Pairs compared: {}.", s.pair_rule));
    if s.comparisons.len() > 1 {
        v.push(format!(
            "p-values: raw, then Holm–Bonferroni adjusted over the {} pairs compared, per test (`Holm …`; CSV `<test>_p_holm`); findings decide on the adjusted p.",
            s.comparisons.len()
        ));
    }
    if let Some(d) = s.options.equivalence_margin {
        v.push(format!(
            "TOST: two one-sided Welch tests of equivalence within ±{d} (score units): p < α means the mean scores differ by less than {d}."
        ));
    }
    v.push(
        "n/a: degenerate (…): the test's input is degenerate (constant groups, zero within-group spread, too few runs) and any p-value would be an artifact; see the stab-stats `hypothesis` docs for the rules and where they differ from SciPy."
            .into(),
    );
    v
}

fn problem_lines(s: &ReportSummary) -> Vec<String> {
    let mut v: Vec<String> = s.stores.iter().map(|c| c.to_string()).collect();
    v.extend(s.notes.iter().cloned());
    for g in &s.groups {
        for n in &g.notes {
            v.push(format!("group `{}`: {n}", g.group));
        }
    }
    for c in &s.comparisons {
        for n in &c.notes {
            v.push(format!("`{}` vs `{}`: {n}", c.a, c.b));
        }
    }
    for p in &s.problems {
        v.push(format!("{}: {}", p.location, p.message));
    }
    v
}

/// The index of a report split by task · metric: one row and link per section, and the
/// input's problems.
pub(crate) fn index_document(
    title: &str,
    input: &ReportInput,
    sections: &[SectionReport],
    folders: &[String],
) -> Document {
    let mut d = Document::new(title);
    d.push(Block::Paragraph(format!(
        "The runs are of {} tasks/metrics. Scores of different tasks or metrics are never pooled: each has its own report.",
        sections.len()
    )));
    let headers = [
        "task · metric",
        "runs",
        "n (scored)",
        "diverged",
        "failed (final score)",
        "errors",
        "report",
    ];
    let rows = sections
        .iter()
        .zip(folders)
        .map(|(r, folder)| {
            let sum = |f: fn(&GroupSummary) -> usize| -> Cell {
                Cell::Text(r.summary.groups.iter().map(f).sum::<usize>().to_string())
            };
            vec![
                Cell::Text(r.section.clone()),
                sum(|g| g.runs),
                sum(|g| g.n),
                sum(|g| g.diverged),
                sum(|g| g.failed),
                sum(|g| g.errors + g.interrupted),
                Cell::Report {
                    folder: folder.clone(),
                },
            ]
        })
        .collect();
    d.push(Block::Table(Table {
        headers: headers.map(String::from).to_vec(),
        rows,
    }));
    for r in sections {
        d.section(
            &format!("Findings: {}", r.section),
            [Block::Highlight(r.summary.findings.sentences.clone())],
        );
    }
    let mut lines: Vec<String> = input.stores.iter().map(|c| c.to_string()).collect();
    lines.extend(input.notes.iter().cloned());
    lines.extend(
        input
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.location, p.message)),
    );
    if !lines.is_empty() {
        d.section("Notes and problems", [Block::Bullets(lines)]);
    }
    d
}

/// A sequential sweep's design, its looks per contrast and why it stopped (the pieces of the
/// store's `sequential.md`).
fn sequential_blocks(q: &SequentialReport) -> Vec<Block> {
    let table = |headers: [&str; 6], rows| {
        Block::Table(Table::of_text(headers.map(String::from).to_vec(), rows))
    };
    let mut blocks = vec![
        Block::Paragraph(q.design_sentence()),
        table(SequentialReport::DESIGN_HEADERS, q.design_rows()),
    ];
    for c in &q.contrasts {
        blocks.push(Block::Paragraph(format!(
            "Looks of `{}` vs `{}`:",
            c.a, c.b
        )));
        blocks.push(table(
            SequentialReport::LOOK_HEADERS,
            SequentialReport::look_rows(c),
        ));
    }
    blocks.push(Block::Paragraph(format!(
        "Stopping: {}. {}",
        q.stopping().trim_end_matches('.'),
        q.bias_note
    )));
    blocks
}
