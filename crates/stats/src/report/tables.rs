//! The report's tables, built once from a [`ReportSummary`] and shared by every output; one
//! [`ComparisonRow`] type formats a comparison for the report, the terminal and the CSV.

use crate::aso::AsoResult;
use crate::fmt::{p_value, percent, score};
use crate::hypothesis::Degenerate;
use crate::summary::{Comparison, GroupSummary, ReportSummary, Tested};
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

fn group_row(g: &GroupSummary, any_div: bool, with_ci: bool) -> Vec<String> {
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
        failed(g.failed_selected),
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
    if any_div {
        r.insert(2, g.n_without_diverged.to_string());
        r.push(score(g.mean_without_diverged));
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
    if any_div {
        headers.insert(2, "n w/o diverged".into());
        headers.push("mean w/o diverged".into());
    }
    let lvl = (s.options.confidence_level * 100.0).round();
    if with_ci {
        headers.push(format!("failure rate [{lvl}% Wilson]"));
        headers.push(format!("mean {lvl}% CI"));
        headers.push(format!("std {lvl}% CI"));
        headers.push(format!("median {lvl}% CI"));
    }
    let rows = s
        .groups
        .iter()
        .map(|g| group_row(g, any_div, with_ci))
        .collect();
    Table::of_text(headers, rows)
}

/// One test of a comparison: its result as shown, its p-value and raw numbers for the CSV, or
/// why its input is degenerate.
enum TestCell<'a> {
    Done {
        shown: String,
        p: f64,
        /// CSV columns before the p-value (statistics), empty cells for undefined ones.
        raw: Vec<String>,
    },
    Degenerate(&'a Degenerate),
}

impl<'a> TestCell<'a> {
    fn of<T>(t: &'a Tested<T>, f: impl FnOnce(&T) -> (String, f64, Vec<String>)) -> Self {
        match t {
            Ok(v) => {
                let (shown, p, raw) = f(v);
                TestCell::Done { shown, p, raw }
            }
            Err(d) => TestCell::Degenerate(d),
        }
    }

    fn full(&self) -> String {
        match self {
            TestCell::Done { shown, .. } => shown.clone(),
            TestCell::Degenerate(d) => d.cell(),
        }
    }

    fn short(&self) -> String {
        match self {
            TestCell::Done { p, .. } => p_value(*p),
            TestCell::Degenerate(d) => d.short_cell(),
        }
    }

    /// The statistics' columns, then the p-value's; a degenerate test leaves the statistics
    /// empty and puts its reason in the p-value's cell.
    fn csv(&self, stats: usize) -> Vec<String> {
        match self {
            TestCell::Done { p, raw, .. } => raw.iter().cloned().chain([p.to_string()]).collect(),
            TestCell::Degenerate(d) => vec![String::new(); stats]
                .into_iter()
                .chain([d.cell()])
                .collect(),
        }
    }
}

/// A comparison of two groups, formatted from one place for the report table
/// ([`ComparisonRow::full`]), the terminal ([`ComparisonRow::short`]) and `comparisons.csv`
/// ([`ComparisonRow::csv`]).
pub(crate) struct ComparisonRow<'a> {
    a: &'a str,
    b: &'a str,
    levene_mean: TestCell<'a>,
    levene_median: TestCell<'a>,
    welch: TestCell<'a>,
    mann_whitney: TestCell<'a>,
    fisher: TestCell<'a>,
    aso: &'a Tested<AsoResult>,
    tau: f64,
}

/// Headers of [`ComparisonRow::full`].
pub(crate) const FULL_HEADERS: [&str; 10] = [
    "A",
    "B",
    "Levene (centre: mean) F, p",
    "Brown–Forsythe (centre: median) F, p",
    "Welch t (df), p",
    "Mann–Whitney U, p",
    "failed A vs B, Fisher p",
    "ASO ε_min(A,B)",
    "ASO ε_min(B,A)",
    "ASO verdict",
];

/// Headers of [`ComparisonRow::short`].
pub(crate) const SHORT_HEADERS: [&str; 9] = [
    "A",
    "B",
    "Levene(mean) p",
    "B–F(median) p",
    "Welch p",
    "M–W p",
    "Fisher p",
    "ε(A,B)",
    "ε(B,A)",
];

/// Headers of [`ComparisonRow::csv`] (new columns go last: scripts read by position too).
pub(crate) const CSV_HEADERS: [&str; 15] = [
    "a",
    "b",
    "levene_mean_f",
    "levene_mean_p",
    "levene_median_f",
    "levene_median_p",
    "welch_t",
    "welch_df",
    "welch_p",
    "mannwhitney_u",
    "mannwhitney_p",
    "aso_eps_min_ab",
    "aso_eps_min_ba",
    "fisher_odds_ratio",
    "fisher_p",
];

impl<'a> ComparisonRow<'a> {
    pub fn new(c: &'a Comparison, s: &ReportSummary) -> Self {
        let counts = |name: &str| {
            s.groups
                .iter()
                .find(|g| g.group == name)
                .map_or("?".to_string(), |g| format!("{}/{}", g.failed, g.judged))
        };
        let (fa, fb) = (counts(&c.a), counts(&c.b));
        let levene = |t: &crate::TestResult| {
            let shown = format!("{:.3}, {}", t.statistic, p_value(t.p));
            (shown, t.p, vec![t.statistic.to_string()])
        };
        ComparisonRow {
            a: &c.a,
            b: &c.b,
            levene_mean: TestCell::of(&c.levene_mean, levene),
            levene_median: TestCell::of(&c.levene_median, levene),
            welch: TestCell::of(&c.welch, |w| {
                let shown = format!("{:.3} ({:.1}), {}", w.t, w.df, p_value(w.p));
                (shown, w.p, vec![w.t.to_string(), w.df.to_string()])
            }),
            mann_whitney: TestCell::of(&c.mann_whitney, |m| {
                let exact = if m.exact { " (exact)" } else { "" };
                let shown = format!("{}, {}{exact}", m.u, p_value(m.p));
                (shown, m.p, vec![m.u.to_string()])
            }),
            fisher: TestCell::of(&c.fisher, |f| {
                let shown = format!("{fa} vs {fb}, {}", p_value(f.p));
                let or = f.odds_ratio.map_or(String::new(), |o| o.to_string());
                (shown, f.p, vec![or])
            }),
            aso: &c.aso,
            tau: s.options.aso_tau,
        }
    }

    /// ε_min(A,B) and ε_min(B,A); a degenerate ASO gives its reason in the first cell only.
    fn aso_cells(&self, cell: fn(&Degenerate) -> String) -> [String; 2] {
        match self.aso {
            Ok(a) => [
                format!("{:.3}", a.eps_min_ab),
                format!("{:.3}", a.eps_min_ba),
            ],
            Err(d) => [cell(d), "n/a: degenerate".into()],
        }
    }

    fn verdict(&self) -> String {
        match self.aso {
            Ok(a) if a.eps_min_ab < self.tau => format!("{} ≻ {}", self.a, self.b),
            Ok(a) if a.eps_min_ba < self.tau => format!("{} ≻ {}", self.b, self.a),
            Ok(_) => "neither".into(),
            Err(_) => "n/a".into(),
        }
    }

    fn tests(&self) -> [&TestCell<'a>; 5] {
        [
            &self.levene_mean,
            &self.levene_median,
            &self.welch,
            &self.mann_whitney,
            &self.fisher,
        ]
    }

    pub fn full(&self) -> Vec<String> {
        let mut r = vec![self.a.to_string(), self.b.to_string()];
        r.extend(self.tests().iter().map(|t| t.full()));
        r.extend(self.aso_cells(Degenerate::cell));
        r.push(self.verdict());
        r
    }

    pub fn short(&self) -> Vec<String> {
        let mut r = vec![self.a.to_string(), self.b.to_string()];
        r.extend(self.tests().iter().map(|t| t.short()));
        r.extend(self.aso_cells(Degenerate::short_cell));
        r
    }

    pub fn csv(&self) -> Vec<String> {
        let mut r = vec![self.a.to_string(), self.b.to_string()];
        r.extend(self.levene_mean.csv(1));
        r.extend(self.levene_median.csv(1));
        r.extend(self.welch.csv(2));
        r.extend(self.mann_whitney.csv(1));
        r.extend(match self.aso {
            Ok(a) => [a.eps_min_ab.to_string(), a.eps_min_ba.to_string()],
            Err(d) => [d.cell(), d.cell()],
        });
        r.extend(self.fisher.csv(1));
        r
    }
}

/// The comparisons as a table of `headers` with cells from `cells`.
pub(crate) fn comparison_table(
    s: &ReportSummary,
    headers: &[&str],
    cells: fn(&ComparisonRow) -> Vec<String>,
) -> Table {
    let rows = s
        .comparisons
        .iter()
        .map(|c| cells(&ComparisonRow::new(c, s)))
        .collect();
    Table::of_text(headers.iter().map(|h| h.to_string()).collect(), rows)
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
                d.cell(),
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
