//! Box plot per group with every run a jittered dot (Mosbach et al. 2021, Figure 1).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{
    category_labels, color, distinct_baselines, draw_baselines, draw_box, draw_legend, jitters,
    legend_placement, score_range, Chart, Frame, Keyed, RunMarks,
};
use super::PlotError;
use crate::bootstrap::stream_rng;
use crate::load::RunEntry;

/// One group's runs.
pub(super) struct GroupRuns<'a> {
    pub label: String,
    pub runs: Vec<&'a RunEntry>,
}

pub(super) struct BoxPlot<'a> {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<GroupRuns<'a>>,
    /// Seed of the horizontal jitter.
    pub seed: u64,
}

impl BoxPlot<'_> {
    fn y_range(&self) -> std::ops::Range<f64> {
        // Final scores too: a failed run's cross sits at its final score.
        let scores = self.groups.iter().flat_map(|g| {
            g.runs
                .iter()
                .flat_map(|r| [r.finite_score(), r.finite_final_score()])
                .flatten()
        });
        let baselines = distinct_baselines(self.groups.iter().flat_map(|g| g.runs.iter().copied()));
        score_range(scores, &baselines, 0.0)
    }

    /// "baseline" for a table of scores (given with `--baseline`), else "majority baseline".
    fn baseline_name(&self) -> &'static str {
        if self
            .groups
            .iter()
            .flat_map(|g| &g.runs)
            .all(|r| r.selection.is_none())
        {
            "baseline"
        } else {
            "majority baseline"
        }
    }

    /// Baseline segments: one line across the plot when every run shares one baseline, else
    /// a segment over each group.
    fn baseline_segments(&self) -> Vec<(f64, f64, f64)> {
        let k = self.groups.len() as f64;
        let per_group: Vec<(f64, f64)> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| {
                distinct_baselines(g.runs.iter().copied())
                    .into_iter()
                    .map(move |b| (i as f64, b))
            })
            .collect();
        let all_same = per_group.windows(2).all(|w| w[0].1 == w[1].1);
        match per_group.first() {
            Some(&(_, b)) if all_same => vec![(-0.5, k - 0.5, b)],
            _ => per_group
                .iter()
                .map(|&(x, b)| (x - 0.45, x + 0.45, b))
                .collect(),
        }
    }
}

impl Chart for BoxPlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let k = self.groups.len();
        let x_range = -0.5..k as f64 - 0.5;
        let y = self.y_range();
        // Where every run's marks go (jitter drawn once, in run order), so that the legend
        // is placed by the marks as drawn, both scores of a run included.
        let mut rng = stream_rng(self.seed, 0xB0C5);
        let xs: Vec<Vec<f64>> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let values: Vec<Option<f64>> = g.runs.iter().map(|r| r.finite_score()).collect();
                jitters(&values, 0.2, &mut rng)
                    .into_iter()
                    .map(|j| i as f64 + j)
                    .collect()
            })
            .collect();
        let (corner, hidden) = legend_placement(
            self.groups.iter().zip(&xs).flat_map(|(g, xs)| {
                g.runs.iter().zip(xs).flat_map(|(r, &x)| {
                    [r.finite_score(), r.finite_final_score()]
                        .into_iter()
                        .flatten()
                        .map(move |v| (x, v))
                })
            }),
            &x_range,
            &y,
        );
        // Every corner holds runs: make room above them rather than hide any.
        let (y, corner) = if hidden > 0 {
            let span = y.end - y.start;
            (
                y.start..y.end + 0.35 * span,
                SeriesLabelPosition::UpperRight,
            )
        } else {
            (y, corner)
        };
        let labels: Vec<&str> = self.groups.iter().map(|g| g.label.as_str()).collect();
        let ticks = category_labels(&labels);
        let names = &ticks.names;
        let x_fmt = |v: &f64| {
            let i = v.round();
            match names.get(i as usize) {
                Some(n) if (v - i).abs() < 1e-6 && i >= 0.0 => n.to_string(),
                _ => String::new(),
            }
        };
        let mut chart = Frame {
            title: &self.title,
            x_desc: ticks.keys.as_deref().unwrap_or("group"),
            y_desc: &self.y_label,
            x: Keyed::at(x_range, (0..k).map(|i| i as f64).collect()),
            y: y.clone(),
            x_fmt: &x_fmt,
            x_mesh: false,
            x_label_size: ticks.size,
            y_fmt: None,
        }
        .draw(root)?;
        let mut marks = RunMarks::default();
        for (i, (g, xs)) in self.groups.iter().zip(&xs).enumerate() {
            let scores: Vec<f64> = g.runs.iter().filter_map(|r| r.finite_score()).collect();
            draw_box(&mut chart, i as f64, 0.28, &scores, color(i))?;
            for (r, &x) in g.runs.iter().zip(xs) {
                marks.push(r, x, color(i));
            }
        }
        marks.draw(&mut chart)?;
        draw_baselines(
            &mut chart,
            &self.baseline_segments(),
            &y,
            self.baseline_name(),
        )?;
        draw_legend(&mut chart, corner)
    }
}
