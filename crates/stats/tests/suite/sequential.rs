//! Group-sequential designs hold their level, checked by simulation (synthetic outcomes, no
//! training) and, for Fisher's test, by exact enumeration; and they stop where the
//! boundaries say.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stab_stats::plan::sequential::{
    design, fisher_operating, simulate, LookData, SequentialReport, SequentialTest, Spending,
};
use statrs::distribution::{ContinuousCDF, Normal};

/// A standard normal draw (inverse CDF of a uniform; no extra crate).
fn normal<R: Rng>(rng: &mut R) -> f64 {
    Normal::standard().inverse_cdf(rng.gen_range(1e-12..1.0 - 1e-12))
}

/// Monte-Carlo bound: the rejection rate may exceed α by at most three standard errors.
fn mc_bound(alpha: f64, studies: usize) -> f64 {
    alpha + 3.0 * (alpha * (1.0 - alpha) / studies as f64).sqrt()
}

#[test]
fn welch_sequential_designs_hold_alpha_under_no_difference_by_simulation() {
    let studies = 4000;
    for spending in [Spending::Pocock, Spending::ObrienFleming] {
        let d = design(0.05, spending, 5, 25).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let draw = |r: &mut ChaCha8Rng| (false, 0.6 + 0.02 * normal(r));
        let o = simulate(&d, SequentialTest::Welch, studies, &mut rng, &draw, &draw);
        assert!(
            o.reject <= mc_bound(0.05, studies),
            "{spending:?}: {} of studies significant",
            o.reject
        );
        // Not vacuous: the design does spend its α (a never-rejecting rule would pass too).
        assert!(o.reject > 0.02, "{spending:?}: {}", o.reject);
    }
}

#[test]
fn fisher_sequential_designs_hold_alpha_under_no_difference_by_simulation() {
    let studies = 4000;
    for spending in [Spending::Pocock, Spending::ObrienFleming] {
        let d = design(0.05, spending, 5, 25).unwrap();
        for p in [0.2, 0.5] {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let draw = move |r: &mut ChaCha8Rng| (r.gen_bool(p), 0.0);
            let o = simulate(&d, SequentialTest::Fisher, studies, &mut rng, &draw, &draw);
            assert!(
                o.reject <= mc_bound(0.05, studies),
                "{spending:?} at p = {p}: {}",
                o.reject
            );
            // The simulation agrees with the exact enumeration.
            let exact = fisher_operating(&d, p, p).reject;
            let se = (exact * (1.0 - exact) / studies as f64).sqrt();
            assert!(
                (o.reject - exact).abs() <= 4.0 * se + 1e-3,
                "{} vs {exact}",
                o.reject
            );
        }
    }
}

#[test]
fn a_large_effect_stops_early_and_saves_seeds() {
    let d = design(0.05, Spending::Pocock, 5, 25).unwrap();
    let o = fisher_operating(&d, 0.9, 0.1);
    assert!(o.reject > 0.99, "{o:?}");
    assert!(o.expected_seeds < 10.0, "{o:?}");
}

#[test]
fn a_study_report_stops_when_every_contrast_has_crossed() {
    let contrasts = [("a".to_string(), "b".to_string())];
    let mut r = SequentialReport::new(
        SequentialTest::Fisher,
        0.05,
        Spending::ObrienFleming,
        5,
        25,
        &contrasts,
    )
    .unwrap();
    let data = |fa: usize, n: usize| -> std::collections::BTreeMap<String, LookData> {
        [
            (
                "a".to_string(),
                LookData {
                    failed: fa,
                    judged: n,
                    scores: vec![],
                },
            ),
            (
                "b".to_string(),
                LookData {
                    failed: 0,
                    judged: n,
                    scores: vec![],
                },
            ),
        ]
        .into_iter()
        .collect()
    };
    assert!(
        !r.analyse(0, &data(5, 5)),
        "O'Brien–Fleming does not stop at 5/5 vs 0/5"
    );
    assert!(r.analyse(1, &data(10, 10)), "but at 10/10 vs 0/10");
    assert_eq!(r.contrasts[0].crossed_at, Some(2));
    let md = r.markdown();
    assert!(
        md.contains("stopped at look 2 of 5") && md.contains("biased"),
        "{md}"
    );
}
