//! Rendering a [`ReportSummary`] into files: `report.md`, `report.html`, `report.json`,
//! `summary.csv`, `summary.json`, `comparisons.csv` and the plots.
//!
//! Design decisions:
//! - **One document model** ([`document`]): what a report says and in which order is decided
//!   once ([`content`]) and rendered to Markdown and HTML, so the two cannot drift apart.
//! - **One table of pairwise tests** ([`crate::pairwise::TESTS`]) gives the columns of a
//!   comparison in the report, the terminal and `comparisons.csv`.
//! - **Findings first**: every report (and its JSON) opens with the plain sentences of
//!   [`crate::findings`].
//! - **No write is ignored**: every CSV record, flush and file write reports its path.

mod content;
mod document;
mod tables;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyze::summarize_with_progress;
use crate::load::ReportInput;
use crate::plots::render_plots;
use crate::summary::{NoProgress, Progress, ReportOptions, ReportSummary};
use crate::StatsError;
pub use content::terminal_table;
use content::{index_document, report_document};
use tables::{comparison_cells, comparison_headers, Style};

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
    /// Runs with a failure verdict (the failure rate is `failed / judged`).
    #[serde(default)]
    pub judged: usize,
    /// Wilson interval of the failure rate.
    #[serde(default)]
    pub failure_ci_low: Option<f64>,
    #[serde(default)]
    pub failure_ci_high: Option<f64>,
    /// Runs whose selected checkpoint is the untrained model (counted in `failed_selected`).
    #[serde(default)]
    pub never_improved: usize,
    /// Standard deviation of the scores of the runs that did not fail.
    #[serde(default)]
    pub std_not_failed: Option<f64>,
    /// Runs stopped as predicted failures (counted in `failed`).
    #[serde(default)]
    pub stopped: usize,
    /// Planned steps of the group's runs, and the steps stopping saved.
    #[serde(default)]
    pub steps_planned: u64,
    #[serde(default)]
    pub steps_saved: u64,
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
                judged: g.judged,
                failure_ci_low: g.failure_ci.map(|i| i.lower),
                failure_ci_high: g.failure_ci.map(|i| i.upper),
                never_improved: g.never_improved,
                std_not_failed: g.std_not_failed,
                stopped: g.stopped,
                steps_planned: g.steps_planned,
                steps_saved: g.steps_saved,
            }
        })
        .collect()
}

fn write(path: &Path, contents: &[u8]) -> Result<(), StatsError> {
    std::fs::write(path, contents).map_err(|source| StatsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `rows` (after `header`, when given) as CSV to `path`, every cell through
/// [`csv_safe`]. Rows are serialised first (serde names the header fields), then read back as
/// plain records so that every cell, header and group names included, passes the one check.
fn write_csv<R: Serialize>(
    path: &Path,
    header: Option<&[&str]>,
    rows: impl IntoIterator<Item = R>,
) -> Result<(), StatsError> {
    let err = |source| StatsError::CsvWrite {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = csv::Writer::from_writer(Vec::new());
    if let Some(h) = header {
        raw.write_record(h).map_err(err)?;
    }
    for r in rows {
        raw.serialize(r).map_err(err)?;
    }
    let raw = raw.into_inner().map_err(|e| StatsError::Write {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(raw.as_slice());
    for record in records.records() {
        let record = record.map_err(err)?;
        w.write_record(record.iter().map(|cell| csv_safe(cell).into_owned()))
            .map_err(err)?;
    }
    w.flush().map_err(|source| StatsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A CSV cell that a spreadsheet will not run as a formula (OWASP, "CSV Injection"): a cell
/// that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which
/// spreadsheets read as "text" and do not show. Plain numbers (`-0.05`, `1e-5`) are left as
/// they are: a spreadsheet reads them as numbers, never as formulas, and scripts keep reading
/// them as numbers. Every CSV stab writes goes through here.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = cell.parse::<f64>().is_ok()
        && cell
            .chars()
            .all(|c| c.is_ascii_digit() || ".eE+-".contains(c));
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The input's groups for an error message: at most 20, then "…".
fn group_list(input: &ReportInput) -> String {
    let mut groups: Vec<&str> = input.runs.iter().map(|r| r.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let shown: Vec<String> = groups.iter().take(20).map(|g| format!("`{g}`")).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if groups.len() > 20 { ", …" } else { "" }
    )
}

/// Checks the options against the input. `contrasts`: whether every contrast must name groups
/// of this input (a section of a sectioned report may lack a contrast's groups: the contrast
/// is then listed as not compared there).
fn check_options(
    input: &ReportInput,
    opts: &ReportOptions,
    contrasts: bool,
) -> Result<(), StatsError> {
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
    if let Some(d) = opts.equivalence_margin {
        if !(d.is_finite() && d > 0.0) {
            return Err(StatsError::Options(format!(
                "--equivalence-margin must be a positive number of score units, got {d}"
            )));
        }
    }
    for (a, b) in opts.contrasts.iter().filter(|_| contrasts) {
        if a == b {
            return Err(StatsError::Options(format!(
                "contrast `{a}:{b}` compares a group with itself"
            )));
        }
        for g in [a, b] {
            if !input.runs.iter().any(|r| &r.group == g) {
                return Err(StatsError::Options(format!(
                    "contrast `{a}:{b}`: `{g}` is not a group of the input (groups: {})",
                    group_list(input)
                )));
            }
        }
    }
    if let Some(base) = &opts.baseline_group {
        if !input.runs.iter().any(|r| &r.group == base) {
            return Err(StatsError::Options(format!(
                "baseline group `{base}` is not a group of the input (groups: {})",
                group_list(input)
            )));
        }
    }
    Ok(())
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
    check_options(input, opts, true)?;
    write_checked(out_dir, input, opts, progress)
}

fn write_checked(
    out_dir: &Path,
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> Result<ReportSummary, StatsError> {
    stab_store::create_dir_all(out_dir).map_err(|source| StatsError::Write {
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
    write_csv(&out_dir.join("summary.csv"), None, &rows)?;
    let comparisons = s
        .comparisons
        .iter()
        .map(|c| comparison_cells(c, &s, Style::Csv));
    let headers = comparison_headers(Style::Csv, &s.options);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    write_csv(
        &out_dir.join("comparisons.csv"),
        Some(&headers),
        comparisons,
    )?;
    s.files = [
        "report.md",
        "report.html",
        "summary.csv",
        "summary.json",
        "comparisons.csv",
        "report.json",
    ]
    .map(String::from)
    .to_vec();
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
    let doc = report_document(&s, &plots);
    write(&out_dir.join("report.md"), doc.markdown().as_bytes())?;
    write(&out_dir.join("report.html"), doc.html().as_bytes())?;
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
/// gets an index (`report.md`, `report.html`) listing them with their findings and the
/// input's problems. An input of one section is written into `out_dir` as by [`write_report`].
pub fn write_sectioned_report(
    out_dir: &Path,
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> Result<Vec<SectionReport>, StatsError> {
    check_options(input, opts, true)?;
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
    let mut folders = Vec::new();
    for (label, part) in &parts {
        let folder = slug(label);
        let dir = out_dir.join(&folder);
        let mut o = ReportOptions {
            title: format!("{} — {label}", opts.title),
            ..opts.clone()
        };
        // A baseline group need only exist in the sections that have it.
        if matches!(&o.baseline_group, Some(b) if !part.runs.iter().any(|r| &r.group == b)) {
            o.baseline_group = None;
        }
        check_options(part, &o, false)?;
        let summary = write_checked(&dir, part, &o, progress)?;
        out.push(SectionReport {
            section: label.clone(),
            dir,
            summary,
        });
        folders.push(folder);
    }
    let index = index_document(&opts.title, input, &out, &folders);
    write(&out_dir.join("report.md"), index.markdown().as_bytes())?;
    write(&out_dir.join("report.html"), index.html().as_bytes())?;
    Ok(out)
}
