//! `stab plan`: how many seeds a study needs, from assumed effects or from a pilot's results
//! (stab-stats' `plan` module does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use stab_stats::plan::{
    precision_lines, render_effect_plan, render_pilot_plan, EffectPlan, PRECISION_NS,
};
use stab_stats::{load_results, plan_from_pilot, power_plot, sample_size, Effect, PlanOptions};

#[derive(Args)]
pub struct PlanArgs {
    /// A pilot's results directory: plan from its failure rates, means and spreads.
    pilot: Option<PathBuf>,
    /// Plan for two failure rates `P1,P2` (Fisher's exact test, exact power).
    #[arg(long, value_name = "P1,P2", value_parser = parse_pair)]
    failure_rates: Option<(f64, f64)>,
    /// Plan for two mean scores `M1,M2` (Welch's test); needs --sd.
    #[arg(long, value_name = "M1,M2", value_parser = parse_pair)]
    means: Option<(f64, f64)>,
    /// Standard deviation of the scores, `S` for both groups or `S1,S2`.
    #[arg(long, value_name = "S[,S2]", value_parser = parse_one_or_two)]
    sd: Option<(f64, f64)>,
    /// Also plan for showing equivalence within ±δ (TOST) at the given means.
    #[arg(long, value_name = "δ")]
    equivalence_margin: Option<f64>,
    /// Two-sided significance level (TOST: each one-sided test).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Target power.
    #[arg(long, default_value_t = 0.8)]
    power: f64,
    /// Largest number of seeds per group searched.
    #[arg(long, default_value_t = 2000)]
    n_max: usize,
    /// A planned contrast of the pilot's groups, A:B (repeatable). Default: the pilot's
    /// `[analysis]` contrasts, else every pair.
    #[arg(long, value_name = "A:B", value_parser = parse_contrast)]
    contrast: Vec<(String, String)>,
    /// Group the pilot's runs by spec fields instead of the sweep's groups.
    #[arg(long)]
    group_by: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Write power-against-n plots (PNG + SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
}

fn parse_f64(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("`{}` is not a number: {e}", s.trim()))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("`{s}` is not a finite number"))
    }
}

fn parse_pair(s: &str) -> Result<(f64, f64), String> {
    match s.split_once(',') {
        Some((a, b)) => Ok((parse_f64(a)?, parse_f64(b)?)),
        None => Err(format!("expected two numbers A,B, got `{s}`")),
    }
}

fn parse_one_or_two(s: &str) -> Result<(f64, f64), String> {
    match s.split_once(',') {
        Some((a, b)) => Ok((parse_f64(a)?, parse_f64(b)?)),
        None => {
            let v = parse_f64(s)?;
            Ok((v, v))
        }
    }
}

fn parse_contrast(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_string(), b.trim().to_string()))
        }
        _ => Err(format!("expected A:B (two group labels), got `{s}`")),
    }
}

pub fn plan(a: PlanArgs) -> anyhow::Result<ExitCode> {
    let opts = PlanOptions {
        alpha: a.alpha,
        power: a.power,
        n_max: a.n_max,
    };
    opts.validate().map_err(anyhow::Error::msg)?;
    if let Some(m) = a.equivalence_margin {
        if !(m > 0.0 && m.is_finite()) {
            bail!("--equivalence-margin must be a positive number, got {m}");
        }
    }
    if let Some(dir) = &a.pilot {
        if a.failure_rates.is_some() || a.means.is_some() {
            bail!("give either a pilot directory or --failure-rates/--means, not both");
        }
        let input = load_results(dir, a.group_by.as_deref())
            .with_context(|| format!("reading the pilot {}", dir.display()))?;
        let plan = plan_from_pilot(&input, &opts, a.equivalence_margin, &a.contrast);
        if let Some(out) = &a.plot {
            for (si, sec) in plan.sections.iter().enumerate() {
                let lines: Vec<(String, &stab_stats::SampleSize)> = sec
                    .contrasts
                    .iter()
                    .flat_map(|c| {
                        [
                            ("Fisher", &c.fisher),
                            ("Welch", &c.welch),
                            ("TOST", &c.tost),
                        ]
                        .into_iter()
                        .filter_map(move |(t, s)| {
                            s.as_ref()
                                .filter(|s| s.unreachable.is_none())
                                .map(|s| (format!("{} vs {} · {t}", c.a, c.b), s))
                        })
                    })
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                let name = if plan.sections.len() == 1 {
                    "power".to_string()
                } else {
                    format!("power_{si}")
                };
                power_plot(
                    out,
                    &name,
                    &format!("Power against seeds per group · {}", sec.section),
                    lines,
                    opts.power,
                )?;
            }
        }
        if a.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", render_pilot_plan(&plan));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut effects = Vec::new();
    if let Some((p_a, p_b)) = a.failure_rates {
        for p in [p_a, p_b] {
            if !(0.0..=1.0).contains(&p) {
                bail!("--failure-rates: {p} is not a rate in [0, 1]");
            }
        }
        effects.push(Effect::Fisher { p_a, p_b });
    }
    match (a.means, a.sd) {
        (Some((mean_a, mean_b)), Some((sd_a, sd_b))) => {
            if !(sd_a >= 0.0 && sd_b >= 0.0 && sd_a + sd_b > 0.0) {
                bail!("--sd: standard deviations must be ≥ 0 and not both 0");
            }
            effects.push(Effect::Welch {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
            });
            if let Some(margin) = a.equivalence_margin {
                effects.push(Effect::Tost {
                    mean_a,
                    mean_b,
                    sd_a,
                    sd_b,
                    margin,
                });
            }
        }
        (Some(_), None) => bail!("--means needs --sd S or --sd S1,S2"),
        (None, Some(_)) => bail!("--sd needs --means M1,M2"),
        (None, None) => {
            if a.equivalence_margin.is_some() {
                bail!("--equivalence-margin needs --means and --sd");
            }
        }
    }
    if effects.is_empty() {
        bail!("nothing to plan: give a pilot directory, --failure-rates P1,P2 or --means M1,M2 --sd S");
    }
    let sizes: Vec<_> = effects.iter().map(|e| sample_size(e, &opts)).collect();
    let mut precision: Vec<_> = Vec::new();
    for line in effects.iter().flat_map(precision_lines) {
        if !precision
            .iter()
            .any(|l: &stab_stats::plan::PrecisionLine| l.what == line.what)
        {
            precision.push(line);
        }
    }
    let plan = EffectPlan {
        precision,
        precision_ns: PRECISION_NS.to_vec(),
        sample_sizes: sizes,
    };
    if let Some(out) = &a.plot {
        let lines: Vec<_> = plan
            .sample_sizes
            .iter()
            .filter(|s| s.unreachable.is_none())
            .map(|s| (s.effect.test_name().to_string(), s))
            .collect();
        if !lines.is_empty() {
            power_plot(
                out,
                "power",
                "Power against seeds per group",
                lines,
                opts.power,
            )?;
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", render_effect_plan(&plan));
    }
    Ok(ExitCode::SUCCESS)
}
