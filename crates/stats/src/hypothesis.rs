//! Classical two-sample tests with SciPy's conventions, and the inputs on which they are
//! degenerate.
//!
//! Where SciPy returns a number that is an artifact of the input rather than evidence, these
//! functions return a [`Degenerate`] with the reason instead, and the report prints
//! "n/a: degenerate (…)" in place of a p-value. The rules, and where they differ from SciPy
//! 1.17 (`tests/golden/make_degenerate.py` records SciPy's answers):
//!
//! | input | SciPy | stab |
//! |---|---|---|
//! | Levene/Brown–Forsythe, 2 runs per group: \|x − centre\| is equal within each group, the within-group sum of squares is 0 (or rounding noise) | F = ∞, p = 0 (or F ≈ 1e29, p ≈ 1e-30) | degenerate: zero within-group spread |
//! | Levene, every group constant | F = nan, p = nan; or F = ∞, p = 0 from rounding (`[0.1]*3` vs `[0.2]*3`) | degenerate: constant groups |
//! | Levene, a group with 1 run | a number | degenerate: too few runs (one run has no spread) |
//! | Welch, both groups constant | t = ±∞, p = 0; nan if equal; t ≈ −4.6e15, p ≈ 1e-46 from rounding | degenerate: constant groups |
//! | Welch, a group with < 2 runs | nan | degenerate: too few runs |
//! | Mann–Whitney, every score tied | U = n₁n₂/2, p = 1 | degenerate: all tied |
//!
//! Mann–Whitney follows SciPy's default `method="auto"`: the exact null distribution of U
//! when the smaller sample has at most 8 runs (SciPy: *not both* larger than 8) and no score is
//! tied, the normal approximation with tie and continuity correction otherwise. Seed groups of
//! 3–8 runs are the common case in stability studies, and there the normal approximation is
//! off by a factor of up to ~2 in p.
//! | ASO (deepsig), both groups constant | ε_min = ε_W2 ∈ {0, ½, 1} with no bootstrap spread | degenerate: constant groups |
//!
//! Constancy is decided on the data (`min == max`), never on a computed variance: the mean of
//! `[0.1, 0.1, 0.1]` is not exactly 0.1 in floating point, and the resulting variance of ~1e-34
//! is what turns SciPy's answer into "p = 1e-46".

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

/// What kind of degenerate input a test was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DegenerateKind {
    /// A group has fewer runs than the test needs.
    TooFewRuns,
    /// The groups are constant: there is no variance to compare or to resample.
    ConstantGroups,
    /// Absolute deviations from the centre are equal within every group (Levene's F = ∞).
    ZeroWithinSpread,
    /// Every score is tied: ranks carry no information.
    AllTied,
    /// The design does not support the analysis (e.g. an incomplete seed grid).
    Design,
    /// Failure needs a majority baseline and none was given or recorded.
    NoBaseline,
}

impl DegenerateKind {
    /// A few words for narrow tables (the terminal).
    pub fn short(self) -> &'static str {
        match self {
            DegenerateKind::TooFewRuns => "too few runs",
            DegenerateKind::ConstantGroups => "constant groups",
            DegenerateKind::ZeroWithinSpread => "zero within-group spread",
            DegenerateKind::AllTied => "all scores tied",
            DegenerateKind::Design => "incomplete design",
            DegenerateKind::NoBaseline => "no baseline given",
        }
    }
}

/// Why a test gives no p-value: its input is degenerate, and any number it produced would be
/// an artifact (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Degenerate {
    pub kind: DegenerateKind,
    /// One plain-language sentence.
    pub reason: String,
}

impl Degenerate {
    pub fn new(kind: DegenerateKind, reason: impl Into<String>) -> Self {
        Degenerate {
            kind,
            reason: reason.into(),
        }
    }

    pub(crate) fn too_few_runs(smallest: usize, needed: usize) -> Self {
        let runs = if smallest == 1 { "run" } else { "runs" };
        Degenerate::new(
            DegenerateKind::TooFewRuns,
            format!("a group has {smallest} {runs}; the test needs {needed} per group"),
        )
    }

    /// The cell text: `n/a: degenerate (reason)`; a missing baseline is no degenerate input
    /// and reads `n/a: reason`.
    pub fn cell(&self) -> String {
        match self.kind {
            DegenerateKind::NoBaseline => format!("n/a: {}", self.reason),
            _ => format!("n/a: degenerate ({})", self.reason),
        }
    }

    /// The short cell text for the terminal.
    pub fn short_cell(&self) -> String {
        match self.kind {
            DegenerateKind::NoBaseline => format!("n/a: {}", self.kind.short()),
            _ => format!("n/a: degenerate ({})", self.kind.short()),
        }
    }
}

impl std::fmt::Display for Degenerate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A sample whose values are all equal (decided on the values, not on a rounded variance).
pub(crate) fn is_constant(x: &[f64]) -> bool {
    x.windows(2).all(|w| w[0] == w[1])
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
    /// Two-sided p: exact, or from the normal approximation (see [`MannWhitneyResult::exact`]).
    pub p: f64,
    /// Whether `p` is exact (SciPy `method="auto"`: a sample of at most 8 runs and no ties) or
    /// from the normal approximation with tie and continuity correction.
    #[serde(default)]
    pub exact: bool,
}

/// Levene's test for equal variances over `k >= 2` samples (`scipy.stats.levene`).
///
/// Degenerate (see the module docs): fewer than two samples, a sample with fewer than 2
/// values, every sample constant, or absolute deviations from the centre equal within every
/// sample (e.g. two values per sample), where F is infinite or rounding noise.
pub fn levene(samples: &[&[f64]], center: LeveneCenter) -> Result<TestResult, Degenerate> {
    let k = samples.len();
    if k < 2 {
        return Err(Degenerate::new(
            DegenerateKind::TooFewRuns,
            "the test needs at least 2 groups",
        ));
    }
    let smallest = samples.iter().map(|s| s.len()).min().unwrap_or(0);
    if smallest < 2 {
        // One run has no spread; SciPy still returns a number here.
        return Err(Degenerate::too_few_runs(smallest, 2));
    }
    if samples.iter().all(|s| is_constant(s)) {
        return Err(Degenerate::new(
            DegenerateKind::ConstantGroups,
            "every group is constant: no variance to compare",
        ));
    }
    let total: usize = samples.iter().map(|s| s.len()).sum();
    let z: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| {
            let c = match center {
                LeveneCenter::Mean => mean(s).unwrap_or(f64::NAN),
                LeveneCenter::Median => median(s).unwrap_or(f64::NAN),
            };
            s.iter().map(|v| (v - c).abs()).collect()
        })
        .collect();
    let zbar_i: Vec<f64> = z.iter().map(|zi| mean(zi).unwrap_or(f64::NAN)).collect();
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
    // Zero within-group spread up to rounding: |x − centre| of two values differs by an ulp
    // at most, a relative spread of ~1e-16. Real scores differ far more than 1e-10.
    let scale: f64 = z.iter().flatten().map(|v| v * v).sum();
    if den <= 1e-20 * scale {
        let max_n = samples.iter().map(|s| s.len()).max().unwrap_or(0);
        let why = if max_n <= 2 {
            "2 runs per group: |x − centre| is equal within each group, so F is infinite"
        } else {
            "|x − centre| is equal within every group, so F is infinite"
        };
        return Err(Degenerate::new(DegenerateKind::ZeroWithinSpread, why));
    }
    let w = (total - k) as f64 / (k - 1) as f64 * num / den;
    let f = FisherSnedecor::new((k - 1) as f64, (total - k) as f64)
        .map_err(|e| Degenerate::new(DegenerateKind::TooFewRuns, e.to_string()))?;
    Ok(TestResult {
        statistic: w,
        p: f.sf(w),
    })
}

/// Welch's t-test (`scipy.stats.ttest_ind(a, b, equal_var=False)`).
///
/// Degenerate: fewer than two values in either sample, or both samples constant (SciPy: t = ±∞
/// and p = 0, or a t of ~1e15 from rounding).
pub fn welch(a: &[f64], b: &[f64]) -> Result<WelchResult, Degenerate> {
    let smallest = a.len().min(b.len());
    if smallest < 2 {
        return Err(Degenerate::too_few_runs(smallest, 2));
    }
    if is_constant(a) && is_constant(b) {
        return Err(Degenerate::new(
            DegenerateKind::ConstantGroups,
            "both groups are constant: zero standard error, t is infinite",
        ));
    }
    let (va, vb) = (variance(a).unwrap_or(0.0), variance(b).unwrap_or(0.0));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se = (sa + sb).sqrt();
    let t = (mean(a).unwrap_or(f64::NAN) - mean(b).unwrap_or(f64::NAN)) / se;
    let df = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| Degenerate::new(DegenerateKind::ConstantGroups, e.to_string()))?;
    Ok(WelchResult {
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

/// Whether SciPy's `method="auto"` picks the exact distribution (`_mwu_choose_method`).
fn mwu_exact_applies(n1: usize, n2: usize, tie_term: f64) -> bool {
    n1.min(n2) <= 8 && tie_term == 0.0
}

/// Number of arrangements of the pooled ranks giving U = 0, 1, …, `kmax` for samples of sizes
/// `m` and `n`: the coefficients of the Gaussian binomial [m+n choose m]_q, built as
/// [n+k choose k]_q = [n+k−1 choose k−1]_q · (1 − q^(n+k)) / (1 − q^k) for k = 1..=m, truncated
/// at degree `kmax`. Dividing first keeps every intermediate non-negative and the arithmetic
/// exact; `None` if a count overflows u128 (then the caller falls back to the approximation).
fn mwu_counts(m: usize, n: usize, kmax: usize) -> Option<Vec<u128>> {
    let mut c = vec![0u128; kmax + 1];
    c[0] = 1;
    for k in 1..=m {
        // Divide by (1 − q^k): a prefix sum with stride k.
        for u in k..=kmax {
            c[u] = c[u].checked_add(c[u - k])?;
        }
        // Multiply by (1 − q^(n+k)), from the top so that c[u − s] is still the old value.
        let s = n + k;
        for u in (s..=kmax).rev() {
            c[u] -= c[u - s];
        }
    }
    Some(c)
}

/// Exact two-sided p of U = max(U₁, U₂) (SciPy's `_MWU.sf` doubled): by symmetry,
/// P(U' ≥ U) = P(U' ≤ mn − U).
fn mwu_exact_p(u_max: f64, m: usize, n: usize) -> Option<f64> {
    let (m, n) = (m.min(n), m.max(n));
    let kc = (m * n) as f64 - u_max;
    if kc < 0.0 {
        return None;
    }
    let kc = kc.round() as usize;
    let counts = mwu_counts(m, n, kc)?;
    let below: u128 = counts.iter().try_fold(0u128, |a, &c| a.checked_add(c))?;
    // C(m+n, m), exactly.
    let mut total: u128 = 1;
    for i in 1..=m as u128 {
        total = total.checked_mul(n as u128 + i)? / i;
    }
    Some((2.0 * below as f64 / total as f64).min(1.0))
}

/// Mann–Whitney U, two-sided (`scipy.stats.mannwhitneyu(a, b)`, SciPy's default
/// `method="auto"`: exact when a sample has at most 8 runs and no score is tied, else the
/// normal approximation with tie and continuity correction).
///
/// Degenerate: an empty sample, or every score tied (SciPy: p = 1; the ranks say nothing).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Result<MannWhitneyResult, Degenerate> {
    let smallest = a.len().min(b.len());
    if smallest == 0 {
        return Err(Degenerate::too_few_runs(0, 1));
    }
    if is_constant(a) && is_constant(b) && a[0] == b[0] {
        return Err(Degenerate::new(
            DegenerateKind::AllTied,
            "every score in both groups is the same",
        ));
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let (r, tie_term) = ranks(&pooled);
    let r1: f64 = r[..a.len()].iter().sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let u = u1.max(u2);
    if mwu_exact_applies(a.len(), b.len(), tie_term) {
        if let Some(p) = mwu_exact_p(u, a.len(), b.len()) {
            return Ok(MannWhitneyResult {
                u: u1,
                p,
                exact: true,
            });
        }
    }
    let n = n1 + n2;
    let mu = n1 * n2 / 2.0;
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let z = (u - mu - 0.5) / s;
    let p = (2.0 * Normal::standard().sf(z)).clamp(0.0, 1.0);
    Ok(MannWhitneyResult {
        u: u1,
        p,
        exact: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_samples() {
        let kind = |r: Result<TestResult, Degenerate>| r.unwrap_err().kind;
        assert_eq!(
            welch(&[1.0, 1.0], &[1.0, 1.0]).unwrap_err().kind,
            DegenerateKind::ConstantGroups
        );
        assert_eq!(
            kind(levene(&[&[1.0, 1.0], &[1.0, 1.0]], LeveneCenter::Mean)),
            DegenerateKind::ConstantGroups
        );
        assert_eq!(
            mann_whitney(&[1.0, 1.0], &[1.0, 1.0]).unwrap_err().kind,
            DegenerateKind::AllTied
        );
        assert_eq!(
            welch(&[1.0], &[1.0, 2.0]).unwrap_err().kind,
            DegenerateKind::TooFewRuns
        );
        assert_eq!(
            kind(levene(&[&[1.0], &[1.0, 2.0]], LeveneCenter::Median)),
            DegenerateKind::TooFewRuns
        );
    }

    #[test]
    fn cell_text() {
        let d = welch(&[0.5, 0.5], &[0.6, 0.6]).unwrap_err();
        assert_eq!(
            d.cell(),
            "n/a: degenerate (both groups are constant: zero standard error, t is infinite)"
        );
        assert_eq!(d.short_cell(), "n/a: degenerate (constant groups)");
    }

    /// The exact null distribution: counts sum to C(m+n, m) and are symmetric.
    #[test]
    fn exact_counts_are_the_gaussian_binomial() {
        let c = mwu_counts(3, 4, 12).unwrap();
        assert_eq!(c.iter().sum::<u128>(), 35);
        assert_eq!(c, [1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1]);
        // Fully separated 3 vs 3: p = 2 / C(6, 3).
        let r = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!(r.exact && (r.p - 0.1).abs() < 1e-15, "{r:?}");
        // Ties: the approximation, as SciPy.
        assert!(
            !mann_whitney(&[1.0, 2.0, 2.0], &[2.0, 5.0, 6.0])
                .unwrap()
                .exact
        );
    }

    #[test]
    fn tie_ranks() {
        let (r, t) = ranks(&[2.0, 1.0, 2.0, 3.0]);
        assert_eq!(r, vec![2.5, 1.0, 2.5, 4.0]);
        assert_eq!(t, 6.0);
    }
}
