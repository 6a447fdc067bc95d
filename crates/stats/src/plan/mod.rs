//! How many seeds? `stab plan`: the runs per group a study needs for a target power, from
//! assumed effects or from a pilot study, and how precise its estimates will be.
//!
//! Design decisions:
//! - **Plan for the tests the report runs** ([`power`]): Fisher's exact test of the failure
//!   rates (exact power, no normal approximation), Welch's test of the mean scores and TOST
//!   equivalence, each "significant" at p < α as the report decides it. Per-group n is equal
//!   (balanced designs have the most power for a given number of runs).
//! - **Exact power is not monotone in n.** Fisher's test is discrete, so its power is a
//!   saw-tooth: one more seed can lose power. A [`SampleSize`] gives the smallest n that
//!   reaches the power *and* the smallest n from which it stays there over the range checked
//!   (at least 20 % and 10 seeds past the first); plan on the second.
//! - **A pilot is shrunk, not trusted** ([`pilot`]): failure rates are planned at the Jeffreys
//!   posterior mean (k + ½)/(n + 1), so 0 of 3 plans for 1/8 rather than 0 (an effect of
//!   infinite size, "3 seeds suffice"), and 3 of 3 for 7/8. Means and standard deviations are
//!   the pilot's own; the notes say that a pilot's spread is itself uncertain and that
//!   planning on the pilot's observed difference is optimistic when that difference is why
//!   the study is being run.

mod pilot;
pub mod power;
pub mod sequential;
mod text;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::factorial::ln_binomial;

use crate::counts::wilson;
pub use pilot::{plan_from_pilot, ContrastPlan, Cost, PilotGroup, PilotPlan, PilotSection};
use power::{fisher_power, tost_power, welch_power};
pub use text::{
    answer, precision_lines, render_effect_plan, render_pilot_plan, EffectPlan, PrecisionLine,
};

/// Level, target power and search range of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Two-sided significance level (TOST: each one-sided test at α).
    pub alpha: f64,
    /// Target power, e.g. 0.8.
    pub power: f64,
    /// Largest n per group searched.
    pub n_max: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            alpha: 0.05,
            power: 0.8,
            n_max: 2000,
        }
    }
}

impl PlanOptions {
    /// Checks that α and the power are probabilities and the range is usable.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(format!("--alpha must be in (0, 1), got {}", self.alpha));
        }
        if !(self.power > 0.0 && self.power < 1.0) {
            return Err(format!("--power must be in (0, 1), got {}", self.power));
        }
        if self.n_max < 2 {
            return Err(format!("--n-max must be at least 2, got {}", self.n_max));
        }
        Ok(())
    }
}

/// The effect a study should detect (or, for equivalence, rule out).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "test", rename_all = "kebab-case")]
pub enum Effect {
    /// Two failure rates, tested with Fisher's exact test.
    Fisher { p_a: f64, p_b: f64 },
    /// Two mean scores with their standard deviations, tested with Welch's test.
    Welch {
        mean_a: f64,
        mean_b: f64,
        sd_a: f64,
        sd_b: f64,
    },
    /// Equivalence within ±margin (TOST) when the true means are as given.
    Tost {
        mean_a: f64,
        mean_b: f64,
        sd_a: f64,
        sd_b: f64,
        margin: f64,
    },
}

impl Effect {
    /// Power at n runs per group.
    pub fn power(&self, n: usize, alpha: f64) -> f64 {
        match *self {
            Effect::Fisher { p_a, p_b } => fisher_power(p_a, p_b, n as u64, n as u64, alpha),
            Effect::Welch {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
            } => welch_power(mean_a - mean_b, sd_a, sd_b, n, n, alpha),
            Effect::Tost {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
                margin,
            } => tost_power(mean_a - mean_b, sd_a, sd_b, n, n, margin, alpha),
        }
    }

    /// The test in words.
    pub fn test_name(&self) -> &'static str {
        match self {
            Effect::Fisher { .. } => "Fisher's exact test of the failure rates",
            Effect::Welch { .. } => "Welch's t test of the mean scores",
            Effect::Tost { .. } => "TOST equivalence (two one-sided Welch tests)",
        }
    }

    /// Short key: `fisher`, `welch`, `tost`.
    pub fn key(&self) -> &'static str {
        match self {
            Effect::Fisher { .. } => "fisher",
            Effect::Welch { .. } => "welch",
            Effect::Tost { .. } => "tost",
        }
    }

    /// Why no n can reach the power, when that is clear before searching.
    fn unreachable(&self, alpha: f64) -> Option<String> {
        match *self {
            Effect::Fisher { p_a, p_b } => {
                if !(0.0..=1.0).contains(&p_a) || !(0.0..=1.0).contains(&p_b) {
                    Some(format!(
                        "failure rates must be in [0, 1], got {p_a} and {p_b}"
                    ))
                } else if p_a == p_b {
                    Some(format!(
                        "equal failure rates ({p_a}): no n gives more than α = {alpha} power"
                    ))
                } else {
                    None
                }
            }
            Effect::Welch {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
            } => {
                if !(sd_a >= 0.0 && sd_b >= 0.0 && sd_a + sd_b > 0.0) {
                    Some(format!(
                        "standard deviations must be ≥ 0 and not both 0, got {sd_a} and {sd_b}"
                    ))
                } else if mean_a == mean_b {
                    Some(format!(
                        "equal means ({mean_a}): no n gives more than α = {alpha} power"
                    ))
                } else {
                    None
                }
            }
            Effect::Tost {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
                margin,
            } => {
                if !(sd_a >= 0.0 && sd_b >= 0.0 && sd_a + sd_b > 0.0) {
                    Some(format!(
                        "standard deviations must be ≥ 0 and not both 0, got {sd_a} and {sd_b}"
                    ))
                } else if margin.is_nan() || margin <= 0.0 {
                    Some(format!("the equivalence margin must be > 0, got {margin}"))
                } else if (mean_a - mean_b).abs() >= margin {
                    Some(format!(
                        "the assumed difference {:+} is not inside the margin ±{margin}: equivalence cannot be shown",
                        mean_a - mean_b
                    ))
                } else {
                    None
                }
            }
        }
    }

    /// A first guess of n from the normal approximation (arcsine for proportions).
    fn approximate_n(&self, opts: &PlanOptions) -> f64 {
        let z = Normal::standard();
        let za = z.inverse_cdf(1.0 - opts.alpha / 2.0);
        let zb = z.inverse_cdf(opts.power);
        match *self {
            Effect::Fisher { p_a, p_b } => {
                let h = 2.0 * (p_a.sqrt().asin() - p_b.sqrt().asin()).abs();
                ((za + zb) / h).powi(2)
            }
            Effect::Welch {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
            } => (za + zb).powi(2) * (sd_a * sd_a + sd_b * sd_b) / (mean_a - mean_b).powi(2),
            Effect::Tost {
                mean_a,
                mean_b,
                sd_a,
                sd_b,
                margin,
            } => {
                let za1 = z.inverse_cdf(1.0 - opts.alpha);
                let zb2 = z.inverse_cdf(0.5 + opts.power / 2.0);
                (za1 + zb2).powi(2) * (sd_a * sd_a + sd_b * sd_b)
                    / (margin - (mean_a - mean_b).abs()).powi(2)
            }
        }
    }
}

/// Power at one n per group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerPoint {
    pub n: usize,
    pub power: f64,
}

/// The runs per group one test needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSize {
    pub effect: Effect,
    pub alpha: f64,
    pub target_power: f64,
    /// Smallest n per group whose power reaches the target; `None` if none up to `n_max`.
    pub n: Option<usize>,
    /// Power at `n`.
    pub power_at_n: Option<f64>,
    /// Smallest n from which the power stays at or above the target up to `checked_to`
    /// (equal to `n` for the t tests, whose power grows with n).
    pub n_stable: Option<usize>,
    /// Last n whose power was computed.
    pub checked_to: usize,
    /// Power against n, for the plot (every n computed near the answer, a sample below).
    pub curve: Vec<PowerPoint>,
    /// Why the power cannot be reached, when it cannot.
    pub unreachable: Option<String>,
}

impl SampleSize {
    /// A plan that cannot be made, and why.
    pub fn not_planned(effect: Effect, opts: &PlanOptions, reason: String) -> SampleSize {
        SampleSize {
            effect,
            alpha: opts.alpha,
            target_power: opts.power,
            n: None,
            power_at_n: None,
            n_stable: None,
            checked_to: 0,
            curve: Vec::new(),
            unreachable: Some(reason),
        }
    }
}

/// Smallest n per group reaching `opts.power` for `effect` (see [`SampleSize`]).
pub fn sample_size(effect: &Effect, opts: &PlanOptions) -> SampleSize {
    let mut out = SampleSize {
        effect: *effect,
        alpha: opts.alpha,
        target_power: opts.power,
        n: None,
        power_at_n: None,
        n_stable: None,
        checked_to: 0,
        curve: Vec::new(),
        unreachable: effect.unreachable(opts.alpha),
    };
    if out.unreachable.is_some() {
        return out;
    }
    let power = |n: usize| effect.power(n, opts.alpha);
    let reaches = |p: f64| p >= opts.power;
    let mut curve: Vec<PowerPoint> = Vec::new();
    let at = |n: usize, curve: &mut Vec<PowerPoint>| -> f64 {
        if let Some(p) = curve.iter().find(|p| p.n == n) {
            return p.power;
        }
        let p = power(n);
        curve.push(PowerPoint { n, power: p });
        p
    };
    match effect {
        Effect::Fisher { .. } => {
            // Scan upward from a point below the answer (power there must be short of the
            // target, else start lower): exact power is not monotone, so no bisection.
            let guess = effect.approximate_n(opts);
            let mut start = ((guess * 0.5).floor() as usize).clamp(2, opts.n_max);
            while start > 2 && reaches(at(start, &mut curve)) {
                start = (start / 2).max(2);
            }
            let mut first = None;
            let mut n = start;
            while n <= opts.n_max {
                if reaches(at(n, &mut curve)) {
                    first = Some(n);
                    break;
                }
                n += 1;
            }
            match first {
                Some(f) => {
                    let end = (f + 10).max((f as f64 * 1.2).ceil() as usize);
                    for m in f..=end {
                        at(m, &mut curve);
                    }
                    out.checked_to = end;
                    out.n = Some(f);
                    // The last n below the target in [f, end], plus one.
                    let mut stable = f;
                    for m in f..=end {
                        if !reaches(at(m, &mut curve)) {
                            stable = m + 1;
                        }
                    }
                    out.n_stable = (stable <= end).then_some(stable);
                }
                None => out.checked_to = opts.n_max,
            }
            // A sample of the curve below the scan, for the plot.
            let step = (start / 40).max(1);
            for m in (2..start).step_by(step) {
                at(m, &mut curve);
            }
        }
        Effect::Welch { .. } | Effect::Tost { .. } => {
            // Power grows with n: double, then bisect.
            let mut hi = 2usize;
            while hi < opts.n_max && !reaches(at(hi, &mut curve)) {
                hi = (hi * 2).min(opts.n_max);
            }
            if reaches(at(hi, &mut curve)) {
                let mut lo = hi / 2; // below the target (or 1)
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    if mid >= 2 && reaches(at(mid, &mut curve)) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                out.n = Some(hi);
                out.n_stable = Some(hi);
            }
            let end = out
                .n
                .map_or(opts.n_max, |n| (2 * n).max(10).min(opts.n_max.max(n)));
            out.checked_to = end;
            let step = (end / 60).max(1);
            for m in (2..=end).step_by(step) {
                at(m, &mut curve);
            }
            if let Some(n) = out.n {
                at(n, &mut curve);
            }
        }
    }
    curve.sort_by_key(|p| p.n);
    out.power_at_n = out
        .n
        .and_then(|n| curve.iter().find(|p| p.n == n).map(|p| p.power));
    if out.n.is_none() && out.unreachable.is_none() {
        let last = curve.last().map_or(f64::NAN, |p| p.power);
        out.unreachable = Some(format!(
            "power {:.3} at n = {} per group, the largest searched (--n-max): short of {}",
            last, opts.n_max, opts.power
        ));
    }
    out.curve = curve;
    out
}

/// Expected width of the two-sided Wilson interval of a failure rate `p` at n runs, averaged
/// exactly over the binomial distribution of the failures.
pub fn expected_wilson_width(p: f64, n: usize, confidence: f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let n64 = n as u64;
    let mut w = 0.0;
    for k in 0..=n64 {
        let prob = if p == 0.0 {
            (k == 0) as u8 as f64
        } else if p == 1.0 {
            (k == n64) as u8 as f64
        } else {
            (ln_binomial(n64, k) + k as f64 * p.ln() + (n64 - k) as f64 * (1.0 - p).ln()).exp()
        };
        if prob > 0.0 {
            let i = wilson(k, n64, confidence)?;
            w += prob * (i.upper - i.lower);
        }
    }
    Some(w)
}

/// Expected width of the t interval of a mean score at n runs with standard deviation `sd`:
/// 2·t(1 − (1−c)/2; n−1)·E[s]/√n, with E[s] = c₄(n)·σ.
pub fn mean_interval_width(sd: f64, n: usize, confidence: f64) -> Option<f64> {
    if n < 2 || sd.is_nan() || sd < 0.0 {
        return None;
    }
    let df = (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(0.5 + confidence / 2.0);
    use statrs::function::gamma::ln_gamma;
    let c4 = (2.0 / df).sqrt() * (ln_gamma(n as f64 / 2.0) - ln_gamma(df / 2.0)).exp();
    Some(2.0 * t * c4 * sd / (n as f64).sqrt())
}

/// The n per group at which the precision view is tabulated.
pub const PRECISION_NS: [usize; 10] = [3, 5, 10, 15, 20, 25, 30, 50, 75, 100];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quickstart_effect_needs_few_seeds() {
        // 5/5 vs 0/5 is p = 0.0079, 4/4 vs 0/4 is p = 0.029 and 3/3 vs 0/3 is p = 0.1: with
        // certain outcomes n = 4 is the smallest that can ever be significant.
        let s = sample_size(
            &Effect::Fisher { p_a: 1.0, p_b: 0.0 },
            &PlanOptions::default(),
        );
        assert_eq!(s.n, Some(4));
        assert_eq!(s.n_stable, Some(4));
    }

    #[test]
    fn equal_effects_are_unreachable_with_a_reason() {
        let s = sample_size(
            &Effect::Fisher { p_a: 0.2, p_b: 0.2 },
            &PlanOptions::default(),
        );
        assert!(s.n.is_none());
        assert!(s.unreachable.unwrap().contains("equal failure rates"));
        let t = sample_size(
            &Effect::Tost {
                mean_a: 0.6,
                mean_b: 0.63,
                sd_a: 0.02,
                sd_b: 0.02,
                margin: 0.02,
            },
            &PlanOptions::default(),
        );
        assert!(t.unreachable.unwrap().contains("not inside the margin"));
    }

    #[test]
    fn welch_n_is_the_first_to_reach_the_power() {
        let e = Effect::Welch {
            mean_a: 0.62,
            mean_b: 0.60,
            sd_a: 0.02,
            sd_b: 0.02,
        };
        let s = sample_size(&e, &PlanOptions::default());
        let n = s.n.unwrap();
        assert!(e.power(n, 0.05) >= 0.8 && e.power(n - 1, 0.05) < 0.8);
    }

    #[test]
    fn interval_widths_shrink_with_n() {
        let w5 = expected_wilson_width(0.3, 5, 0.95).unwrap();
        let w50 = expected_wilson_width(0.3, 50, 0.95).unwrap();
        assert!(w50 < w5 && w50 > 0.0);
        let m5 = mean_interval_width(0.02, 5, 0.95).unwrap();
        let m50 = mean_interval_width(0.02, 50, 0.95).unwrap();
        assert!(m50 < m5);
    }
}
