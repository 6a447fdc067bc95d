//! Classical two-sample tests with SciPy's conventions.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, FisherSnedecor, Normal, StudentsT};

use crate::describe::{mean, median, variance};

/// Centre of Levene's test. SciPy's default is the median.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeveneCenter {
    /// Levene's original test.
    Mean,
    /// The Brown–Forsythe variant (robust to non-normal scores; `scipy.stats.levene` default).
    Median,
}

impl LeveneCenter {
    /// The test's name as it should appear in a table.
    pub fn test_name(self) -> &'static str {
        match self {
            LeveneCenter::Mean => "Levene (mean)",
            LeveneCenter::Median => "Brown–Forsythe (median)",
        }
    }
}

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub statistic: f64,
    pub p: f64,
}

/// Welch's unequal-variance t-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchResult {
    pub t: f64,
    pub df: f64,
    /// Two-sided.
    pub p: f64,
}

/// Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitneyResult {
    /// U of the first sample (SciPy's `statistic`).
    pub u: f64,
    /// Two-sided, normal approximation with tie and continuity correction.
    pub p: f64,
}

/// Levene's test for equal variances over `k >= 2` samples (`scipy.stats.levene`).
/// `None` when fewer than two samples, any sample is empty, or the F statistic is undefined
/// (e.g. all samples constant).
pub fn levene(samples: &[&[f64]], center: LeveneCenter) -> Option<TestResult> {
    let k = samples.len();
    if k < 2 || samples.iter().any(|s| s.is_empty()) {
        return None;
    }
    let total: usize = samples.iter().map(|s| s.len()).sum();
    if total <= k {
        return None;
    }
    let z: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| {
            let c = match center {
                LeveneCenter::Mean => mean(s).unwrap(),
                LeveneCenter::Median => median(s).unwrap(),
            };
            s.iter().map(|v| (v - c).abs()).collect()
        })
        .collect();
    let zbar_i: Vec<f64> = z.iter().map(|zi| mean(zi).unwrap()).collect();
    let zbar = z.iter().flatten().sum::<f64>() / total as f64;
    let num: f64 = z
        .iter()
        .zip(&zbar_i)
        .map(|(zi, m)| zi.len() as f64 * (m - zbar) * (m - zbar))
        .sum();
    let den: f64 = z
        .iter()
        .zip(&zbar_i)
        .map(|(zi, m)| zi.iter().map(|v| (v - m) * (v - m)).sum::<f64>())
        .sum();
    let w = (total - k) as f64 / (k - 1) as f64 * num / den;
    if !w.is_finite() {
        return None;
    }
    let f = FisherSnedecor::new((k - 1) as f64, (total - k) as f64).ok()?;
    Some(TestResult {
        statistic: w,
        p: f.sf(w),
    })
}

/// Welch's t-test (`scipy.stats.ttest_ind(a, b, equal_var=False)`). `None` below two values in
/// either sample or when both are constant.
pub fn welch(a: &[f64], b: &[f64]) -> Option<WelchResult> {
    let (va, vb) = (variance(a)?, variance(b)?);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se = (sa + sb).sqrt();
    if se == 0.0 {
        return None;
    }
    let t = (mean(a)? - mean(b)?) / se;
    let df = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(WelchResult {
        t,
        df,
        p: (2.0 * dist.sf(t.abs())).min(1.0),
    })
}

/// Average ranks (1-based) of the pooled sample, ties getting their mean rank, and the tie
/// term Σ(t³ − t).
fn ranks(pooled: &[f64]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..pooled.len()).collect();
    idx.sort_by(|&i, &j| pooled[i].total_cmp(&pooled[j]));
    let mut r = vec![0.0; pooled.len()];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && pooled[idx[j + 1]] == pooled[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    (r, tie_term)
}

/// Mann–Whitney U, two-sided (`scipy.stats.mannwhitneyu(a, b, method="asymptotic")`).
/// `None` when a sample is empty.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitneyResult> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let (r, tie_term) = ranks(&pooled);
    let r1: f64 = r[..a.len()].iter().sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let u = u1.max(u2);
    let n = n1 + n2;
    let mu = n1 * n2 / 2.0;
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let z = (u - mu - 0.5) / s;
    let p = if z.is_nan() {
        1.0
    } else {
        (2.0 * Normal::standard().sf(z)).clamp(0.0, 1.0)
    };
    Some(MannWhitneyResult { u: u1, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_samples() {
        assert!(welch(&[1.0, 1.0], &[1.0, 1.0]).is_none());
        assert!(levene(&[&[1.0, 1.0], &[1.0, 1.0]], LeveneCenter::Mean).is_none());
        assert_eq!(mann_whitney(&[1.0, 1.0], &[1.0, 1.0]).unwrap().p, 1.0);
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn tie_ranks() {
        let (r, t) = ranks(&[2.0, 1.0, 2.0, 3.0]);
        assert_eq!(r, vec![2.5, 1.0, 2.5, 4.0]);
        assert_eq!(t, 6.0);
    }
}
