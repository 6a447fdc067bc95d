//! Training loss and dev score of every run over optimizer steps, failed runs dashed.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{
    color, draw_baselines, draw_legend, legend_note, legend_placement, padded, Chart, Frame, Keyed,
    Plot, DIVERGED, FAILED,
};
use super::PlotError;

/// One run's curve.
pub(super) struct RunCurve<'a> {
    pub group_index: usize,
    pub group: &'a str,
    pub failed: bool,
    pub diverged: bool,
    /// (step, value) points.
    pub points: &'a [(u64, f64)],
}

impl RunCurve<'_> {
    /// The finite points as (step, value).
    fn finite(&self) -> Vec<(f64, f64)> {
        finite(self.points)
    }
}

pub(super) fn finite(c: &[(u64, f64)]) -> Vec<(f64, f64)> {
    c.iter()
        .filter(|p| p.1.is_finite())
        .map(|&(s, v)| (s as f64, v))
        .collect()
}

/// Runs of a group that have no curve to draw (fewer than two finite points: a run that
/// diverged at once). They stay in the legend, so a group is never silently missing.
pub(super) struct MissingCurves<'a> {
    pub group_index: usize,
    pub group: &'a str,
    /// Runs without a curve.
    pub runs: usize,
    /// Diverged runs among them.
    pub diverged: usize,
}

pub(super) struct CurvePlot<'a> {
    pub title: String,
    pub y_label: String,
    pub curves: Vec<RunCurve<'a>>,
    pub missing: Vec<MissingCurves<'a>>,
    /// Majority baselines of the set the curves are on, drawn dashed (none for the loss).
    pub baselines: Vec<f64>,
    /// Said in the legend when the set's baseline is not known (records that predate it).
    pub baseline_note: Option<String>,
    /// The baselines' legend entry (which half of a split dev set they are of).
    pub baseline_name: &'static str,
}

impl CurvePlot<'_> {
    /// Robust y range: a single exploding run must not flatten every other curve.
    fn ranges(&self) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
        let pts: Vec<(f64, f64)> = self.curves.iter().flat_map(|c| c.finite()).collect();
        let max_step = pts.iter().map(|p| p.0).fold(1.0, f64::max);
        let s = crate::describe::sorted(&pts.iter().map(|p| p.1).collect::<Vec<_>>());
        let lo = s.first().copied().unwrap_or(0.0);
        let hi = crate::describe::percentile_sorted(&s, 0.995).unwrap_or(1.0);
        // The baseline stays on the axis when it lies within the curves' span of them.
        let reach = (hi - lo).max(1e-9);
        let (lo, hi) = self
            .baselines
            .iter()
            .filter(|b| **b >= lo - reach && **b <= hi + reach)
            .fold((lo, hi), |(l, h), b| (l.min(*b), h.max(*b)));
        (0.0..max_step, padded(lo, hi))
    }

    /// Colour says the group, a dashed line says "failed": a group whose runs all failed keeps
    /// its colour and its legend entry. Successful runs first, failed on top.
    fn draw_curves<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
    ) -> Result<BTreeSet<usize>, PlotError>
    where
        DB::ErrorType: 'static,
    {
        let mut labelled = BTreeSet::new();
        for failed_pass in [false, true] {
            for c in self.curves.iter().filter(|c| c.failed == failed_pass) {
                let col = color(c.group_index);
                let series = if c.failed {
                    chart.draw_series(DashedLineSeries::new(
                        c.finite(),
                        7,
                        4,
                        col.mix(0.95).stroke_width(2),
                    ))
                } else {
                    chart.draw_series(LineSeries::new(c.finite(), col.mix(0.45).stroke_width(1)))
                }?;
                if labelled.insert(c.group_index) {
                    series.label(c.group).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                    });
                }
            }
        }
        Ok(labelled)
    }

    fn draw_missing<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
        labelled: &BTreeSet<usize>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        for m in &self.missing {
            let col = color(m.group_index);
            let why = if m.diverged == m.runs {
                "diverged before a 2nd finite point".to_string()
            } else {
                format!("{} diverged, fewer than 2 finite points", m.diverged)
            };
            let label = if labelled.contains(&m.group_index) {
                format!("{}: {} more run(s) not drawn ({why})", m.group, m.runs)
            } else {
                format!("{}: {} run(s), none drawn ({why})", m.group, m.runs)
            };
            legend_note(chart, label, move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (20, 0)], col.mix(0.35).stroke_width(1))
                    + Cross::new((10, 0), 4, col.stroke_width(2))
            })?;
        }
        Ok(())
    }

    /// A diverged run's curve ends where it diverged: a triangle marks the end (clamped into
    /// the plotted range when the last value exploded).
    fn draw_divergence<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
        y: &std::ops::Range<f64>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let ends: Vec<((f64, f64), bool)> = self
            .curves
            .iter()
            .filter(|c| c.diverged)
            .filter_map(|c| c.finite().last().map(|&p| (p, c.failed)))
            .collect();
        if ends.is_empty() {
            return Ok(());
        }
        chart
            .draw_series(ends.iter().map(|&((x, v), failed)| {
                let style = if failed {
                    FAILED.filled()
                } else {
                    DIVERGED.stroke_width(2)
                };
                TriangleMarker::new((x, v.clamp(y.start, y.end)), 8, style)
            }))?
            .label("▲ diverged here (red: failed)")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 8, FAILED.filled()));
        Ok(())
    }
}

impl Chart for CurvePlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let (x, y) = self.ranges();
        let pts: Vec<(f64, f64)> = self.curves.iter().flat_map(|c| c.finite()).collect();
        let (corner, hidden) = legend_placement(pts.iter().copied(), &x, &y);
        // Every corner holds curves: make room above them rather than cover any.
        let (y, corner) = if hidden > 0 {
            (
                y.start..y.end + 0.4 * (y.end - y.start),
                SeriesLabelPosition::UpperRight,
            )
        } else {
            (y, corner)
        };
        let x_fmt = |v: &f64| format!("{v:.0}");
        let mut chart = Frame {
            title: &self.title,
            x_desc: "optimizer step",
            y_desc: &self.y_label,
            x: Keyed::auto(x.clone()),
            y: y.clone(),
            x_fmt: &x_fmt,
            x_mesh: true,
            x_label_size: 16,
            y_fmt: None,
        }
        .draw(root)?;
        let labelled = self.draw_curves(&mut chart)?;
        let segments: Vec<(f64, f64, f64)> = self
            .baselines
            .iter()
            .map(|&b| (x.start, x.end, b))
            .collect();
        draw_baselines(&mut chart, &segments, &y, self.baseline_name)?;
        if let Some(note) = &self.baseline_note {
            let grey = RGBColor(120, 120, 120);
            legend_note(&mut chart, note.clone(), move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1))
            })?;
        }
        self.draw_missing(&mut chart, &labelled)?;
        self.draw_divergence(&mut chart, &y)?;
        if self.curves.iter().any(|c| c.failed) {
            let grey = RGBColor(60, 60, 60).stroke_width(2);
            legend_note(
                &mut chart,
                "dashed: failed run (final score ≤ majority baseline)".into(),
                move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (6, 0)], grey)
                        + PathElement::new(vec![(10, 0), (16, 0)], grey)
                        + PathElement::new(vec![(20, 0), (22, 0)], grey)
                },
            )?;
        }
        draw_legend(&mut chart, corner)
    }
}
