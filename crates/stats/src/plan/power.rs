//! Power of the report's tests at n seeds per group: Fisher's exact test of two failure rates
//! (exact, by enumerating both binomials), Welch's test of two mean scores (noncentral t) and
//! TOST equivalence (exact integral over the standard error's distribution).
//!
//! Design decisions:
//! - **"Significant" means what the report says it means.** The report calls a test
//!   significant when p < α (strictly); power here is the probability of exactly that event,
//!   so a plan promises what `stab report` will find.
//! - **Fisher power is exact.** Power = Σₐ Σ_c Bin(a; n₁, p₁)·Bin(c; n₂, p₂)·[p(a, c) < α],
//!   over all (n₁+1)(n₂+1) tables. The p-values of all tables with c + a = m failures share one
//!   hypergeometric distribution, so [`fisher_p_values`] gives all of them from one sorted
//!   pass, bit-for-bit the numbers [`crate::counts::fisher_exact`] gives table by table (same
//!   terms, same order of summation, same 1e-7 tie tolerance): O(n² log n) per n instead of
//!   O(n³). Exact power is a saw-tooth in n (the test is discrete), which is why a plan
//!   reports both the smallest n that reaches the power and the n from which it stays there.
//! - **The noncentral t CDF is Lenth's series (AS 243)**: for t ≥ 0,
//!   F(t; ν, δ) = Φ(−δ) + ½ Σⱼ [pⱼ I_x(j + ½, ν/2) + qⱼ I_x(j + 1, ν/2)], x = t²/(t² + ν),
//!   pⱼ = e^{−δ²/2}(δ²/2)ʲ/j!, qⱼ = δ e^{−δ²/2}(δ²/2)ʲ / (√2 Γ(j + 3/2)), and
//!   F(t; ν, δ) = 1 − F(−t; ν, −δ) for t < 0. The Poisson weights are summed outward from
//!   their mode until both tails are below 1e-17 (statrs has no noncentral t). Checked against
//!   scipy.stats.nct (`tests/golden/make_plan.py`).
//! - **Welch power** uses the Welch–Satterthwaite degrees of freedom of the *population*
//!   standard deviations and the noncentral t with δ = Δ/√(σ₁²/n₁ + σ₂²/n₂), the standard
//!   approximation (the exact distribution of Welch's statistic has no closed form). With equal
//!   standard deviations and equal n it is exactly statsmodels' `TTestIndPower` (df = 2n − 2).
//! - **TOST power is exact for the t statistic**, not the usual "P(A) + P(B) − 1" bound:
//!   with d̂ ~ N(Δ, σ²) and ŝ = σ·√(V/ν), V ~ χ²_ν, TOST rejects both one-sided nulls when
//!   −δ + c·ŝ < d̂ < δ − c·ŝ (c = t₁₋α,ν), so power = E_V[Φ((δ − cŝ − Δ)/σ) − Φ((−δ + cŝ − Δ)/σ)]⁺
//!   (Owen 1965; PowerTOST's method "exact"), integrated over u = √(V/ν) by composite
//!   Gauss–Legendre over the range where u has its mass.
//!   statsmodels 0.15 has no two-sample t TOST power; the golden values integrate the same
//!   expectation with scipy's `quad` over χ² (an independent quadrature).

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::beta_reg;
use statrs::function::factorial::ln_binomial;
use statrs::function::gamma::ln_gamma;

/// Lenth's series for t ≥ 0.
fn nct_cdf_nonneg(t: f64, df: f64, nc: f64) -> f64 {
    let normal = Normal::standard();
    let base = normal.cdf(-nc);
    if t == 0.0 {
        return base;
    }
    let x = t * t / (t * t + df);
    let lambda = nc * nc / 2.0;
    if lambda == 0.0 {
        // Central t: F = ½ + ½ I_x(½, ν/2).
        return 0.5 + 0.5 * beta_reg(0.5, df / 2.0, x);
    }
    let ln_lambda = lambda.ln();
    let half_nu = df / 2.0;
    let term = |j: f64| -> f64 {
        let ln_pj = -lambda + j * ln_lambda - ln_gamma(j + 1.0);
        let ln_qj = -lambda + j * ln_lambda - ln_gamma(j + 1.5);
        let pj = ln_pj.exp();
        let qj = nc.signum() * (ln_qj + nc.abs().ln() - std::f64::consts::SQRT_2.ln()).exp();
        pj * beta_reg(j + 0.5, half_nu, x) + qj * beta_reg(j + 1.0, half_nu, x)
    };
    let mode = lambda.floor();
    let mut sum = 0.0;
    // Upward from the mode, then downward: the Poisson weights fall off on both sides.
    let mut j = mode;
    loop {
        let t = term(j);
        sum += t;
        let weight = (-lambda + j * ln_lambda - ln_gamma(j + 1.0)).exp();
        if j > mode + 5.0 && weight < 1e-17 {
            break;
        }
        if j > mode + 10_000.0 {
            break;
        }
        j += 1.0;
    }
    let mut j = mode - 1.0;
    while j >= 0.0 {
        let t = term(j);
        sum += t;
        let weight = (-lambda + j * ln_lambda - ln_gamma(j + 1.0)).exp();
        if weight < 1e-17 && j < mode - 5.0 {
            break;
        }
        j -= 1.0;
    }
    (base + 0.5 * sum).clamp(0.0, 1.0)
}

/// CDF of the noncentral t distribution with `df` degrees of freedom and noncentrality `nc`.
pub fn nct_cdf(t: f64, df: f64, nc: f64) -> f64 {
    if t.is_nan() || df.is_nan() || nc.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 1.0;
    }
    if t == f64::NEG_INFINITY {
        return 0.0;
    }
    if t >= 0.0 {
        nct_cdf_nonneg(t, df, nc)
    } else {
        1.0 - nct_cdf_nonneg(-t, df, -nc)
    }
}

/// Survival function 1 − F of the noncentral t, computed from the tail that keeps precision.
pub fn nct_sf(t: f64, df: f64, nc: f64) -> f64 {
    // sf(t; ν, δ) = F(−t; ν, −δ) by symmetry.
    nct_cdf(-t, df, -nc)
}

/// Welch–Satterthwaite degrees of freedom for population standard deviations `sd_a`, `sd_b`.
pub fn welch_df(sd_a: f64, sd_b: f64, n_a: usize, n_b: usize) -> f64 {
    let (va, vb) = (sd_a * sd_a / n_a as f64, sd_b * sd_b / n_b as f64);
    (va + vb).powi(2) / (va * va / (n_a as f64 - 1.0) + vb * vb / (n_b as f64 - 1.0))
}

fn t_quantile(df: f64, q: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(q))
        .unwrap_or(f64::NAN)
}

/// Power of the two-sided Welch test (p < α) to detect a difference `diff` of mean scores,
/// with standard deviations `sd_a`, `sd_b` and `n_a`, `n_b` runs. NaN for fewer than 2 runs
/// in a group or zero spread.
pub fn welch_power(diff: f64, sd_a: f64, sd_b: f64, n_a: usize, n_b: usize, alpha: f64) -> f64 {
    if n_a < 2 || n_b < 2 || !(sd_a > 0.0 || sd_b > 0.0) {
        return f64::NAN;
    }
    let se = (sd_a * sd_a / n_a as f64 + sd_b * sd_b / n_b as f64).sqrt();
    let df = welch_df(sd_a, sd_b, n_a, n_b);
    let nc = diff / se;
    let crit = t_quantile(df, 1.0 - alpha / 2.0);
    nct_sf(crit, df, nc) + nct_cdf(-crit, df, nc)
}

/// Power of TOST (both one-sided Welch tests at level α, i.e. p < α) to show equivalence
/// within ±`margin` when the true difference is `diff`. Exact for the t statistic with ν
/// degrees of freedom (see the module docs). At |diff| ≥ margin it is at most α.
pub fn tost_power(
    diff: f64,
    sd_a: f64,
    sd_b: f64,
    n_a: usize,
    n_b: usize,
    margin: f64,
    alpha: f64,
) -> f64 {
    if n_a < 2 || n_b < 2 || !(sd_a > 0.0 || sd_b > 0.0) || margin <= 0.0 {
        return f64::NAN;
    }
    let sigma = (sd_a * sd_a / n_a as f64 + sd_b * sd_b / n_b as f64).sqrt();
    let df = welch_df(sd_a, sd_b, n_a, n_b);
    let c = t_quantile(df, 1.0 - alpha);
    let normal = Normal::standard();
    // The region is empty once c·ŝ ≥ δ: u = ŝ/σ ≥ δ/(cσ).
    let u_max = margin / (c * sigma);
    // Density of u = √(V/ν): f(u) = 2νu·f_χ²(νu²).
    let integrand = |u: f64| -> f64 {
        if u <= 0.0 {
            return 0.0;
        }
        // ln of the χ²_ν density at v = νu², in logs: statrs' pdf overflows for ν ≳ 200.
        let v = df * u * u;
        let half = df / 2.0;
        let ln_chi =
            (half - 1.0) * v.ln() - v / 2.0 - half * std::f64::consts::LN_2 - ln_gamma(half);
        let dens = 2.0 * df * u * ln_chi.exp();
        let hi = (margin - c * sigma * u - diff) / sigma;
        let lo = (-margin + c * sigma * u - diff) / sigma;
        let p = normal.cdf(hi) - normal.cdf(lo);
        dens * p.max(0.0)
    };
    // Where u has its mass: the Wilson–Hilferty approximation of the χ² quantiles at z = ±10
    // (far beyond 1e-16 of mass either side), cut at u_max.
    let wh = |z: f64| {
        let k = 2.0 / (9.0 * df);
        (1.0 - k + z * k.sqrt()).max(0.0).powi(3)
    };
    let lo = wh(-10.0).sqrt();
    let hi = wh(10.0).sqrt().min(u_max);
    gauss_legendre(&integrand, lo, hi, 400).clamp(0.0, 1.0)
}

/// Composite 10-point Gauss–Legendre rule over `panels` equal panels: the integrand is smooth
/// on the range, so this is exact to rounding at a fixed cost (4000 evaluations).
fn gauss_legendre(f: &dyn Fn(f64) -> f64, a: f64, b: f64, panels: usize) -> f64 {
    const X: [f64; 5] = [
        0.148_874_338_981_631_2,
        0.433_395_394_129_247_2,
        0.679_409_568_299_024_4,
        0.865_063_366_688_984_5,
        0.973_906_528_517_171_7,
    ];
    const W: [f64; 5] = [
        0.295_524_224_714_752_9,
        0.269_266_719_309_996_3,
        0.219_086_362_515_982,
        0.149_451_349_150_580_6,
        0.066_671_344_308_688_1,
    ];
    if b <= a {
        return 0.0;
    }
    let h = (b - a) / panels as f64;
    (0..panels)
        .map(|i| {
            let mid = a + h * (i as f64 + 0.5);
            let half = h / 2.0;
            X.iter()
                .zip(W)
                .map(|(&x, w)| w * (f(mid - half * x) + f(mid + half * x)))
                .sum::<f64>()
                * half
        })
        .sum()
}

/// Two-sided Fisher p-values of every 2 × 2 table with rows of `n_a` and `n_b` runs and `m`
/// failures in all, indexed by the failures `a` of the first row (entries for impossible `a`
/// are 1). Equal, bit for bit, to [`crate::counts::fisher_exact`] on each table.
pub fn fisher_p_values(n_a: u64, n_b: u64, m: u64) -> Vec<f64> {
    let mut out = vec![1.0; n_a as usize + 1];
    let total = n_a + n_b;
    if n_a == 0 || n_b == 0 || m == 0 || m == total {
        return out;
    }
    let lo = m.saturating_sub(n_b);
    let hi = m.min(n_a);
    let ln_pmf = |x: u64| ln_binomial(n_a, x) + ln_binomial(n_b, m - x) - ln_binomial(total, m);
    let logs: Vec<f64> = (lo..=hi).map(ln_pmf).collect();
    // Ascending by probability (the order fisher_exact sums in), with running sums.
    let mut sorted: Vec<(f64, f64)> = logs.iter().map(|&l| (l, l.exp())).collect();
    sorted.sort_by(|x, y| x.1.total_cmp(&y.1));
    let mut prefix = Vec::with_capacity(sorted.len());
    let mut acc = 0.0;
    for &(_, p) in &sorted {
        acc += p;
        prefix.push(acc);
    }
    let tol = (1.0f64 + 1e-7).ln();
    for (i, &l) in logs.iter().enumerate() {
        let threshold = l + tol;
        // Terms fisher_exact keeps are those with ln p ≤ threshold; in ascending order of p
        // they form a prefix (exp is monotone).
        let count = sorted.partition_point(|&(ls, _)| ls <= threshold);
        let p = if count == 0 { 0.0 } else { prefix[count - 1] };
        out[(lo as usize) + i] = p.min(1.0);
    }
    out
}

fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
    (0..=n)
        .map(|k| {
            if p <= 0.0 {
                return if k == 0 { 1.0 } else { 0.0 };
            }
            if p >= 1.0 {
                return if k == n { 1.0 } else { 0.0 };
            }
            (ln_binomial(n, k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
        })
        .collect()
}

/// Exact power of Fisher's two-sided test (p < α) with `n_a` and `n_b` runs when the failure
/// rates are `p_a` and `p_b`: the probability, over both binomials, of a significant table.
pub fn fisher_power(p_a: f64, p_b: f64, n_a: u64, n_b: u64, alpha: f64) -> f64 {
    let (fa, fb) = (binomial_pmf(n_a, p_a), binomial_pmf(n_b, p_b));
    let mut power = 0.0;
    for m in 0..=(n_a + n_b) {
        let ps = fisher_p_values(n_a, n_b, m);
        let lo = m.saturating_sub(n_b);
        let hi = m.min(n_a);
        for a in lo..=hi {
            if ps[a as usize] < alpha {
                power += fa[a as usize] * fb[(m - a) as usize];
            }
        }
    }
    power.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::fisher_exact;

    #[test]
    fn fisher_p_values_equal_fisher_exact_table_by_table() {
        for (na, nb) in [(5u64, 5u64), (7, 4), (12, 12), (1, 3)] {
            for m in 0..=(na + nb) {
                let ps = fisher_p_values(na, nb, m);
                for a in m.saturating_sub(nb)..=m.min(na) {
                    let want = fisher_exact([[a, na - a], [m - a, nb - (m - a)]]).p;
                    assert_eq!(ps[a as usize], want, "n = {na},{nb}, m = {m}, a = {a}");
                }
            }
        }
    }

    #[test]
    fn central_t_is_the_students_t() {
        let t = StudentsT::new(0.0, 1.0, 7.0).unwrap();
        for x in [-3.0, -0.5, 0.0, 0.7, 2.5] {
            assert!((nct_cdf(x, 7.0, 0.0) - t.cdf(x)).abs() < 1e-13, "{x}");
        }
    }

    #[test]
    fn noncentral_t_is_monotone_and_reflects() {
        let a = nct_cdf(1.0, 10.0, 2.0);
        let b = nct_cdf(1.5, 10.0, 2.0);
        assert!(a < b);
        assert!((nct_cdf(-1.3, 9.0, 1.1) - nct_sf(1.3, 9.0, -1.1)).abs() < 1e-14);
        // Large df: close to the normal shifted by δ.
        let n = Normal::standard();
        assert!((nct_cdf(2.5, 1e6, 1.0) - n.cdf(1.5)).abs() < 1e-5);
    }

    #[test]
    fn power_at_no_difference_is_the_level() {
        let p = welch_power(0.0, 1.0, 1.0, 10, 10, 0.05);
        assert!((p - 0.05).abs() < 1e-9, "{p}");
        // Fisher is conservative under H0.
        assert!(fisher_power(0.3, 0.3, 15, 15, 0.05) <= 0.05);
        // TOST at a true difference on the margin: at most α.
        assert!(tost_power(0.02, 0.01, 0.01, 20, 20, 0.02, 0.05) <= 0.05 + 1e-9);
    }

    #[test]
    fn fisher_power_of_certain_outcomes() {
        // 5 of 5 against 0 of 5 for sure: p = 0.0079 < 0.05.
        assert!((fisher_power(1.0, 0.0, 5, 5, 0.05) - 1.0).abs() < 1e-15);
        // 3 of 3 against 0 of 3: p = 0.1, never significant.
        assert_eq!(fisher_power(1.0, 0.0, 3, 3, 0.05), 0.0);
    }
}
