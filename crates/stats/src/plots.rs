//! Plots, drawn once for PNG and once for SVG from the same code.
//!
//! The font (DejaVu Sans, `assets/`) is compiled in and registered with plotters' `ab_glyph`
//! backend, so rendering needs no system font library (fontconfig/freetype) and looks the same
//! on every machine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::Rng;

use crate::bootstrap::stream_rng;
use crate::load::{ReportInput, RunEntry};
use crate::summary::{grouped_runs, ReportOptions, ReportSummary};
use crate::StatsError;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bytes are a valid TrueType file checked in with the crate.
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

/// A plot that was written as `plots/<name>.png` and `plots/<name>.svg`.
#[derive(Debug, Clone)]
pub struct PlotFile {
    pub name: String,
    pub title: String,
    /// The SVG document, for inlining in the HTML report.
    pub svg: String,
}

/// A linear f64 axis whose ticks sit exactly at given positions (category indices or the
/// values of a setting), so that labels never land between categories.
struct Keyed {
    range: std::ops::Range<f64>,
    keys: Vec<f64>,
}

impl Ranged for Keyed {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

type DrawResult = Result<(), String>;
/// One run's curve: (group index, group, failed, diverged, (step, value) points).
type RunCurve<'a> = (usize, &'a str, bool, bool, &'a [(u64, f64)]);
/// (x, mean, std, n) of one setting.
type SettingPoint = (f64, f64, f64, usize);
/// A labelled series of setting points.
type Series = (String, Vec<SettingPoint>);

trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// The legend box every chart uses.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(e)
}

/// The legend corner that hides the fewest data points (box plot, setting plots): with scores
/// falling along the x axis, the default lower-right corner sat on the last group's runs.
/// `points` are (x, y) in data coordinates, `x` and `y` the plotted ranges.
fn legend_corner(
    points: impl Iterator<Item = (f64, f64)>,
    x: &std::ops::Range<f64>,
    y: &std::ops::Range<f64>,
) -> SeriesLabelPosition {
    use SeriesLabelPosition::*;
    // Preference order on ties.
    let corners = [LowerRight, UpperRight, LowerLeft, UpperLeft];
    let mut hidden = [0usize; 4];
    for (px, py) in points {
        let u = (px - x.start) / (x.end - x.start);
        let v = (py - y.start) / (y.end - y.start);
        let (right, left) = (u > 0.55, u < 0.45);
        let (top, bottom) = (v > 0.6, v < 0.4);
        for (i, hit) in [right && bottom, right && top, left && bottom, left && top]
            .into_iter()
            .enumerate()
        {
            hidden[i] += hit as usize;
        }
    }
    let best = (0..4).min_by_key(|&i| (hidden[i], i)).unwrap_or(0);
    corners[best].clone()
}

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

const SIZE: (u32, u32) = (1000, 620);

/// Colour-blind-friendly categorical palette (Okabe–Ito, then tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(127, 127, 127),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const FAILED: RGBColor = RGBColor(200, 0, 0);
/// Diverged runs: a triangle, filled red when the run failed.
const DIVERGED: RGBColor = RGBColor(20, 20, 20);

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn render<C: Chart>(
    dir: &Path,
    name: &str,
    title: &str,
    chart: &C,
) -> Result<PlotFile, StatsError> {
    let png = dir.join(format!("{name}.png"));
    let err = |message: String| StatsError::Plot {
        path: png.clone(),
        message,
    };
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(e(x)))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|x| err(e(x)))?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(e(x)))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|x| err(e(x)))?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    std::fs::write(&svg_path, &svg).map_err(|source| StatsError::Write {
        path: svg_path,
        source,
    })?;
    Ok(PlotFile {
        name: name.into(),
        title: title.into(),
        svg,
    })
}

/// y range with 5% padding (and a unit span around a single value).
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.06
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad)..(hi + pad)
}

fn score_label(s: &ReportSummary) -> String {
    match &s.metric {
        Some(m) => format!("dev score ({m})"),
        None => "dev score".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Box plot per group, every run a jittered dot (Mosbach et al. 2021, Figure 1).

struct BoxPlot<'a> {
    title: String,
    y_label: String,
    groups: Vec<(String, Vec<&'a RunEntry>)>,
    seed: u64,
}

fn quartiles(x: &[f64]) -> (f64, f64, f64) {
    let s = crate::describe::sorted(x);
    let q = |p| crate::describe::percentile_sorted(&s, p).unwrap_or(f64::NAN);
    (q(0.25), q(0.5), q(0.75))
}

impl Chart for BoxPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let k = self.groups.len();
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for (_, runs) in &self.groups {
            for r in runs {
                for v in [r.finite_score(), r.baseline].into_iter().flatten() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        let names: Vec<String> = self.groups.iter().map(|g| g.0.clone()).collect();
        let x = Keyed {
            range: -0.5..k as f64 - 0.5,
            keys: (0..k).map(|i| i as f64).collect(),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 26))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(x, padded(lo, hi))
            .map_err(e)?;
        let corner = legend_corner(
            self.groups.iter().enumerate().flat_map(|(i, (_, runs))| {
                runs.iter()
                    .filter_map(move |r| r.finite_score().map(|v| (i as f64, v)))
            }),
            &(-0.5..k as f64 - 0.5),
            &padded(lo, hi),
        );
        let label_size = if k > 8 { 12 } else { 16 };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("group")
            .y_desc(&self.y_label)
            .x_label_style(("sans-serif", label_size))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(e)?;
        let mut rng = stream_rng(self.seed, 0xB0C5);
        let mut ok_pts = Vec::new();
        let mut failed_pts = Vec::new();
        // (point, failed) of diverged runs; diverged runs without a score cannot be drawn.
        let mut diverged_pts = Vec::new();
        let mut unscored = 0usize;
        let mut baselines = Vec::new();
        for (i, (_, runs)) in self.groups.iter().enumerate() {
            let xi = i as f64;
            let scores: Vec<f64> = runs.iter().filter_map(|r| r.finite_score()).collect();
            if !scores.is_empty() {
                let (q1, med, q3) = quartiles(&scores);
                let iqr = q3 - q1;
                let lo_w = scores
                    .iter()
                    .copied()
                    .filter(|&v| v >= q1 - 1.5 * iqr)
                    .fold(f64::INFINITY, f64::min);
                let hi_w = scores
                    .iter()
                    .copied()
                    .filter(|&v| v <= q3 + 1.5 * iqr)
                    .fold(f64::NEG_INFINITY, f64::max);
                let c = color(i);
                let w = 0.28;
                chart
                    .draw_series([
                        Rectangle::new([(xi - w, q1), (xi + w, q3)], c.mix(0.18).filled()),
                        Rectangle::new([(xi - w, q1), (xi + w, q3)], c.stroke_width(2)),
                    ])
                    .map_err(e)?;
                let lines = vec![
                    vec![(xi - w, med), (xi + w, med)],
                    vec![(xi, q3), (xi, hi_w)],
                    vec![(xi, q1), (xi, lo_w)],
                    vec![(xi - w / 2.0, hi_w), (xi + w / 2.0, hi_w)],
                    vec![(xi - w / 2.0, lo_w), (xi + w / 2.0, lo_w)],
                ];
                chart
                    .draw_series(lines.into_iter().enumerate().map(|(j, l)| {
                        PathElement::new(l, c.stroke_width(if j == 0 { 3 } else { 2 }))
                    }))
                    .map_err(e)?;
            }
            for r in runs {
                if r.unscored_diverged() {
                    unscored += 1;
                }
                if let Some(v) = r.finite_score() {
                    let p = (xi + rng.gen_range(-0.2..0.2), v);
                    if r.outcome == crate::load::Outcome::Diverged {
                        diverged_pts.push((p, r.failed() == Some(true)));
                    } else if r.failed() == Some(true) {
                        failed_pts.push(p);
                    } else {
                        ok_pts.push((p, color(i)));
                    }
                }
            }
            let mut bs: Vec<f64> = runs.iter().filter_map(|r| r.baseline).collect();
            bs.sort_by(f64::total_cmp);
            bs.dedup();
            baselines.extend(bs.into_iter().map(|b| (xi, b)));
        }
        chart
            .draw_series(
                ok_pts
                    .iter()
                    .map(|&(p, c)| Circle::new(p, 4, c.mix(0.75).filled())),
            )
            .map_err(e)?
            .label("run")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, color(0).filled()));
        chart
            .draw_series(
                failed_pts
                    .iter()
                    .map(|&p| Cross::new(p, 6, FAILED.stroke_width(2))),
            )
            .map_err(e)?
            .label("failed run (final score ≤ majority baseline)")
            .legend(|(x, y)| Cross::new((x + 10, y), 6, FAILED.stroke_width(2)));
        if !diverged_pts.is_empty() {
            chart
                .draw_series(diverged_pts.iter().map(|&(p, failed)| {
                    let style = if failed {
                        FAILED.filled()
                    } else {
                        DIVERGED.stroke_width(2)
                    };
                    TriangleMarker::new(p, 8, style)
                }))
                .map_err(e)?
                .label("diverged run (scored at divergence; red: failed)")
                .legend(|(x, y)| TriangleMarker::new((x + 10, y), 8, FAILED.filled()));
        }
        if unscored > 0 {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(e)?
                .label(format!(
                    "{unscored} diverged run(s) without a score: counted failed, not drawn"
                ))
                .legend(move |(x, y)| {
                    TriangleMarker::new((x + 10, y), 8, DIVERGED.stroke_width(1))
                });
        }
        let all_same = baselines.windows(2).all(|w| w[0].1 == w[1].1);
        let segments: Vec<(f64, f64, f64)> = if all_same && !baselines.is_empty() {
            vec![(-0.5, k as f64 - 0.5, baselines[0].1)]
        } else {
            baselines
                .iter()
                .map(|&(x, b)| (x - 0.45, x + 0.45, b))
                .collect()
        };
        let black = BLACK.stroke_width(2);
        for (j, (a, b, y)) in segments.iter().enumerate() {
            let s = chart
                .draw_series(DashedLineSeries::new(
                    vec![(*a, *y), (*b, *y)],
                    10,
                    6,
                    black,
                ))
                .map_err(e)?;
            if j == 0 {
                s.label("majority baseline")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black));
            }
        }
        draw_legend(&mut chart, corner)
    }
}

// ---------------------------------------------------------------------------------------------
// Expected maximum vs. number of runs (Dodge et al. 2019).

struct ExpectedMaxPlot<'a> {
    s: &'a ReportSummary,
}

impl Chart for ExpectedMaxPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let groups: Vec<_> = self.s.groups.iter().filter(|g| g.n > 0).collect();
        let max_n = groups.iter().map(|g| g.n).max().unwrap_or(1).max(2);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for g in &groups {
            for p in &g.expected_max {
                lo = lo.min(p.with_replacement - p.with_replacement_sd);
                hi = hi.max(p.with_replacement + p.with_replacement_sd);
                lo = lo.min(p.without_replacement);
            }
        }
        if let Some(st) = groups.iter().filter_map(|g| g.stats.as_ref()).next() {
            hi = hi.min(st.max.max(hi));
        }
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Expected maximum dev score vs. number of runs",
                ("sans-serif", 26),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(1f64..max_n as f64, padded(lo, hi))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("number of runs n (random seeds)")
            .y_desc(format!("expected max {}", score_label(self.s)))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_labels(max_n.min(20))
            // n is a count: label whole numbers only (small N would otherwise repeat "1 1 2 2").
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(e)?;
        for (i, g) in groups.iter().enumerate() {
            let c = color(i);
            let upper = g
                .expected_max
                .iter()
                .map(|p| (p.n as f64, p.with_replacement + p.with_replacement_sd));
            let lower = g
                .expected_max
                .iter()
                .rev()
                .map(|p| (p.n as f64, p.with_replacement - p.with_replacement_sd));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    c.mix(0.15).filled(),
                )))
                .map_err(e)?;
            chart
                .draw_series(LineSeries::new(
                    g.expected_max
                        .iter()
                        .map(|p| (p.n as f64, p.with_replacement)),
                    c.stroke_width(3),
                ))
                .map_err(e)?
                .label(format!("{} (N = {})", g.group, g.n))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart
                .draw_series(DashedLineSeries::new(
                    g.expected_max
                        .iter()
                        .map(|p| (p.n as f64, p.without_replacement))
                        .collect::<Vec<_>>(),
                    8,
                    5,
                    c.stroke_width(2),
                ))
                .map_err(e)?;
        }
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("solid: with replacement ± sd (Dodge 2019)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(3))
            });
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("dashed: unbiased, without replacement")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], grey.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

// ---------------------------------------------------------------------------------------------
// Curves of every run over training steps.

struct CurvePlot<'a> {
    title: String,
    y_label: String,
    /// (group index, group, failed, diverged, curve)
    curves: Vec<RunCurve<'a>>,
    /// Groups with runs that have no curve to draw (fewer than two finite points: a run that
    /// diverged at once): (group index, group, runs without a curve, diverged among them).
    /// They stay in the legend, so a group is never silently missing from the plot.
    without_curve: Vec<(usize, &'a str, usize, usize)>,
}

impl Chart for CurvePlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let finite = |c: &[(u64, f64)]| -> Vec<(f64, f64)> {
            c.iter()
                .filter(|p| p.1.is_finite())
                .map(|&(s, v)| (s as f64, v))
                .collect()
        };
        let mut all: Vec<f64> = Vec::new();
        let mut max_step: f64 = 1.0;
        for (_, _, _, _, c) in &self.curves {
            for (s, v) in finite(c) {
                all.push(v);
                max_step = max_step.max(s);
            }
        }
        // Robust y range: a single exploding run must not flatten every other curve.
        let s = crate::describe::sorted(&all);
        let lo = s.first().copied().unwrap_or(0.0);
        let hi = crate::describe::percentile_sorted(&s, 0.995).unwrap_or(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 26))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(0f64..max_step, padded(lo, hi))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(e)?;
        // Colour says the group, a dashed line says "failed": a group whose runs all failed
        // keeps its colour and its legend entry.
        let mut labelled = BTreeSet::new();
        // Successful runs first, failed on top so they stay visible.
        for failed_pass in [false, true] {
            for &(gi, g, failed, _, c) in &self.curves {
                if failed != failed_pass {
                    continue;
                }
                let col = color(gi);
                let series = if failed {
                    chart.draw_series(DashedLineSeries::new(
                        finite(c),
                        7,
                        4,
                        col.mix(0.95).stroke_width(2),
                    ))
                } else {
                    chart.draw_series(LineSeries::new(finite(c), col.mix(0.45).stroke_width(1)))
                }
                .map_err(e)?;
                if labelled.insert(gi) {
                    series.label(g).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                    });
                }
            }
        }
        for &(gi, g, n, diverged) in &self.without_curve {
            let col = color(gi);
            let why = if diverged == n {
                "diverged before a 2nd finite point".to_string()
            } else {
                format!("{diverged} diverged, fewer than 2 finite points")
            };
            let label = if labelled.contains(&gi) {
                format!("{g}: {n} more run(s) not drawn ({why})")
            } else {
                format!("{g}: {n} run(s), none drawn ({why})")
            };
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (20, 0)], col.mix(0.35).stroke_width(1))
                        + Cross::new((10, 0), 4, col.stroke_width(2))
                });
        }
        // A diverged run's curve ends where it diverged: a triangle marks the end (clamped
        // into the plotted range when the last value exploded).
        let ends: Vec<((f64, f64), bool)> = self
            .curves
            .iter()
            .filter(|c| c.3)
            .filter_map(|c| finite(c.4).last().map(|&p| (p, c.2)))
            .collect();
        if !ends.is_empty() {
            let y = padded(lo, hi);
            chart
                .draw_series(ends.iter().map(|&((x, v), failed)| {
                    let style = if failed {
                        FAILED.filled()
                    } else {
                        DIVERGED.stroke_width(2)
                    };
                    TriangleMarker::new((x, v.clamp(y.start, y.end)), 8, style)
                }))
                .map_err(e)?
                .label("▲ diverged here (red: failed)")
                .legend(|(x, y)| TriangleMarker::new((x + 10, y), 8, FAILED.filled()));
        }
        if self.curves.iter().any(|c| c.2) {
            let grey = RGBColor(60, 60, 60).stroke_width(2);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(e)?
                .label("dashed: failed run (≤ majority baseline)")
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (6, 0)], grey)
                        + PathElement::new(vec![(10, 0), (16, 0)], grey)
                        + PathElement::new(vec![(20, 0), (22, 0)], grey)
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)
    }
}

// ---------------------------------------------------------------------------------------------
// Mean ± std of the score against a spec setting (frozen layers; feature mode).

struct SettingPlot {
    title: String,
    x_label: String,
    y_label: String,
    /// Category names in x order; None for a numeric axis.
    categories: Option<Vec<String>>,
    /// (series label, [(x, mean, std, n)])
    series: Vec<Series>,
    /// Individual scores (x, score), drawn faintly behind.
    points: Vec<(f64, f64)>,
    /// Distinct majority baselines of the runs, drawn as in the box plot.
    baselines: Vec<f64>,
}

impl Chart for SettingPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0))
            .collect();
        let (xlo, xhi) = match &self.categories {
            Some(c) => (-0.5, c.len() as f64 - 0.5),
            None => {
                let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (lo - 0.5, hi + 0.5)
            }
        };
        let mut ylo = f64::INFINITY;
        let mut yhi = f64::NEG_INFINITY;
        for (_, pts) in &self.series {
            for &(_, m, sd, _) in pts {
                ylo = ylo.min(m - sd);
                yhi = yhi.max(m + sd);
            }
        }
        for &v in self.points.iter().map(|(_, v)| v).chain(&self.baselines) {
            ylo = ylo.min(v);
            yhi = yhi.max(v);
        }
        let keys: Vec<f64> = match &self.categories {
            Some(c) => (0..c.len()).map(|i| i as f64).collect(),
            None => {
                let mut k = xs.clone();
                k.sort_by(f64::total_cmp);
                k.dedup();
                k
            }
        };
        let cats = self.categories.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 26))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(
                Keyed {
                    range: xlo..xhi,
                    keys,
                },
                padded(ylo, yhi),
            )
            .map_err(e)?;
        let corner = legend_corner(
            self.points.iter().copied().chain(
                self.series
                    .iter()
                    .flat_map(|(_, pts)| pts.iter().map(|&(x, m, _, _)| (x, m))),
            ),
            &(xlo..xhi),
            &padded(ylo, yhi),
        );
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_label_formatter(&|v| match &cats {
                Some(c) => c
                    .get(v.round().max(0.0) as usize)
                    .cloned()
                    .unwrap_or_default(),
                None => format!("{v:.0}"),
            })
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&p| Circle::new(p, 3, RGBColor(120, 120, 120).mix(0.35).filled())),
            )
            .map_err(e)?
            .label("single run")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, RGBColor(120, 120, 120).filled()));
        let black = BLACK.stroke_width(2);
        for (j, &b) in self.baselines.iter().enumerate() {
            let series = chart
                .draw_series(DashedLineSeries::new(
                    vec![(xlo, b), (xhi, b)],
                    10,
                    6,
                    black,
                ))
                .map_err(e)?;
            if j == 0 {
                series
                    .label("majority baseline")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black));
            }
        }
        let ns = self.series.len();
        for (i, (label, pts)) in self.series.iter().enumerate() {
            let c = color(i);
            // Offset series slightly so error bars do not overlap.
            let off = if ns > 1 {
                (i as f64 - (ns - 1) as f64 / 2.0) * 0.08
            } else {
                0.0
            };
            chart
                .draw_series(pts.iter().map(|&(x, m, sd, _)| {
                    PathElement::new(
                        vec![(x + off, m - sd), (x + off, m + sd)],
                        c.stroke_width(2),
                    )
                }))
                .map_err(e)?;
            let line: Vec<(f64, f64)> = pts.iter().map(|&(x, m, _, _)| (x + off, m)).collect();
            if self.categories.is_none() {
                chart
                    .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                    .map_err(e)?;
            }
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 6, c.filled())))
                .map_err(e)?
                .label(format!("{label}: mean ± std"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, c.filled()));
        }
        draw_legend(&mut chart, corner)
    }
}

/// Order of Devlin et al. (2019) Table 7, fine-tuning last; the two modes that are not Table 7
/// rows (the unweighted sum, the mix with the embeddings) beside their weighted counterparts.
const FEATURE_ORDER: [&str; 9] = [
    "embeddings",
    "second-to-last",
    "last",
    "weighted-sum-last-four",
    "sum-last-four",
    "concat-last-four",
    "weighted-sum-all-layers",
    "scalar-mix",
    "off",
];

fn feature_label(m: &str) -> String {
    match m {
        "off" => "fine-tuning".into(),
        other => other.into(),
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = crate::describe::mean(v).unwrap_or(f64::NAN);
    (m, crate::describe::std_dev(v).unwrap_or(0.0))
}

/// Builds series keyed by a setting: one series per group, or a single "all runs" series when
/// every group holds only one value of the setting (i.e. the grouping *is* that setting).
fn setting_series<K: Ord + Clone>(
    grouped: &[(String, Vec<RunEntry>)],
    key: impl Fn(&RunEntry) -> Option<K>,
    x_of: impl Fn(&K) -> f64,
) -> (Vec<Series>, Vec<(f64, f64)>) {
    let per_group: Vec<(String, BTreeMap<K, Vec<f64>>)> = grouped
        .iter()
        .map(|(g, runs)| {
            let mut m: BTreeMap<K, Vec<f64>> = BTreeMap::new();
            for r in runs {
                if let (Some(k), Some(s)) = (key(r), r.finite_score()) {
                    m.entry(k).or_default().push(s);
                }
            }
            (g.clone(), m)
        })
        .collect();
    let merge = per_group.iter().all(|(_, m)| m.len() <= 1);
    let sets: Vec<(String, BTreeMap<K, Vec<f64>>)> = if merge {
        let mut all: BTreeMap<K, Vec<f64>> = BTreeMap::new();
        for (_, m) in per_group {
            for (k, v) in m {
                all.entry(k).or_default().extend(v);
            }
        }
        vec![("all runs".into(), all)]
    } else {
        per_group
            .into_iter()
            .filter(|(_, m)| !m.is_empty())
            .collect()
    };
    let mut points = Vec::new();
    let series = sets
        .into_iter()
        .map(|(label, m)| {
            let pts = m
                .iter()
                .map(|(k, v)| {
                    points.extend(v.iter().map(|&s| (x_of(k), s)));
                    let (mu, sd) = mean_std(v);
                    (x_of(k), mu, sd, v.len())
                })
                .collect();
            (label, pts)
        })
        .collect();
    (series, points)
}

/// Draws every plot that the input supports into `dir`.
pub fn render_plots(
    dir: &Path,
    input: &ReportInput,
    s: &ReportSummary,
    opts: &ReportOptions,
) -> Result<Vec<PlotFile>, StatsError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|source| StatsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let grouped = grouped_runs(input, opts);
    let mut out = Vec::new();
    if !s.groups.iter().any(|g| g.n > 0) {
        return Ok(out);
    }
    let title = "Scores per group (every run a dot)";
    out.push(render(
        dir,
        "scores_box",
        title,
        &BoxPlot {
            title: title.into(),
            y_label: score_label(s),
            groups: grouped
                .iter()
                .map(|(g, runs)| (g.clone(), runs.iter().collect()))
                .collect(),
            seed: opts.seed,
        },
    )?);
    out.push(render(
        dir,
        "expected_max",
        "Expected maximum dev score vs. number of runs",
        &ExpectedMaxPlot { s },
    )?);
    let drawable = |c: &[(u64, f64)]| c.iter().filter(|p| p.1.is_finite()).count() > 1;
    let without_curve = |f: fn(&RunEntry) -> &[(u64, f64)]| -> Vec<(usize, &str, usize, usize)> {
        grouped
            .iter()
            .enumerate()
            .filter_map(|(gi, (g, runs))| {
                let missing: Vec<_> = runs.iter().filter(|r| !drawable(f(r))).collect();
                let diverged = missing
                    .iter()
                    .filter(|r| r.outcome == crate::load::Outcome::Diverged)
                    .count();
                // Runs without any curve (errors before training) are in the tables; only
                // runs that trained and diverged are called out here.
                (diverged > 0).then_some((gi, g.as_str(), missing.len(), diverged))
            })
            .collect()
    };
    let curves = |f: fn(&RunEntry) -> &[(u64, f64)]| -> Vec<RunCurve<'_>> {
        grouped
            .iter()
            .enumerate()
            .flat_map(|(gi, (g, runs))| {
                runs.iter().filter(|r| drawable(f(r))).map(move |r| {
                    (
                        gi,
                        g.as_str(),
                        r.failed() == Some(true),
                        r.outcome == crate::load::Outcome::Diverged,
                        f(r),
                    )
                })
            })
            .collect()
    };
    let loss = curves(|r| &r.train_loss);
    if !loss.is_empty() {
        let title = "Training loss of every run (failed runs dashed)";
        out.push(render(
            dir,
            "train_loss",
            title,
            &CurvePlot {
                title: title.into(),
                y_label: "training loss (cross-entropy / MSE)".into(),
                curves: loss,
                without_curve: without_curve(|r| &r.train_loss),
            },
        )?);
    }
    let dev = curves(|r| &r.dev_scores);
    if !dev.is_empty() {
        let title = "Dev score over training (failed runs dashed)";
        out.push(render(
            dir,
            "dev_score",
            title,
            &CurvePlot {
                title: title.into(),
                y_label: score_label(s),
                curves: dev,
                without_curve: without_curve(|r| &r.dev_scores),
            },
        )?);
    }
    let baselines = {
        let mut b: Vec<f64> = grouped
            .iter()
            .flat_map(|(_, runs)| runs.iter().filter_map(|r| r.baseline))
            .collect();
        b.sort_by(f64::total_cmp);
        b.dedup();
        b
    };
    let freeze: BTreeSet<usize> = input.runs.iter().filter_map(|r| r.freeze_layers).collect();
    if freeze.len() > 1 {
        let (series, points) = setting_series(&grouped, |r| r.freeze_layers, |k| *k as f64);
        let title = "Score vs. number of frozen bottom layers";
        out.push(render(
            dir,
            "freeze_layers",
            title,
            &SettingPlot {
                title: title.into(),
                x_label: "frozen layers (embeddings + bottom k encoder layers)".into(),
                y_label: score_label(s),
                categories: None,
                series,
                points,
                baselines: baselines.clone(),
            },
        )?);
    }
    let modes: BTreeSet<String> = input
        .runs
        .iter()
        .filter_map(|r| r.feature_mode.clone())
        .collect();
    if modes.len() > 1 {
        let mut order: Vec<String> = FEATURE_ORDER
            .iter()
            .filter(|m| modes.contains(**m))
            .map(|m| m.to_string())
            .collect();
        order.extend(
            modes
                .iter()
                .filter(|m| !order.contains(m))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let idx = |m: &String| order.iter().position(|o| o == m).unwrap_or(0) as f64;
        let (series, points) = setting_series(&grouped, |r| r.feature_mode.clone(), idx);
        let title = "Score per feature choice (Devlin et al. 2019, Table 7)";
        out.push(render(
            dir,
            "feature_mode",
            title,
            &SettingPlot {
                title: title.into(),
                x_label: "features fed to the head".into(),
                y_label: score_label(s),
                categories: Some(order.iter().map(|m| feature_label(m)).collect()),
                series,
                points,
                baselines,
            },
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_avoids_the_data() {
        // Scores falling with depth: the lower right holds the last group, the upper right is
        // free.
        let pts = [
            (0.0, 0.7),
            (4.0, 0.65),
            (8.0, 0.6),
            (12.0, 0.527),
            (12.0, 0.53),
        ];
        let corner = legend_corner(pts.into_iter(), &(-0.5..12.5), &(0.52..0.71));
        assert!(matches!(corner, SeriesLabelPosition::UpperRight));
        let rising = pts.map(|(x, y)| (12.0 - x, y));
        let corner = legend_corner(rising.into_iter(), &(-0.5..12.5), &(0.52..0.71));
        assert!(matches!(corner, SeriesLabelPosition::LowerRight));
    }
}
