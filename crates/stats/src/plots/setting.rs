//! Mean ± std of the score against a spec setting (frozen layers; feature mode), one series per
//! group or one for all runs when the grouping is that setting.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{
    bounds, category_labels, color, draw_baselines, draw_legend, legend_corner, score_range, Chart,
    Frame, Keyed, Plot,
};
use super::PlotError;
use crate::load::RunEntry;

/// Mean and spread of the scores at one value of the setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SettingPoint {
    pub x: f64,
    pub mean: f64,
    /// Sample std (0 for a single run).
    pub std: f64,
    pub n: usize,
}

/// A labelled series of setting points.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub label: String,
    pub points: Vec<SettingPoint>,
}

pub(super) struct SettingPlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Category names in x order; None for a numeric axis.
    pub categories: Option<Vec<String>>,
    pub series: Vec<Series>,
    /// Individual scores (x, score), drawn faintly behind.
    pub points: Vec<(f64, f64)>,
    /// Distinct majority baselines of the runs.
    pub baselines: Vec<f64>,
}

/// Order of Devlin et al. (2019) Table 7, fine-tuning last; the two modes that are not Table 7
/// rows (the unweighted sum, the mix with the embeddings) beside their weighted counterparts.
pub(super) const FEATURE_ORDER: [&str; 9] = [
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

pub(super) fn feature_label(m: &str) -> String {
    match m {
        "off" => "fine-tuning".into(),
        other => other.into(),
    }
}

/// Runs of each group keyed by a setting: one map per group, or a single "all runs" map when
/// every group holds only one value of the setting (i.e. the grouping *is* that setting).
pub(super) fn by_setting<'r, K: Ord + Clone>(
    grouped: &'r [(String, Vec<RunEntry>)],
    axis: &str,
    key: impl Fn(&RunEntry) -> Option<K>,
) -> Vec<(String, BTreeMap<K, Vec<&'r RunEntry>>)> {
    let per_group: Vec<(String, BTreeMap<K, Vec<&RunEntry>>)> = grouped
        .iter()
        .map(|(g, runs)| {
            let mut m: BTreeMap<K, Vec<&RunEntry>> = BTreeMap::new();
            for r in runs {
                if let Some(k) = key(r) {
                    m.entry(k).or_default().push(r);
                }
            }
            (g.clone(), m)
        })
        .collect();
    if per_group.iter().all(|(_, m)| m.len() <= 1) {
        // The axis is part of the grouping: groups that differ only in it form one series
        // (`preset=devlin, learning_rate=…` → `preset=devlin`); all runs when nothing is left.
        // A group whose value another group of the same series already holds (two recipes
        // both `feature_mode = off`) is not the same point: it keeps a series of its own
        // rather than pooling two recipes' runs into one mean.
        let mut series: Vec<(String, BTreeMap<K, Vec<&RunEntry>>)> = Vec::new();
        for (g, m) in per_group {
            let name = without_axis(&g, axis);
            let taken = |s: &BTreeMap<K, Vec<&RunEntry>>| m.keys().any(|k| s.contains_key(k));
            let at = match series.iter().position(|(n, s)| *n == name && !taken(s)) {
                Some(i) => i,
                None => {
                    let clash = series.iter().any(|(n, _)| *n == name);
                    series.push((if clash { g.clone() } else { name }, BTreeMap::new()));
                    series.len() - 1
                }
            };
            for (k, v) in m {
                series[at].1.entry(k).or_default().extend(v);
            }
        }
        series.retain(|(_, m)| !m.is_empty());
        series
    } else {
        per_group
            .into_iter()
            .filter(|(_, m)| !m.is_empty())
            .collect()
    }
}

/// A group label without its `axis=value` part (labels are `key=value` parts joined by commas,
/// keys possibly dotted or `spec.`-prefixed); "all runs" when no other part is left or the label
/// names no such part (a plain group name: groups are then pooled, as before).
pub(super) fn without_axis(label: &str, axis: &str) -> String {
    let parts: Vec<&str> = label.split(',').map(str::trim).collect();
    if !names_axis(label, axis) {
        return "all runs".into();
    }
    let rest: Vec<&str> = parts
        .into_iter()
        .filter(|p| !is_axis_part(p, axis))
        .collect();
    if rest.is_empty() {
        "all runs".into()
    } else {
        rest.join(", ")
    }
}

/// Whether a group label has an `axis=value` part (as a sweep's axis labels do).
pub(super) fn names_axis(label: &str, axis: &str) -> bool {
    label.split(',').any(|p| is_axis_part(p.trim(), axis))
}

fn is_axis_part(part: &str, axis: &str) -> bool {
    match part.split_once('=') {
        Some((k, _)) => k.trim().trim_start_matches("spec.").rsplit('.').next() == Some(axis),
        None => false,
    }
}

/// Series of mean ± std per setting value, and every score as an (x, score) point.
pub(super) fn setting_series<K: Ord + Clone>(
    grouped: &[(String, Vec<RunEntry>)],
    axis: &str,
    key: impl Fn(&RunEntry) -> Option<K>,
    x_of: impl Fn(&K) -> f64,
) -> (Vec<Series>, Vec<(f64, f64)>) {
    let mut points = Vec::new();
    let series = by_setting(grouped, axis, key)
        .into_iter()
        .map(|(label, m)| {
            let pts = m
                .iter()
                .filter_map(|(k, runs)| {
                    let v: Vec<f64> = runs.iter().filter_map(|r| r.finite_score()).collect();
                    points.extend(v.iter().map(|&s| (x_of(k), s)));
                    let mean = crate::describe::mean(&v)?;
                    let std = crate::describe::std_dev(&v).unwrap_or(0.0);
                    Some(SettingPoint {
                        x: x_of(k),
                        mean,
                        std,
                        n: v.len(),
                    })
                })
                .collect();
            Series { label, points: pts }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    (series, points)
}

impl SettingPlot {
    fn x_range(&self) -> (std::ops::Range<f64>, Vec<f64>) {
        match &self.categories {
            Some(c) => (
                -0.5..c.len() as f64 - 0.5,
                (0..c.len()).map(|i| i as f64).collect(),
            ),
            None => {
                let mut keys: Vec<f64> = self
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.x))
                    .collect();
                keys.sort_by(f64::total_cmp);
                keys.dedup();
                let (lo, hi) = bounds(keys.iter().copied());
                ((lo - 0.5)..(hi + 0.5), keys)
            }
        }
    }

    fn y_range(&self) -> std::ops::Range<f64> {
        let spread = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .flat_map(|p| [p.mean - p.std, p.mean + p.std])
        });
        score_range(
            spread.chain(self.points.iter().map(|p| p.1)),
            &self.baselines,
            0.0,
        )
    }

    fn draw_series<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut Plot<'a, DB>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let ns = self.series.len();
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            // Offset series slightly so error bars do not overlap.
            let off = if ns > 1 {
                (i as f64 - (ns - 1) as f64 / 2.0) * 0.08
            } else {
                0.0
            };
            chart.draw_series(s.points.iter().map(|p| {
                PathElement::new(
                    vec![(p.x + off, p.mean - p.std), (p.x + off, p.mean + p.std)],
                    c.stroke_width(2),
                )
            }))?;
            let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x + off, p.mean)).collect();
            if self.categories.is_none() {
                chart.draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))?;
            }
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 6, c.filled())))?
                .label(format!("{}: mean ± std", s.label))
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, c.filled()));
        }
        Ok(())
    }
}

impl Chart for SettingPlot {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let (x, keys) = self.x_range();
        let y = self.y_range();
        let corner = legend_corner(
            self.points.iter().copied().chain(
                self.series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| (p.x, p.mean))),
            ),
            &x,
            &y,
        );
        let (names, label_size) = match &self.categories {
            Some(c) => {
                let l = category_labels(&c.iter().map(String::as_str).collect::<Vec<_>>());
                (l.names, l.size)
            }
            None => (Vec::new(), 16),
        };
        let x_fmt = |v: &f64| match &self.categories {
            Some(_) => names
                .get(v.round().max(0.0) as usize)
                .cloned()
                .unwrap_or_default(),
            None => format!("{v:.0}"),
        };
        let mut chart = Frame {
            title: &self.title,
            x_desc: &self.x_label,
            y_desc: &self.y_label,
            x: Keyed::at(x.clone(), keys),
            y: y.clone(),
            x_fmt: &x_fmt,
            x_mesh: false,
            x_label_size: label_size,
            y_fmt: None,
        }
        .draw(root)?;
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&p| Circle::new(p, 3, grey.mix(0.35).filled())),
            )?
            .label("single run")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, grey.filled()));
        let segments: Vec<(f64, f64, f64)> = self
            .baselines
            .iter()
            .map(|&b| (x.start, x.end, b))
            .collect();
        draw_baselines(&mut chart, &segments, &y, "majority baseline")?;
        self.draw_series(&mut chart)?;
        draw_legend(&mut chart, corner)
    }
}

#[cfg(test)]
mod tests {
    use super::without_axis;

    #[test]
    fn two_groups_at_the_same_value_are_not_pooled() {
        use super::by_setting;
        let entry = |group: &str, mode: &str| crate::load::RunEntry {
            group: group.into(),
            id: format!("{group}-0"),
            outcome: crate::load::Outcome::Ok,
            score: Some(0.7),
            selected_score: Some(0.7),
            selection: None,
            selected_step: None,
            eval_set: None,
            final_score: Some(0.7),
            baseline: Some(0.0),
            task: None,
            metric: None,
            init_seed: Some(0),
            data_seed: Some(0),
            freeze_layers: None,
            feature_mode: Some(mode.into()),
            settings: Default::default(),
            train_loss: Vec::new(),
            dev_scores: Vec::new(),
            wall_seconds: None,
            device: None,
            dev_curve_baseline: None,
            report_half_scores: Vec::new(),
            progress: Default::default(),
        };
        let grouped = vec![
            ("last".to_string(), vec![entry("last", "last")]),
            ("fine-tuning".to_string(), vec![entry("fine-tuning", "off")]),
            (
                "fine-tuning-10".to_string(),
                vec![entry("fine-tuning-10", "off")],
            ),
        ];
        let s = by_setting(&grouped, "feature_mode", |r| r.feature_mode.clone());
        let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["all runs", "fine-tuning-10"]);
        assert_eq!(s[0].1["off"].len(), 1);
        assert_eq!(s[1].1["off"].len(), 1);
    }

    #[test]
    fn series_names_drop_the_axis_part_of_a_group_label() {
        let lr = "learning_rate";
        assert_eq!(
            without_axis("preset=devlin, learning_rate=0.0001", lr),
            "preset=devlin"
        );
        assert_eq!(
            without_axis(
                "optimizer.bias_correction=true,epochs=3,learning_rate=1e-4",
                lr
            ),
            "optimizer.bias_correction=true, epochs=3"
        );
        assert_eq!(without_axis("spec.learning_rate=2e-5", lr), "all runs");
        assert_eq!(without_axis("devlin", lr), "all runs");
        assert_eq!(
            without_axis("task=SST-2,freeze_layers=3", "freeze_layers"),
            "task=SST-2"
        );
    }
}
