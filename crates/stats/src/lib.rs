//! Statistics, plots and reports for fine-tuning-stability sweeps — no LibTorch.
//!
//! `stab report DIR` and `stab compare scores.csv` are thin wrappers around three calls:
//! [`load_results`] (or [`load_scores_csv`]) → [`write_report`] → [`terminal_table`].
//!
//! Design decisions:
//! - **Nothing is dropped silently.** A corrupt `record.json`, an unparsable CSV row, a NaN
//!   score, a diverged or errored run: each is counted per group or listed as an
//!   [`InputProblem`] and shown in every output. Diverged runs enter every statistic with the
//!   score of their predictions at divergence (in a stability study they are the signal) and
//!   are marked in tables and plots. Failed runs are the diverged ones (by definition) and those
//!   whose dev score *at the end of training* is at or below the majority baseline (Mosbach et
//!   al. 2021; Dodge et al. 2020). A sweep store is counted exactly as `stab status` counts it,
//!   and runs of different tasks, metrics or dev sets (a report half) are never pooled or
//!   compared.
//! - **Like with like.** Groups that select their checkpoints differently (the last one, the
//!   best on the dev set it is scored on, the best on a held-out half) are compared on their
//!   final scores unless `--score selected` says otherwise, and every output says which score
//!   it compares ([`ScoreUsed`]). A run whose selected checkpoint is the untrained model is
//!   "never improved" and failed in the selected-checkpoint column.
//! - **Adjusted for the family; no absence of evidence read as evidence** ([`family`]): each
//!   test's p-values are Holm-adjusted over the pairs compared (or the planned contrasts), and
//!   the findings decide on the adjusted p; "no difference larger than δ" comes only from
//!   TOST, otherwise a non-significant difference reads "inconclusive at n = …".
//! - **Undefined is not NaN, and an artifact is not evidence.** A single run has no standard
//!   deviation: the types say `None` and the tables say "n/a (1 run)". A test whose input is
//!   degenerate (constant groups, two runs per group for Levene, too few runs) returns a
//!   [`Degenerate`] with the reason instead of SciPy's p = 0 or NaN, and every output says
//!   "n/a: degenerate (…)" (rules and differences from SciPy: [`hypothesis`]).
//! - **SciPy conventions, checked.** Levene/Brown–Forsythe, Welch, Mann–Whitney (SciPy's
//!   `method="auto"`: exact for a sample of ≤ 8 runs without ties, else asymptotic with tie and
//!   continuity correction), numpy's linear percentiles and the expected-maximum
//!   estimators are compared with SciPy/numpy on committed vectors
//!   (`tests/golden/make_golden.py` → `golden.json`; the Rust tests need no Python).
//! - **ASO follows deepsig 1.2.8** (see [`aso`]) including its Riemann grid and its
//!   multiple-comparison adjustment of the confidence level, c + (1−c)/m (not Bonferroni), but draws its bootstrap from our own RNG.
//! - **Findings first, claiming only what is tested** ([`Findings`]): every report opens with
//!   plain sentences — failure rate of every group with its Wilson interval, Fisher's exact
//!   test of two failure rates, which group varies more (Brown–Forsythe; a collapsed group is
//!   said to be collapsed), which scores higher (Welch) and which dominates (ASO), each with its
//!   p or ε — over the same bounded pairs as the tables.
//! - **One table of pairwise tests.** Every pairwise test is one module and one entry of a
//!   table that the report, the terminal, the CSV, the JSON and the findings all read. Fisher's test and the
//!   binomial intervals ([`counts`]) are checked against SciPy (`tests/golden/make_counts.py`).
//! - **One document, two renderings.** `report.md` and `report.html` are rendered from one
//!   document model, so their sections cannot drift apart; each chart is one file over a shared
//!   frame, and a swept numeric setting (learning rate, frozen layers, steps) gets failure-rate
//!   and score plots against it.
//! - **Reproducible in parallel.** Bootstrap iteration *i* always uses ChaCha stream *i* of a
//!   seed mixed with the group (or pair) index, so rayon's scheduling cannot change a number:
//!   a report is a pure function of its input and `--seed`, at any thread count.
//! - **Self-contained outputs.** Plots are drawn by plotters with an embedded DejaVu Sans font
//!   (no fontconfig on the CI machine); `report.html` inlines every plot as SVG.
//!
//! ```
//! use stab_stats::{describe, expected_max_curve, welch};
//! let a = [0.70, 0.71, 0.69, 0.72];
//! let b = [0.52, 0.68, 0.47, 0.71];
//! assert!(describe(&a).unwrap().std.is_some());
//! let curve = expected_max_curve(&b);
//! assert!((curve[3].without_replacement - 0.71).abs() < 1e-12);
//! assert!(welch(&a, &b).unwrap().p < 1.0);
//! ```

mod analyze;
pub mod anova;
pub mod aso;
pub mod bootstrap;
pub mod counts;
pub mod describe;
pub mod early_failure;
mod error;
pub mod expected_max;
pub mod family;
mod findings;
mod fmt;
pub mod hypothesis;
mod load;
mod pairwise;
pub mod plan;
mod plots;
mod report;
mod summary;
pub mod synthetic;

pub use analyze::{summarize, summarize_with_progress};
pub use anova::{seed_variance, SeedVariance};
pub use aso::{adjusted_confidence, aso, violation_ratio, AsoOptions, AsoResult};
pub use bootstrap::{bootstrap_cis, BootstrapCis, BootstrapOptions, Interval};
pub use describe::{describe, Describe};
pub use error::StatsError;
pub use expected_max::{expected_max_at, expected_max_curve, report_ns, ExpectedMax};
pub use family::{excludable_difference, holm, tost, TostResult};
pub use hypothesis::{
    levene, mann_whitney, welch, Degenerate, DegenerateKind, LeveneCenter, MannWhitneyResult,
    TestResult, WelchResult,
};
pub use load::{
    load_results, load_scores_csv, Analysis, InputProblem, Outcome, ReportInput, RunEntry,
    RunProgress, ScoreKind, SelectionRule, StoreCounts, AXIS_FIELDS, MISMATCHED_PREFIX,
};
pub use plan::{
    plan_from_pilot, sample_size, Effect, PilotPlan, PlanOptions, PowerPoint, SampleSize,
};
pub use plots::{early_failure_plot, power_plot, PlotError, PlotFile};
pub use report::{
    csv_safe, summary_rows, terminal_table, write_report, write_report_with_progress,
    write_sectioned_report, SectionReport, SummaryRow,
};
pub use summary::{
    Comparison, Fields, Findings, GroupSummary, NoProgress, Progress, ReportOptions, ReportSummary,
    ScoreChoice, ScoreUsed, Tested, Unscored,
};
