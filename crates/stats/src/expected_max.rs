//! Expected maximum validation score after n runs (Dodge et al. 2019, "Show Your Work").

use serde::{Deserialize, Serialize};

use crate::describe::sorted;

/// One point of the expected-maximum curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpectedMax {
    /// Number of runs n (1..=N).
    pub n: usize,
    /// Dodge et al. 2019: sampling n scores **with** replacement from the N observed.
    pub with_replacement: f64,
    /// Standard deviation of the maximum under that distribution, sqrt(Σ pᵢ (vᵢ − E)²), as in
    /// allentune's `expected_max`; the plotted band is E ± this.
    pub with_replacement_sd: f64,
    /// Unbiased estimator (Tang et al. 2020): n of the N scores **without** replacement.
    pub without_replacement: f64,
    /// sqrt(Σ pⱼ (vⱼ − E)²) under the without-replacement distribution of the maximum.
    pub without_replacement_sd: f64,
}

/// The curve for n = 1..=N; empty for an empty sample. O(N²): for large N use
/// [`expected_max_at`] with [`report_ns`].
pub fn expected_max_curve(scores: &[f64]) -> Vec<ExpectedMax> {
    let ns: Vec<usize> = (1..=scores.len()).collect();
    expected_max_at(scores, &ns)
}

/// The n at which a report evaluates the curve: every n up to 100, then about 100
/// log-spaced values up to N, and N itself. At most ~200 points, so a group of 25,000 runs
/// costs O(200·N), not O(N²) (21 s per group before).
pub fn report_ns(big_n: usize) -> Vec<usize> {
    let mut ns: Vec<usize> = (1..=big_n.min(100)).collect();
    if big_n > 100 {
        let steps = 100;
        let ratio = (big_n as f64 / 100.0).powf(1.0 / steps as f64);
        let mut v = 100.0;
        for _ in 0..steps {
            v *= ratio;
            let n = (v.round() as usize).min(big_n);
            if n > *ns.last().unwrap_or(&0) {
                ns.push(n);
            }
        }
        if ns.last() != Some(&big_n) {
            ns.push(big_n);
        }
    }
    ns
}

/// The curve at the given n (each in 1..=N; others are skipped), O(N) per point.
///
/// With replacement, pᵢ = (i/N)ⁿ − ((i−1)/N)ⁿ. Without replacement pⱼ = C(j−1, n−1)/C(N, n),
/// computed by the ratio recurrence p_N = n/N, p_{j−1} = p_j·(j−n)/(j−1): no binomial is ever
/// formed, so it neither overflows nor loses precision for large N.
pub fn expected_max_at(scores: &[f64], ns: &[usize]) -> Vec<ExpectedMax> {
    let v = sorted(scores);
    let big_n = v.len();
    let nf = big_n as f64;
    let mut out = Vec::with_capacity(ns.len());
    let mut p = vec![0.0; big_n];
    for &n in ns.iter().filter(|&&n| n >= 1 && n <= big_n) {
        // With replacement.
        let mut prev = 0.0;
        for (i, pi) in p.iter_mut().enumerate() {
            let cur = ((i + 1) as f64 / nf).powi(n as i32);
            *pi = cur - prev;
            prev = cur;
        }
        let (e1, sd1) = moments(&v, &p);
        // Without replacement (index j is 1-based in the formula).
        p.iter_mut().for_each(|x| *x = 0.0);
        let mut pj = n as f64 / nf;
        for j in (n..=big_n).rev() {
            p[j - 1] = pj;
            if j > 1 {
                pj *= (j - n) as f64 / (j - 1) as f64;
            }
        }
        let (e2, sd2) = moments(&v, &p);
        out.push(ExpectedMax {
            n,
            with_replacement: e1,
            with_replacement_sd: sd1,
            without_replacement: e2,
            without_replacement_sd: sd2,
        });
    }
    out
}

fn moments(v: &[f64], p: &[f64]) -> (f64, f64) {
    let e: f64 = v.iter().zip(p).map(|(v, p)| v * p).sum();
    let var: f64 = v.iter().zip(p).map(|(v, p)| p * (v - e) * (v - e)).sum();
    (e, var.max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let c = expected_max_curve(&[3.0, 1.0, 2.0]);
        assert_eq!(c.len(), 3);
        assert!((c[0].with_replacement - 2.0).abs() < 1e-12);
        assert!((c[0].without_replacement - 2.0).abs() < 1e-12);
        // Without replacement, n = N always picks the maximum.
        assert!((c[2].without_replacement - 3.0).abs() < 1e-12);
        assert!(c[2].without_replacement_sd.abs() < 1e-9);
        // (2/3 choose) check: n = 2 unbiased = (1*1 + 2*2 + 3*... ) / 3 pairs = (2+3+3)/3
        assert!((c[1].without_replacement - 8.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn report_grid() {
        assert_eq!(report_ns(3), [1, 2, 3]);
        assert_eq!(report_ns(100).len(), 100);
        let ns = report_ns(25_000);
        assert!(ns.len() <= 201, "{}", ns.len());
        assert_eq!((ns[99], *ns.last().unwrap()), (100, 25_000));
        assert!(ns.windows(2).all(|w| w[0] < w[1]));
        let x: Vec<f64> = (0..300).map(|i| (i as f64 * 0.37).sin()).collect();
        let full = expected_max_curve(&x);
        for p in expected_max_at(&x, &report_ns(300)) {
            assert_eq!(p, full[p.n - 1]);
        }
    }

    #[test]
    fn large_n_is_finite() {
        let x: Vec<f64> = (0..3000).map(|i| (i as f64).sin()).collect();
        let c = expected_max_curve(&x);
        assert!(c.iter().all(|p| p.without_replacement.is_finite()));
        assert!((c[2999].without_replacement - 1.0).abs() < 1e-3);
    }
}
