//! Tests on counts of failed runs: binomial confidence intervals of a failure rate and Fisher's
//! exact test of two failure rates, with SciPy's conventions.
//!
//! - [`wilson`] is `scipy.stats.binomtest(k, n).proportion_ci(method="wilson")` (Wilson 1927,
//!   no continuity correction): good coverage at the small n of seed sweeps, never outside
//!   [0, 1], and not degenerate at k = 0 or k = n. The report quotes it.
//! - [`clopper_pearson`] is `proportion_ci(method="exact")`: guaranteed coverage, wider; kept in
//!   `report.json` for readers who want the conservative interval.
//! - [`fisher_exact`] is `scipy.stats.fisher_exact(table)` two-sided: the p-value sums the
//!   hypergeometric probabilities of every table with the same margins that is at most as
//!   likely as the observed one. A table with an empty row or column gives p = 1 and an
//!   undefined odds ratio, as in SciPy. Probabilities within a relative 1e-7 of the observed
//!   one count as equally likely (R's `fisher.test` tolerance; SciPy uses 1e-14 on its own
//!   rounding), so mirror-image tables are never split by rounding.
//!
//! Golden values: `tests/golden/make_counts.py` → `counts.json`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::beta::beta_reg;
use statrs::function::factorial::ln_binomial;

use crate::bootstrap::Interval;

/// A two-sided confidence interval of k/n; `None` for n = 0 (no runs, no rate).
pub fn wilson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let z = Normal::standard().inverse_cdf(0.5 + 0.5 * confidence);
    let (nf, p) = (n as f64, k as f64 / n as f64);
    let denom = 2.0 * (nf + z * z);
    let center = (2.0 * nf * p + z * z) / denom;
    let half = z * (z * z + 4.0 * nf * p * (1.0 - p)).sqrt() / denom;
    // At k = 0 and k = n the bound is exactly 0 or 1 (as in SciPy), not a rounding of it.
    Some(Interval {
        lower: if k == 0 {
            0.0
        } else {
            (center - half).max(0.0)
        },
        upper: if k == n {
            1.0
        } else {
            (center + half).min(1.0)
        },
    })
}

/// The Clopper–Pearson ("exact") two-sided interval of k/n; `None` for n = 0.
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let alpha = (1.0 - confidence) / 2.0;
    let (kf, nf) = (k as f64, n as f64);
    let lower = if k == 0 {
        0.0
    } else {
        beta_inv(kf, nf - kf + 1.0, alpha)
    };
    let upper = if k == n {
        1.0
    } else {
        beta_inv(kf + 1.0, nf - kf, 1.0 - alpha)
    };
    Some(Interval { lower, upper })
}

/// The x in [0, 1] with I_x(a, b) = q, by bisection (the regularised incomplete beta is
/// increasing in x; 200 halvings reach the spacing of f64 near any x).
fn beta_inv(a: f64, b: f64, q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_reg(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Fisher's exact test of a 2 × 2 table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FisherResult {
    /// Sample odds ratio (a·d)/(b·c); `None` where SciPy gives ∞ (b·c = 0) or nan (an empty
    /// row or column).
    pub odds_ratio: Option<f64>,
    /// Two-sided p-value.
    pub p: f64,
}

/// Two-sided Fisher's exact test of `[[a, b], [c, d]]` (rows: groups; columns: failed, not
/// failed), as `scipy.stats.fisher_exact`.
pub fn fisher_exact(table: [[u64; 2]; 2]) -> FisherResult {
    let [[a, b], [c, d]] = table;
    let (row1, row2, col1) = (a + b, c + d, a + c);
    if row1 == 0 || row2 == 0 || col1 == 0 || b + d == 0 {
        return FisherResult {
            odds_ratio: None,
            p: 1.0,
        };
    }
    let odds_ratio = (b > 0 && c > 0).then(|| (a as f64 * d as f64) / (b as f64 * c as f64));
    let total = row1 + row2;
    // log P(X = x): x failures in row 1 given the margins (hypergeometric).
    let ln_pmf =
        |x: u64| ln_binomial(row1, x) + ln_binomial(row2, col1 - x) - ln_binomial(total, col1);
    let observed = ln_pmf(a);
    let threshold = observed + (1.0f64 + 1e-7).ln();
    let lo = col1.saturating_sub(row2);
    let hi = col1.min(row1);
    let mut probs: Vec<f64> = (lo..=hi)
        .map(ln_pmf)
        .filter(|&l| l <= threshold)
        .map(f64::exp)
        .collect();
    // Smallest first: the tail's many tiny terms are not lost next to the large ones.
    probs.sort_by(f64::total_cmp);
    let p = probs.iter().sum::<f64>().min(1.0);
    FisherResult { odds_ratio, p }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_stays_inside_the_unit_interval() {
        let i = wilson(0, 5, 0.95).unwrap();
        assert_eq!(i.lower, 0.0);
        assert!(i.upper > 0.4 && i.upper < 0.5, "{i:?}");
        let j = wilson(5, 5, 0.95).unwrap();
        assert_eq!(j.upper, 1.0);
        assert!((j.lower - (1.0 - i.upper)).abs() < 1e-12);
        assert!(wilson(0, 0, 0.95).is_none());
    }

    #[test]
    fn clopper_pearson_contains_wilson_at_the_edges() {
        let cp = clopper_pearson(0, 10, 0.95).unwrap();
        // (α/2)^(1/n) closed form at k = 0.
        assert!(
            (cp.upper - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-12,
            "{cp:?}"
        );
        assert!(cp.upper >= wilson(0, 10, 0.95).unwrap().upper);
    }

    #[test]
    fn fisher_mirror_tables_have_the_same_p() {
        let p1 = fisher_exact([[3, 0], [0, 3]]).p;
        let p2 = fisher_exact([[0, 3], [3, 0]]).p;
        assert!((p1 - 0.1).abs() < 1e-12, "{p1}");
        assert_eq!(p1, p2);
        assert_eq!(fisher_exact([[0, 0], [3, 4]]).p, 1.0);
        assert_eq!(fisher_exact([[3, 0], [4, 0]]).odds_ratio, None);
    }
}
