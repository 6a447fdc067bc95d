//! How numbers are written in every output: scores, p-values, percentages.

/// A score with 4 decimals; "–" when missing.
pub(crate) fn score(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.4}"),
        Some(v) => format!("{v}"),
        None => "–".into(),
    }
}

/// A p-value: fixed for p ≥ 0.001, scientific below.
pub(crate) fn p_value(v: f64) -> String {
    if v >= 1e-3 {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    }
}

/// A share as a whole-number percentage (one decimal under 1 %, so 0.4 % is not "0 %").
pub(crate) fn percent(v: f64) -> String {
    let pc = v * 100.0;
    if pc > 0.0 && pc < 1.0 {
        format!("{pc:.1}%")
    } else {
        format!("{pc:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(p_value(0.5), "0.5000");
        assert_eq!(p_value(0.0001234), "1.23e-4");
        assert_eq!(percent(1.0 / 3.0), "33%");
        assert_eq!(percent(0.004), "0.4%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(score(None), "–");
    }
}
