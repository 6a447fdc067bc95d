//! A report's numbers in three steps: per-group statistics ([`crate::summary`]), the pairwise
//! tests ([`crate::pairwise`]), then the findings worded from both ([`crate::findings`]).
//! Putting them together here keeps the three modules from importing each other.

use crate::findings::findings;
use crate::load::ReportInput;
use crate::pairwise::compare;
use crate::summary::{
    group_summaries, report_notes, score_used, Findings, NoProgress, Progress, ReportOptions,
    ReportSummary,
};

/// Computes every statistic of the report (no files are written).
pub fn summarize(input: &ReportInput, opts: &ReportOptions) -> ReportSummary {
    summarize_with_progress(input, opts, &NoProgress)
}

/// [`summarize`], reporting progress of the long stages.
pub fn summarize_with_progress(
    input: &ReportInput,
    opts: &ReportOptions,
    progress: &dyn Progress,
) -> ReportSummary {
    let score = score_used(input, opts.score);
    let groups = group_summaries(input, opts, progress);
    let sections = input.section_labels();
    let mut notes = report_notes(input, opts, &groups, &sections);
    notes.extend(score.warning.clone());
    let compared = compare(&groups, opts, sections.len(), progress);
    notes.extend(compared.skipped);
    let mut summary = ReportSummary {
        source: input.source.clone(),
        grouping: input.grouping.clone(),
        metric: input.metric.clone(),
        options: opts.clone(),
        score,
        scores_only: !input.from_records(),
        aso_confidence: compared.aso_confidence,
        pair_rule: compared.pair_rule,
        groups,
        comparisons: compared.comparisons,
        problems: input.problems.clone(),
        stores: input.stores.clone(),
        sequential: input.sequential.clone(),
        notes,
        findings: Findings::default(),
        files: Vec::new(),
    };
    summary.findings = findings(&summary);
    summary
}
