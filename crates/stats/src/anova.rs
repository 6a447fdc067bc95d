//! Variance share of the initialisation seed and the data-order seed (Dodge et al. 2020).
//!
//! A two-way random-effects ANOVA on a complete, balanced init_seed × data_seed grid: variance
//! components from the expected mean squares, negative estimates clipped to 0, reported as
//! shares of their sum. With one run per cell the interaction is confounded with the residual.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hypothesis::{is_constant, Degenerate, DegenerateKind};

/// Variance components of a crossed init × data seed design.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeedVariance {
    pub init_levels: usize,
    pub data_levels: usize,
    /// Runs per (init, data) cell.
    pub replicates: usize,
    pub var_init: f64,
    pub var_data: f64,
    /// Interaction (0 with one run per cell, where it cannot be separated from the residual).
    pub var_interaction: f64,
    pub var_residual: f64,
    pub share_init: f64,
    pub share_data: f64,
    /// Interaction plus residual.
    pub share_residual: f64,
}

/// A complete, balanced init × data seed grid: `r` runs in every cell.
struct Grid {
    cells: BTreeMap<(u64, u64), Vec<f64>>,
    inits: Vec<u64>,
    datas: Vec<u64>,
    r: usize,
}

/// The runs as a grid, or why they do not form one that the decomposition can use.
fn balanced_grid(runs: &[(u64, u64, f64)]) -> Result<Grid, Degenerate> {
    let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    for &(i, d, s) in runs {
        cells.entry((i, d)).or_default().push(s);
    }
    let inits: Vec<u64> = {
        let mut v: Vec<u64> = cells.keys().map(|k| k.0).collect();
        v.dedup();
        v
    };
    let datas: Vec<u64> = {
        let mut v: Vec<u64> = cells.keys().map(|k| k.1).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (a, b) = (inits.len(), datas.len());
    if a < 2 || b < 2 {
        return Err(Degenerate::new(
            DegenerateKind::TooFewRuns,
            format!("needs at least 2 init seeds × 2 data seeds (has {a} × {b})"),
        ));
    }
    if cells.len() != a * b {
        return Err(Degenerate::new(
            DegenerateKind::Design,
            format!(
                "init × data seed grid is incomplete ({} of {} cells)",
                cells.len(),
                a * b
            ),
        ));
    }
    let r = cells.values().next().map(Vec::len).unwrap_or(0);
    if cells.values().any(|c| c.len() != r) {
        return Err(Degenerate::new(
            DegenerateKind::Design,
            "unbalanced: cells hold different numbers of runs",
        ));
    }
    let scores: Vec<f64> = runs.iter().map(|r| r.2).collect();
    if is_constant(&scores) {
        return Err(Degenerate::new(
            DegenerateKind::ConstantGroups,
            "every run has the same score: no variance to share",
        ));
    }
    Ok(Grid {
        cells,
        inits,
        datas,
        r,
    })
}

/// The decomposition of `(init_seed, data_seed, score)` runs.
///
/// Degenerate: fewer than 2 × 2 seeds, an incomplete or unbalanced grid, or every score equal
/// (then every component is 0, or rounding noise of ~1e-34 that would be printed as a share).
pub fn seed_variance(runs: &[(u64, u64, f64)]) -> Result<SeedVariance, Degenerate> {
    let Grid {
        cells,
        inits,
        datas,
        r,
    } = balanced_grid(runs)?;
    let (a, b) = (inits.len(), datas.len());
    let cell_mean = |i: u64, d: u64| {
        let c = &cells[&(i, d)];
        c.iter().sum::<f64>() / c.len() as f64
    };
    let (af, bf, rf) = (a as f64, b as f64, r as f64);
    let grand = cells.values().flatten().sum::<f64>() / (af * bf * rf);
    let mean_i: Vec<f64> = inits
        .iter()
        .map(|&i| datas.iter().map(|&d| cell_mean(i, d)).sum::<f64>() / bf)
        .collect();
    let mean_d: Vec<f64> = datas
        .iter()
        .map(|&d| inits.iter().map(|&i| cell_mean(i, d)).sum::<f64>() / af)
        .collect();
    let ss_a = bf * rf * mean_i.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ss_b = af * rf * mean_d.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let mut ss_ab = 0.0;
    let mut ss_e = 0.0;
    for (x, &i) in inits.iter().enumerate() {
        for (y, &d) in datas.iter().enumerate() {
            let m = cell_mean(i, d);
            ss_ab += rf * (m - mean_i[x] - mean_d[y] + grand).powi(2);
            ss_e += cells[&(i, d)].iter().map(|v| (v - m).powi(2)).sum::<f64>();
        }
    }
    let ms_a = ss_a / (af - 1.0);
    let ms_b = ss_b / (bf - 1.0);
    let ms_ab = ss_ab / ((af - 1.0) * (bf - 1.0));
    let (var_interaction, var_residual) = if r > 1 {
        let ms_e = ss_e / (af * bf * (rf - 1.0));
        (((ms_ab - ms_e) / rf).max(0.0), ms_e)
    } else {
        (0.0, ms_ab)
    };
    let var_init = ((ms_a - ms_ab) / (bf * rf)).max(0.0);
    let var_data = ((ms_b - ms_ab) / (af * rf)).max(0.0);
    let total = var_init + var_data + var_interaction + var_residual;
    let share = |v: f64| if total > 0.0 { v / total } else { 0.0 };
    Ok(SeedVariance {
        init_levels: a,
        data_levels: b,
        replicates: r,
        var_init,
        var_data,
        var_interaction,
        var_residual,
        share_init: share(var_init),
        share_data: share(var_data),
        share_residual: share(var_interaction + var_residual),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_init_effect() {
        let runs: Vec<(u64, u64, f64)> = (0..3)
            .flat_map(|i| (0..4).map(move |d| (i, d, i as f64)))
            .collect();
        let v = seed_variance(&runs).unwrap();
        assert!((v.share_init - 1.0).abs() < 1e-12);
        assert_eq!(v.share_data, 0.0);
    }

    #[test]
    fn incomplete_grid_is_explained() {
        let e = seed_variance(&[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 2.0)]).unwrap_err();
        assert!(e.reason.contains("incomplete"), "{e}");
        assert!(seed_variance(&[(0, 0, 1.0)]).is_err());
    }
}
