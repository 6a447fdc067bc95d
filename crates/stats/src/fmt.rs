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
/// (`bias_correction=false, epochs=3`). Returns the kept parts and the dropped ones, or `None`
/// (use the full labels) when there is nothing to shorten: one label, a label that is not all
/// `key=value` parts, or short labels that would be empty or no longer distinct.
pub(crate) fn short_labels(labels: &[&str]) -> Option<ShortLabels> {
    let parts: Vec<Vec<(&str, &str)>> = labels
        .iter()
        .map(|l| l.split(',').map(|p| p.trim().split_once('=')).collect())
        .collect::<Option<_>>()?;
    if labels.len() < 2 {
        return None;
    }
    let everywhere = |p: &(&str, &str)| parts.iter().all(|other| other.contains(p));
    let kept: Vec<Vec<(String, String)>> = parts
        .iter()
        .map(|ps| {
            ps.iter()
                .filter(|p| !everywhere(p))
                .map(|&(k, v)| (k.rsplit('.').next().unwrap_or(k).to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let short = ShortLabels {
        parts: kept,
        shared: parts[0]
            .iter()
            .filter(|p| everywhere(p))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    };
    let mut distinct = short.short();
    distinct.sort();
    distinct.dedup();
    if short.parts.iter().any(Vec::is_empty) || distinct.len() < labels.len() {
        return None;
    }
    Some(short)
}

/// What [`short_labels`] returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShortLabels {
    /// Per input label, in order: the `(key, value)` parts kept, keys without their dotted
    /// prefix.
    pub parts: Vec<Vec<(String, String)>>,
    /// The `key=value` parts every label had, as written.
    pub shared: Vec<String>,
}

impl ShortLabels {
    /// One short label per input label: `bias_correction=false, epochs=3`.
    pub fn short(&self) -> Vec<String> {
        self.parts
            .iter()
            .map(|ps| {
                let kv: Vec<String> = ps.iter().map(|(k, v)| format!("{k}={v}")).collect();
                kv.join(", ")
            })
            .collect()
    }

    /// When every label kept the same keys in the same order: those keys and each label's
    /// values, both joined by ", " (`bias_correction, epochs` and `false, 3`).
    pub fn same_keys(&self) -> Option<(String, Vec<String>)> {
        let keys = |ps: &Vec<(String, String)>| -> Vec<String> {
            ps.iter().map(|(k, _)| k.clone()).collect()
        };
        let first = keys(self.parts.first()?);
        if self.parts.iter().any(|ps| keys(ps) != first) {
            return None;
        }
        let values = self
            .parts
            .iter()
            .map(|ps| {
                let v: Vec<&str> = ps.iter().map(|(_, v)| v.as_str()).collect();
                v.join(", ")
            })
            .collect();
        Some((first.join(", "), values))
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

    #[test]
    fn short_labels_drop_what_every_group_shares() {
        let s = short_labels(&[
            "optimizer.bias_correction=false,epochs=10,learning_rate=1e-4",
            "optimizer.bias_correction=true,epochs=3,learning_rate=1e-4",
        ])
        .unwrap();
        assert_eq!(
            s.short(),
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
