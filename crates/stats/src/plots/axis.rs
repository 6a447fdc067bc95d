//! Failure rate (with its Wilson interval) and score distribution against a swept numeric
//! setting: learning rate (log scale), frozen layers, epochs, training steps, subset size.
//!
//! A setting is an *axis* when it varies inside some group (the sweep's `[axes]` cross the
//! groups) or when the report is grouped by it (`--group-by learning_rate`, or a numeric group
//! column in `stab compare`). A setting that only differs *between* groups, like the epochs of
//! two recipes, is not: plotting against it would credit the setting with what the recipes do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::{
    bounds, color, distinct_baselines, draw_baselines, draw_box, draw_legend, jitters, legend_note,
    legend_placement, render, score_range, Chart, Frame, Keyed, Plot, PlotFile, RunMarks,
};
use super::setting::{by_setting, names_axis};
use super::{score_label, PlotError};
use crate::bootstrap::{stream_rng, Interval};
use crate::counts::wilson;
use crate::load::{ReportInput, RunEntry};
use crate::summary::ReportSummary;
use crate::StatsError;

/// A setting's value as an ordered map key.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Value(f64);

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A swept numeric setting and how to draw it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub name: String,
    /// Log-scale x (learning rates, or values spanning ≥ 50×).
    pub log: bool,
}

impl Axis {
    fn label(&self) -> String {
        let what = match self.name.as_str() {
            "learning_rate" => "learning rate".to_string(),
            "freeze_layers" => "frozen bottom layers".to_string(),
            "reinit_layers" => "re-initialised top layers".to_string(),
            "max_steps" => "training steps (max_steps)".to_string(),
            "train_subset" => "training examples (train_subset)".to_string(),
            other => other.replace('_', " "),
        };
        if self.log {
            format!("{what} (log scale)")
        } else {
            what
        }
    }

    /// Plot position of a value.
    fn x(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    /// Tick label of a plot position.
    fn tick(&self, x: f64) -> String {
        short_number(if self.log { 10f64.powf(x) } else { x })
    }
}

/// A number in at most three significant digits: `2e-5`, `0.1`, `400`, `1.5e6`.
pub(super) fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        // Three significant digits at most.
        let r: f64 = format!("{v:.2e}").parse().unwrap_or(v);
        let t = format!("{r}");
        if t.len() < s.len() {
            t
        } else {
            s.to_string()
        }
    } else {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    }
}

/// The swept numeric settings of the input (see the module docs for the rule).
pub(super) fn swept_axes(input: &ReportInput, grouped: &[(String, Vec<RunEntry>)]) -> Vec<Axis> {
    let grouping: BTreeSet<&str> = input
        .grouping
        .split(',')
        .map(|f| f.trim().trim_start_matches("spec."))
        .collect();
    let names: BTreeSet<&String> = input.runs.iter().flat_map(|r| r.settings.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let values = |runs: &mut dyn Iterator<Item = &RunEntry>| -> BTreeSet<Value> {
                runs.filter_map(|r| r.settings.get(name).copied().map(Value))
                    .collect()
            };
            let all = values(&mut input.runs.iter());
            let within = grouped
                .iter()
                .any(|(_, runs)| values(&mut runs.iter()).len() > 1);
            // A sweep's axes name their groups (`task=SST-2,freeze_layers=3`): such a setting
            // is swept even when the report is grouped by the sweep's groups.
            let in_labels = grouped.iter().all(|(g, _)| names_axis(g, name));
            if all.len() < 2 || !(within || in_labels || grouping.contains(name.as_str())) {
                return None;
            }
            let (lo, hi) = bounds(all.iter().map(|v| v.0));
            let log = lo > 0.0 && (name == "learning_rate" || hi / lo >= 50.0);
            Some(Axis {
                name: name.clone(),
                log,
            })
        })
        .collect()
}

/// Runs at each value of the axis, per series (a group, or all runs when the grouping is the
/// axis): keys are plot positions.
/// Series are named as the findings name groups ([`crate::fmt::short_labels`]).
fn series_of<'r>(
    axis: &Axis,
    grouped: &'r [(String, Vec<RunEntry>)],
) -> Vec<(String, BTreeMap<Value, Vec<&'r RunEntry>>)> {
    let mut series = by_setting(grouped, &axis.name, |r| {
        r.settings.get(&axis.name).map(|&v| Value(axis.x(v)))
    });
    let labels: Vec<&str> = series.iter().map(|(l, _)| l.as_str()).collect();
    if let Some(short) = crate::fmt::short_labels(&labels) {
        for ((label, _), s) in series.iter_mut().zip(short.short()) {
            *label = s;
        }
    }
    series
}

/// x range padded by half the smallest gap between values, the tick positions, and that gap.
fn x_layout(keys: &BTreeSet<Value>) -> (std::ops::Range<f64>, Vec<f64>, f64) {
    let xs: Vec<f64> = keys.iter().map(|v| v.0).collect();
    let gap = xs
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let gap = if gap.is_finite() && gap > 0.0 {
        gap
    } else {
        1.0
    };
    let (lo, hi) = bounds(xs.iter().copied());
    ((lo - 0.5 * gap)..(hi + 0.5 * gap), xs, gap)
}

/// Horizontal offset of series `i` of `n`, so that boxes and error bars do not overlap.
fn offset(i: usize, n: usize, gap: f64) -> f64 {
    if n > 1 {
        (i as f64 - (n - 1) as f64 / 2.0) * gap * 0.6 / n as f64
    } else {
        0.0
    }
}

/// Failure rate of the runs with a verdict at one axis value.
#[derive(Debug, Clone, PartialEq)]
struct RatePoint {
    x: f64,
    failed: usize,
    judged: usize,
    ci: Interval,
}

struct RateSeries {
    label: String,
    points: Vec<RatePoint>,
}

/// Failure rate against the axis, Wilson intervals as error bars, `failed/judged` beside each.
struct FailurePlot {
    title: String,
    axis: Axis,
    confidence: f64,
    series: Vec<RateSeries>,
}

impl FailurePlot {
    fn new(axis: &Axis, grouped: &[(String, Vec<RunEntry>)], confidence: f64) -> Self {
        let series = series_of(axis, grouped)
            .into_iter()
            .map(|(label, m)| {
                let points = m
                    .iter()
                    .filter_map(|(x, runs)| {
                        let verdicts: Vec<bool> = runs.iter().filter_map(|r| r.failed()).collect();
                        let failed = verdicts.iter().filter(|&&f| f).count();
                        let ci = wilson(failed as u64, verdicts.len() as u64, confidence)?;
                        Some(RatePoint {
                            x: x.0,
                            failed,
                            judged: verdicts.len(),
                            ci,
                        })
                    })
                    .collect();
                RateSeries { label, points }
            })
            .filter(|s: &RateSeries| !s.points.is_empty())
            .collect();
        FailurePlot {
            title: format!("Failure rate vs. {}", axis.label()),
            axis: axis.clone(),
            confidence,
            series,
        }
    }

    fn draw_rates<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
        gap: f64,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = self.series.len();
        let cap = gap * 0.04;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            let off = offset(i, n, gap);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.x + off, p.failed as f64 / p.judged as f64))
                .collect();
            chart.draw_series(s.points.iter().flat_map(|p| {
                let x = p.x + off;
                [
                    PathElement::new(vec![(x, p.ci.lower), (x, p.ci.upper)], c.stroke_width(2)),
                    PathElement::new(
                        vec![(x - cap, p.ci.lower), (x + cap, p.ci.lower)],
                        c.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(x - cap, p.ci.upper), (x + cap, p.ci.upper)],
                        c.stroke_width(2),
                    ),
                ]
            }))?;
            chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 6, c.filled())))?
                .label(format!("{}: failed / runs", s.label))
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, c.filled()));
            // Counts centred above each interval, clear of the line and the other series.
            let style = ("sans-serif", 14)
                .into_font()
                .color(&c)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series(s.points.iter().map(|p| {
                EmptyElement::at((p.x + off, p.ci.upper))
                    + Text::new(format!("{}/{}", p.failed, p.judged), (0, -5), style.clone())
            }))?;
        }
        Ok(())
    }
}

impl Chart for FailurePlot {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let keys: BTreeSet<Value> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| Value(p.x)))
            .collect();
        let (x, ticks, gap) = x_layout(&keys);
        let x_fmt = |v: &f64| self.axis.tick(*v);
        let y_desc = format!(
            "failed runs (share; {:.0}% Wilson interval)",
            self.confidence * 100.0
        );
        let axis_label = self.axis.label();
        // The legend goes in the corner that hides the fewest points, error bars included;
        // when every corner holds some, the axis grows above 1 to make room for it.
        let points = self.series.iter().flat_map(|s| {
            s.points.iter().flat_map(|p| {
                [
                    (p.x, p.failed as f64 / p.judged as f64),
                    (p.x, p.ci.upper),
                    (p.x, p.ci.lower),
                ]
            })
        });
        let (corner, hidden) = legend_placement(points, &x, &(-0.04..1.08));
        let (y, corner) = if hidden > 0 {
            let room = 0.12 + 0.06 * self.series.len() as f64;
            (-0.04..1.08 + room, SeriesLabelPosition::UpperLeft)
        } else {
            (-0.04..1.08, corner)
        };
        // A share: ticks from 0 % to 100 % only, whatever room the legend added above.
        let y_fmt = |v: &f64| {
            if *v < -1e-9 || *v > 1.0 + 1e-9 {
                String::new()
            } else {
                format!("{:.0}%", v * 100.0)
            }
        };
        let mut chart = Frame {
            title: &self.title,
            x_desc: &axis_label,
            y_desc: &y_desc,
            x: Keyed::at(x.clone(), ticks),
            y,
            x_fmt: &x_fmt,
            x_mesh: false,
            x_label_size: 16,
            y_fmt: Some(&y_fmt),
        }
        .draw(root)?;
        // The top of the scale, drawn: the axis may run on above it to make room for the
        // legend, but no share does.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x.start, 1.0), (x.end, 1.0)],
            RGBColor(150, 150, 150).stroke_width(1),
        )))?;
        self.draw_rates(&mut chart, gap)?;
        draw_legend(&mut chart, corner)
    }
}

/// Every run's score against the axis: a box per value and series, runs as dots.
struct ScoresPlot<'a> {
    title: String,
    axis: Axis,
    y_label: String,
    series: Vec<(String, BTreeMap<Value, Vec<&'a RunEntry>>)>,
    baselines: Vec<f64>,
    seed: u64,
}

impl ScoresPlot<'_> {
    /// "baseline" for a table of scores (given with `--baseline`), else "majority baseline".
    fn baseline_name(&self) -> &'static str {
        if self
            .series
            .iter()
            .flat_map(|(_, m)| m.values().flatten())
            .all(|r| r.selection.is_none())
        {
            "baseline"
        } else {
            "majority baseline"
        }
    }

    fn y_range(&self) -> std::ops::Range<f64> {
        let scores = self
            .series
            .iter()
            .flat_map(|(_, m)| m.values().flatten())
            .flat_map(|r| [r.finite_score(), r.finite_final_score()])
            .flatten();
        // Room above the data for the legend: every value range is full of runs.
        let entries = 4 + if self.series.len() > 1 {
            self.series.len()
        } else {
            0
        };
        score_range(scores, &self.baselines, 0.07 * entries as f64)
    }

    fn draw_runs<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
        gap: f64,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = self.series.len();
        let half = gap * 0.3 / n as f64;
        let mut rng = stream_rng(self.seed, 0xA815);
        let mut marks = RunMarks::default();
        for (i, (_, m)) in self.series.iter().enumerate() {
            for (x, runs) in m {
                let x = x.0 + offset(i, n, gap);
                let scores: Vec<f64> = runs.iter().filter_map(|r| r.finite_score()).collect();
                draw_box(chart, x, half, &scores, color(i))?;
                let values: Vec<Option<f64>> = runs.iter().map(|r| r.finite_score()).collect();
                for (r, jitter) in runs.iter().zip(jitters(&values, 0.7 * half, &mut rng)) {
                    marks.push(r, x + jitter, color(i));
                }
            }
        }
        marks.draw(chart)?;
        if n > 1 {
            for (i, (label, _)) in self.series.iter().enumerate() {
                let c = color(i);
                legend_note(chart, label.clone(), move |(x, y)| {
                    Rectangle::new([(x + 4, y - 5), (x + 16, y + 5)], c.mix(0.5).filled())
                })?;
            }
        }
        Ok(())
    }
}

impl Chart for ScoresPlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let keys: BTreeSet<Value> = self
            .series
            .iter()
            .flat_map(|(_, m)| m.keys().copied())
            .collect();
        let (x, ticks, gap) = x_layout(&keys);
        let y = self.y_range();
        let x_fmt = |v: &f64| self.axis.tick(*v);
        let axis_label = self.axis.label();
        let mut chart = Frame {
            title: &self.title,
            x_desc: &axis_label,
            y_desc: &self.y_label,
            x: Keyed::at(x.clone(), ticks),
            y: y.clone(),
            x_fmt: &x_fmt,
            x_mesh: false,
            x_label_size: 16,
            y_fmt: None,
        }
        .draw(root)?;
        self.draw_runs(&mut chart, gap)?;
        let segments: Vec<(f64, f64, f64)> = self
            .baselines
            .iter()
            .map(|&b| (x.start, x.end, b))
            .collect();
        draw_baselines(&mut chart, &segments, &y, self.baseline_name())?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Both plots for every swept numeric axis: `failure_vs_<axis>` (when runs have a failure
/// verdict) and `scores_vs_<axis>`.
pub(super) fn axis_plots(
    dir: &Path,
    input: &ReportInput,
    grouped: &[(String, Vec<RunEntry>)],
    s: &ReportSummary,
) -> Result<Vec<PlotFile>, StatsError> {
    let mut out = Vec::new();
    for axis in swept_axes(input, grouped) {
        let failure = FailurePlot::new(&axis, grouped, s.options.confidence_level);
        if !failure.series.is_empty() {
            out.push(render(dir, &format!("failure_vs_{}", axis.name), &failure)?);
        }
        let scores = ScoresPlot {
            title: format!("Scores vs. {} (every run a dot)", axis.label()),
            axis: axis.clone(),
            y_label: score_label(s, input),
            series: series_of(&axis, grouped),
            baselines: distinct_baselines(grouped.iter().flat_map(|(_, r)| r)),
            seed: s.options.seed,
        };
        out.push(render(dir, &format!("scores_vs_{}", axis.name), &scores)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(2e-5), "2e-5");
        assert_eq!(short_number(3.0000000000000004e-5), "3e-5");
        assert_eq!(short_number(0.0001), "1e-4");
        assert_eq!(short_number(0.1), "0.1");
        assert_eq!(short_number(400.0), "400");
        assert_eq!(short_number(6.0), "6");
        assert_eq!(short_number(1.5e6), "1.5e6");
    }
}
