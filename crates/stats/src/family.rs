//! Claims over a family of pairs: Holm–Bonferroni adjusted p-values, and the TOST equivalence
//! test behind any "no difference larger than δ".
//!
//! Design decisions:
//! - **Holm over the pairs compared, per test.** A report compares many pairs; each test's
//!   p-values over those pairs (or over the planned contrasts, `--contrast`) form one family
//!   and get Holm's step-down adjustment (`statsmodels.stats.multitest.multipletests(p,
//!   method="holm")`): it controls the family-wise error rate like Bonferroni and is uniformly
//!   more powerful. A pair whose test is degenerate has no p-value and is not in the family.
//! - **Equivalence needs its own test.** A non-significant difference is absence of evidence.
//!   "No difference larger than δ" is claimed only when two one-sided Welch tests reject both
//!   "A − B ≤ −δ" and "A − B ≥ δ" (TOST, `statsmodels.stats.weightstats.ttost_ind(a, b, −δ, δ,
//!   usevar="unequal")`). Without a margin, [`excludable_difference`] says which differences
//!   the data can exclude at all: the bound of the 1 − 2α interval of the difference.
//!
//! Golden values: `tests/golden/make_family.py` → `family.json` (statsmodels 0.15.0).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::describe::{mean, variance};
use crate::hypothesis::{is_constant, Degenerate, DegenerateKind};

/// Holm–Bonferroni adjusted p-values, in the order of `p` (`multipletests(p, method="holm")`):
/// the i-th smallest p times (m − i + 1), made monotone, capped at 1. Ties keep their order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(p[i] * (m - rank) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// Two one-sided Welch tests of −δ < mean(A) − mean(B) < δ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TostResult {
    /// The margin δ (score units).
    pub margin: f64,
    /// mean(A) − mean(B).
    pub difference: f64,
    /// The larger of the two one-sided p-values: equivalence is shown when p < α.
    pub p: f64,
    /// t of H0: A − B ≤ −δ, and its one-sided p.
    pub t_lower: f64,
    pub p_lower: f64,
    /// t of H0: A − B ≥ δ, and its one-sided p.
    pub t_upper: f64,
    pub p_upper: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
}

/// Difference of means, its Welch standard error and degrees of freedom; degenerate like
/// Welch's test (fewer than 2 runs, both groups constant).
fn welch_parts(a: &[f64], b: &[f64]) -> Result<(f64, f64, f64), Degenerate> {
    let smallest = a.len().min(b.len());
    if smallest < 2 {
        return Err(Degenerate::too_few_runs(smallest, 2));
    }
    if is_constant(a) && is_constant(b) {
        return Err(Degenerate::new(
            DegenerateKind::ConstantGroups,
            "both groups are constant: zero standard error",
        ));
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let va = variance(a).unwrap_or(0.0) / na;
    let vb = variance(b).unwrap_or(0.0) / nb;
    let se = (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let d = mean(a).unwrap_or(f64::NAN) - mean(b).unwrap_or(f64::NAN);
    Ok((d, se, df))
}

fn students_t(df: f64) -> Result<StudentsT, Degenerate> {
    StudentsT::new(0.0, 1.0, df)
        .map_err(|e| Degenerate::new(DegenerateKind::TooFewRuns, e.to_string()))
}

/// TOST for equivalence within ±`margin` (`ttost_ind(a, b, -margin, margin, usevar="unequal")`).
pub fn tost(a: &[f64], b: &[f64], margin: f64) -> Result<TostResult, Degenerate> {
    let (d, se, df) = welch_parts(a, b)?;
    let t = students_t(df)?;
    let t_lower = (d + margin) / se;
    let t_upper = (d - margin) / se;
    let p_lower = t.sf(t_lower);
    let p_upper = t.cdf(t_upper);
    Ok(TostResult {
        margin,
        difference: d,
        p: p_lower.max(p_upper),
        t_lower,
        p_lower,
        t_upper,
        p_upper,
        df,
    })
}

/// The smallest margin δ that TOST at level `alpha` would find A and B equivalent within:
/// |mean(A) − mean(B)| + t(1 − α; df)·se, the farther bound of the 1 − 2α interval of the
/// difference. Differences larger than this are what the data exclude; smaller ones they
/// cannot.
pub fn excludable_difference(a: &[f64], b: &[f64], alpha: f64) -> Result<f64, Degenerate> {
    let (d, se, df) = welch_parts(a, b)?;
    Ok(d.abs() + students_t(df)?.inverse_cdf(1.0 - alpha) * se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_of_one_is_the_p_value() {
        assert_eq!(holm(&[0.033]), vec![0.033]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn holm_is_monotone_in_the_raw_order() {
        let adj = holm(&[0.04, 0.01, 0.03]);
        // sorted: 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → max(0.06, 0.04) = 0.06
        assert_eq!(adj, vec![0.06, 0.03, 0.06]);
    }

    #[test]
    fn the_excludable_difference_is_where_tost_turns_significant() {
        let a = [0.61, 0.63, 0.60, 0.64, 0.62];
        let b = [0.60, 0.62, 0.61, 0.63, 0.59];
        let d = excludable_difference(&a, &b, 0.05).unwrap();
        assert!((tost(&a, &b, d).unwrap().p - 0.05).abs() < 1e-9);
        assert!(tost(&a, &b, d * 1.01).unwrap().p < 0.05);
    }
}
