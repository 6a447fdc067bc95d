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

/// Short names for sweep group labels, as the box plot's ticks and the findings print them.
///
/// Sweep group labels (`optimizer.bias_correction=false,epochs=3,learning_rate=1e-4`) are
/// long, and most of their `key=value` parts are shared by every group. Those shared parts say
/// nothing about the difference, so they are dropped, and a dotted key keeps only its last part
/// (`bias_correction=false, epochs=3`). Returns the short labels and the dropped parts, or `None`
/// (use the full labels) when there is nothing to shorten: one label, a label that is not all
/// `key=value` parts, or short labels that would be empty or no longer distinct.
pub(crate) fn short_labels(labels: &[&str]) -> Option<ShortLabels> {
    let parts: Vec<Vec<&str>> = labels
        .iter()
        .map(|l| l.split(',').map(str::trim).collect())
        .collect();
    if labels.len() < 2 || !parts.iter().flatten().all(|p| p.contains('=')) {
        return None;
    }
    let everywhere = |p: &&str| parts.iter().all(|other| other.contains(p));
    let short: Vec<String> = parts
        .iter()
        .map(|ps| {
            ps.iter()
                .filter(|p| !everywhere(p))
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => format!("{}={v}", k.rsplit('.').next().unwrap_or(k)),
                    None => p.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let mut distinct = short.clone();
    distinct.sort();
    distinct.dedup();
    if short.iter().any(String::is_empty) || distinct.len() < short.len() {
        return None;
    }
    let shared = parts[0]
        .iter()
        .filter(|p| everywhere(p))
        .map(|p| p.to_string())
        .collect();
    Some(ShortLabels { short, shared })
}

/// What [`short_labels`] returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShortLabels {
    /// One per input label, in order.
    pub short: Vec<String>,
    /// The `key=value` parts every label had, as written.
    pub shared: Vec<String>,
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

    #[test]
    fn short_labels_drop_what_every_group_shares() {
        let s = short_labels(&[
            "optimizer.bias_correction=false,epochs=10,learning_rate=1e-4",
            "optimizer.bias_correction=true,epochs=3,learning_rate=1e-4",
        ])
        .unwrap();
        assert_eq!(
            s.short,
            [
                "bias_correction=false, epochs=10",
                "bias_correction=true, epochs=3"
            ]
        );
        assert_eq!(s.shared, ["learning_rate=1e-4"]);
    }

    #[test]
    fn short_labels_refuse_what_they_cannot_shorten_faithfully() {
        // Plain names, a single group, and parts that would collapse two groups into one name.
        assert_eq!(short_labels(&["devlin", "mosbach"]), None);
        assert_eq!(short_labels(&["task=RTE,seed=1"]), None);
        assert_eq!(short_labels(&["a.x=1,b=2", "c.x=1,b=2"]), None);
        // A label whose every part is shared would have no name left.
        assert_eq!(short_labels(&["b=2", "b=2,c=3"]), None);
    }
}
