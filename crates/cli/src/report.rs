//! `stab report` and `stab compare`: statistics, tables and plots over run records or any
//! CSV/TSV of scores (stab-stats does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;
use stab_stats::{
    load_results, load_scores_csv, terminal_table, write_sectioned_report, Analysis, Progress,
    ReportInput, ReportOptions, ScoreChoice, Unscored,
};

#[derive(Args)]
pub struct StatsArgs {
    /// Output folder (default: DIR/report for `report`, ./report for `compare`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Bootstrap resamples for confidence intervals and ASO.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of every random draw; the report is a pure function of the input and the seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ASO threshold τ (ε_min < τ: A almost stochastically dominates B).
    #[arg(long, default_value_t = 0.2, value_parser = parse_tau)]
    tau: f64,
    /// Majority baseline to use instead of the one stored in each record.
    #[arg(long)]
    baseline: Option<f64>,
    /// Skip the plots (tables only).
    #[arg(long)]
    no_plots: bool,
    /// Compare every other group against this group only (pairwise tests and ASO).
    #[arg(long, value_name = "GROUP")]
    baseline_group: Option<String>,
    /// Without --baseline-group: all pairs among at most K groups, the K with the highest mean
    /// score when there are more (all-pairs ASO is quadratic in the number of groups).
    #[arg(long, value_name = "K", default_value_t = 10)]
    top_k: usize,
    /// Finished runs without a score (empty or NaN cells: collapsed or diverged runs) count as
    /// `failed` (the default: stab scores undefined metrics as 0, a failure) or are `excluded`
    /// from the failure rate. The findings name them either way.
    #[arg(long, value_parser = ["failed", "excluded"], default_value = "failed")]
    unscored: String,
    /// A planned contrast: compare group A with group B (repeatable). With contrasts, exactly
    /// these pairs are compared and p-values are Holm-adjusted over them. Default: the
    /// `contrasts` of the sweep file's `[analysis]` table.
    #[arg(long, value_name = "A:B", value_parser = parse_contrast)]
    contrast: Vec<(String, String)>,
    /// Test equivalence within ±δ (score units) with TOST; without a margin no equivalence is
    /// claimed. Default: the sweep file's `[analysis] equivalence_margin`.
    #[arg(long, value_name = "δ")]
    equivalence_margin: Option<f64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ScoreArg {
    Final,
    Selected,
}

/// `A:B` → (A, B), split at the first `:` (group labels hold `=` and `,`, not `:`).
fn parse_contrast(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_string(), b.trim().to_string()))
        }
        _ => Err(format!("expected A:B (two group labels), got `{s}`")),
    }
}

#[derive(Args)]
pub struct ReportArgs {
    /// A results directory written by `stab sweep` (searched recursively for record.json).
    dir: PathBuf,
    /// Group by the sweep's groups (default) or spec fields, e.g. `preset` or
    /// `optimizer.bias_correction,freeze_layers`.
    #[arg(long)]
    group_by: Option<String>,
    /// Which score of each run to compare: `final` (the model after the last step) or
    /// `selected` (the checkpoint each run's selection rule picked). Default: final whenever
    /// the groups select their checkpoints differently, else selected.
    #[arg(long, value_enum)]
    score: Option<ScoreArg>,
    #[command(flatten)]
    stats: StatsArgs,
}

#[derive(Args)]
pub struct CompareArgs {
    /// CSV or TSV of scores: a header row, then one row per run.
    file: PathBuf,
    /// The column that names each row's group (recipe, setting…); rows with the same value
    /// are compared as one group. A numeric column is also an axis the scores are plotted
    /// against.
    #[arg(long, value_name = "COLUMN")]
    group: String,
    /// The column that holds each row's score (a number; an empty or NaN cell is a run
    /// without a score, see --unscored). With --baseline, a score at or below it is a failed
    /// run.
    #[arg(long, value_name = "COLUMN")]
    score: String,
    #[command(flatten)]
    stats: StatsArgs,
}

/// τ is a threshold on the violation ratio ε_min ∈ [0, 1]: A almost stochastically dominates
/// B when ε_min < τ (Dror et al. 2019; deepsig's default 0.2). Above 0.5 a group would
/// "dominate" one that beats it more often than not, and NaN or τ ≤ 0 made every sentence
/// read "both ≥ τ = NaN": τ must lie in (0, 0.5].
fn parse_tau(s: &str) -> Result<f64, String> {
    let tau: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if tau.is_finite() && tau > 0.0 && tau <= 0.5 {
        Ok(tau)
    } else {
        Err(format!("τ must be a number in (0, 0.5], got {s}"))
    }
}

/// The report's options: the flags, then the sweep file's `[analysis]` table where a flag is
/// not given.
fn options(
    a: &StatsArgs,
    title: String,
    analysis: Option<&Analysis>,
    score: ScoreChoice,
) -> ReportOptions {
    let defaults = ReportOptions::default();
    let contrasts = if a.contrast.is_empty() {
        analysis.map(|x| x.contrasts.clone()).unwrap_or_default()
    } else {
        a.contrast.clone()
    };
    ReportOptions {
        bootstrap_iterations: a.bootstrap,
        seed: a.seed,
        aso_tau: a.tau,
        baseline: a.baseline,
        plots: !a.no_plots,
        title,
        baseline_group: a.baseline_group.clone(),
        top_k: a.top_k,
        unscored: if a.unscored == "excluded" {
            Unscored::Excluded
        } else {
            Unscored::Failed
        },
        score,
        contrasts,
        equivalence_margin: a
            .equivalence_margin
            .or_else(|| analysis.and_then(|x| x.equivalence_margin)),
        confidence_level: analysis
            .and_then(|x| x.alpha)
            .map_or(defaults.confidence_level, |alpha| 1.0 - alpha),
        ..defaults
    }
}

/// A progress bar per long stage on stderr (hidden when stderr is not a terminal).
struct Bar(std::sync::Mutex<Option<ProgressBar>>);

impl Progress for Bar {
    fn start(&self, stage: &str, total: usize) {
        let bar = ProgressBar::new(total as u64).with_message(stage.to_string());
        bar.set_style(
            stab_spec::progress_style("{msg:>24} [{bar:30}] {pos}/{len} ({eta} left)")
                .progress_chars("=> "),
        );
        if let Ok(mut b) = self.0.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, n: usize) {
        if let Ok(b) = self.0.lock() {
            if let Some(b) = b.as_ref() {
                b.inc(n as u64);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut b) = self.0.lock() {
            if let Some(b) = b.take() {
                b.finish_and_clear();
            }
        }
    }
}

fn finish(input: ReportInput, out: PathBuf, opts: ReportOptions) -> anyhow::Result<ExitCode> {
    let bar = Bar(std::sync::Mutex::new(None));
    // Runs of different tasks or metrics are never pooled: one report per task · metric.
    let sections = write_sectioned_report(&out, &input, &opts, &bar)
        .with_context(|| format!("could not write the report to {}", out.display()))?;
    let many = sections.len() > 1;
    for s in &sections {
        if many {
            println!(
                "== {} ({}) ==",
                s.section,
                s.dir.join("report.md").display()
            );
        }
        print!("{}", terminal_table(&s.summary));
        if many {
            println!();
        }
    }
    if many {
        eprintln!(
            "report: {} tasks/metrics, never pooled: one report each; index {}",
            sections.len(),
            out.join("report.md").display()
        );
    } else {
        eprintln!(
            "report: {} (also report.html, summary.csv, summary.json, plots/)",
            out.join("report.md").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let input = load_results(&a.dir, a.group_by.as_deref())?;
    let out = a.stats.out.clone().unwrap_or_else(|| a.dir.join("report"));
    let title = format!("Stability report: {}", a.dir.display());
    let score = match a.score {
        None => ScoreChoice::Auto,
        Some(ScoreArg::Final) => ScoreChoice::Final,
        Some(ScoreArg::Selected) => ScoreChoice::Selected,
    };
    let opts = options(&a.stats, title, input.analysis.as_ref(), score);
    finish(input, out, opts)
}

pub fn compare(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let input = load_scores_csv(&a.file, &a.group, &a.score, a.stats.baseline)?;
    let out = a
        .stats
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("report"));
    let title = format!("Comparison: {}", a.file.display());
    finish(
        input,
        out,
        options(&a.stats, title, None, ScoreChoice::Auto),
    )
}
