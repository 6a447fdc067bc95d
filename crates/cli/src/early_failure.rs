//! `stab early-failure`: how well each early-failure rule predicts a failed run on stored
//! results (stab-stats' `early_failure` module does the counting). Records written before
//! `constant_loss` existed get it from their data here (the tokenizer and the training split,
//! not the weights), once per distinct data setting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use stab_spec::EarlyFailureRule;
use stab_stats::early_failure::{early_failure_markdown, early_failure_table, DEFAULT_FRACTIONS};
use stab_stats::{early_failure_plot, load_results, RunEntry};

#[derive(Args)]
pub struct EarlyFailureArgs {
    /// Results directories (sweep stores or folders of record.json), pooled per task.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Fractions of the planned steps after which each rule is checked.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_FRACTIONS, value_parser = parse_fraction)]
    fractions: Vec<f64>,
    /// Group by spec fields instead of the sweeps' groups.
    #[arg(long)]
    group_by: Option<String>,
    /// Write early_failure.md, .csv and .json and a plot per task into this folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("`{}` is not a number: {e}", s.trim()))?;
    if f > 0.0 && f < 1.0 {
        Ok(f)
    } else {
        Err(format!(
            "a fraction of training must lie in (0, 1), got {s}"
        ))
    }
}

pub fn early_failure(a: EarlyFailureArgs) -> anyhow::Result<ExitCode> {
    let mut runs: Vec<RunEntry> = Vec::new();
    let mut problems = Vec::new();
    for dir in &a.dirs {
        let input = load_results(dir, a.group_by.as_deref())
            .with_context(|| format!("could not read results from {}", dir.display()))?;
        // Groups of different directories stay apart.
        let prefix = if a.dirs.len() > 1 {
            format!(
                "{}: ",
                dir.file_name().map_or(dir.display().to_string(), |n| n
                    .to_string_lossy()
                    .into_owned())
            )
        } else {
            String::new()
        };
        for mut r in input.runs {
            r.group = format!("{prefix}{}", r.group);
            runs.push(r);
        }
        problems.extend(input.problems);
    }
    for p in &problems {
        eprintln!("note: {}: {}", p.location, p.message);
    }
    fill_constant_losses(&mut runs);
    let (rows, left) = early_failure_table(&runs, &EarlyFailureRule::ALL, &a.fractions);
    let mut text = String::from("# Early-failure prediction\n\n");
    text.push_str(&format!(
        "{} runs read from {}; truth: failed at the end (final score at or below the majority \
         baseline, or diverged). Left out: {} stopped by a policy (end unknown), {} without a \
         verdict.\n\nRules:\n",
        runs.len(),
        a.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        left.stopped,
        left.no_verdict
    ));
    for rule in EarlyFailureRule::ALL {
        text.push_str(&format!("- `{}`: {}\n", rule.as_str(), rule.describe()));
    }
    text.push_str(
        "\nA rule is checked once, after ⌈f·T⌉ of the T planned steps, on what the run had \
         shown by then. `undecided`: no evaluation (or no loss) by then. `steps saved`: the \
         share of the decided runs' planned steps a policy stopping the flagged runs would not \
         have run.\n\n",
    );
    text.push_str(&early_failure_markdown(&rows));
    print!("{text}");
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("could not create {}", out.display()))?;
        let path = out.join("early_failure.md");
        std::fs::write(&path, &text)
            .with_context(|| format!("could not write {}", path.display()))?;
        let path = out.join("early_failure.json");
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("could not write {}", path.display()))?;
        write_csv(&out.join("early_failure.csv"), &rows)?;
        let mut sections: Vec<&str> = rows.iter().map(|r| r.section.as_str()).collect();
        sections.dedup();
        for section in sections {
            let in_section: Vec<_> = rows.iter().filter(|r| r.section == section).collect();
            // The pooled rows when there are several groups, else the one group's.
            let pooled: Vec<_> = if in_section.iter().any(|r| r.group == "all groups") {
                in_section
                    .into_iter()
                    .filter(|r| r.group == "all groups")
                    .collect()
            } else {
                in_section
            };
            let slug: String = section
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let file = early_failure_plot(
                out,
                &format!("early_failure_{slug}"),
                &format!("Predicting failed runs early: {section}"),
                pooled,
            )?;
            eprintln!("wrote {}", out.join(format!("{}.png", file.name)).display());
        }
        eprintln!("wrote {}", out.join("early_failure.md").display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_csv(
    path: &std::path::Path,
    rows: &[stab_stats::early_failure::RuleRow],
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    w.write_record([
        "section",
        "group",
        "rule",
        "fraction",
        "runs",
        "failed",
        "undecided",
        "true_positive",
        "false_positive",
        "false_negative",
        "true_negative",
        "precision",
        "precision_low",
        "precision_high",
        "recall",
        "recall_low",
        "recall_high",
        "steps_saved",
    ])?;
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for r in rows {
        w.write_record([
            r.section.clone(),
            r.group.clone(),
            r.rule.as_str().to_string(),
            r.fraction.to_string(),
            r.runs.to_string(),
            r.failed.to_string(),
            r.undecided.to_string(),
            r.true_positive.to_string(),
            r.false_positive.to_string(),
            r.false_negative.to_string(),
            r.true_negative.to_string(),
            opt(r.precision),
            opt(r.precision_ci.map(|i| i.lower)),
            opt(r.precision_ci.map(|i| i.upper)),
            opt(r.recall),
            opt(r.recall_ci.map(|i| i.lower)),
            opt(r.recall_ci.map(|i| i.upper)),
            opt(r.steps_saved),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Gives records without `constant_loss` the one their data implies, computing it once per
/// data setting; a setting whose data cannot be read is reported once and left without (its
/// runs are then undecided for `loss-at-constant`).
fn fill_constant_losses(runs: &mut [RunEntry]) {
    let mut cache: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for r in runs.iter_mut() {
        if r.progress.constant_loss.is_some() {
            continue;
        }
        let Some(spec) = r.progress.spec.as_deref() else {
            continue;
        };
        let key = serde_json::json!([
            spec.model,
            spec.task,
            spec.data_dir,
            spec.train_subset,
            spec.subset_seed,
            spec.dev_split_seed,
            spec.max_length
        ])
        .to_string();
        let value = cache
            .entry(key)
            .or_insert_with(|| match stab_train::constant_loss_of(spec) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!(
                        "note: no constant-predictor loss for {} ({}): {}",
                        r.id,
                        spec.task,
                        stab_spec::error_chain(&e)
                    );
                    None
                }
            });
        r.progress.constant_loss = *value;
    }
}
