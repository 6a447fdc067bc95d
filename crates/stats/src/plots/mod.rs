//! Every chart of a report, each in its own file, drawn once for PNG and once for SVG.
//!
//! Design decisions:
//! - **One frame, many charts.** [`frame`] holds what every chart shares (caption and axes,
//!   palette, legend placement, run markers, baselines, boxes, the PNG + SVG writer); a chart
//!   file holds only its data and what it draws. A new chart implements [`frame::Chart`] and
//!   is added to [`render_plots`].
//! - **Self-contained rendering.** The font (DejaVu Sans, `assets/`) is compiled in and
//!   registered with plotters' `ab_glyph` backend, so rendering needs no system font library
//!   (fontconfig/freetype) and looks the same on every machine.
//! - **Typed errors.** A plotters failure keeps its cause ([`PlotError::Draw`]) instead of
//!   being flattened to a string.

mod axis;
mod box_plot;
mod curves;
mod early_failure;
mod expected_max;
mod frame;
mod power;
mod setting;

use std::collections::BTreeSet;
use std::path::Path;

use plotters::drawing::DrawingAreaErrorKind;

use crate::load::{Outcome, ReportInput, RunEntry};
use crate::summary::{grouped_runs, ReportOptions, ReportSummary};
use crate::StatsError;
use box_plot::{BoxPlot, GroupRuns};
use curves::{CurvePlot, MissingCurves, RunCurve};
use expected_max::ExpectedMaxPlot;
use frame::render;
pub use frame::PlotFile;
use setting::{feature_label, setting_series, SettingPlot, FEATURE_ORDER};

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The compiled-in font was rejected by the font backend.
    #[error("the embedded DejaVu Sans font could not be registered")]
    Font,
    /// plotters failed to draw or to write the image.
    #[error("plotters could not draw")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl<E: std::error::Error + Send + Sync + 'static> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Draw(Box::new(e))
    }
}

/// What a score axis shows ([`crate::summary::ScoreUsed::label`]).
pub(crate) fn score_label(s: &ReportSummary, _input: &ReportInput) -> String {
    s.score.label.clone()
}

/// The axis of the evaluations during training: on a split dev set, its selection half.
fn curve_label(s: &ReportSummary, input: &ReportInput, report_half: bool) -> String {
    let split = input.runs.iter().any(|r| r.eval_set.is_some());
    let set = match (split, report_half) {
        (true, false) => "dev (selection half)",
        (true, true) => "dev (report half)",
        (false, _) => "dev",
    };
    match s.metric.as_deref() {
        Some(m) => format!("{set} {m}"),
        None => format!("{set} score"),
    }
}

/// Draws power against seeds per group for `lines` (label, sample size) into
/// `dir/<name>.png` and `.svg` (`stab plan --plot DIR`).
pub fn power_plot(
    dir: &Path,
    name: &str,
    title: &str,
    lines: Vec<(String, &crate::plan::SampleSize)>,
    target: f64,
) -> Result<PlotFile, StatsError> {
    prepare(dir)?;
    let plot = power::PowerPlot {
        title: title.into(),
        lines,
        target,
    };
    render(dir, name, &plot)
}

/// Draws precision and recall against the fraction of training for `rows` (one section, one
/// group or all groups pooled) into `dir/<name>.png` and `.svg` (`stab early-failure`).
pub fn early_failure_plot(
    dir: &Path,
    name: &str,
    title: &str,
    rows: Vec<&crate::early_failure::RuleRow>,
) -> Result<PlotFile, StatsError> {
    prepare(dir)?;
    let plot = early_failure::EarlyFailurePlot {
        title: title.into(),
        rows,
    };
    render(dir, name, &plot)
}

/// Registers the plot font and creates `dir`: what every drawing entry point does first.
fn prepare(dir: &Path) -> Result<(), StatsError> {
    frame::register_font().map_err(|source| StatsError::Plot {
        path: dir.to_path_buf(),
        source,
    })?;
    std::fs::create_dir_all(dir).map_err(|source| StatsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// Draws every plot that the input supports into `dir`.
pub fn render_plots(
    dir: &Path,
    input: &ReportInput,
    s: &ReportSummary,
    opts: &ReportOptions,
) -> Result<Vec<PlotFile>, StatsError> {
    prepare(dir)?;
    let grouped = grouped_runs(input, opts);
    let mut out = Vec::new();
    if !s.groups.iter().any(|g| g.n > 0) {
        return Ok(out);
    }
    let box_plot = BoxPlot {
        title: "Scores per group (every run a dot)".into(),
        y_label: score_label(s, input),
        groups: grouped
            .iter()
            .map(|(g, runs)| GroupRuns {
                label: g.clone(),
                runs: runs.iter().collect(),
            })
            .collect(),
        seed: opts.seed,
    };
    out.push(render(dir, "scores_box", &box_plot)?);
    let expected = ExpectedMaxPlot {
        title: "Expected maximum score vs. number of runs".into(),
        y_label: score_label(s, input),
        groups: s.groups.iter().filter(|g| g.n > 0).collect(),
    };
    out.push(render(dir, "expected_max", &expected)?);
    out.extend(curve_plots(dir, &grouped, s, input)?);
    out.extend(setting_plots(dir, input, &grouped, s)?);
    out.extend(axis::axis_plots(dir, input, &grouped, s)?);
    Ok(out)
}

/// A curve with at least two finite points can be drawn.
fn drawable(c: &[(u64, f64)]) -> bool {
    c.iter().filter(|p| p.1.is_finite()).count() > 1
}

/// Training-loss and dev-score curves, when the runs have them: the dev score on the set the
/// runs were evaluated on during training (a split dev set's selection half), and on a split
/// dev set also on its report half; each with its own majority baseline.
fn curve_plots(
    dir: &Path,
    grouped: &[(String, Vec<RunEntry>)],
    s: &ReportSummary,
    input: &ReportInput,
) -> Result<Vec<PlotFile>, StatsError> {
    type Points = fn(&RunEntry) -> &[(u64, f64)];
    let missing = |f: Points| -> Vec<MissingCurves<'_>> {
        grouped
            .iter()
            .enumerate()
            .filter_map(|(gi, (g, runs))| {
                let missing: Vec<_> = runs.iter().filter(|r| !drawable(f(r))).collect();
                let diverged = missing
                    .iter()
                    .filter(|r| r.outcome == Outcome::Diverged)
                    .count();
                // Runs without any curve (errors before training) are in the tables; only
                // runs that trained and diverged are called out here.
                (diverged > 0).then_some(MissingCurves {
                    group_index: gi,
                    group: g,
                    runs: missing.len(),
                    diverged,
                })
            })
            .collect()
    };
    let curves = |f: Points| -> Vec<RunCurve<'_>> {
        grouped
            .iter()
            .enumerate()
            .flat_map(|(gi, (g, runs))| {
                runs.iter()
                    .filter(|r| drawable(f(r)))
                    .map(move |r| RunCurve {
                        group_index: gi,
                        group: g,
                        failed: r.failed() == Some(true),
                        diverged: r.outcome == Outcome::Diverged,
                        points: f(r),
                    })
            })
            .collect()
    };
    let runs = || grouped.iter().flat_map(|(_, runs)| runs);
    let distinct = |v: Vec<f64>| {
        let mut v = v;
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let split = input.runs.iter().any(|r| r.eval_set.is_some());
    let curve_baselines = distinct(runs().filter_map(|r| r.dev_curve_baseline).collect());
    let curve_note = (split
        && runs().any(|r| drawable(&r.dev_scores) && r.dev_curve_baseline.is_none()))
    .then(|| "selection-half baseline: not in these records (written before it was)".to_string());
    let report_baselines = distinct(runs().filter_map(|r| r.baseline).collect());
    let dev_title = if split {
        "Dev score over training on the selection half of dev (failed runs dashed)"
    } else {
        "Dev score over training (failed runs dashed)"
    };
    let (sel_name, rep_name) = if split {
        (
            "majority baseline (selection half)",
            "majority baseline (report half)",
        )
    } else {
        ("majority baseline", "majority baseline")
    };
    type Kind = (
        &'static str,
        &'static str,
        String,
        Points,
        Vec<f64>,
        Option<String>,
        &'static str,
    );
    let kinds: [Kind; 3] = [
        (
            "train_loss",
            "Training loss of every run (failed runs dashed)",
            "training loss (cross-entropy / MSE)".into(),
            |r| &r.train_loss,
            Vec::new(),
            None,
            "",
        ),
        (
            "dev_score",
            dev_title,
            curve_label(s, input, false),
            |r| &r.dev_scores,
            curve_baselines,
            curve_note,
            sel_name,
        ),
        (
            "dev_score_report_half",
            "Dev score over training on the report half of dev (failed runs dashed)",
            curve_label(s, input, true),
            |r| &r.report_half_scores,
            report_baselines,
            None,
            rep_name,
        ),
    ];
    let mut out = Vec::new();
    for (name, title, y_label, f, baselines, baseline_note, baseline_name) in kinds {
        let plot = CurvePlot {
            title: title.into(),
            y_label,
            curves: curves(f),
            missing: missing(f),
            baselines,
            baseline_note,
            baseline_name,
        };
        if !plot.curves.is_empty() {
            out.push(render(dir, name, &plot)?);
        }
    }
    Ok(out)
}

/// Mean ± std against frozen layers and against the feature mode, when the runs vary them.
fn setting_plots(
    dir: &Path,
    input: &ReportInput,
    grouped: &[(String, Vec<RunEntry>)],
    s: &ReportSummary,
) -> Result<Vec<PlotFile>, StatsError> {
    let baselines = frame::distinct_baselines(grouped.iter().flat_map(|(_, runs)| runs));
    let mut out = Vec::new();
    let freeze: BTreeSet<usize> = input.runs.iter().filter_map(|r| r.freeze_layers).collect();
    if freeze.len() > 1 {
        let (series, points) =
            setting_series(grouped, "freeze_layers", |r| r.freeze_layers, |k| *k as f64);
        let plot = SettingPlot {
            title: "Score vs. number of frozen bottom layers".into(),
            x_label: "frozen layers (embeddings + bottom k encoder layers)".into(),
            y_label: score_label(s, input),
            categories: None,
            series,
            points,
            baselines: baselines.clone(),
        };
        out.push(render(dir, "freeze_layers", &plot)?);
    }
    let modes: BTreeSet<String> = input
        .runs
        .iter()
        .filter_map(|r| r.feature_mode.clone())
        .collect();
    if modes.len() > 1 {
        // Table 7's order first, then any other mode alphabetically.
        let mut order: Vec<String> = FEATURE_ORDER
            .iter()
            .filter(|m| modes.contains(**m))
            .map(|m| m.to_string())
            .collect();
        let rest: Vec<String> = modes
            .iter()
            .filter(|m| !order.contains(m))
            .cloned()
            .collect();
        order.extend(rest);
        let idx = |m: &String| order.iter().position(|o| o == m).unwrap_or(0) as f64;
        let (series, points) =
            setting_series(grouped, "feature_mode", |r| r.feature_mode.clone(), idx);
        let plot = SettingPlot {
            title: "Score per feature choice (Devlin et al. 2019, Table 7)".into(),
            x_label: "features fed to the head".into(),
            y_label: score_label(s, input),
            categories: Some(order.iter().map(|m| feature_label(m)).collect()),
            series,
            points,
            baselines,
        };
        out.push(render(dir, "feature_mode", &plot)?);
    }
    Ok(out)
}
