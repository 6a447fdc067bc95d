//! The optimisation loop: batches in the data seed's order, one optimizer step each, the
//! planned evaluations, and the ways a run stops early — returned as an [`Outcome`].
//!
//! With gradient accumulation over k micro-batches, a step's batch is drawn as one batch of
//! k × `batch_size` examples (the order a run with that batch size has) and cut into k
//! micro-batches whose mean losses are weighted by their share of the batch's loss terms:
//! the step's loss and gradient are the large batch's, up to float rounding (a test says so).
//! Zhang et al.'s `run_glue.py` divides each micro-batch's loss by k instead, which is the
//! same when the micro-batches are full, and carries an epoch's left-over micro-batches into
//! the next epoch's first step; stab's last step of an epoch takes the remainder, as a
//! large batch would. Mixout ([`crate::mixout`]) draws its masks per micro-batch, as a
//! `MixLinear` does per forward.
//!
//! A non-finite loss or gradient norm ends the run as diverged at that step (counted from 1,
//! as the curves are), after the update is applied as the reference codes apply it: the model
//! scored at divergence is the one they carry on with. An interrupt ends it as interrupted,
//! early stopping as finished, and a failure predicted by the spec's `early_failure` policy
//! (checked once, at ⌈f·T⌉ steps) as stopped. The model after the last step is always evaluated when it is
//! a result (finished or diverged), so the record can report it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use stab_spec::{
    check_step, EarlyFailure, EarlyFailureRule, RunSoFar, RunSpec, RunStatus, SELECTION_HALF_PREFIX,
};
use tch::nn::VarStore;
use tch::Device;

use crate::batch::{batches_per_epoch, constant_loss, loss_terms, make_batch, BatchOrder};
use crate::evaluate::evaluate_at;
use crate::mixout::Mixout;
use crate::optim::{clip_grad_norm, global_norm, Adam};
use crate::run_data::RunData;
use crate::schedule::LrSchedule;
use crate::selection::{eval_steps, Evaluations};
use crate::task_model::loss;
use crate::trainable::Trainable;
use crate::{RunContext, TrainError};

/// A run ready to train: its data, what it trains and the optimizer over its parameters.
pub struct Run {
    pub spec: RunSpec,
    pub data: RunData,
    pub model: Box<dyn Trainable>,
    pub optimizer: Adam,
    pub device: Device,
    pub pad_id: i64,
    /// Mixout on the linear weights (`mixout > 0`).
    pub mixout: Option<Mixout>,
    /// Owns the variables the model and optimizer use.
    pub vs: VarStore,
    /// Modules the checkpoint lacked, initialised as the family does (for the record).
    pub newly_initialised: Vec<String>,
}

/// How the loop ended and what it saw on the way.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: RunStatus,
    /// Why it stopped when not at the planned end (divergence, interrupt, early stopping).
    pub message: Option<String>,
    pub diverged_at_step: Option<u64>,
    pub total_steps: u64,
    pub steps_done: u64,
    /// Training loss and learning rate of every step done.
    pub losses: Vec<f64>,
    pub lrs: Vec<f64>,
    pub evaluations: Evaluations,
    /// Loss of the best constant predictor on the training set ([`constant_loss`]).
    pub constant_loss: Option<f64>,
    /// Examples, non-padding tokens and seconds spent in training steps (evaluations excluded).
    pub examples: usize,
    pub tokens: usize,
    pub train_seconds: f64,
    /// Of `train_seconds`, those spent clipping and in the optimizer (gradients, update,
    /// zeroing).
    pub optimizer_seconds: f64,
}

/// What one optimizer step did.
enum Step {
    Done(StepStats),
    /// The loss or gradient norm was not finite: what was.
    Diverged(String),
}

/// A finite step's loss, learning rate and throughput.
struct StepStats {
    loss: f64,
    lr: f64,
    examples: usize,
    tokens: usize,
    seconds: f64,
    optimizer_seconds: f64,
}

impl Run {
    /// Trains to the planned number of steps (or until the run stops early).
    pub fn train(&mut self, ctx: &RunContext) -> Result<Outcome, TrainError> {
        let spec = self.spec.clone();
        let n = self.data.train.len();
        let step_batch = spec.batch_size * spec.gradient_accumulation_steps as usize;
        let per_epoch = batches_per_epoch(n, step_batch) as u64;
        let total = spec.max_steps.unwrap_or(spec.epochs as u64 * per_epoch);
        let schedule = LrSchedule::new(spec.schedule, total, spec.warmup_fraction);
        let evals = eval_steps(&spec, per_epoch, total);
        let lengths = spec
            .length_grouped
            .then(|| self.data.train.iter().map(|i| i.ids.len()).collect());
        let mut order = BatchOrder::new(n, step_batch, spec.data_seed, lengths);
        tch::manual_seed(spec.data_seed as i64);
        let bar = ctx.progress.then(|| {
            let b = stab_spec::progress_bar(
                total,
                "{spinner} {msg} [{bar:30}] {pos}/{len} steps {per_sec} eta {eta}",
            );
            b.set_message(format!("{} {}", self.data.task.name(), spec.run_id()));
            b
        });
        let mut out = Outcome::start(total);
        out.constant_loss = constant_loss(&self.data.train, self.data.kind);
        // Without a terminal (nohup, Slurm output files, a sweep's log.txt) the bar draws
        // nothing: one line per evaluation says how the run is going instead.
        let lines = ctx.progress && !std::io::IsTerminal::is_terminal(&std::io::stderr());
        let started = Instant::now();
        let log = |data: &RunData, out: &Outcome| {
            if lines {
                eprintln!("{}", evaluation_line(data, &spec, out, total, started));
            }
        };
        if evals.contains(&0) {
            self.evaluate(&mut out, 0, per_epoch)?;
            log(&self.data, &out);
        }
        let mut since_best = 0u32;
        'epochs: while out.steps_done < total {
            for batch in order.next_epoch() {
                let step = out.steps_done;
                if step >= total {
                    break 'epochs;
                }
                if ctx.interrupt.is_some_and(|f| f.load(Ordering::SeqCst)) {
                    out.stop(
                        RunStatus::Interrupted,
                        format!("interrupted at step {step}"),
                    );
                    break 'epochs;
                }
                match self.step(&batch, spec.learning_rate * schedule.factor(step))? {
                    Step::Diverged(what) => {
                        out.diverged_at_step = Some(step + 1);
                        out.stop(RunStatus::Diverged, format!("{what} at step {}", step + 1));
                        break 'epochs;
                    }
                    Step::Done(stats) => out.count(stats),
                }
                let step = out.steps_done;
                if let Some(b) = &bar {
                    b.set_position(step);
                }
                if evals.contains(&step) {
                    let best = self.evaluate(&mut out, step, per_epoch)?;
                    log(&self.data, &out);
                    since_best = if best { 0 } else { since_best + 1 };
                    if !best
                        && spec
                            .early_stopping_patience
                            .is_some_and(|p| since_best >= p)
                    {
                        out.message = Some(format!("early stopping at step {step}"));
                        break 'epochs;
                    }
                }
                if let Some(policy) = &spec.early_failure {
                    if step == check_step(policy.after_fraction, total)
                        && self.predicts_failure(policy, &mut out, per_epoch)?
                    {
                        log(&self.data, &out);
                        out.stop(
                            RunStatus::Stopped,
                            format!(
                                "predicted failure at step {step} of {total}: rule {} after {} \
                                 of the steps ({})",
                                policy.rule.as_str(),
                                policy.after_fraction,
                                policy.rule.describe()
                            ),
                        );
                        break 'epochs;
                    }
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        self.evaluate_result(&mut out, per_epoch)?;
        Ok(out)
    }

    /// One optimizer step on the training items `indices`, in micro-batches of `batch_size`
    /// when the run accumulates gradients.
    fn step(&mut self, indices: &[usize], lr: f64) -> Result<Step, TrainError> {
        let t0 = Instant::now();
        let spec = &self.spec;
        let pad_to = spec.pad_to_max_length.then_some(spec.max_length);
        let micro: Vec<&[usize]> = indices.chunks(spec.batch_size).collect();
        let kind = self.data.kind;
        let terms: Vec<usize> = micro
            .iter()
            .map(|m| loss_terms(&self.data.train, m, kind))
            .collect();
        let total_terms = terms.iter().sum::<usize>().max(1) as f64;
        let (mut lv, mut tokens) = (0.0, 0);
        for (i, (chunk, &t)) in micro.iter().zip(&terms).enumerate() {
            let batch = make_batch(&self.data.train, chunk, pad_to, self.pad_id, self.device);
            if let Some(m) = self.mixout.as_mut() {
                m.mix(i > 0)?;
            }
            let (outputs, targets) = self.model.train_outputs(&self.data, &batch)?;
            let mut l = loss(&outputs, &targets, kind)?;
            if micro.len() > 1 {
                l = l.f_mul_scalar(t as f64 / total_terms)?;
            }
            lv += l.f_double_value(&[])?;
            l.backward();
            if let Some(m) = self.mixout.as_mut() {
                m.unmix()?;
            }
            tokens += batch.real_tokens;
        }
        let t_opt = Instant::now();
        let grads = self.optimizer.grads()?;
        let norm = if spec.max_grad_norm > 0.0 {
            clip_grad_norm(&grads, spec.max_grad_norm)?
        } else {
            global_norm(&grads)
        };
        // A non-finite update is applied too, as the reference codes do (they keep training).
        self.optimizer.step(lr)?;
        self.optimizer.zero_grad();
        let optimizer_seconds = t_opt.elapsed().as_secs_f64();
        if !lv.is_finite() {
            return Ok(Step::Diverged(format!("non-finite training loss ({lv})")));
        }
        if !norm.is_finite() {
            return Ok(Step::Diverged(format!("non-finite gradient norm ({norm})")));
        }
        Ok(Step::Done(StepStats {
            loss: lv,
            lr,
            examples: indices.len(),
            tokens,
            seconds: t0.elapsed().as_secs_f64(),
            optimizer_seconds,
        }))
    }

    /// Evaluates the model after `step` steps and adds it to the outcome; returns whether it
    /// is the best so far.
    fn evaluate(&self, out: &mut Outcome, step: u64, per_epoch: u64) -> Result<bool, TrainError> {
        let epoch = step as f64 / per_epoch as f64;
        let ev = evaluate_at(self.model.as_ref(), &self.data, step, epoch)?;
        Ok(out.evaluations.push(ev, &self.data.selection_metric))
    }

    /// Applies the early-failure `policy` at the current step: evaluates first when the rule
    /// reads the dev score and the schedule has not just evaluated; returns whether the rule
    /// predicts a failure.
    fn predicts_failure(
        &self,
        policy: &EarlyFailure,
        out: &mut Outcome,
        per_epoch: u64,
    ) -> Result<bool, TrainError> {
        let step = out.steps_done;
        if policy.rule == EarlyFailureRule::AtBaseline
            && out.evaluations.last().is_none_or(|e| e.step != step)
        {
            self.evaluate(out, step, per_epoch)?;
        }
        let metric = &self.data.metric;
        let baseline = self
            .data
            .baseline
            .get(&format!("{SELECTION_HALF_PREFIX}{metric}"))
            .or_else(|| self.data.baseline.get(metric))
            .copied();
        let loss: Vec<(u64, f64)> = (1..).zip(out.losses.iter().copied()).collect();
        let dev: Vec<(u64, f64)> = out
            .evaluations
            .list
            .iter()
            .map(|e| (e.step, e.score))
            .collect();
        let so_far = RunSoFar {
            total_steps: out.total_steps,
            train_loss: &loss,
            dev_scores: &dev,
            baseline,
            constant_loss: out.constant_loss,
        };
        Ok(policy.rule.predicts_failure(&so_far, step) == Some(true))
    }

    /// Evaluates the model a result stands for, where the loop has not: at divergence, or after
    /// the last step of a finished run.
    fn evaluate_result(&self, out: &mut Outcome, per_epoch: u64) -> Result<(), TrainError> {
        match out.status {
            // A diverged run is a failed run, never a missing one: its model at divergence is
            // scored like any checkpoint (NaN logits predict class 0, NaN regression outputs a
            // constant), and stands for the evaluations the reference would have gone on
            // making of the same non-finite model.
            RunStatus::Diverged => {
                let at = out.diverged_at_step.unwrap_or(out.steps_done);
                self.evaluate(out, at, per_epoch)?;
            }
            RunStatus::Ok
                if out
                    .evaluations
                    .last()
                    .is_none_or(|e| e.step != out.steps_done) =>
            {
                self.evaluate(out, out.steps_done, per_epoch)?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl Outcome {
    fn start(total: u64) -> Outcome {
        Outcome {
            status: RunStatus::Ok,
            message: None,
            diverged_at_step: None,
            total_steps: total,
            steps_done: 0,
            losses: Vec::with_capacity(total as usize),
            lrs: Vec::with_capacity(total as usize),
            evaluations: Evaluations::default(),
            constant_loss: None,
            examples: 0,
            tokens: 0,
            train_seconds: 0.0,
            optimizer_seconds: 0.0,
        }
    }

    fn stop(&mut self, status: RunStatus, message: String) {
        self.status = status;
        self.message = Some(message);
    }

    fn count(&mut self, step: StepStats) {
        self.train_seconds += step.seconds;
        self.optimizer_seconds += step.optimizer_seconds;
        self.examples += step.examples;
        self.tokens += step.tokens;
        self.losses.push(step.loss);
        self.lrs.push(step.lr);
        self.steps_done += 1;
    }
}

/// One progress line after an evaluation: step, epoch, the selection metric, speed and the
/// time left at that speed.
fn evaluation_line(
    data: &RunData,
    spec: &RunSpec,
    out: &Outcome,
    total: u64,
    started: Instant,
) -> String {
    let step = out.steps_done;
    let elapsed = started.elapsed().as_secs_f64();
    let metric = &data.selection_metric;
    let value = out
        .evaluations
        .list
        .last()
        .and_then(|e| e.metrics.get(metric).copied())
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "-".into());
    let left = if step > 0 {
        let secs = elapsed / step as f64 * total.saturating_sub(step) as f64;
        format!(", about {} left", stab_spec::human_duration(secs))
    } else {
        String::new()
    };
    format!(
        "run {} {}: step {step}/{total} (epoch {:.2}), {metric} {value}, {:.1} examples/s{left}",
        &spec.run_id()[..12.min(spec.run_id().len())],
        data.task.name(),
        out.evaluations.list.last().map(|e| e.epoch).unwrap_or(0.0),
        out.examples as f64 / elapsed.max(1e-9),
    )
}
