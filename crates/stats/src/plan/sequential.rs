//! Group-sequential designs: stop adding seeds when the answer is known.
//!
//! A sequential sweep runs `look_every` seeds per group, analyses, and continues only while no
//! boundary is crossed, up to `max_seeds` per group. Its type I error is held at α by
//! **Lan–DeMets alpha spending**: by information fraction t = n/max_seeds the design may have
//! spent α(t) of its α, with
//! - O'Brien–Fleming type: α(t) = 4 − 4Φ(z₁₋α/₄ / √t), i.e. each side spends α/2 with the
//!   one-sided O'Brien–Fleming-type function, as R's ldbounds and gsDesign do for symmetric
//!   two-sided designs (almost nothing early, nearly the full α at the last look: stops early
//!   only on overwhelming evidence);
//! - Pocock type: α(t) = α·ln(1 + (e − 1)t) (about evenly spread: stops early more often,
//!   pays with a stricter last look).
//!
//! Design decisions:
//! - **Boundaries are computed properly**, not approximated by α(t): the two-sided z
//!   boundaries c₁…c_K solve P(|Z₁| < c₁, …, |Z_{k−1}| < c_{k−1}, |Z_k| ≥ c_k) = α(t_k) −
//!   α(t_{k−1}) under H0 for the canonical joint distribution (Z_k = S_k/√t_k, S a Brownian
//!   motion in information time), by the recursive numerical integration of Armitage,
//!   McPherson and Rowe (1969) on a grid of the score S, with bisection on each c_k. Each
//!   look's **nominal level** is 2(1 − Φ(c_k)): a test is "significant" at look k when its
//!   p-value is below it. Checked against the multivariate-normal probabilities in
//!   `tests/golden/make_sequential.py` and the published Lan–DeMets values.
//! - **Welch's test at look k** compares its two-sided p with the nominal level (the standard
//!   p-value form of a group-sequential t test; exact for z, close for t).
//! - **Fisher's exact test at look k** compares its exact p with the nominal level. Fisher's p
//!   is conservative (discrete), so the design's size is at most the Gaussian design's; this
//!   is not assumed but computed: [`fisher_operating`] enumerates the failures of both groups
//!   look by look (a Markov chain over the tables) and gives the exact probability of a
//!   significant stop and the expected number of seeds for any true failure rates. Under "no
//!   difference" the size depends on the common failure rate; the tests check it stays ≤ α
//!   over a grid of rates, and the Monte-Carlo test checks it by simulation.
//! - **Several contrasts** split α equally (Bonferroni): each contrast gets its own design at
//!   α/m, and the sweep stops when every contrast has crossed its boundary (or at
//!   `max_seeds`). Holm's step-down has no simple sequential form; Bonferroni is valid.
//! - **Estimates after early stopping are biased.** A study that stops when its estimate
//!   crosses a boundary stops more often when the estimate happens to be large: the naive
//!   difference (of failure rates or means) at a stop overstates the true one, most at early
//!   looks. Every output says so; the p-value and the decision are valid.
//! - **The boundaries depend only on the design** (α, spending, look_every, max_seeds): a
//!   resumed sweep recomputes them and re-analyses the finished looks from the store, so it
//!   continues from the last look without any state of its own.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::factorial::ln_binomial;

use super::power::fisher_p_values;
use crate::counts::fisher_exact;
use crate::hypothesis::welch;

/// The alpha-spending function of a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spending {
    /// Lan–DeMets O'Brien–Fleming type.
    ObrienFleming,
    /// Lan–DeMets Pocock type.
    Pocock,
}

impl Spending {
    /// The α spent by information fraction `t` ∈ [0, 1].
    pub fn spent(self, t: f64, alpha: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        if t == 0.0 {
            return 0.0;
        }
        match self {
            Spending::ObrienFleming => {
                // Symmetric two-sided: each side spends α/2 with the one-sided function.
                let n = Normal::standard();
                let z = n.inverse_cdf(1.0 - alpha / 4.0);
                4.0 * (1.0 - n.cdf(z / t.sqrt()))
            }
            Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
        }
    }

    /// `obrien-fleming` or `pocock`.
    pub fn name(self) -> &'static str {
        match self {
            Spending::ObrienFleming => "obrien-fleming",
            Spending::Pocock => "pocock",
        }
    }

    /// Reads `obrien-fleming` (or `obf`) and `pocock`.
    pub fn parse(s: &str) -> Option<Spending> {
        match s {
            "obrien-fleming" | "obf" | "o'brien-fleming" => Some(Spending::ObrienFleming),
            "pocock" => Some(Spending::Pocock),
            _ => None,
        }
    }
}

/// The test a sequential design analyses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SequentialTest {
    /// Fisher's exact test of the failure rates.
    Fisher,
    /// Welch's t test of the mean scores.
    Welch,
}

impl SequentialTest {
    pub fn parse(s: &str) -> Option<SequentialTest> {
        match s {
            "fisher" => Some(SequentialTest::Fisher),
            "welch" => Some(SequentialTest::Welch),
            _ => None,
        }
    }
}

/// A group-sequential design with its boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// Two-sided level of the whole design (of one contrast).
    pub alpha: f64,
    pub spending: Spending,
    pub look_every: usize,
    pub max_seeds: usize,
    /// Seeds per group at each look.
    pub seeds: Vec<usize>,
    /// Information fraction of each look, seeds / max_seeds.
    pub fractions: Vec<f64>,
    /// α spent by each look, cumulative.
    pub cumulative_alpha: Vec<f64>,
    /// Two-sided z boundary of each look (∞ when the look may spend nothing).
    pub z_bounds: Vec<f64>,
    /// Nominal level of each look, 2(1 − Φ(c_k)): significant when p < it.
    pub nominal: Vec<f64>,
}

/// Why a design cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DesignError(pub String);

/// Builds the design: looks after every `look_every` seeds per group up to `max_seeds` (the
/// last look at `max_seeds` even when it is not a multiple), with boundaries from `spending`.
pub fn design(
    alpha: f64,
    spending: Spending,
    look_every: usize,
    max_seeds: usize,
) -> Result<Design, DesignError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(DesignError(format!("alpha must be in (0, 1), got {alpha}")));
    }
    if look_every == 0 {
        return Err(DesignError("look_every must be at least 1".into()));
    }
    if max_seeds < 2 {
        return Err(DesignError(format!(
            "max_seeds must be at least 2, got {max_seeds}"
        )));
    }
    let mut seeds: Vec<usize> = (1..)
        .map(|k| k * look_every)
        .take_while(|&n| n < max_seeds)
        .collect();
    seeds.push(max_seeds);
    if seeds.len() > 200 {
        return Err(DesignError(format!(
            "{} looks (max_seeds / look_every) is more than 200",
            seeds.len()
        )));
    }
    let fractions: Vec<f64> = seeds.iter().map(|&n| n as f64 / max_seeds as f64).collect();
    let cumulative_alpha: Vec<f64> = fractions
        .iter()
        .map(|&t| spending.spent(t, alpha))
        .collect();
    let z_bounds = boundaries(&fractions, &cumulative_alpha);
    let n = Normal::standard();
    let nominal = z_bounds
        .iter()
        .map(|&c| {
            if c.is_finite() {
                2.0 * (1.0 - n.cdf(c))
            } else {
                0.0
            }
        })
        .collect();
    Ok(Design {
        alpha,
        spending,
        look_every,
        max_seeds,
        seeds,
        fractions,
        cumulative_alpha,
        z_bounds,
        nominal,
    })
}

/// Grid points per unit of the score S (the density is smooth; 400/unit puts the error of
/// Simpson's rule far below the bisection's 1e-10).
const GRID_PER_UNIT: f64 = 400.0;

/// Two-sided boundaries for the cumulative α at each information fraction (see the module
/// docs): the recursive integration of Armitage, McPherson and Rowe.
pub fn boundaries(fractions: &[f64], cumulative: &[f64]) -> Vec<f64> {
    let norm = Normal::standard();
    let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut out = Vec::with_capacity(fractions.len());
    // The sub-density of S on the continuation region of the previous look: grid, values.
    let mut grid: Vec<f64> = Vec::new();
    let mut dens: Vec<f64> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    let mut prev_t = 0.0;
    let mut prev_alpha = 0.0;
    for (k, (&t, &cum)) in fractions.iter().zip(cumulative).enumerate() {
        let target = (cum - prev_alpha).max(0.0);
        let dt = t - prev_t;
        let sd = dt.sqrt();
        // P(cross at this look | boundary c).
        let cross = |c: f64| -> f64 {
            let b = c * t.sqrt();
            if k == 0 {
                return 2.0 * (1.0 - norm.cdf(c));
            }
            grid.iter()
                .zip(&dens)
                .zip(&weights)
                .map(|((&u, &f), &w)| {
                    w * f * (norm.cdf((-b - u) / sd) + (1.0 - norm.cdf((b - u) / sd)))
                })
                .sum()
        };
        let c = if target <= 0.0 {
            f64::INFINITY
        } else {
            // cross(c) falls as c grows; cross(0) is the mass still continuing.
            let (mut lo, mut hi) = (0.0f64, 40.0f64);
            if cross(lo) <= target {
                0.0
            } else {
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if cross(mid) > target {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                    if hi - lo < 1e-12 {
                        break;
                    }
                }
                0.5 * (lo + hi)
            }
        };
        out.push(c);
        // The continuation sub-density at this look, on |s| < c·√t.
        let b = if c.is_finite() {
            c * t.sqrt()
        } else {
            // Nothing spent: the region is unbounded; 10 sd of S covers it.
            10.0 * t.sqrt()
        };
        let m = ((2.0 * b * GRID_PER_UNIT).ceil() as usize).max(200) | 1; // odd: Simpson
        let h = 2.0 * b / (m - 1) as f64;
        let new_grid: Vec<f64> = (0..m).map(|i| -b + h * i as f64).collect();
        let new_weights: Vec<f64> = (0..m)
            .map(|i| {
                let w = if i == 0 || i == m - 1 {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * h / 3.0
            })
            .collect();
        let new_dens: Vec<f64> = if k == 0 {
            new_grid.iter().map(|&s| phi(s / sd) / sd).collect()
        } else {
            new_grid
                .iter()
                .map(|&s| {
                    grid.iter()
                        .zip(&dens)
                        .zip(&weights)
                        .map(|((&u, &f), &w)| w * f * phi((s - u) / sd) / sd)
                        .sum()
                })
                .collect()
        };
        grid = new_grid;
        dens = new_dens;
        weights = new_weights;
        prev_t = t;
        prev_alpha = cum;
    }
    out
}

/// What one group brought to a look: failure verdicts and scores of its first n runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LookData {
    pub failed: usize,
    /// Runs with a failure verdict.
    pub judged: usize,
    pub scores: Vec<f64>,
}

/// One look of a sequential analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Look {
    /// 1-based.
    pub look: usize,
    pub seeds_per_group: usize,
    pub fraction: f64,
    /// α spent by this look, cumulative.
    pub alpha_spent: f64,
    pub nominal_alpha: f64,
    /// The test's p at this look; `None` when it could not be computed (then not crossed).
    pub p: Option<f64>,
    pub crossed: bool,
    /// The data in words, e.g. "5/5 vs 0/5 failed" or "means 0.61 vs 0.58".
    pub data: String,
    /// Why there is no p, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Analyses look `k` (0-based) of `design` with `test` on the two groups' data.
pub fn analyse_look(
    design: &Design,
    k: usize,
    test: SequentialTest,
    a: &LookData,
    b: &LookData,
) -> Look {
    let (p, data, note) = match test {
        SequentialTest::Fisher => {
            let data = format!(
                "{}/{} vs {}/{} failed",
                a.failed, a.judged, b.failed, b.judged
            );
            if a.judged == 0 || b.judged == 0 {
                (None, data, Some("a group has no judged run".into()))
            } else {
                let t = [
                    [a.failed as u64, (a.judged - a.failed) as u64],
                    [b.failed as u64, (b.judged - b.failed) as u64],
                ];
                (Some(fisher_exact(t).p), data, None)
            }
        }
        SequentialTest::Welch => {
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let data = format!(
                "mean {:.4} (n = {}) vs {:.4} (n = {})",
                mean(&a.scores),
                a.scores.len(),
                mean(&b.scores),
                b.scores.len()
            );
            match welch(&a.scores, &b.scores) {
                Ok(r) => (Some(r.p), data, None),
                Err(d) => (None, data, Some(d.reason)),
            }
        }
    };
    let nominal = design.nominal[k];
    Look {
        look: k + 1,
        seeds_per_group: design.seeds[k],
        fraction: design.fractions[k],
        alpha_spent: design.cumulative_alpha[k],
        nominal_alpha: nominal,
        crossed: p.is_some_and(|p| p < nominal),
        p,
        data,
        note,
    }
}

/// Operating characteristics of a design: probability of a significant stop and the expected
/// seeds per group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Operating {
    pub reject: f64,
    pub expected_seeds: f64,
}

fn binom_pmf(n: usize, p: f64) -> Vec<f64> {
    (0..=n)
        .map(|k| {
            if p <= 0.0 {
                (k == 0) as u8 as f64
            } else if p >= 1.0 {
                (k == n) as u8 as f64
            } else {
                (ln_binomial(n as u64, k as u64)
                    + k as f64 * p.ln()
                    + (n - k) as f64 * (1.0 - p).ln())
                .exp()
            }
        })
        .collect()
}

/// Exact operating characteristics of a sequential Fisher design when the groups fail at
/// `p_a` and `p_b`: the failures of both groups are carried look by look as a distribution
/// over tables (a Markov chain), continuing only on tables that cross no boundary.
pub fn fisher_operating(design: &Design, p_a: f64, p_b: f64) -> Operating {
    let n_max = design.max_seeds;
    // mass[a][c]: probability of continuing with a and c failures so far.
    let mut mass = vec![vec![0.0f64; n_max + 1]; n_max + 1];
    mass[0][0] = 1.0;
    let (mut reject, mut expected) = (0.0, 0.0);
    let mut prev_n = 0;
    for (k, &n) in design.seeds.iter().enumerate() {
        let block = n - prev_n;
        let (fa, fb) = (binom_pmf(block, p_a), binom_pmf(block, p_b));
        let mut next = vec![vec![0.0f64; n_max + 1]; n_max + 1];
        for a in 0..=prev_n {
            for c in 0..=prev_n {
                let m = mass[a][c];
                if m == 0.0 {
                    continue;
                }
                for (da, &pa) in fa.iter().enumerate() {
                    if pa == 0.0 {
                        continue;
                    }
                    for (dc, &pc) in fb.iter().enumerate() {
                        next[a + da][c + dc] += m * pa * pc;
                    }
                }
            }
        }
        let last = k + 1 == design.seeds.len();
        let nominal = design.nominal[k];
        let mut stopped = 0.0;
        for total in 0..=(2 * n) {
            let ps = fisher_p_values(n as u64, n as u64, total as u64);
            for a in total.saturating_sub(n)..=total.min(n) {
                let c = total - a;
                let m = next[a][c];
                if m == 0.0 {
                    continue;
                }
                if ps[a] < nominal {
                    reject += m;
                    stopped += m;
                    next[a][c] = 0.0;
                }
            }
        }
        let continuing: f64 = next.iter().flatten().sum();
        expected += stopped * n as f64;
        if last {
            expected += continuing * n as f64;
        }
        mass = next;
        prev_n = n;
    }
    Operating {
        reject,
        expected_seeds: expected,
    }
}

/// Monte-Carlo operating characteristics: `studies` simulated sequential studies whose looks
/// draw outcomes from `draw_a`/`draw_b` (one run's failure verdict and score each), analysed
/// with `test`.
pub fn simulate<R: rand::Rng>(
    design: &Design,
    test: SequentialTest,
    studies: usize,
    rng: &mut R,
    draw_a: &dyn Fn(&mut R) -> (bool, f64),
    draw_b: &dyn Fn(&mut R) -> (bool, f64),
) -> Operating {
    let (mut reject, mut seeds) = (0usize, 0usize);
    for _ in 0..studies {
        let (mut a, mut b) = (LookData::default(), LookData::default());
        let mut prev = 0;
        let mut used = design.max_seeds;
        for k in 0..design.seeds.len() {
            for _ in prev..design.seeds[k] {
                for (d, draw) in [(&mut a, draw_a), (&mut b, draw_b)] {
                    let (f, s) = draw(rng);
                    d.judged += 1;
                    d.failed += f as usize;
                    d.scores.push(s);
                }
            }
            prev = design.seeds[k];
            if analyse_look(design, k, test, &a, &b).crossed {
                reject += 1;
                used = design.seeds[k];
                break;
            }
        }
        seeds += used;
    }
    Operating {
        reject: reject as f64 / studies as f64,
        expected_seeds: seeds as f64 / studies as f64,
    }
}

/// The statement every sequential output carries about estimates after stopping.
pub const BIAS_NOTE: &str = "The difference observed when a sequential study stops early is biased away from zero (a study stops when its estimate happens to be large): read the decision and its p-value, not the size of the naive estimate, which overstates the effect — most at the earliest looks.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_match_the_published_lan_demets_values() {
        // Two-sided α = 0.05, five equally spaced looks (Jennison & Turnbull 2000, table 7.6
        // / R ldbounds): O'Brien–Fleming type 4.877, 3.357, 2.680, 2.290, 2.031; Pocock type
        // 2.438, 2.427, 2.410, 2.397, 2.386.
        let obf = design(0.05, Spending::ObrienFleming, 5, 25).unwrap();
        for (got, want) in obf.z_bounds.iter().zip([4.877, 3.357, 2.680, 2.290, 2.031]) {
            assert!((got - want).abs() < 2e-3, "OBF {:?}", obf.z_bounds);
        }
        let poc = design(0.05, Spending::Pocock, 5, 25).unwrap();
        for (got, want) in poc.z_bounds.iter().zip([2.438, 2.427, 2.410, 2.397, 2.386]) {
            assert!((got - want).abs() < 2e-3, "Pocock {:?}", poc.z_bounds);
        }
    }

    #[test]
    fn one_look_is_the_fixed_design() {
        let d = design(0.05, Spending::Pocock, 10, 10).unwrap();
        assert_eq!(d.seeds, vec![10]);
        assert!((d.nominal[0] - 0.05).abs() < 1e-9, "{:?}", d.nominal);
    }

    #[test]
    fn the_quickstart_stops_at_the_first_pocock_look_and_the_second_obrien_fleming_look() {
        let all = LookData {
            failed: 5,
            judged: 5,
            scores: vec![0.0; 5],
        };
        let none = LookData {
            failed: 0,
            judged: 5,
            scores: vec![0.6; 5],
        };
        let poc = design(0.05, Spending::Pocock, 5, 25).unwrap();
        let look = analyse_look(&poc, 0, SequentialTest::Fisher, &all, &none);
        assert!((look.p.unwrap() - 0.007937).abs() < 1e-6);
        assert!(look.crossed, "{look:?}");
        let obf = design(0.05, Spending::ObrienFleming, 5, 25).unwrap();
        assert!(!analyse_look(&obf, 0, SequentialTest::Fisher, &all, &none).crossed);
        let all10 = LookData {
            failed: 10,
            judged: 10,
            ..all
        };
        let none10 = LookData {
            failed: 0,
            judged: 10,
            ..none
        };
        assert!(analyse_look(&obf, 1, SequentialTest::Fisher, &all10, &none10).crossed);
    }

    #[test]
    fn exact_fisher_size_stays_below_alpha_at_every_common_rate() {
        for spending in [Spending::Pocock, Spending::ObrienFleming] {
            let d = design(0.05, spending, 5, 25).unwrap();
            for p in [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
                let o = fisher_operating(&d, p, p);
                assert!(o.reject <= 0.05, "{spending:?} at p = {p}: {o:?}");
            }
        }
    }

    #[test]
    fn certain_failures_stop_at_the_first_pocock_look() {
        let d = design(0.05, Spending::Pocock, 5, 25).unwrap();
        let o = fisher_operating(&d, 1.0, 0.0);
        assert!((o.reject - 1.0).abs() < 1e-12);
        assert!((o.expected_seeds - 5.0).abs() < 1e-9, "{o:?}");
    }
}

/// Each group's failure verdicts and scores over the runs whose ids are in `ids`, scored as
/// the report scores them (final scores when the groups select checkpoints differently).
pub fn look_data(
    input: &crate::load::ReportInput,
    ids: &std::collections::BTreeSet<String>,
) -> std::collections::BTreeMap<String, LookData> {
    let opts = crate::summary::ReportOptions::default();
    let mut out = std::collections::BTreeMap::new();
    for (group, runs) in crate::summary::grouped_runs(input, &opts) {
        let mut d = LookData::default();
        for r in runs.iter().filter(|r| ids.contains(&r.id)) {
            if let Some(f) = r.failed() {
                d.judged += 1;
                d.failed += f as usize;
            }
            if let Some(s) = r.finite_score() {
                d.scores.push(s);
            }
        }
        out.insert(group, d);
    }
    out
}

/// One contrast's looks so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContrastLooks {
    pub a: String,
    pub b: String,
    pub looks: Vec<Look>,
    /// The look (1-based) whose boundary it crossed.
    pub crossed_at: Option<usize>,
}

/// A sequential study as analysed so far: the design, every look of every contrast, and why
/// it stopped (written as `sequential.json` / `sequential.md` at the store's root).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialReport {
    pub test: SequentialTest,
    /// The level of the whole study; each of the m contrasts gets α/m (Bonferroni).
    pub alpha: f64,
    /// The design of each contrast (at α/m).
    pub design: Design,
    pub contrasts: Vec<ContrastLooks>,
    /// Why the study stopped, once it has.
    pub stopped: Option<String>,
    pub bias_note: String,
}

impl SequentialReport {
    /// A study with no look analysed yet.
    pub fn new(
        test: SequentialTest,
        alpha: f64,
        spending: Spending,
        look_every: usize,
        max_seeds: usize,
        contrasts: &[(String, String)],
    ) -> Result<SequentialReport, DesignError> {
        let m = contrasts.len().max(1) as f64;
        Ok(SequentialReport {
            test,
            alpha,
            design: design(alpha / m, spending, look_every, max_seeds)?,
            contrasts: contrasts
                .iter()
                .map(|(a, b)| ContrastLooks {
                    a: a.clone(),
                    b: b.clone(),
                    looks: Vec::new(),
                    crossed_at: None,
                })
                .collect(),
            stopped: None,
            bias_note: BIAS_NOTE.into(),
        })
    }

    /// Analyses look `k` (0-based) on each group's data; returns whether the study stops
    /// (every contrast has crossed its boundary, at this look or before, or this is the last
    /// look). Re-analysing a look replaces it.
    pub fn analyse(
        &mut self,
        k: usize,
        data: &std::collections::BTreeMap<String, LookData>,
    ) -> bool {
        let empty = LookData::default();
        for c in &mut self.contrasts {
            c.looks.retain(|l| l.look < k + 1);
            if c.crossed_at.is_some_and(|at| at > k) {
                c.crossed_at = None;
            }
            if c.crossed_at.is_some() {
                continue;
            }
            let a = data.get(&c.a).unwrap_or(&empty);
            let b = data.get(&c.b).unwrap_or(&empty);
            let look = analyse_look(&self.design, k, self.test, a, b);
            if look.crossed {
                c.crossed_at = Some(k + 1);
            }
            c.looks.push(look);
        }
        let n = self.design.seeds[k];
        let all = self.contrasts.iter().all(|c| c.crossed_at.is_some());
        let last = k + 1 == self.design.seeds.len();
        self.stopped = if all {
            Some(format!(
                "stopped at look {} of {} ({n} seeds per group): every contrast crossed its boundary",
                k + 1,
                self.design.seeds.len()
            ))
        } else if last {
            Some(format!(
                "max_seeds reached ({n} seeds per group) without every contrast crossing its boundary: {} not significant at the design's level",
                self.contrasts
                    .iter()
                    .filter(|c| c.crossed_at.is_none())
                    .map(|c| format!("`{}` vs `{}`", c.a, c.b))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else {
            None
        };
        self.stopped.is_some()
    }

    /// The design in one sentence: test, levels, looks, spending.
    pub fn design_sentence(&self) -> String {
        let d = &self.design;
        let test = match self.test {
            SequentialTest::Fisher => "Fisher's exact test of the failure rates",
            SequentialTest::Welch => "Welch's t test of the mean scores",
        };
        let spending = match d.spending {
            Spending::ObrienFleming => "O'Brien–Fleming-type",
            Spending::Pocock => "Pocock-type",
        };
        format!(
            "{test}, two-sided α = {} for the study ({} contrast(s), α = {:.4} each, Bonferroni); a look every {} seeds per group, at most {} seeds; Lan–DeMets {spending} alpha spending. A look is significant when its p is below the look's nominal level.",
            self.alpha,
            self.contrasts.len(),
            d.alpha,
            d.look_every,
            d.max_seeds,
        )
    }

    /// Headers of [`SequentialReport::design_rows`].
    pub const DESIGN_HEADERS: [&'static str; 6] = [
        "look",
        "seeds per group",
        "information",
        "α spent (cumulative)",
        "z boundary",
        "nominal level",
    ];

    /// One row per look of the design.
    pub fn design_rows(&self) -> Vec<Vec<String>> {
        let d = &self.design;
        (0..d.seeds.len())
            .map(|i| {
                vec![
                    (i + 1).to_string(),
                    d.seeds[i].to_string(),
                    format!("{:.2}", d.fractions[i]),
                    format!("{:.5}", d.cumulative_alpha[i]),
                    format!("{:.3}", d.z_bounds[i]),
                    format!("{:.5}", d.nominal[i]),
                ]
            })
            .collect()
    }

    /// Headers of [`SequentialReport::look_rows`].
    pub const LOOK_HEADERS: [&'static str; 6] = [
        "look",
        "seeds per group",
        "data",
        "p",
        "nominal level",
        "crossed",
    ];

    /// One row per look analysed of contrast `c`.
    pub fn look_rows(c: &ContrastLooks) -> Vec<Vec<String>> {
        c.looks
            .iter()
            .map(|l| {
                vec![
                    l.look.to_string(),
                    l.seeds_per_group.to_string(),
                    l.data.clone(),
                    l.p.map_or_else(
                        || format!("n/a ({})", l.note.as_deref().unwrap_or("no p")),
                        |p| format!("{p:.4}"),
                    ),
                    format!("{:.5}", l.nominal_alpha),
                    if l.crossed { "yes: stop" } else { "no" }.to_string(),
                ]
            })
            .collect()
    }

    /// Why the study stopped, or that it has looks to run.
    pub fn stopping(&self) -> &str {
        self.stopped
            .as_deref()
            .unwrap_or("not stopped yet (looks still to run)")
    }

    /// The report section: design, every look, α spent, the stopping reason, the bias note.
    pub fn markdown(&self) -> String {
        fn table(s: &mut String, headers: &[&str], rows: &[Vec<String>]) {
            s.push_str(&format!("| {} |\n", headers.join(" | ")));
            s.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
            for r in rows {
                s.push_str(&format!("| {} |\n", r.join(" | ")));
            }
        }
        let mut s = format!("## Sequential design\n\n{}\n\n", self.design_sentence());
        table(&mut s, &Self::DESIGN_HEADERS, &self.design_rows());
        for c in &self.contrasts {
            s.push_str(&format!("\n### `{}` vs `{}`\n\n", c.a, c.b));
            table(&mut s, &Self::LOOK_HEADERS, &Self::look_rows(c));
        }
        s.push_str(&format!(
            "\n**Stopping:** {}\n\n{}\n",
            self.stopping(),
            self.bias_note
        ));
        s
    }
}
