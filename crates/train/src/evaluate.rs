//! Scoring a trainable on the run's evaluation sets: predictions from its outputs, in the
//! task's own [`Answers`], scored by [`stab_data::Task::score`].
//!
//! Items are batched by length (64 at a time) to minimise padding. A diverged model is scored
//! like any other: the argmax of NaN logits is class 0, and a non-finite regression output
//! predicts a constant 0 (its correlations are then 0, never NaN). A prediction that cannot be
//! read back from LibTorch is an error, never a silent class 0.

use stab_data::{Answers, Label, Metrics, TaskKind};
use stab_spec::{Evaluation, MISMATCHED_PREFIX};
use tch::{Device, Kind, Tensor};

use crate::run_data::{Role, RunData};
use crate::trainable::Trainable;
use crate::TrainError;

/// Evaluates on every set: metrics of the selection set, of the report half when there is
/// one, and MNLI's mismatched scores (under [`MISMATCHED_PREFIX`]) joined to whichever of
/// those is reported.
pub fn evaluate_at(
    model: &dyn Trainable,
    data: &RunData,
    step: u64,
    epoch: f64,
) -> Result<Evaluation, TrainError> {
    let mut metrics = Metrics::new();
    let mut report_metrics = None;
    let mut mismatched = None;
    for (i, set) in data.evals.iter().enumerate() {
        let m = evaluate(model, data, i)?;
        match set.role {
            Role::Selection => metrics = m,
            Role::Report => report_metrics = Some(m),
            Role::Mismatched => mismatched = Some(m),
        }
    }
    if let Some(mm) = mismatched {
        let reported = report_metrics.as_mut().unwrap_or(&mut metrics);
        for (k, v) in mm {
            reported.insert(format!("{MISMATCHED_PREFIX}{k}"), v);
        }
    }
    Ok(Evaluation {
        step,
        epoch,
        score: metrics[&data.metric],
        metrics,
        report_metrics,
    })
}

/// Scores evaluation set `set` in eval mode.
pub fn evaluate(model: &dyn Trainable, data: &RunData, set: usize) -> Result<Metrics, TrainError> {
    let eval = &data.evals[set];
    let n = eval.items.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by_key(|&i| eval.items[i].ids.len());
    let mut pred = match data.kind {
        TaskKind::Tagging => Answers::Tags(vec![Vec::new(); n]),
        _ => Answers::Labels(vec![Label::Class(0); n]),
    };
    tch::no_grad(|| {
        for chunk in idx.chunks(64) {
            let out = model
                .eval_outputs(data, set, chunk)?
                .f_to_device(Device::Cpu)?
                .f_to_kind(Kind::Float)?;
            match &mut pred {
                Answers::Labels(labels) => {
                    for (&i, l) in chunk.iter().zip(labels_of(&out, data.kind)?) {
                        labels[i] = l;
                    }
                }
                Answers::Tags(tags) => {
                    let p = out.f_argmax(-1, false)?;
                    for (row, &i) in chunk.iter().enumerate() {
                        let tok = Vec::<i64>::try_from(p.f_get(row as i64)?)?;
                        tags[i] = model.word_tags(&eval.items[i], &tok);
                    }
                }
            }
        }
        Ok::<_, TrainError>(())
    })?;
    Ok(data.task.score(&eval.gold, &pred)?)
}

/// Sentence-level predictions of a batch of outputs ([B, C] logits or [B, 1] values).
fn labels_of(out: &Tensor, kind: TaskKind) -> Result<Vec<Label>, TrainError> {
    Ok(match kind {
        TaskKind::Regression => Vec::<f32>::try_from(out.f_view([-1])?)?
            .into_iter()
            .map(|v| Label::Score(if v.is_finite() { v as f64 } else { 0.0 }))
            .collect(),
        _ => Vec::<i64>::try_from(out.f_argmax(-1, false)?)?
            .into_iter()
            .map(|c| Label::Class(c as usize))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_become_labels_and_non_finite_scores_a_constant() {
        let logits = Tensor::from_slice(&[0.1f32, 0.9, 2.0, -1.0, f32::NAN, 0.0]).view([3, 2]);
        assert_eq!(
            labels_of(&logits, TaskKind::Classification).unwrap(),
            [Label::Class(1), Label::Class(0), Label::Class(0)]
        );
        let values = Tensor::from_slice(&[1.5f32, f32::NAN, f32::INFINITY]).view([3, 1]);
        assert_eq!(
            labels_of(&values, TaskKind::Regression).unwrap(),
            [Label::Score(1.5), Label::Score(0.0), Label::Score(0.0)]
        );
    }

    /// A prediction that LibTorch cannot hand back is an error, not class 0.
    #[test]
    fn unreadable_predictions_are_errors_not_class_0() {
        // argmax over an empty class dimension fails in LibTorch.
        let empty = Tensor::zeros([2, 0], (Kind::Float, Device::Cpu));
        assert!(labels_of(&empty, TaskKind::Classification).is_err());
    }
}
