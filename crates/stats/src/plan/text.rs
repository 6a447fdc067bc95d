//! `stab plan`'s terminal output: the answer first (seeds per group), then the power curve
//! near it, the precision view and the caveats.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{
    expected_wilson_width, mean_interval_width, Effect, PilotPlan, SampleSize, PRECISION_NS,
};

/// One line of the precision view: a quantity's expected interval width against n.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionLine {
    pub what: String,
    /// At [`PRECISION_NS`].
    pub widths: Vec<Option<f64>>,
}

/// A plan from assumed effects: the sample sizes and the precision view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectPlan {
    pub sample_sizes: Vec<SampleSize>,
    pub precision_ns: Vec<usize>,
    pub precision: Vec<PrecisionLine>,
}

/// The precision lines of an assumed effect: the failure-rate interval of each rate, or the
/// mean-score interval of each standard deviation.
pub fn precision_lines(effect: &Effect) -> Vec<PrecisionLine> {
    let line = |what: String, f: &dyn Fn(usize) -> Option<f64>| PrecisionLine {
        what,
        widths: PRECISION_NS.iter().map(|&n| f(n)).collect(),
    };
    match *effect {
        Effect::Fisher { p_a, p_b } => {
            let mut v = vec![line(
                format!("95 % Wilson interval of a failure rate of {p_a}"),
                &|n| expected_wilson_width(p_a, n, 0.95),
            )];
            if p_b != p_a {
                v.push(line(
                    format!("95 % Wilson interval of a failure rate of {p_b}"),
                    &|n| expected_wilson_width(p_b, n, 0.95),
                ));
            }
            v
        }
        Effect::Welch { sd_a, sd_b, .. } | Effect::Tost { sd_a, sd_b, .. } => {
            let mut v = vec![line(
                format!("95 % t interval of a mean score, σ = {sd_a}"),
                &|n| mean_interval_width(sd_a, n, 0.95),
            )];
            if sd_b != sd_a {
                v.push(line(
                    format!("95 % t interval of a mean score, σ = {sd_b}"),
                    &|n| mean_interval_width(sd_b, n, 0.95),
                ));
            }
            v
        }
    }
}

fn describe(e: &Effect) -> String {
    match *e {
        Effect::Fisher { p_a, p_b } => format!("failure rates {p_a} vs {p_b}"),
        Effect::Welch {
            mean_a,
            mean_b,
            sd_a,
            sd_b,
        } => format!("means {mean_a} vs {mean_b} (σ {sd_a}, {sd_b})"),
        Effect::Tost {
            mean_a,
            mean_b,
            sd_a,
            sd_b,
            margin,
        } => {
            format!("equivalence within ±{margin} at means {mean_a} vs {mean_b} (σ {sd_a}, {sd_b})")
        }
    }
}

/// "n = 24 seeds per group (power 0.812)", with the saw-tooth caveat when it applies.
pub fn answer(s: &SampleSize) -> String {
    match (s.n, s.n_stable) {
        (Some(n), Some(st)) if st == n => format!(
            "{n} seeds per group ({} runs; power {:.3} at α = {})",
            2 * n,
            s.power_at_n.unwrap_or(f64::NAN),
            s.alpha
        ),
        (Some(n), Some(st)) => format!(
            "{st} seeds per group ({} runs): power first reaches {} at n = {n} ({:.3}) but dips below it again before n = {st} (exact tests are discrete); from {st} it stays above up to n = {} (checked), α = {}",
            2 * st,
            s.target_power,
            s.power_at_n.unwrap_or(f64::NAN),
            s.checked_to,
            s.alpha
        ),
        (Some(n), None) => format!(
            "power first reaches {} at n = {n} ({:.3}) but does not stay there up to n = {} (checked); plan above that, α = {}",
            s.target_power,
            s.power_at_n.unwrap_or(f64::NAN),
            s.checked_to,
            s.alpha
        ),
        (None, _) => format!(
            "not reachable: {}",
            s.unreachable.as_deref().unwrap_or("no n up to the search limit")
        ),
    }
}

fn curve_line(s: &SampleSize) -> String {
    let pick: Vec<String> = match s.n_stable.or(s.n) {
        Some(n) => s
            .curve
            .iter()
            .filter(|p| p.n + 6 >= n && p.n <= n + 4)
            .map(|p| format!("{}: {:.3}", p.n, p.power))
            .collect(),
        None => s
            .curve
            .iter()
            .rev()
            .take(6)
            .rev()
            .map(|p| format!("{}: {:.3}", p.n, p.power))
            .collect(),
    };
    pick.join(", ")
}

fn width(w: Option<f64>) -> String {
    w.map_or("–".into(), |w| format!("{w:.3}"))
}

fn precision_table(out: &mut String, rows: &[(String, Vec<Option<f64>>)]) {
    let _ = write!(out, "  {:<58}", "expected width at n =");
    for n in PRECISION_NS {
        let _ = write!(out, "{n:>7}");
    }
    out.push('\n');
    for (what, ws) in rows {
        let _ = write!(out, "  {what:<58}");
        for w in ws {
            let _ = write!(out, "{:>7}", width(*w));
        }
        out.push('\n');
    }
}

/// The terminal text of a plan from assumed effects.
pub fn render_effect_plan(plan: &EffectPlan) -> String {
    let mut out = String::new();
    for s in &plan.sample_sizes {
        let _ = writeln!(out, "{} — {}", s.effect.test_name(), describe(&s.effect));
        let _ = writeln!(out, "  target power {}: {}", s.target_power, answer(s));
        if !s.curve.is_empty() {
            let _ = writeln!(out, "  power by n: {}", curve_line(s));
        }
        out.push('\n');
    }
    if !plan.precision.is_empty() {
        out.push_str("Precision view\n");
        let rows: Vec<_> = plan
            .precision
            .iter()
            .map(|l| (l.what.clone(), l.widths.clone()))
            .collect();
        precision_table(&mut out, &rows);
    }
    out
}

/// The terminal text of a plan from a pilot.
pub fn render_pilot_plan(plan: &PilotPlan) -> String {
    let mut out = String::new();
    let o = &plan.options;
    let _ = writeln!(
        out,
        "Plan from pilot {} (α = {}, target power {}{})",
        plan.source,
        o.alpha,
        o.power,
        plan.equivalence_margin
            .map_or(String::new(), |m| format!(", equivalence margin ±{m}"))
    );
    let _ = writeln!(out, "Scores: {}.", plan.score);
    for sec in &plan.sections {
        let _ = writeln!(out, "\n== {} ==", sec.section);
        let _ = writeln!(
            out,
            "  {:<40} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "group", "runs", "failed", "planned", "mean", "sd", "s/run"
        );
        for g in &sec.groups {
            let _ = writeln!(
                out,
                "  {:<40} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10}",
                g.group,
                g.runs,
                format!("{}/{}", g.failed, g.judged),
                g.planned_failure_rate
                    .map_or("–".into(), |p| format!("{p:.3}")),
                g.mean.map_or("–".into(), |m| format!("{m:.4}")),
                g.sd.map_or("–".into(), |s| format!("{s:.4}")),
                g.seconds_per_run.map_or("–".into(), |s| format!("{s:.0}")),
            );
        }
        let _ = writeln!(out, "  Contrasts ({}):", sec.contrast_source);
        if sec.contrasts.is_empty() {
            let _ = writeln!(out, "    none");
        }
        for c in &sec.contrasts {
            let _ = writeln!(out, "  `{}` vs `{}`", c.a, c.b);
            for (name, s, cost) in [
                ("failure rates (Fisher)", &c.fisher, &c.fisher_cost),
                ("mean scores (Welch)", &c.welch, &c.welch_cost),
                ("equivalence (TOST)", &c.tost, &c.tost_cost),
            ] {
                let Some(s) = s else { continue };
                let _ = writeln!(out, "    {name}: {}", answer(s));
                if let Some(cost) = cost {
                    let hours =
                        |h: Option<f64>| h.map_or("unknown".into(), |h| format!("{h:.1} h"));
                    let devices: Vec<String> = sec
                        .groups
                        .iter()
                        .filter(|g| g.group == c.a || g.group == c.b)
                        .flat_map(|g| g.devices.clone())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let _ = writeln!(
                        out,
                        "      cost: {} runs, {} at the pilot's speed ({}); beyond the pilot's runs: {} runs, {}",
                        cost.runs,
                        hours(cost.hours),
                        if devices.is_empty() { "device unknown".into() } else { devices.join(", ") },
                        cost.runs_beyond_pilot,
                        hours(cost.hours_beyond_pilot)
                    );
                }
            }
        }
        out.push_str("  Precision view (95 % intervals; failure rates at the planned rate, means at the pilot's sd, E[max of 5] resampling the pilot)\n");
        let mut rows = Vec::new();
        for g in &sec.groups {
            rows.push((
                format!("{} · failure rate", short(&g.group)),
                g.failure_interval_width.clone(),
            ));
            rows.push((
                format!("{} · mean score", short(&g.group)),
                g.mean_interval_width.clone(),
            ));
            rows.push((
                format!("{} · E[max of 5]", short(&g.group)),
                g.expected_max5_width.clone(),
            ));
        }
        precision_table(&mut out, &rows);
    }
    if !plan.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &plan.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

fn short(g: &str) -> String {
    if g.chars().count() <= 40 {
        g.to_string()
    } else {
        let s: String = g.chars().take(39).collect();
        format!("{s}…")
    }
}
