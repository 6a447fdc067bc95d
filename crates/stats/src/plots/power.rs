//! Power against seeds per group (`stab plan`): one line per test and contrast, the target
//! power as a dashed line, and the chosen n marked on each line.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{color, draw_legend, legend_corner, legend_note, Chart, Frame, Keyed};
use super::PlotError;
use crate::plan::SampleSize;

pub(super) struct PowerPlot<'a> {
    pub title: String,
    pub lines: Vec<(String, &'a SampleSize)>,
    pub target: f64,
}

impl Chart for PowerPlot<'_> {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let max_n = self
            .lines
            .iter()
            .flat_map(|(_, s)| s.curve.iter().map(|p| p.n))
            .max()
            .unwrap_or(2)
            .max(3);
        let x_fmt = |v: &f64| format!("{v:.0}");
        let mut chart = Frame {
            title: &self.title,
            x_desc: "seeds per group n",
            y_desc: "power (probability of p < α)",
            x: Keyed::auto(2.0..max_n as f64),
            y: 0.0..1.02,
            x_fmt: &x_fmt,
            y_fmt: None,
            x_mesh: true,
            x_label_size: 16,
        }
        .draw(root)?;
        let grey = RGBColor(90, 90, 90);
        chart.draw_series(DashedLineSeries::new(
            vec![(2.0, self.target), (max_n as f64, self.target)],
            8,
            5,
            grey.stroke_width(2),
        ))?;
        for (i, (label, s)) in self.lines.iter().enumerate() {
            let c = color(i);
            let pts: Vec<(f64, f64)> = s
                .curve
                .iter()
                .filter(|p| p.power.is_finite())
                .map(|p| (p.n as f64, p.power))
                .collect();
            let name = match s.n_stable.or(s.n) {
                Some(n) => format!("{label}: n = {n}"),
                None => format!("{label}: not reached"),
            };
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.filled())))?;
            if let Some(n) = s.n_stable.or(s.n) {
                if let Some(p) = s.curve.iter().find(|p| p.n == n) {
                    chart.draw_series(std::iter::once(Circle::new(
                        (n as f64, p.power),
                        7,
                        c.stroke_width(3),
                    )))?;
                }
            }
        }
        let target = self.target;
        legend_note(
            &mut chart,
            format!("dashed: target power {target}"),
            move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)),
        )?;
        let points = self
            .lines
            .iter()
            .flat_map(|(_, s)| s.curve.iter().map(|p| (p.n as f64, p.power)));
        let corner = legend_corner(points, &(2.0..max_n as f64), &(0.0..1.02));
        draw_legend(&mut chart, corner)
    }
}
