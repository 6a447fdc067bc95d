//! Prints the table of docs/sequential.md: the probability of a significant result and the
//! expected seeds per group of sequential Fisher designs (a look every 5 seeds, at most 25)
//! against the fixed 25-seed design, at the failure rates of the shipped 2×2 (exploratory
//! seeds 0–9 of experiments/confirmatory-2x2.toml's pre-registration: 10, 2, 5 and 0 of 10
//! failed), raw and Jeffreys-shrunk. Exact (enumeration), no simulation.
//!
//! `cargo run -p stab-stats --example sequential_table`

use stab_stats::plan::power::fisher_power;
use stab_stats::plan::sequential::{design, fisher_operating, Spending};

fn main() {
    let cells = [
        ("bc=false,ep=3", 10usize),
        ("bc=true,ep=3", 2),
        ("bc=false,ep=10", 5),
        ("bc=true,ep=10", 0),
    ];
    let contrasts = [
        ("C1", 0usize, 3usize),
        ("C2", 0, 1),
        ("C3", 0, 2),
        ("C4", 2, 3),
    ];
    for (title, alpha) in [
        ("one contrast at α = 0.05", 0.05),
        ("four contrasts, α = 0.05/4 each (Bonferroni)", 0.0125),
    ] {
        println!("\n### {title}\n");
        println!("| contrast | failure rates | rates planned on | fixed 25: power | Pocock: P(significant) | Pocock: E[seeds/group] | O'Brien–Fleming: P(significant) | O'Brien–Fleming: E[seeds/group] |");
        println!("|---|---|---|---|---|---|---|---|");
        let poc = design(alpha, Spending::Pocock, 5, 25).unwrap();
        let obf = design(alpha, Spending::ObrienFleming, 5, 25).unwrap();
        for (name, i, j) in contrasts {
            let (ka, kb) = (cells[i].1, cells[j].1);
            for (label, pa, pb) in [
                ("raw", ka as f64 / 10.0, kb as f64 / 10.0),
                (
                    "Jeffreys",
                    (ka as f64 + 0.5) / 11.0,
                    (kb as f64 + 0.5) / 11.0,
                ),
            ] {
                let fixed = fisher_power(pa, pb, 25, 25, alpha);
                let p = fisher_operating(&poc, pa, pb);
                let o = fisher_operating(&obf, pa, pb);
                println!(
                    "| {name} `{}` vs `{}` | {ka}/10 vs {kb}/10 | {label}: {pa:.3} vs {pb:.3} | {fixed:.3} | {:.3} | {:.1} | {:.3} | {:.1} |",
                    cells[i].0, cells[j].0, p.reject, p.expected_seeds, o.reject, o.expected_seeds
                );
            }
        }
        println!("\nUnder no difference (size; the fixed design's Fisher test is also below α, being discrete):\n");
        println!("| common failure rate | fixed 25 | Pocock | O'Brien–Fleming |");
        println!("|---|---|---|---|");
        for p in [0.1, 0.3, 0.5] {
            println!(
                "| {p} | {:.4} | {:.4} | {:.4} |",
                fisher_power(p, p, 25, 25, alpha),
                fisher_operating(&poc, p, p).reject,
                fisher_operating(&obf, p, p).reject
            );
        }
    }
}
