//! Metric functions, checked to 1e-9 against scikit-learn, SciPy and seqeval
//! (`tests/golden/make_golden.py`).
//!
//! Undefined values are 0, never NaN: Matthews correlation when either side is constant (as
//! scikit-learn), Pearson/Spearman when either side is constant (SciPy returns NaN), F1 /
//! precision / recall when their denominator is 0 (scikit-learn's and seqeval's
//! `zero_division` default). Callers check that lengths match and inputs are non-empty; these
//! functions panic on different lengths.

/// Fraction of positions where `gold == pred`.
pub fn accuracy<T: PartialEq>(gold: &[T], pred: &[T]) -> f64 {
    assert_eq!(gold.len(), pred.len(), "accuracy: length mismatch");
    if gold.is_empty() {
        return 0.0;
    }
    let hits = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    hits as f64 / gold.len() as f64
}

/// Binary F1 of class `positive` (scikit-learn `f1_score(average="binary", pos_label=positive)`);
/// every other class counts as negative.
pub fn f1(gold: &[usize], pred: &[usize], positive: usize) -> f64 {
    assert_eq!(gold.len(), pred.len(), "f1: length mismatch");
    let (mut tp, mut fp, mut fne) = (0usize, 0usize, 0usize);
    for (&g, &p) in gold.iter().zip(pred) {
        match (g == positive, p == positive) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fne += 1,
            (false, false) => {}
        }
    }
    let denom = 2 * tp + fp + fne;
    if denom == 0 {
        0.0
    } else {
        (2 * tp) as f64 / denom as f64
    }
}

/// Matthews correlation coefficient, multiclass form (Gorodkin 2004), as scikit-learn's
/// `matthews_corrcoef`; 0 when either gold or predictions are constant.
pub fn matthews(gold: &[usize], pred: &[usize]) -> f64 {
    assert_eq!(gold.len(), pred.len(), "matthews: length mismatch");
    let k = gold.iter().chain(pred).copied().max().map_or(0, |m| m + 1);
    let mut t_sum = vec![0i128; k];
    let mut p_sum = vec![0i128; k];
    let mut correct = 0i128;
    for (&g, &p) in gold.iter().zip(pred) {
        t_sum[g] += 1;
        p_sum[p] += 1;
        correct += i128::from(g == p);
    }
    let n = gold.len() as i128;
    let dot = |a: &[i128], b: &[i128]| a.iter().zip(b).map(|(x, y)| x * y).sum::<i128>();
    let cov_ytyp = correct * n - dot(&t_sum, &p_sum);
    let cov_ypyp = n * n - dot(&p_sum, &p_sum);
    let cov_ytyt = n * n - dot(&t_sum, &t_sum);
    if cov_ypyp == 0 || cov_ytyt == 0 {
        return 0.0;
    }
    cov_ytyp as f64 / ((cov_ytyt as f64).sqrt() * (cov_ypyp as f64).sqrt())
}

/// Pearson correlation (SciPy `pearsonr`); 0 when either side is constant or shorter than 2.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: length mismatch");
    let n = x.len();
    if n < 2 {
        return 0.0;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let xm: Vec<f64> = x.iter().map(|v| v - mx).collect();
    let ym: Vec<f64> = y.iter().map(|v| v - my).collect();
    let constant = |v: &[f64]| v.iter().all(|&a| a == v[0]);
    if constant(x) || constant(y) {
        return 0.0;
    }
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let (nx, ny) = (norm(&xm), norm(&ym));
    if nx == 0.0 || ny == 0.0 {
        return 0.0;
    }
    let r: f64 = xm.iter().zip(&ym).map(|(a, b)| (a / nx) * (b / ny)).sum();
    r.clamp(-1.0, 1.0)
}

/// Ranks starting at 1, ties getting the average of their ranks (SciPy `rankdata`, "average").
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        // positions i..j (0-based) hold ranks i+1..=j; their mean is (i + 1 + j) / 2
        let r = (i + 1 + j) as f64 / 2.0;
        for &o in &order[i..j] {
            ranks[o] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman rank correlation (SciPy `spearmanr`): Pearson of average ranks; 0 when constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "spearman: length mismatch");
    pearson(&average_ranks(x), &average_ranks(y))
}

/// A typed span `(type, first token, last token)`, both ends inclusive.
pub type Span = (String, usize, usize);

/// The spans of one tag sequence with seqeval's default (non-strict) semantics:
/// `get_entities` of seqeval 1.2, prefix tags `B-`, `I-`, `E-`, `S-`, `O`. A span also starts at
/// an `I-` after `O` or at any type change, and ends at a type change.
pub fn spans<S: AsRef<str>>(tags: &[S]) -> Vec<Span> {
    // (tag char, type) of each position, with a final "O" sentinel.
    fn split(chunk: &str) -> (char, &str) {
        let mut chars = chunk.chars();
        let tag = chars.next().unwrap_or('O');
        let rest = chars.as_str();
        let ty = rest.split_once('-').map_or(rest, |(_, t)| t);
        (tag, if ty.is_empty() { "_" } else { ty })
    }
    let mut out = Vec::new();
    let (mut prev_tag, mut prev_type) = ('O', "");
    let mut begin = 0;
    let sentinel = std::iter::once(('O', "_"));
    for (i, (tag, ty)) in tags
        .iter()
        .map(|t| split(t.as_ref()))
        .chain(sentinel)
        .enumerate()
    {
        if end_of_chunk(prev_tag, tag, prev_type, ty) {
            out.push((prev_type.to_string(), begin, i - 1));
        }
        if start_of_chunk(prev_tag, tag, prev_type, ty) {
            begin = i;
        }
        prev_tag = tag;
        prev_type = ty;
    }
    out
}

fn end_of_chunk(prev: char, tag: char, prev_type: &str, ty: &str) -> bool {
    matches!(prev, 'E' | 'S')
        || (matches!(prev, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev != 'O' && prev != '.' && prev_type != ty)
}

fn start_of_chunk(prev: char, tag: char, prev_type: &str, ty: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_type != ty)
}

/// Micro-averaged span scores over sentences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpanScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_positives: usize,
    pub predicted: usize,
    pub gold: usize,
}

/// seqeval's default-mode `precision_score`, `recall_score` and `f1_score` (micro average):
/// a predicted span counts when its type and both boundaries match a gold span of the same
/// sentence.
pub fn span_scores<S: AsRef<str>>(gold: &[Vec<S>], pred: &[Vec<S>]) -> SpanScores {
    assert_eq!(
        gold.len(),
        pred.len(),
        "span_scores: sentence count mismatch"
    );
    // Like seqeval, join the sentences with an "O" between them and take spans of the whole
    // sequence; a span therefore never crosses a sentence boundary.
    fn flatten<S: AsRef<str>>(sents: &[Vec<S>]) -> Vec<&str> {
        let mut out = Vec::with_capacity(sents.iter().map(|s| s.len() + 1).sum());
        for s in sents {
            out.extend(s.iter().map(|t| t.as_ref()));
            out.push("O");
        }
        out
    }
    let gs: std::collections::HashSet<Span> = spans(&flatten(gold)).into_iter().collect();
    let ps: std::collections::HashSet<Span> = spans(&flatten(pred)).into_iter().collect();
    let (ng, np) = (gs.len(), ps.len());
    let tp = ps.intersection(&gs).count();
    let div = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = div(tp, np);
    let recall = div(tp, ng);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    SpanScores {
        precision,
        recall,
        f1,
        true_positives: tp,
        predicted: np,
        gold: ng,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_seqeval() {
        assert_eq!(
            spans(&["B-PER", "I-PER", "O", "B-LOC"]),
            vec![("PER".into(), 0, 1), ("LOC".into(), 3, 3)]
        );
        // I- after O starts a span; a type change splits spans.
        assert_eq!(
            spans(&["I-PER", "I-LOC", "B-LOC"]),
            vec![
                ("PER".into(), 0, 0),
                ("LOC".into(), 1, 1),
                ("LOC".into(), 2, 2)
            ]
        );
        assert!(spans::<&str>(&[]).is_empty());
    }

    #[test]
    fn undefined_is_zero() {
        assert_eq!(matthews(&[1, 1, 1], &[1, 0, 1]), 0.0);
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 2.0]), 0.0);
        assert_eq!(spearman(&[1.0, 2.0], &[3.0, 3.0]), 0.0);
        assert_eq!(f1(&[0, 0], &[0, 0], 1), 0.0);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }
}
