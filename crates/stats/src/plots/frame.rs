//! The frame every chart shares: font, palette, axes, legend, run markers and the PNG + SVG
//! writer, so that each chart file only says what it draws.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::IntoDynElement;
use plotters::prelude::*;

use super::PlotError;
use crate::load::{Outcome, RunEntry};
use crate::StatsError;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the compiled-in DejaVu Sans once; an invalid font is an error, not a blank plot.
pub(super) fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| plotters::style::register_font("sans-serif", style, FONT).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// A plot that was written as `plots/<name>.png` and `plots/<name>.svg`.
#[derive(Debug, Clone)]
pub struct PlotFile {
    pub name: String,
    pub title: String,
    /// The SVG document, for inlining in the HTML report.
    pub svg: String,
}

/// A chart: its title (one place: the caption and the report's figure caption) and its drawing.
pub(super) trait Chart {
    fn title(&self) -> &str;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static;
}

pub(super) const SIZE: (u32, u32) = (1000, 620);

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
pub(super) const FAILED: RGBColor = RGBColor(200, 0, 0);
/// Diverged runs: a triangle, filled red when the run failed.
pub(super) const DIVERGED: RGBColor = RGBColor(20, 20, 20);

pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draws `chart` into `dir/<name>.png` and `dir/<name>.svg`.
pub(super) fn render<C: Chart>(dir: &Path, name: &str, chart: &C) -> Result<PlotFile, StatsError> {
    let png = dir.join(format!("{name}.png"));
    let err = |source: PlotError| StatsError::Plot {
        path: png.clone(),
        source,
    };
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(x.into()))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|x| err(x.into()))?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(x.into()))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|x| err(x.into()))?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    std::fs::write(&svg_path, &svg).map_err(|source| StatsError::Write {
        path: svg_path,
        source,
    })?;
    Ok(PlotFile {
        name: name.into(),
        title: chart.title().into(),
        svg,
    })
}

/// A linear f64 axis whose ticks sit exactly at given positions (category indices, the values
/// of a setting, whole run counts), so that labels never land between categories; without
/// keys, plotters' own ticks for the range.
pub(super) struct Keyed {
    pub range: Range<f64>,
    pub keys: Option<Vec<f64>>,
}

impl Keyed {
    /// Ticks at `keys`.
    pub fn at(range: Range<f64>, keys: Vec<f64>) -> Self {
        Keyed {
            range,
            keys: Some(keys),
        }
    }

    /// Plotters' ticks.
    pub fn auto(range: Range<f64>) -> Self {
        Keyed { range, keys: None }
    }
}

impl Ranged for Keyed {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match &self.keys {
            Some(k) => k.clone(),
            None => RangedCoordf64::from(self.range.clone()).key_points(hint),
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The chart context every plot draws into.
pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Keyed, RangedCoordf64>>;

/// Caption, axes and mesh of a chart: the part every chart has in common.
pub(super) struct Frame<'f> {
    pub title: &'f str,
    pub x_desc: &'f str,
    pub y_desc: &'f str,
    pub x: Keyed,
    pub y: Range<f64>,
    /// Tick labels of the x axis.
    pub x_fmt: &'f dyn Fn(&f64) -> String,
    /// Vertical grid lines (off for categories).
    pub x_mesh: bool,
    /// Font size of the x tick labels (smaller for many categories).
    pub x_label_size: u32,
    /// Tick labels of the y axis, when not plotters' numbers (a share axis reads 0 %–100 %
    /// and shows no tick past 100 %).
    pub y_fmt: Option<&'f dyn Fn(&f64) -> String>,
}

impl Frame<'_> {
    /// Builds the chart and draws caption, axes and grid.
    pub fn draw<'a, DB: DrawingBackend>(
        self,
        root: &'a DrawingArea<DB, Shift>,
    ) -> Result<Plot<'a, DB>, PlotError>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 26))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(self.x, self.y)?;
        let mut mesh = chart.configure_mesh();
        if !self.x_mesh {
            mesh.disable_x_mesh();
        }
        mesh.x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style(("sans-serif", 16))
            .x_label_style(("sans-serif", self.x_label_size))
            .axis_desc_style(("sans-serif", 18))
            .x_label_formatter(self.x_fmt);
        if let Some(f) = self.y_fmt {
            mesh.y_label_formatter(f);
        }
        mesh.draw()?;
        Ok(chart)
    }
}

/// The legend box every chart uses.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    Ok(())
}

/// A legend entry with nothing drawn in the plot (a count, a line-style key).
pub(super) fn legend_note<'a, DB, E>(
    chart: &mut Plot<'a, DB>,
    label: String,
    icon: impl Fn((i32, i32)) -> E + 'a,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    E: IntoDynElement<'a, DB, (i32, i32)>,
{
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label(label)
        .legend(icon);
    Ok(())
}

/// The legend corner that hides the fewest data points (box plot, setting plots): with scores
/// falling along the x axis, the default lower-right corner sat on the last group's runs.
/// `points` are (x, y) in data coordinates, `x` and `y` the plotted ranges.
pub(super) fn legend_corner(
    points: impl Iterator<Item = (f64, f64)>,
    x: &Range<f64>,
    y: &Range<f64>,
) -> SeriesLabelPosition {
    legend_placement(points, x, y).0
}

/// [`legend_corner`] and how many points that corner still hides.
pub(super) fn legend_placement(
    points: impl Iterator<Item = (f64, f64)>,
    x: &Range<f64>,
    y: &Range<f64>,
) -> (SeriesLabelPosition, usize) {
    use SeriesLabelPosition::*;
    // Preference order on ties.
    let corners = [LowerRight, UpperRight, LowerLeft, UpperLeft];
    let mut hidden = [0usize; 4];
    for (px, py) in points {
        let u = (px - x.start) / (x.end - x.start);
        let v = (py - y.start) / (y.end - y.start);
        // A legend box spans about half the width: a mark just right of the centre is under
        // a right-hand legend.
        let (right, left) = (u > 0.42, u < 0.58);
        let (top, bottom) = (v > 0.6, v < 0.4);
        for (i, hit) in [right && bottom, right && top, left && bottom, left && top]
            .into_iter()
            .enumerate()
        {
            hidden[i] += hit as usize;
        }
    }
    let best = (0..4).min_by_key(|&i| (hidden[i], i)).unwrap_or(0);
    (corners[best].clone(), hidden[best])
}

/// y range with 6% padding (and a unit span around a single value).
pub(super) fn padded(lo: f64, hi: f64) -> Range<f64> {
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

/// Smallest and largest of the finite values (∞, −∞ when there are none).
pub(super) fn bounds(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Majority baselines as dashed horizontal segments `(x from, x to, y)`; one legend entry.
/// Baselines outside the plotted y range `y` ([`score_range`]) are not drawn; the legend says
/// where they are.
pub(super) fn draw_baselines<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    segments: &[(f64, f64, f64)],
    y: &Range<f64>,
    name: &'static str,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let black = BLACK.stroke_width(2);
    let (shown, off): (Vec<_>, Vec<_>) = segments
        .iter()
        .partition(|&&(_, _, b)| b >= y.start && b <= y.end);
    for (j, &&(a, b, v)) in shown.iter().enumerate() {
        let s = chart.draw_series(DashedLineSeries::new(vec![(a, v), (b, v)], 10, 6, black))?;
        if j == 0 {
            s.label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black));
        }
    }
    let mut off: Vec<f64> = off.iter().map(|s| s.2).collect();
    off.sort_by(f64::total_cmp);
    off.dedup();
    if !off.is_empty() {
        let below = off.iter().all(|b| *b < y.start);
        let values: Vec<String> = off.iter().map(|b| format!("{b:.3}")).collect();
        let grey = RGBColor(120, 120, 120);
        legend_note(
            chart,
            format!(
                "{name} {} ({} the axis)",
                values.join(", "),
                if below { "below" } else { "off" }
            ),
            move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)),
        )?;
    }
    Ok(())
}

/// Quartiles (numpy linear) of the scores.
fn quartiles(x: &[f64]) -> (f64, f64, f64) {
    let s = crate::describe::sorted(x);
    let q = |p| crate::describe::percentile_sorted(&s, p).unwrap_or(f64::NAN);
    (q(0.25), q(0.5), q(0.75))
}

/// A box (quartiles, median, 1.5 IQR whiskers) of `scores` centred at `x`, `w` wide each side.
pub(super) fn draw_box<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    x: f64,
    w: f64,
    scores: &[f64],
    c: RGBColor,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    if scores.is_empty() {
        return Ok(());
    }
    let (q1, med, q3) = quartiles(scores);
    let iqr = q3 - q1;
    let (lo_w, _) = bounds(scores.iter().copied().filter(|&v| v >= q1 - 1.5 * iqr));
    let (_, hi_w) = bounds(scores.iter().copied().filter(|&v| v <= q3 + 1.5 * iqr));
    chart.draw_series([
        Rectangle::new([(x - w, q1), (x + w, q3)], c.mix(0.18).filled()),
        Rectangle::new([(x - w, q1), (x + w, q3)], c.stroke_width(2)),
    ])?;
    let lines = [
        vec![(x - w, med), (x + w, med)],
        vec![(x, q3), (x, hi_w)],
        vec![(x, q1), (x, lo_w)],
        vec![(x - w / 2.0, hi_w), (x + w / 2.0, hi_w)],
        vec![(x - w / 2.0, lo_w), (x + w / 2.0, lo_w)],
    ];
    chart.draw_series(
        lines
            .into_iter()
            .enumerate()
            .map(|(j, l)| PathElement::new(l, c.stroke_width(if j == 0 { 3 } else { 2 }))),
    )?;
    Ok(())
}

/// Every run as a marker: a dot in its group's colour, a red cross when it failed, a triangle
/// when it diverged (filled red when it also failed). Diverged runs without a score cannot be
/// drawn and are counted in the legend instead.
///
/// **Every mark sits at the score that decided it.** A run fails on its *final* score, while
/// the plotted score may be the selected checkpoint's (`--score selected`, or one selection
/// rule in every group). Where the two differ, the run is drawn at both: a ring at the plotted
/// score, a thin line to its final score, and there a red cross (failed) or a short bar (not
/// failed, when the ring sits at or below the baseline and would otherwise read as a failure).
#[derive(Default)]
pub(super) struct RunMarks {
    ok: Vec<((f64, f64), RGBColor)>,
    failed: Vec<(f64, f64)>,
    /// (point, failed) of diverged runs.
    diverged: Vec<((f64, f64), bool)>,
    unscored: usize,
    /// Runs whose selected checkpoint is the untrained model: ringed.
    never_improved: Vec<(f64, f64)>,
    /// (plotted score, final score, failed, colour) of runs whose verdict comes from a final
    /// score drawn elsewhere.
    linked: Vec<Link>,
    /// Some run is a row of a table of scores (no final score, no checkpoints).
    scores_only: bool,
    /// Finished runs without a finite score (an empty cell): not drawn, counted in the legend.
    no_score: usize,
}

/// (plotted score, final score, failed, colour) of one run drawn at two scores.
type Link = ((f64, f64), (f64, f64), bool, RGBColor);

impl RunMarks {
    /// Adds `run` at horizontal position `x`.
    pub fn push(&mut self, run: &RunEntry, x: f64, c: RGBColor) {
        self.scores_only |= run.selection.is_none();
        if run.unscored_diverged() {
            self.unscored += 1;
        } else if run.outcome == Outcome::Ok && run.finite_score().is_none() {
            self.no_score += 1;
        }
        if let Some(v) = run.finite_score() {
            let p = (x, v);
            if run.never_improved() {
                self.never_improved.push(p);
            }
            // The final score, when it is not the plotted one.
            let elsewhere = run
                .finite_final_score()
                .filter(|f| run.outcome != Outcome::Diverged && (f - v).abs() > 1e-12)
                .map(|f| (x, f));
            if run.outcome == Outcome::Diverged {
                self.diverged.push((p, run.failed() == Some(true)));
            } else if run.failed() == Some(true) {
                match elsewhere {
                    Some(f) => {
                        self.linked.push((p, f, true, c));
                        self.failed.push(f);
                    }
                    None => self.failed.push(p),
                }
            } else {
                match elsewhere {
                    Some(f) if run.baseline.is_some_and(|b| v <= b) => {
                        self.linked.push((p, f, false, c));
                    }
                    _ => self.ok.push((p, c)),
                }
            }
        }
    }

    /// Number of runs drawn at two scores.
    #[cfg(test)]
    pub fn linked(&self) -> usize {
        self.linked.len()
    }

    pub fn draw<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let grey = RGBColor(110, 110, 110);
        chart.draw_series(
            self.linked
                .iter()
                .map(|&(p, f, _, _)| PathElement::new(vec![p, f], grey.stroke_width(1))),
        )?;
        chart
            .draw_series(
                self.ok
                    .iter()
                    .map(|&(p, c)| Circle::new(p, 4, c.mix(0.75).filled())),
            )?
            .label("run")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, color(0).filled()));
        chart
            .draw_series(
                self.failed
                    .iter()
                    .map(|&p| Cross::new(p, 6, FAILED.stroke_width(2))),
            )?
            .label(
                match (
                    self.scores_only,
                    self.failed.is_empty() && !self.diverged.iter().any(|d| d.1),
                ) {
                    (true, true) => "failed (score ≤ baseline): none",
                    (true, false) => "failed (score ≤ baseline)",
                    (false, true) => "failed run (final score ≤ majority baseline): none",
                    (false, false) => "failed run, at its final score (≤ majority baseline)",
                },
            )
            .legend(|(x, y)| Cross::new((x + 10, y), 6, FAILED.stroke_width(2)));
        if !self.linked.is_empty() {
            chart
                .draw_series(
                    self.linked
                        .iter()
                        .map(|&(p, _, _, c)| Circle::new(p, 5, c.stroke_width(2))),
                )?
                .label("the same run's plotted (selected) score, linked to its final score")
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Circle::new((4, 0), 5, color(0).stroke_width(2))
                        + PathElement::new(vec![(9, 0), (16, 0)], grey.stroke_width(1))
                        + Cross::new((20, 0), 4, FAILED.stroke_width(2))
                });
            let bars: Vec<(f64, f64)> = self.linked.iter().filter(|l| !l.2).map(|l| l.1).collect();
            if !bars.is_empty() {
                chart
                    .draw_series(bars.iter().map(|&(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(-7, 0), (7, 0)], BLACK.stroke_width(3))
                    }))?
                    .label("final score of a run that did not fail")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x + 3, y), (x + 17, y)], BLACK.stroke_width(3))
                    });
            }
        }
        if !self.diverged.is_empty() {
            chart
                .draw_series(self.diverged.iter().map(|&(p, failed)| {
                    let style = if failed {
                        FAILED.filled()
                    } else {
                        DIVERGED.stroke_width(2)
                    };
                    TriangleMarker::new(p, 8, style)
                }))?
                .label("diverged run (scored at divergence; red: failed)")
                .legend(|(x, y)| TriangleMarker::new((x + 10, y), 8, FAILED.filled()));
        }
        if !self.never_improved.is_empty() {
            chart
                .draw_series(
                    self.never_improved
                        .iter()
                        .map(|&p| Circle::new(p, 8, DIVERGED.stroke_width(2))),
                )?
                .label("never improved (selected checkpoint: the untrained model)")
                .legend(|(x, y)| Circle::new((x + 10, y), 8, DIVERGED.stroke_width(2)));
        }
        if self.no_score > 0 {
            legend_note(
                chart,
                format!(
                    "{} run(s) without a score (empty or NaN): not drawn, see the findings",
                    self.no_score
                ),
                |(x, y)| Cross::new((x + 10, y), 5, RGBColor(150, 150, 150).stroke_width(1)),
            )?;
        }
        if self.unscored > 0 {
            legend_note(
                chart,
                format!(
                    "{} diverged run(s) without a score: counted failed, not drawn",
                    self.unscored
                ),
                |(x, y)| TriangleMarker::new((x + 10, y), 8, DIVERGED.stroke_width(1)),
            )?;
        }
        Ok(())
    }
}

/// Horizontal offsets of a group's run markers within ±`width`: random for a score of its
/// own, evenly spread for scores several runs share, so that equal scores (two failed runs at
/// MCC 0) never draw as one mark. `None` (a run without a score) draws nothing and gets 0
/// without moving the random stream.
pub(super) fn jitters(scores: &[Option<f64>], width: f64, rng: &mut impl rand::Rng) -> Vec<f64> {
    let mut seen: Vec<(f64, usize)> = Vec::new();
    scores
        .iter()
        .map(|v| {
            let Some(v) = *v else { return 0.0 };
            let r: f64 = rng.gen_range(-width..width);
            let same = scores.iter().filter(|w| **w == Some(v)).count();
            if same < 2 {
                return r;
            }
            let k = match seen.iter_mut().find(|(x, _)| *x == v) {
                Some((_, k)) => {
                    *k += 1;
                    *k
                }
                None => {
                    seen.push((v, 0));
                    0
                }
            };
            -width + 2.0 * width * k as f64 / (same - 1) as f64
        })
        .collect()
}

/// Distinct majority baselines of runs, ascending.
pub(super) fn distinct_baselines<'r>(runs: impl IntoIterator<Item = &'r RunEntry>) -> Vec<f64> {
    let mut b: Vec<f64> = runs.into_iter().filter_map(|r| r.baseline).collect();
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

/// Tick labels of a categorical x axis: see [`category_labels`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CategoryLabels {
    pub names: Vec<String>,
    /// Font size to draw them at.
    pub size: u32,
    /// When the ticks show values only, the keys they are values of (for the axis title).
    pub keys: Option<String>,
}

/// Tick labels for `labels` on a categorical x axis `SIZE.0` pixels wide. Group labels are
/// shortened as the findings shorten them ([`crate::fmt::short_labels`]); when those still do
/// not fit and every label sets the same keys, the ticks show the values only (`false, 3,
/// 5e-5`) and the keys go to the axis title; a label that still does not fit its slot at the
/// smallest font loses its middle ([`fit_label`]; the tables carry full names).
pub(super) fn category_labels(labels: &[&str]) -> CategoryLabels {
    let shortened = crate::fmt::short_labels(labels);
    let short = match &shortened {
        Some(s) => s.short(),
        None => labels.iter().map(|l| l.to_string()).collect(),
    };
    let slot = (SIZE.0 as f64 - 120.0) / labels.len().max(1) as f64;
    // Average glyph width of the sans-serif face is about half its size.
    let chars_at = |size: u32| (slot / (0.55 * size as f64)).floor() as usize;
    let fit = |names: &[String]| {
        [16, 14, 12]
            .into_iter()
            .find(|&size| names.iter().all(|l| l.chars().count() <= chars_at(size)))
    };
    if let Some(size) = fit(&short) {
        return CategoryLabels {
            names: short,
            size,
            keys: None,
        };
    }
    if let Some((keys, values)) = shortened.as_ref().and_then(|s| s.same_keys()) {
        if let Some(size) = fit(&values) {
            return CategoryLabels {
                names: values,
                size,
                keys: Some(keys),
            };
        }
    }
    let chars = chars_at(12).max(4);
    CategoryLabels {
        names: short.iter().map(|l| fit_label(l, chars)).collect(),
        size: 12,
        keys: None,
    }
}

/// `label` in at most `max` characters. Labels of one chart tend to share their beginnings
/// (`weighted-sum-last-four`, `weighted-sum-all-layers`) and differ at the end, so a long one
/// keeps its last words and its first, and loses the middle: `weighted-…layers`. Words are
/// split after `-`, `_`, `,`, `.`, `=` and spaces; a last word too long for that is cut in
/// the middle by characters.
pub(super) fn fit_label(label: &str, max: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(label) <= max {
        return label.to_string();
    }
    let mut words: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in label.char_indices() {
        if matches!(c, '-' | '_' | ',' | '.' | '=' | ' ') {
            words.push(&label[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < label.len() {
        words.push(&label[start..]);
    }
    // From the end first, then the beginning, while "head…tail" fits.
    let (mut head, mut tail) = (0, words.len());
    let used = |h: usize, t: usize| -> usize {
        words[..h].iter().map(|w| len(w)).sum::<usize>()
            + words[t..].iter().map(|w| len(w)).sum::<usize>()
            + 1
    };
    loop {
        let grew_tail = tail > head && used(head, tail - 1) <= max;
        if grew_tail {
            tail -= 1;
        }
        let grew_head = head < tail && used(head + 1, tail) <= max;
        if grew_head {
            head += 1;
        }
        if !grew_tail && !grew_head {
            break;
        }
    }
    if tail == words.len() {
        // Not even the last word fits: characters from both ends.
        let keep = max.saturating_sub(1);
        let front: String = label.chars().take(keep / 2).collect();
        let back: String = label.chars().skip(len(label) - (keep - keep / 2)).collect();
        return format!("{front}…{back}");
    }
    format!("{}…{}", words[..head].concat(), words[tail..].concat())
}

/// The y range of a score plot: `scores` padded, with each majority baseline that lies within
/// one span of the scores (below or above). Failed runs sit at or below their baseline, so a
/// chart with any failure always shows it; a baseline far from every score (F1 0 under scores
/// of 0.6–0.8) would squash the differences between groups into a sliver, so it is left off
/// the axis and [`draw_baselines`] names it in the legend instead.
pub(super) fn score_range(
    scores: impl IntoIterator<Item = f64>,
    baselines: &[f64],
    headroom: f64,
) -> Range<f64> {
    let (lo, hi) = bounds(scores);
    if !(lo.is_finite() && hi.is_finite()) {
        let (lo, hi) = bounds(baselines.iter().copied());
        return padded(lo, hi + (hi - lo) * headroom);
    }
    let reach = (hi - lo).max(0.05 * hi.abs().max(lo.abs())).max(1e-9);
    let near = baselines
        .iter()
        .copied()
        .filter(|b| *b >= lo - reach && *b <= hi + reach);
    let (lo, hi) = bounds([lo, hi].into_iter().chain(near));
    padded(lo, hi + (hi - lo) * headroom)
}

#[cfg(test)]
mod tests {
    #[test]
    fn category_labels_drop_shared_parts_and_shorten_keys() {
        let l = category_labels(&[
            "optimizer.bias_correction=false,epochs=10,learning_rate=1e-4",
            "optimizer.bias_correction=false,epochs=3,learning_rate=1e-4",
            "optimizer.bias_correction=true,epochs=10,learning_rate=1e-4",
            "optimizer.bias_correction=true,epochs=3,learning_rate=1e-4",
        ]);
        assert_eq!(l.names[0], "bias_correction=false, epochs=10");
        assert_eq!(l.names[3], "bias_correction=true, epochs=3");
        assert!(l.size <= 16 && l.keys.is_none());
    }

    #[test]
    fn many_keyed_groups_show_values_under_their_keys() {
        let full: Vec<String> = [("false", 3), ("false", 10), ("true", 3), ("true", 10)]
            .iter()
            .flat_map(|(bc, ep)| {
                ["1e-4", "5e-5"].map(|lr| {
                    format!("optimizer.bias_correction={bc},epochs={ep},learning_rate={lr}")
                })
            })
            .collect();
        let l = category_labels(&full.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            l.keys.as_deref(),
            Some("bias_correction, epochs, learning_rate")
        );
        assert_eq!(l.names[1], "false, 3, 5e-5");
        assert!(l.size >= 12);
    }

    #[test]
    fn category_labels_keep_plain_names_and_cut_only_what_cannot_fit() {
        let l = category_labels(&["devlin", "mosbach"]);
        assert_eq!(
            (l.names, l.size),
            (vec!["devlin".to_string(), "mosbach".to_string()], 16)
        );
        let long = "x".repeat(300);
        let l = category_labels(&[long.as_str(), "b"]);
        assert_eq!(l.size, 12);
        assert!(l.names[0].contains('…') && l.names[0].chars().count() < 300);
        assert_eq!(l.names[1], "b");
    }

    use super::*;

    #[test]
    fn long_labels_lose_their_middle_not_their_distinguishing_end() {
        assert_eq!(fit_label("weighted-sum-all-layers", 19), "weighted-…layers");
        assert_eq!(
            fit_label("weighted-sum-last-four", 19),
            "weighted-…last-four"
        );
        assert_eq!(fit_label("embeddings", 19), "embeddings");
        let l = fit_label(&"x".repeat(300), 19);
        assert_eq!(l.chars().count(), 19);
        assert!(l.contains('…'));
        // A label of many short words: at most `max` characters, both ends kept.
        let l = fit_label("bias_correction=true, epochs=10, learning_rate=5e-5", 20);
        assert!(
            l.chars().count() <= 20 && l.ends_with("5e-5") && l.starts_with("bias_"),
            "{l}"
        );
    }

    #[test]
    fn a_baseline_far_below_every_score_leaves_the_axis() {
        // F1 0 under scores of 0.56–0.79: the axis zooms on the scores.
        let r = score_range([0.56, 0.79], &[0.0], 0.0);
        assert!(r.start > 0.3, "{r:?}");
        // A baseline within reach, or one that failed runs sit on, stays.
        let r = score_range([0.51, 0.78], &[0.509], 0.0);
        assert!(r.start < 0.509, "{r:?}");
        let r = score_range([0.0, 0.0, 0.1], &[0.0], 0.0);
        assert!(r.start < 0.0, "{r:?}");
        // No scores at all: the baselines alone.
        let r = score_range(std::iter::empty(), &[0.5], 0.0);
        assert!(r.contains(&0.5), "{r:?}");
    }

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
        // One group's marks jittered ±0.2 about its centre fill every corner: the caller
        // then makes room above the data instead of covering marks.
        let one = [(0.2, 0.0), (0.2, 0.25), (-0.2, 0.0), (-0.2, 0.25)];
        let (_, hidden) = legend_placement(one.into_iter(), &(-0.5..0.5), &(-0.03..0.26));
        assert!(hidden > 0);
    }

    fn entry(score: f64, last: f64) -> RunEntry {
        RunEntry {
            group: "g".into(),
            id: "r".into(),
            outcome: Outcome::Ok,
            score: Some(score),
            selected_score: Some(score),
            selection: Some(crate::load::SelectionRule::BestOnScoredSet),
            selected_step: Some(10),
            eval_set: None,
            final_score: Some(last),
            baseline: Some(0.527),
            task: None,
            metric: None,
            init_seed: None,
            data_seed: None,
            freeze_layers: None,
            feature_mode: None,
            settings: Default::default(),
            train_loss: Vec::new(),
            dev_scores: Vec::new(),
            dev_curve_baseline: None,
            report_half_scores: Vec::new(),
            progress: Default::default(),
            wall_seconds: None,
            device: None,
        }
    }

    /// A run fails on its final score: its cross goes there, not at the plotted (selected)
    /// score; a run plotted at or below the baseline that did not fail shows its final score.
    #[test]
    fn every_mark_sits_at_the_score_that_decided_it() {
        let mut m = RunMarks::default();
        m.push(&entry(0.60, 0.50), 1.0, color(0));
        assert_eq!(m.failed, vec![(1.0, 0.50)]);
        assert_eq!(m.linked(), 1);
        assert!(m.ok.is_empty());
        m.push(&entry(0.52, 0.61), 2.0, color(0));
        assert_eq!(m.linked(), 2);
        assert_eq!(m.linked[1].1, (2.0, 0.61));
        assert!(!m.linked[1].2 && m.ok.is_empty());
        // Plotted and final alike: one mark.
        m.push(&entry(0.50, 0.50), 3.0, color(0));
        m.push(&entry(0.70, 0.70), 4.0, color(0));
        assert_eq!(m.failed.last(), Some(&(3.0, 0.50)));
        assert_eq!(m.ok.len(), 1);
        assert_eq!(m.linked(), 2);
    }

    #[test]
    fn equal_scores_get_distinct_marks() {
        let mut rng = crate::bootstrap::stream_rng(0, 1);
        let j = jitters(
            &[Some(0.0), Some(0.5), Some(0.0), None, Some(0.0)],
            0.2,
            &mut rng,
        );
        assert_eq!(j[3], 0.0);
        // The three runs at 0.0 are spread over the whole width, one apart from another.
        let mut at_zero = [j[0], j[2], j[4]];
        at_zero.sort_by(f64::total_cmp);
        assert!((at_zero[0] + 0.2).abs() < 1e-12 && (at_zero[2] - 0.2).abs() < 1e-12);
        assert!(at_zero[1].abs() < 1e-12);
        assert!(j[1].abs() < 0.2);
    }

    #[test]
    fn padded_range_of_a_single_value_is_not_empty() {
        let r = padded(0.5, 0.5);
        assert!(r.start < 0.5 && r.end > 0.5);
        assert_eq!(padded(f64::INFINITY, f64::NEG_INFINITY), 0.0..1.0);
        assert_eq!(bounds([0.3, f64::NAN, 0.1]), (0.1, 0.3));
    }
}
