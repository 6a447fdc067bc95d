//! Expected maximum dev score against the number of runs (Dodge et al. 2019), both estimators.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{bounds, color, draw_legend, legend_note, padded, Chart, Frame, Keyed};
use super::PlotError;
use crate::summary::GroupSummary;

pub(super) struct ExpectedMaxPlot<'a> {
    pub title: String,
    pub y_label: String,
    /// Groups with at least one scored run.
    pub groups: Vec<&'a GroupSummary>,
}

/// Whole-number ticks from 1 to `max_n`: 1, then multiples of a round step (1, 2, 5, 10, 20,
/// 50, …), at most 21 of them.
fn count_ticks(max_n: usize) -> Vec<f64> {
    let step = (0..)
        .flat_map(|e| [1, 2, 5].map(|m| m * 10usize.pow(e)))
        .find(|s| max_n / s <= 20)
        .unwrap_or(1);
    std::iter::once(1)
        .chain((step..=max_n).step_by(step).filter(|&n| n > 1))
        .map(|n| n as f64)
        .collect()
}

impl ExpectedMaxPlot<'_> {
    fn y_range(&self) -> std::ops::Range<f64> {
        let (lo, hi) = bounds(self.groups.iter().flat_map(|g| {
            g.expected_max.iter().flat_map(|p| {
                [
                    p.with_replacement - p.with_replacement_sd,
                    p.with_replacement + p.with_replacement_sd,
                    p.without_replacement,
                ]
            })
        }));
        padded(lo, hi)
    }

    fn draw_group<'a, DB: DrawingBackend + 'a>(
        chart: &mut super::frame::Plot<'a, DB>,
        i: usize,
        g: &GroupSummary,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let c = color(i);
        let em = &g.expected_max;
        let upper = em
            .iter()
            .map(|p| (p.n as f64, p.with_replacement + p.with_replacement_sd));
        let lower = em
            .iter()
            .rev()
            .map(|p| (p.n as f64, p.with_replacement - p.with_replacement_sd));
        chart.draw_series(std::iter::once(Polygon::new(
            upper.chain(lower).collect::<Vec<_>>(),
            c.mix(0.15).filled(),
        )))?;
        chart
            .draw_series(LineSeries::new(
                em.iter().map(|p| (p.n as f64, p.with_replacement)),
                c.stroke_width(3),
            ))?
            .label(format!("{} (N = {})", g.group, g.n))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(DashedLineSeries::new(
            em.iter()
                .map(|p| (p.n as f64, p.without_replacement))
                .collect::<Vec<_>>(),
            8,
            5,
            c.stroke_width(2),
        ))?;
        Ok(())
    }
}

impl Chart for ExpectedMaxPlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let max_n = self.groups.iter().map(|g| g.n).max().unwrap_or(1).max(2);
        // n is a count: ticks at whole numbers only (small N would otherwise repeat "1 1 2 2").
        let x_fmt = |v: &f64| format!("{v:.0}");
        let y_desc = format!("expected max {}", self.y_label);
        let mut chart = Frame {
            title: &self.title,
            x_desc: "number of runs n (random seeds)",
            y_desc: &y_desc,
            x: Keyed::at(1.0..max_n as f64, count_ticks(max_n)),
            y: self.y_range(),
            x_fmt: &x_fmt,
            x_mesh: true,
            x_label_size: 16,
            y_fmt: None,
        }
        .draw(root)?;
        for (i, g) in self.groups.iter().enumerate() {
            Self::draw_group(&mut chart, i, g)?;
        }
        let grey = RGBColor(90, 90, 90);
        legend_note(
            &mut chart,
            "solid: with replacement ± sd (Dodge 2019)".into(),
            move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(3)),
        )?;
        legend_note(
            &mut chart,
            "dashed: unbiased, without replacement".into(),
            move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], grey.stroke_width(2)),
        )?;
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

#[cfg(test)]
mod tests {
    use super::count_ticks;

    #[test]
    fn run_count_ticks_are_whole_and_few() {
        assert_eq!(count_ticks(3), vec![1.0, 2.0, 3.0]);
        let t = count_ticks(1000);
        assert!(t.len() <= 21 && t[0] == 1.0 && t[1] == 50.0, "{t:?}");
        assert!(t.iter().all(|v| v.fract() == 0.0));
    }
}
