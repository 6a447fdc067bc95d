//! Early-failure prediction against the fraction of training (`stab early-failure`): per rule,
//! precision (solid) and recall (dashed) of "flagged at f" for "failed at the end", over the
//! pooled runs of one task.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{color, draw_legend, legend_corner, legend_note, Chart, Frame, Keyed};
use super::PlotError;
use crate::early_failure::RuleRow;
use stab_spec::EarlyFailureRule;

pub(super) struct EarlyFailurePlot<'a> {
    pub title: String,
    pub rows: Vec<&'a RuleRow>,
}

impl Chart for EarlyFailurePlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let fs: Vec<f64> = self.rows.iter().map(|r| r.fraction * 100.0).collect();
        let lo = fs.iter().copied().fold(f64::INFINITY, f64::min).min(10.0) - 5.0;
        let hi = fs
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .max(50.0)
            + 5.0;
        let x_fmt = |v: &f64| format!("{v:.0} %");
        let mut chart = Frame {
            title: &self.title,
            x_desc: "checked after this share of the planned steps",
            y_desc: "precision (solid) · recall (dashed)",
            x: Keyed::auto(lo..hi),
            y: 0.0..1.05,
            x_fmt: &x_fmt,
            y_fmt: None,
            x_mesh: true,
            x_label_size: 16,
        }
        .draw(root)?;
        let mut rules: Vec<_> = self.rows.iter().map(|r| r.rule).collect();
        rules.dedup();
        // A rule that decided no run (no evaluation before the check) has nothing to draw: it
        // is named in a note instead of a legend entry without a line.
        let (drawn, silent): (Vec<EarlyFailureRule>, Vec<EarlyFailureRule>) =
            rules.iter().partition(|rule| {
                self.rows
                    .iter()
                    .any(|r| r.rule == **rule && (r.precision.is_some() || r.recall.is_some()))
            });
        let grey = RGBColor(90, 90, 90);
        let (n, failed) = self.rows.first().map_or((0, 0), |r| (r.runs, r.failed));
        // Flagging every run has precision = the share that failed: the line to beat.
        if n > 0 {
            let base = failed as f64 / n as f64;
            chart.draw_series(DashedLineSeries::new(
                vec![(lo, base), (hi, base)],
                3,
                4,
                grey.stroke_width(1),
            ))?;
        }
        let mut points = Vec::new();
        for rule in &drawn {
            // Colours by the rule, so that a rule keeps its colour across plots.
            let c = color(rule_index(*rule));
            let mine: Vec<&&RuleRow> = self.rows.iter().filter(|r| r.rule == *rule).collect();
            let precision: Vec<(f64, f64)> = mine
                .iter()
                .filter_map(|r| Some((r.fraction * 100.0, r.precision?)))
                .collect();
            let recall: Vec<(f64, f64)> = mine
                .iter()
                .filter_map(|r| Some((r.fraction * 100.0, r.recall?)))
                .collect();
            chart
                .draw_series(LineSeries::new(precision.clone(), c.stroke_width(3)))?
                .label(format!(
                    "{}: precision (solid), recall (dashed)",
                    rule.as_str()
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart.draw_series(precision.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            chart.draw_series(DashedLineSeries::new(
                recall.clone(),
                8,
                5,
                c.stroke_width(2),
            ))?;
            chart.draw_series(recall.iter().map(|&p| Circle::new(p, 4, c.stroke_width(2))))?;
            points.extend(precision);
            points.extend(recall);
        }
        legend_note(
            &mut chart,
            format!("fine dashes: share failed ({failed} of {n} runs) = precision of flagging all"),
            move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)),
        )?;
        for rule in silent {
            legend_note(
                &mut chart,
                format!("{}: decided no run (no evaluation by then)", rule.as_str()),
                |(x, y)| PathElement::new(vec![(x, y), (x, y)], TRANSPARENT),
            )?;
        }
        let corner = legend_corner(points.into_iter(), &(lo..hi), &(0.0..1.05));
        draw_legend(&mut chart, corner)
    }
}

fn rule_index(rule: EarlyFailureRule) -> usize {
    EarlyFailureRule::ALL
        .iter()
        .position(|r| *r == rule)
        .unwrap_or(0)
}
