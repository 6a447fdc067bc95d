//! The report's tables, built once from a [`ReportSummary`] and shared by every output; the
//! comparisons' columns come from the pairwise tests' table ([`crate::pairwise::TESTS`]) for
//! the report, the terminal and the CSV alike.

use crate::fmt::{percent, score};
use crate::pairwise::{adjusted, enabled, table_order, Kind, Row, Test};
use crate::summary::{Comparison, GroupSummary, ReportOptions, ReportSummary};
use crate::Interval;

use super::document::Table;

fn std_cell(g: &GroupSummary) -> String {
    match &g.stats {
        Some(s) => match s.std {
            Some(sd) => format!("{sd:.4}"),
            None => "n/a (1 run)".into(),
        },
        None => "–".into(),
    }
}

fn interval(i: Option<Interval>) -> String {
    match i {
        Some(i) => format!("[{:.4}, {:.4}]", i.lower, i.upper),
        None => "–".into(),
    }
}

fn failure_rate(g: &GroupSummary) -> String {
    match g.failure_ci {
        Some(ci) if g.judged > 0 => format!(
            "{} [{}, {}]",
            percent(g.failed as f64 / g.judged as f64),
            percent(ci.lower),
            percent(ci.upper)
        ),
        _ => "–".into(),
    }
}

const GROUP_HEADERS: [&str; 13] = [
    "group",
    "n",
    "failed (final score)",
    "failed (selected ckpt)",
    "diverged",
    "errors",
    "interrupted",
    "std",
    "mean",
    "median",
    "max",
    "min",
    "IQR",
];

/// "800 (0–1200)": median and range of the selected steps; "–" without any.
fn steps_cell(g: &GroupSummary) -> String {
    let st = &g.selected_steps;
    match (st.first(), st.last()) {
        (Some(lo), Some(hi)) => {
            let mid = st.len() / 2;
            let median = if st.len() % 2 == 1 {
                st[mid] as f64
            } else {
                (st[mid - 1] + st[mid]) as f64 / 2.0
            };
            format!("{median} ({lo}–{hi})")
        }
        _ => "–".into(),
    }
}

fn group_row(
    g: &GroupSummary,
    any_div: bool,
    any_stopped: bool,
    steps: bool,
    with_ci: bool,
) -> Vec<String> {
    let st = g.stats.as_ref();
    let failed = |n: usize| {
        if g.baseline.is_some() || n > 0 {
            n.to_string()
        } else {
            "– (no baseline)".into()
        }
    };
    let mut r = vec![
        g.group.clone(),
        if g.n == g.runs {
            g.n.to_string()
        } else {
            format!("{} of {}", g.n, g.runs)
        },
        failed(g.failed),
        if g.never_improved > 0 {
            format!(
                "{} ({} never improved)",
                failed(g.failed_selected),
                g.never_improved
            )
        } else {
            failed(g.failed_selected)
        },
        if g.diverged_unscored > 0 {
            format!("{} ({} without score)", g.diverged, g.diverged_unscored)
        } else {
            g.diverged.to_string()
        },
        g.errors.to_string(),
        g.interrupted.to_string(),
        std_cell(g),
        score(st.map(|d| d.mean)),
        score(st.map(|d| d.median)),
        score(st.map(|d| d.max)),
        score(st.map(|d| d.min)),
        score(st.map(|d| d.iqr)),
    ];
    if any_stopped {
        // After "interrupted" (index 6 before the diverged-only column is inserted).
        r.insert(7, g.stopped.to_string());
    }
    if any_div {
        r.insert(2, g.n_without_diverged.to_string());
        r.push(score(g.mean_without_diverged));
    }
    if steps {
        r.push(steps_cell(g));
    }
    if with_ci {
        r.push(failure_rate(g));
        r.push(interval(g.ci.map(|c| c.mean)));
        r.push(interval(g.ci.and_then(|c| c.std)));
        r.push(interval(g.ci.map(|c| c.median)));
    }
    r
}

/// Scores and counts per group; `with_ci` adds the failure rate's and the bootstrap intervals.
pub(crate) fn group_table(s: &ReportSummary, with_ci: bool) -> Table {
    let any_div = s.groups.iter().any(|g| g.diverged > 0);
    let mut headers: Vec<String> = GROUP_HEADERS.map(String::from).to_vec();
    // Only studies run under an `early_failure` policy have the column.
    let any_stopped = s.groups.iter().any(|g| g.stopped > 0);
    if any_stopped {
        headers.insert(7, "stopped (predicted failure)".into());
    }
    if any_div {
        headers.insert(2, "n w/o diverged".into());
        headers.push("mean w/o diverged".into());
    }
    let steps = s.groups.iter().any(|g| !g.selected_steps.is_empty());
    if steps {
        headers.push("selected step: median (range)".into());
    }
    let lvl = (s.options.confidence_level * 100.0).round();
    if with_ci {
        headers.push(format!("failure rate [{lvl}% Wilson]"));
        headers.push(format!("mean {lvl}% CI"));
        headers.push(format!("std {lvl}% CI"));
        headers.push(format!("median {lvl}% CI"));
    }
    let mut rows: Vec<Vec<String>> = s
        .groups
        .iter()
        .map(|g| group_row(g, any_div, any_stopped, steps, with_ci))
        .collect();
    if s.scores_only {
        // A table of scores has no checkpoints, divergence or errors: those columns go, and
        // the failure column says what it counts.
        let drop = [
            "failed (selected ckpt)",
            "diverged",
            "errors",
            "interrupted",
        ];
        let keep: Vec<bool> = headers
            .iter()
            .map(|h| !drop.contains(&h.as_str()))
            .collect();
        let filter = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c)
                .collect()
        };
        headers = headers
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect();
        for h in headers.iter_mut() {
            if h == "failed (final score)" {
                *h = "failed (score ≤ baseline)".into();
            }
        }
        rows = rows.into_iter().map(filter).collect();
    }
    Table::of_text(headers, rows)
}

/// Which rendering of a comparison: the report's table, the terminal's or `comparisons.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Full,
    Short,
    Csv,
}

/// The headers of the comparisons in `style`: A, B, then every test's columns; the CSV ends
/// with each p-value test's Holm-adjusted p (its p column's name + `_holm`, e.g.
/// `welch_p_holm`).
pub(crate) fn comparison_headers(style: Style, opts: &ReportOptions) -> Vec<String> {
    let (a, b) = match style {
        Style::Csv => ("a", "b"),
        _ => ("A", "B"),
    };
    let mut h = vec![a.to_string(), b.to_string()];
    let tests = tests_in(style, opts);
    for t in &tests {
        let c = t.columns();
        let cols = match style {
            Style::Full => c.full,
            Style::Short => c.short,
            Style::Csv => c.csv,
        };
        h.extend(cols.iter().map(|c| c.to_string()));
    }
    if style == Style::Csv {
        h.extend(
            tests
                .iter()
                .filter(|t| t.kind() == Kind::PValue)
                .map(|t| format!("{}_holm", t.columns().csv.last().unwrap_or(&t.key()))),
        );
    }
    h
}

/// The tests in the order of `style`: the tables show the tests with a p-value first; the CSV
/// keeps the table's order (new columns go last: scripts read by position too).
fn tests_in(style: Style, opts: &ReportOptions) -> Vec<&'static dyn Test> {
    match style {
        Style::Csv => enabled(opts),
        _ => table_order(opts),
    }
}

/// One comparison's cells in `style`, from the tests' table.
pub(crate) fn comparison_cells(c: &Comparison, s: &ReportSummary, style: Style) -> Vec<String> {
    let find = |name: &str| s.groups.iter().find(|g| g.group == name);
    let row = Row {
        name_a: &c.a,
        name_b: &c.b,
        a: find(&c.a),
        b: find(&c.b),
        opts: &s.options,
        alpha: s.findings.alpha,
        family: s.comparisons.len(),
    };
    let mut cells = vec![c.a.clone(), c.b.clone()];
    let tests = tests_in(style, &s.options);
    for t in &tests {
        let width = match style {
            Style::Full => t.columns().full.len(),
            Style::Short => t.columns().short.len(),
            Style::Csv => t.columns().csv.len(),
        };
        match c.result(t.key()) {
            Some(r) => cells.extend(match style {
                Style::Full => t.full(r, &row),
                Style::Short => t.short(r, &row),
                Style::Csv => t.csv(r),
            }),
            None => cells.extend(std::iter::repeat_n("not run".to_string(), width)),
        }
    }
    if style == Style::Csv {
        for t in tests.iter().filter(|t| t.kind() == Kind::PValue) {
            let adj = c.result(t.key()).and_then(adjusted);
            cells.push(adj.map_or(String::new(), |p| p.to_string()));
        }
    }
    cells
}

/// The comparisons as a table in `style` (report or terminal).
pub(crate) fn comparison_table(s: &ReportSummary, style: Style) -> Table {
    let rows = s
        .comparisons
        .iter()
        .map(|c| comparison_cells(c, s, style))
        .collect();
    Table::of_text(comparison_headers(style, &s.options), rows)
}

/// Expected maximum at n = 1, 2, 3, 5, 10, 20, … up to each group's N.
pub(crate) fn expected_max_table(s: &ReportSummary) -> Table {
    let max_n = s.groups.iter().map(|g| g.n).max().unwrap_or(0);
    let ns: Vec<usize> = [1, 2, 3, 5, 10, 20, 50, 100]
        .into_iter()
        .filter(|&n| n <= max_n)
        .collect();
    let mut headers = vec!["group".to_string()];
    headers.extend(ns.iter().map(|n| format!("n={n}")));
    let rows = s
        .groups
        .iter()
        .map(|g| {
            let cells = ns
                .iter()
                .map(|&n| match g.expected_max.iter().find(|e| e.n == n) {
                    Some(e) => format!(
                        "{:.4} ± {:.4} / {:.4}",
                        e.with_replacement, e.with_replacement_sd, e.without_replacement
                    ),
                    None => "–".into(),
                });
            std::iter::once(g.group.clone()).chain(cells).collect()
        })
        .collect();
    Table::of_text(headers, rows)
}

/// Variance shares of init and data seed, for groups that vary both.
pub(crate) fn seed_table(s: &ReportSummary) -> Option<Table> {
    let rows: Vec<Vec<String>> = s
        .groups
        .iter()
        .filter_map(|g| match (&g.seed_variance, &g.seed_variance_note) {
            (Some(v), _) => Some(vec![
                g.group.clone(),
                format!("{} × {} × {}", v.init_levels, v.data_levels, v.replicates),
                format!("{:.1}%", v.share_init * 100.0),
                format!("{:.1}%", v.share_data * 100.0),
                format!("{:.1}%", v.share_residual * 100.0),
            ]),
            (None, Some(d)) => Some(vec![
                g.group.clone(),
                format!("not estimated: {}", d.reason),
                "–".into(),
                "–".into(),
                "–".into(),
            ]),
            _ => None,
        })
        .collect();
    let headers = [
        "group",
        "init × data seeds × runs",
        "init seed",
        "data seed",
        "residual",
    ];
    (!rows.is_empty()).then(|| Table::of_text(headers.map(String::from).to_vec(), rows))
}
