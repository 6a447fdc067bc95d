//! Rendering a [`ReportSummary`]: Markdown, HTML, CSV, JSON and a terminal table.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hypothesis::Degenerate;
use crate::load::ReportInput;
use crate::plots::{render_plots, PlotFile};
use crate::summary::{
    summarize_with_progress, Comparison, GroupSummary, NoProgress, Progress, ReportOptions,
    ReportSummary, Tested,
};
use crate::StatsError;

/// A rendered-anywhere table: Markdown, HTML and fixed-width text share it.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn markdown(&self) -> String {
        let mut s = format!("| {} |\n", self.headers.join(" | "));
        s += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for r in &self.rows {
            s += &format!("| {} |\n", r.join(" | "));
        }
        s
    }

    fn html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s += "</tr></thead>\n<tbody>\n";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
            s += "</tr>\n";
        }
        s + "</tbody>\n</table>\n"
    }

    fn text(&self) -> String {
        let w: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&w)
                .enumerate()
                .map(|(i, (c, w))| {
                    let pad = w - c.chars().count();
                    if i == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut s = line(&self.headers) + "\n";
        s += &(w
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
            + "\n");
        for r in &self.rows {
            s += &(line(r) + "\n");
        }
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A score with 4 significant decimals; "–" when missing.
fn f(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.4}"),
        Some(v) => format!("{v}"),
        None => "–".into(),
    }
}

/// A p-value: fixed for p ≥ 0.001, scientific below.
fn p(v: f64) -> String {
    if v >= 1e-3 {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    }
}

fn std_cell(g: &GroupSummary) -> String {
    match &g.stats {
        Some(s) => match s.std {
            Some(sd) => format!("{sd:.4}"),
            None => "n/a (1 run)".into(),
        },
        None => "–".into(),
    }
}

fn group_table(s: &ReportSummary, with_ci: bool) -> Table {
    let any_div = s.groups.iter().any(|g| g.diverged > 0);
    let mut headers: Vec<String> = [
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
    ]
    .map(String::from)
    .to_vec();
    if any_div {
        headers.insert(2, "n w/o diverged".into());
        headers.push("mean w/o diverged".into());
    }
    let lvl = (s.options.confidence_level * 100.0).round();
    if with_ci {
        headers.push(format!("mean {lvl}% CI"));
        headers.push(format!("std {lvl}% CI"));
        headers.push(format!("median {lvl}% CI"));
    }
    let rows = s
        .groups
        .iter()
        .map(|g| {
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
                f(st.map(|d| d.mean)),
                f(st.map(|d| d.median)),
                f(st.map(|d| d.max)),
                f(st.map(|d| d.min)),
                f(st.map(|d| d.iqr)),
            ];
            if any_div {
                r.insert(2, g.n_without_diverged.to_string());
                r.push(f(g.mean_without_diverged));
            }
            if with_ci {
                let ci = |i: Option<crate::Interval>| match i {
                    Some(i) => format!("[{:.4}, {:.4}]", i.lower, i.upper),
                    None => "–".into(),
                };
                r.push(ci(g.ci.map(|c| c.mean)));
                r.push(ci(g.ci.and_then(|c| c.std)));
                r.push(ci(g.ci.map(|c| c.median)));
            }
            r
        })
        .collect();
    Table { headers, rows }
}

fn comparison_table(s: &ReportSummary) -> Table {
    let tau = s.options.aso_tau;
    let headers = [
        "A",
        "B",
        "Levene (centre: mean) F, p",
        "Brown–Forsythe (centre: median) F, p",
        "Welch t (df), p",
        "Mann–Whitney U, p",
        "ASO ε_min(A,B)",
        "ASO ε_min(B,A)",
        "ASO verdict",
    ]
    .map(String::from)
    .to_vec();
    let rows = s
        .comparisons
        .iter()
        .map(|c| {
            let lev = |t: &Tested<crate::TestResult>| match t {
                Ok(t) => format!("{:.3}, {}", t.statistic, p(t.p)),
                Err(d) => d.cell(),
            };
            let (eps_ab, eps_ba) = aso_cells(c, Degenerate::cell);
            vec![
                c.a.clone(),
                c.b.clone(),
                lev(&c.levene_mean),
                lev(&c.levene_median),
                match &c.welch {
                    Ok(w) => format!("{:.3} ({:.1}), {}", w.t, w.df, p(w.p)),
                    Err(d) => d.cell(),
                },
                match &c.mann_whitney {
                    Ok(m) => format!(
                        "{}, {}{}",
                        m.u,
                        p(m.p),
                        if m.exact { " (exact)" } else { "" }
                    ),
                    Err(d) => d.cell(),
                },
                eps_ab,
                eps_ba,
                aso_verdict(c, tau),
            ]
        })
        .collect();
    Table { headers, rows }
}

/// ε_min(A,B) and ε_min(B,A); a degenerate ASO gives its reason in the first cell only.
fn aso_cells(c: &Comparison, cell: fn(&Degenerate) -> String) -> (String, String) {
    match &c.aso {
        Ok(a) => (
            format!("{:.3}", a.eps_min_ab),
            format!("{:.3}", a.eps_min_ba),
        ),
        Err(d) => (cell(d), "n/a: degenerate".into()),
    }
}

fn aso_verdict(c: &Comparison, tau: f64) -> String {
    match &c.aso {
        Ok(a) if a.eps_min_ab < tau => format!("{} ≻ {}", c.a, c.b),
        Ok(a) if a.eps_min_ba < tau => format!("{} ≻ {}", c.b, c.a),
        Ok(_) => "neither".into(),
        Err(_) => "n/a".into(),
    }
}

/// Expected maximum at n = 1, 2, 3, 5, 10, 20, … up to each group's N.
fn expected_max_table(s: &ReportSummary) -> Table {
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
            let mut r = vec![g.group.clone()];
            r.extend(
                ns.iter()
                    .map(|&n| match g.expected_max.iter().find(|e| e.n == n) {
                        Some(e) => format!(
                            "{:.4} ± {:.4} / {:.4}",
                            e.with_replacement, e.with_replacement_sd, e.without_replacement
                        ),
                        None => "–".into(),
                    }),
            );
            r
        })
        .collect();
    Table { headers, rows }
}

fn seed_table(s: &ReportSummary) -> Option<Table> {
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
    (!rows.is_empty()).then(|| Table {
        headers: [
            "group",
            "init × data seeds × runs",
            "init seed",
            "data seed",
            "residual",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
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

/// One tidy row per group for `summary.csv` / `summary.json` (pandas-friendly: flat columns,
/// empty/null where undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub group: String,
    pub runs: usize,
    pub n: usize,
    pub failed: usize,
    pub diverged: usize,
    pub errors: usize,
    pub interrupted: usize,
    pub non_finite: usize,
    /// CSV rows whose score is not a number.
    pub unreadable: usize,
    /// `task · metric` of the group.
    pub section: String,
    pub n_without_diverged: usize,
    /// Failed on the selected checkpoint's score (`failed` is on the final score).
    pub failed_selected: usize,
    /// Diverged runs without a score (counted in `failed`).
    pub diverged_unscored: usize,
    pub mean_without_diverged: Option<f64>,
    pub baseline: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub median: Option<f64>,
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    pub iqr: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean_ci_low: Option<f64>,
    pub mean_ci_high: Option<f64>,
    pub std_ci_low: Option<f64>,
    pub std_ci_high: Option<f64>,
    pub median_ci_low: Option<f64>,
    pub median_ci_high: Option<f64>,
    /// Expected max (Dodge, with replacement) after N runs, N = this group's n.
    pub expected_max_n: Option<f64>,
    pub share_init_seed: Option<f64>,
    pub share_data_seed: Option<f64>,
}

/// The tidy rows of a summary.
pub fn summary_rows(s: &ReportSummary) -> Vec<SummaryRow> {
    s.groups
        .iter()
        .map(|g| {
            let st = g.stats.as_ref();
            SummaryRow {
                group: g.group.clone(),
                runs: g.runs,
                n: g.n,
                failed: g.failed,
                diverged: g.diverged,
                errors: g.errors,
                interrupted: g.interrupted,
                non_finite: g.non_finite,
                unreadable: g.unreadable,
                section: g.section.clone(),
                n_without_diverged: g.n_without_diverged,
                failed_selected: g.failed_selected,
                diverged_unscored: g.diverged_unscored,
                mean_without_diverged: g.mean_without_diverged,
                baseline: g.baseline,
                mean: st.map(|d| d.mean),
                std: st.and_then(|d| d.std),
                median: st.map(|d| d.median),
                q1: st.map(|d| d.q1),
                q3: st.map(|d| d.q3),
                iqr: st.map(|d| d.iqr),
                min: st.map(|d| d.min),
                max: st.map(|d| d.max),
                mean_ci_low: g.ci.map(|c| c.mean.lower),
                mean_ci_high: g.ci.map(|c| c.mean.upper),
                std_ci_low: g.ci.and_then(|c| c.std).map(|i| i.lower),
                std_ci_high: g.ci.and_then(|c| c.std).map(|i| i.upper),
                median_ci_low: g.ci.map(|c| c.median.lower),
                median_ci_high: g.ci.map(|c| c.median.upper),
                expected_max_n: g.expected_max.last().map(|e| e.with_replacement),
                share_init_seed: g.seed_variance.map(|v| v.share_init),
                share_data_seed: g.seed_variance.map(|v| v.share_data),
            }
        })
        .collect()
}

/// A compact table of the groups (and comparisons) for printing to a terminal.
pub fn terminal_table(s: &ReportSummary) -> String {
    let mut out = group_table(s, false).text();
    if !s.comparisons.is_empty() {
        let c = comparison_table(s);
        let t = Table {
            headers: vec![
                c.headers[0].clone(),
                c.headers[1].clone(),
                "Levene(mean) p".into(),
                "B–F(median) p".into(),
                "Welch p".into(),
                "M–W p".into(),
                "ε(A,B)".into(),
                "ε(B,A)".into(),
            ],
            rows: s
                .comparisons
                .iter()
                .map(|c| {
                    let pv = |x: Result<f64, &Degenerate>| match x {
                        Ok(v) => p(v),
                        Err(d) => d.short_cell(),
                    };
                    let (eps_ab, eps_ba) = aso_cells(c, Degenerate::short_cell);
                    vec![
                        c.a.clone(),
                        c.b.clone(),
                        pv(c.levene_mean.as_ref().map(|t| t.p)),
                        pv(c.levene_median.as_ref().map(|t| t.p)),
                        pv(c.welch.as_ref().map(|t| t.p)),
                        pv(c.mann_whitney.as_ref().map(|t| t.p)),
                        eps_ab,
                        eps_ba,
                    ]
                })
                .collect(),
        };
        out += &format!("\nPairs compared: {}.\n", s.pair_rule);
        out += "\n";
        out += &t.text();
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
    if let Some(m) = &s.metric {
        v.push(format!(
            "Score: `{m}` of each run (its reported/selected checkpoint; a diverged run: its predictions at divergence)"
        ));
    }
    let sections: std::collections::BTreeSet<&str> =
        s.groups.iter().map(|g| g.section.as_str()).collect();
    if sections.len() > 1 {
        v.push(format!(
            "Tasks/metrics: {} — never pooled; each group is of one task · metric and groups are compared within their task · metric only.",
            sections.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    v.push(format!(
        "Failed run: dev score at the end of training at or below the majority-class baseline{} (Mosbach et al. 2021; Dodge et al. 2020), or diverged without a score; `failed (selected ckpt)` applies the same rule to the selected checkpoint's score.",
        match s.options.baseline {
            Some(b) => format!(" (given: {b})"),
            None => " of the run's task".into(),
        }
    ));
    v.push(
        "Diverged and errored runs are counted, never dropped: n counts every run with a score, finished or diverged (a diverged run is scored on its predictions at divergence and marked ▲ in the plots; `n w/o diverged` and `mean w/o diverged` leave them out); errored and interrupted runs have no score and are counted in their own columns."
            .into(),
    );
    v.push(format!(
        "std: sample standard deviation (ddof 1). IQR: numpy linear percentiles. CIs: percentile bootstrap, {} resamples, seed {}.",
        s.options.bootstrap_iterations, s.options.seed
    ));
    v.push(format!(
        "ASO: ε_min < τ = {} means A almost stochastically dominates B; confidence {} adjusted to {:.4} over {} comparison(s) by deepsig's rule c + (1−c)/m (deepsig 1.2.8; not Bonferroni, whose 1 − (1−c)/m is stricter for m > 2); {} bootstrap iterations.",
        s.options.aso_tau,
        s.options.confidence_level,
        s.aso_confidence,
        s.comparisons.len(),
        s.options.bootstrap_iterations
    ));
    v.push(format!("Pairs compared: {}.", s.pair_rule));
    v.push(
        "n/a: degenerate (…): the test's input is degenerate (constant groups, zero within-group spread, too few runs) and any p-value would be an artifact; see the stab-stats `hypothesis` docs for the rules and where they differ from SciPy."
            .into(),
    );
    v
}

fn markdown(s: &ReportSummary, plots: &[PlotFile]) -> String {
    let mut md = format!("# {}\n\n", s.options.title);
    for l in header_lines(s) {
        md += &format!("- {l}\n");
    }
    md += "\n## Scores per group\n\n";
    md += &group_table(s, true).markdown();
    if !s.comparisons.is_empty() {
        md += "\n## Comparisons\n\n";
        md += &comparison_table(s).markdown();
    }
    if s.groups.iter().any(|g| g.n > 0) {
        md += "\n## Expected maximum after n runs\n\nEach cell: Dodge et al. (2019) estimate (with replacement) ± its standard deviation / unbiased estimate (without replacement).\n\n";
        md += &expected_max_table(s).markdown();
    }
    if let Some(t) = seed_table(s) {
        md += "\n## Variance share of init seed vs. data seed\n\nTwo-way random-effects ANOVA (Dodge et al. 2020), components from mean squares, negative estimates clipped to 0.\n\n";
        md += &t.markdown();
    }
    let problems = problem_lines(s);
    if !problems.is_empty() {
        md += "\n## Notes and problems\n\n";
        for l in &problems {
            md += &format!("- {l}\n");
        }
    }
    if !plots.is_empty() {
        md += "\n## Plots\n\n";
        for pl in plots {
            md += &format!("![{}](plots/{}.png)\n\n", pl.title, pl.name);
        }
    }
    md
}

fn html(s: &ReportSummary, plots: &[PlotFile]) -> String {
    let mut h =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(h, "<title>{}</title>", esc(&s.options.title));
    h += "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}figure{margin:2em 0}\
figure svg{max-width:100%;height:auto}figcaption{color:#555}</style>\n</head>\n<body>\n";
    let _ = writeln!(h, "<h1>{}</h1>\n<ul>", esc(&s.options.title));
    for l in header_lines(s) {
        let _ = writeln!(h, "<li>{}</li>", esc(&l.replace('`', "")));
    }
    h += "</ul>\n<h2>Scores per group</h2>\n";
    h += &group_table(s, true).html();
    if !s.comparisons.is_empty() {
        h += "<h2>Comparisons</h2>\n";
        h += &comparison_table(s).html();
    }
    if s.groups.iter().any(|g| g.n > 0) {
        h += "<h2>Expected maximum after n runs</h2>\n<p>Dodge et al. (2019) estimate ± standard deviation / unbiased estimate.</p>\n";
        h += &expected_max_table(s).html();
    }
    if let Some(t) = seed_table(s) {
        h += "<h2>Variance share of init seed vs. data seed</h2>\n";
        h += &t.html();
    }
    let problems = problem_lines(s);
    if !problems.is_empty() {
        h += "<h2>Notes and problems</h2>\n<ul>\n";
        for l in &problems {
            let _ = writeln!(h, "<li>{}</li>", esc(l));
        }
        h += "</ul>\n";
    }
    for pl in plots {
        // Inline SVG: the page stays self-contained and sharp at any zoom.
        let svg = pl.svg.find("<svg").map(|i| &pl.svg[i..]).unwrap_or(&pl.svg);
        let _ = write!(
            h,
            "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
            esc(&pl.title)
        );
    }
    h + "</body>\n</html>\n"
}

fn write(path: &Path, contents: &[u8]) -> Result<(), StatsError> {
    std::fs::write(path, contents).map_err(|source| StatsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Computes the summary and writes `report.md`, `report.html`, `summary.csv`, `summary.json`,
/// `comparisons.csv`, `report.json` (everything, nested) and `plots/*.{png,svg}` into `out_dir`
/// (created if needed).
pub fn write_report(
    out_dir: &Path,
    input: &ReportInput,
    opts: &ReportOptions,
) -> Result<ReportSummary, StatsError> {
    write_report_with_progress(out_dir, input, opts, &NoProgress)
}

/// [`write_report`], reporting progress of the long stages.
pub fn write_report_with_progress(
    out_dir: &Path,
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> Result<ReportSummary, StatsError> {
    if !(opts.confidence_level > 0.0 && opts.confidence_level < 1.0) {
        return Err(StatsError::Options(format!(
            "confidence level must lie in (0, 1), got {}",
            opts.confidence_level
        )));
    }
    if opts.top_k < 2 {
        return Err(StatsError::Options(format!(
            "--top-k must be at least 2 (a pair), got {}",
            opts.top_k
        )));
    }
    if let Some(base) = &opts.baseline_group {
        if !input.runs.iter().any(|r| &r.group == base) {
            let mut groups: Vec<&str> = input.runs.iter().map(|r| r.group.as_str()).collect();
            groups.sort_unstable();
            groups.dedup();
            let shown: Vec<String> = groups.iter().take(20).map(|g| format!("`{g}`")).collect();
            return Err(StatsError::Options(format!(
                "baseline group `{base}` is not a group of the input (groups: {}{})",
                shown.join(", "),
                if groups.len() > 20 { ", …" } else { "" }
            )));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|source| StatsError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut s = summarize_with_progress(input, opts, progress);
    let plots = if opts.plots {
        render_plots(&out_dir.join("plots"), input, &s, opts)?
    } else {
        Vec::new()
    };
    let rows = summary_rows(&s);
    let csv_path = out_dir.join("summary.csv");
    let csv_err = |source| StatsError::Csv {
        path: csv_path.clone(),
        source,
    };
    let mut w = csv::Writer::from_path(&csv_path).map_err(csv_err)?;
    for r in &rows {
        w.serialize(r).map_err(csv_err)?;
    }
    w.flush().map_err(|source| StatsError::Write {
        path: csv_path.clone(),
        source,
    })?;
    let cmp_path = out_dir.join("comparisons.csv");
    let mut w = csv::Writer::from_path(&cmp_path).map_err(|source| StatsError::Csv {
        path: cmp_path.clone(),
        source,
    })?;
    let _ = w.write_record([
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
    ]);
    // A degenerate test: empty statistic, the reason in the p-value's cell.
    fn cols<T>(t: &Tested<T>, stats: &[fn(&T) -> f64], p: fn(&T) -> f64) -> Vec<String> {
        match t {
            Ok(v) => stats
                .iter()
                .map(|f| f(v).to_string())
                .chain([p(v).to_string()])
                .collect(),
            Err(d) => vec![String::new(); stats.len()]
                .into_iter()
                .chain([d.cell()])
                .collect(),
        }
    }
    for c in &s.comparisons {
        let mut row = vec![c.a.clone(), c.b.clone()];
        row.extend(cols(&c.levene_mean, &[|t| t.statistic], |t| t.p));
        row.extend(cols(&c.levene_median, &[|t| t.statistic], |t| t.p));
        row.extend(cols(&c.welch, &[|t| t.t, |t| t.df], |t| t.p));
        row.extend(cols(&c.mann_whitney, &[|t| t.u], |t| t.p));
        let (ab, ba) = match &c.aso {
            Ok(a) => (a.eps_min_ab.to_string(), a.eps_min_ba.to_string()),
            Err(d) => (d.cell(), d.cell()),
        };
        row.extend([ab, ba]);
        w.write_record(&row).map_err(|source| StatsError::Csv {
            path: cmp_path.clone(),
            source,
        })?;
    }
    w.flush().map_err(|source| StatsError::Write {
        path: cmp_path.clone(),
        source,
    })?;
    s.files = vec![
        "report.md".into(),
        "report.html".into(),
        "summary.csv".into(),
        "summary.json".into(),
        "comparisons.csv".into(),
        "report.json".into(),
    ];
    for pl in &plots {
        s.files.push(format!("plots/{}.png", pl.name));
        s.files.push(format!("plots/{}.svg", pl.name));
    }
    let json = serde_json::to_string_pretty(&rows).map_err(|source| StatsError::Json {
        what: "summary rows",
        source,
    })?;
    write(&out_dir.join("summary.json"), json.as_bytes())?;
    let full = serde_json::to_string_pretty(&s).map_err(|source| StatsError::Json {
        what: "report summary",
        source,
    })?;
    write(&out_dir.join("report.json"), full.as_bytes())?;
    write(&out_dir.join("report.md"), markdown(&s, &plots).as_bytes())?;
    write(&out_dir.join("report.html"), html(&s, &plots).as_bytes())?;
    Ok(s)
}

/// One section of a report: its `task · metric`, where it was written, and its summary.
#[derive(Debug, Clone)]
pub struct SectionReport {
    pub section: String,
    /// The folder holding this section's report.md, plots/ …
    pub dir: std::path::PathBuf,
    pub summary: ReportSummary,
}

/// A folder name for a section label: `RTE · accuracy` → `RTE-accuracy`.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() {
        "all".into()
    } else {
        t
    }
}

/// [`write_report`] for an input that may mix tasks or metrics: never pooled, each
/// `task · metric` gets a report of its own in `out_dir/<task>-<metric>/`, and `out_dir`
/// gets an index (`report.md`, `report.html`) listing them with the input's problems. An
/// input of one section is written into `out_dir` as by [`write_report`].
pub fn write_sectioned_report(
    out_dir: &Path,
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> Result<Vec<SectionReport>, StatsError> {
    let parts = input.sections();
    if parts.len() <= 1 {
        let (section, part) = parts.into_iter().next().unwrap_or_default();
        let summary = write_report_with_progress(out_dir, &part, opts, progress)?;
        return Ok(vec![SectionReport {
            section,
            dir: out_dir.to_path_buf(),
            summary,
        }]);
    }
    let mut out = Vec::new();
    for (label, part) in &parts {
        let dir = out_dir.join(slug(label));
        let o = ReportOptions {
            title: format!("{} — {label}", opts.title),
            ..opts.clone()
        };
        // A baseline group need only exist in the sections that have it.
        let o = match &o.baseline_group {
            Some(b) if !part.runs.iter().any(|r| &r.group == b) => ReportOptions {
                baseline_group: None,
                ..o
            },
            _ => o,
        };
        let summary = write_report_with_progress(&dir, part, &o, progress)?;
        out.push(SectionReport {
            section: label.clone(),
            dir,
            summary,
        });
    }
    let mut md = format!("# {}\n\n", opts.title);
    md += &format!(
        "The runs are of {} tasks/metrics. Scores of different tasks or metrics are never pooled: each has its own report.\n\n",
        out.len()
    );
    md += "| task · metric | runs | n (scored) | diverged | failed (final score) | errors | report |\n|---|---|---|---|---|---|---|\n";
    // Each section's folder, relative to the index (links in both documents).
    let rels: Vec<String> = out
        .iter()
        .map(|r| {
            r.dir
                .strip_prefix(out_dir)
                .unwrap_or(&r.dir)
                .display()
                .to_string()
        })
        .collect();
    for (r, rel) in out.iter().zip(&rels) {
        let g = &r.summary.groups;
        let sum = |f: fn(&GroupSummary) -> usize| g.iter().map(f).sum::<usize>();
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | [{rel}/report.md]({rel}/report.md) |\n",
            r.section,
            sum(|g| g.runs),
            sum(|g| g.n),
            sum(|g| g.diverged),
            sum(|g| g.failed),
            sum(|g| g.errors + g.interrupted),
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
        md += "\n## Notes and problems\n\n";
        for l in &lines {
            md += &format!("- {l}\n");
        }
    }
    write(&out_dir.join("report.md"), md.as_bytes())?;
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n<body>\n<h1>{}</h1>\n<p>Scores of different tasks or metrics are never pooled: each has its own report.</p>\n<ul>\n",
        esc(&opts.title),
        esc(&opts.title)
    );
    for (r, rel) in out.iter().zip(&rels) {
        h += &format!(
            "<li><a href=\"{}/report.html\">{}</a></li>\n",
            esc(rel),
            esc(&r.section)
        );
    }
    h += "</ul>\n";
    if !lines.is_empty() {
        h += "<h2>Notes and problems</h2>\n<ul>\n";
        for l in &lines {
            h += &format!("<li>{}</li>\n", esc(l));
        }
        h += "</ul>\n";
    }
    h += "</body>\n</html>\n";
    write(&out_dir.join("report.html"), h.as_bytes())?;
    Ok(out)
}
