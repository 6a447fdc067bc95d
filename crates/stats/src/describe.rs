//! Descriptive statistics with numpy's conventions (ddof 1, linear-interpolation percentiles).

/// Arithmetic mean; `None` for an empty sample.
pub fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    Some(x.iter().sum::<f64>() / x.len() as f64)
}

/// Sample variance with ddof 1 (`numpy.var(x, ddof=1)`); `None` below two values, where it is
/// undefined.
pub fn variance(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some(ss / (x.len() - 1) as f64)
}

/// Sample standard deviation with ddof 1; `None` below two values.
pub fn std_dev(x: &[f64]) -> Option<f64> {
    variance(x).map(f64::sqrt)
}

/// Percentile `q` in [0, 1] of an **ascending** sample, numpy's default `method="linear"`.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's _lerp: a + (b - a) * t, evaluated from the nearer end for t >= 0.5.
    Some(if frac >= 0.5 {
        b - (b - a) * (1.0 - frac)
    } else {
        a + (b - a) * frac
    })
}

/// Sorted copy of a sample (total order; callers exclude NaN first).
pub fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Median (numpy `median`).
pub fn median(x: &[f64]) -> Option<f64> {
    percentile_sorted(&sorted(x), 0.5)
}

/// Summary of one sample of scores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Describe {
    pub n: usize,
    pub mean: f64,
    /// `None` for a single value: the sample standard deviation is undefined.
    pub std: Option<f64>,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub iqr: f64,
    pub min: f64,
    pub max: f64,
}

/// Describes a non-empty sample of finite values; `None` when it is empty.
pub fn describe(x: &[f64]) -> Option<Describe> {
    let s = sorted(x);
    let q1 = percentile_sorted(&s, 0.25)?;
    let q3 = percentile_sorted(&s, 0.75)?;
    Some(Describe {
        n: s.len(),
        mean: mean(&s)?,
        std: std_dev(&s),
        median: percentile_sorted(&s, 0.5)?,
        q1,
        q3,
        iqr: q3 - q1,
        min: s[0],
        max: s[s.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_percentiles() {
        // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&s, 0.25), Some(1.75));
        assert_eq!(percentile_sorted(&s, 0.5), Some(2.5));
        assert_eq!(percentile_sorted(&s, 0.75), Some(3.25));
        assert_eq!(percentile_sorted(&[7.0], 0.3), Some(7.0));
    }

    #[test]
    fn single_value_has_no_std() {
        let d = describe(&[0.5]).unwrap();
        assert_eq!(d.std, None);
        assert_eq!(d.iqr, 0.0);
        assert!(describe(&[]).is_none());
    }

    #[test]
    fn ddof_one() {
        assert!((std_dev(&[1.0, 2.0, 3.0, 4.0]).unwrap() - 1.2909944487358056).abs() < 1e-15);
    }
}
