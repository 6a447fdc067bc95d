//! What a run reads: the task's splits — subset, dev halves, MNLI's mismatched set — encoded
//! into items, with the majority baseline and the run's metrics checked against the task.
//!
//! Everything about the task's output is derived here once, from the [`Task`]: its
//! [`TaskKind`] and output width are what the model builds its head from, what the loss and
//! the predictions follow, and each evaluation set's gold is the data's own [`Answers`], scored
//! by [`Task::score`] — the same path `stab score` takes.
//!
//! The first evaluation set is always the selection set; the report half (when the dev set is
//! split, Zhang et al.) and MNLI's mismatched set follow, each marked with its [`Role`].

use stab_bert::{EncoderConfig, Tokenizer};
use stab_data::{Answers, Dataset, Example, Label, Metrics, Task, TaskKind};
use stab_spec::{RunSpec, MISMATCHED_PREFIX, SELECTION_HALF_PREFIX};

use crate::batch::Item;
use crate::TrainError;

/// What an evaluation set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Picks the best evaluation; also reported when the dev set is not split.
    Selection,
    /// The held-out half of a split dev set: reported, never selected on.
    Report,
    /// MNLI's mismatched dev set: reported beside the matched one under
    /// [`MISMATCHED_PREFIX`], never selected on.
    Mismatched,
}

/// An evaluation set: items plus the gold answers they are scored against.
pub struct EvalSet {
    pub role: Role,
    pub items: Vec<Item>,
    pub gold: Answers,
}

/// The data of one run, encoded.
pub struct RunData {
    pub task: Task,
    /// What the task predicts, and the width of the model's output layer.
    pub kind: TaskKind,
    pub outputs: i64,
    /// The reported metric.
    pub metric: String,
    /// The metric that picks the best evaluation.
    pub selection_metric: String,
    pub train: Vec<Item>,
    /// The selection set first, then the report half and the mismatched set where there are.
    pub evals: Vec<EvalSet>,
    /// Majority baseline on the reported split (and `mismatched/…` on MNLI's other set).
    pub baseline: Metrics,
}

/// The splits of a run before encoding.
struct Splits {
    train: Dataset,
    selection: Dataset,
    report: Option<Dataset>,
    mismatched: Option<Dataset>,
}

impl RunData {
    /// Reads, subsets, splits and encodes the task's data for `spec`, and checks that the
    /// model (`config`, read from `config_path`) can embed it.
    pub fn load(
        spec: &RunSpec,
        tok: &Tokenizer,
        config: &EncoderConfig,
        config_path: &std::path::Path,
    ) -> Result<RunData, TrainError> {
        let task = stab_data::task(&spec.task)?;
        let splits = Splits::read(spec, &task)?;
        let baseline = splits.baseline(&task)?;
        let metric = spec
            .metric
            .clone()
            .unwrap_or_else(|| task.primary_metric().to_string());
        let selection_metric = spec.selection_metric_for(task.name(), &metric).to_string();
        for (field, m) in [("metric", &metric), ("selection_metric", &selection_metric)] {
            if !baseline.contains_key(m) {
                return Err(TrainError::Invalid(format!(
                    "{field} `{m}` is not computed for task {} (available: {})",
                    task.name(),
                    baseline
                        .keys()
                        .filter(|k| !k.starts_with(SELECTION_HALF_PREFIX))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let train = encode(tok, &splits.train)?;
        let mut evals = vec![eval_set(tok, Role::Selection, &splits.selection)?];
        for (role, set) in [
            (Role::Report, &splits.report),
            (Role::Mismatched, &splits.mismatched),
        ] {
            if let Some(d) = set {
                evals.push(eval_set(tok, role, d)?);
            }
        }
        let data = RunData {
            kind: task.kind(),
            outputs: task.num_outputs() as i64,
            train,
            task,
            metric,
            selection_metric,
            evals,
            baseline,
        };
        data.check_token_types(config, config_path)?;
        Ok(data)
    }

    /// The evaluation set that picks the best checkpoint.
    pub fn selection(&self) -> &EvalSet {
        &self.evals[0]
    }

    /// Sentence pairs use token type 1: a model with one token type cannot embed them.
    fn check_token_types(
        &self,
        config: &EncoderConfig,
        config_path: &std::path::Path,
    ) -> Result<(), TrainError> {
        let max_type = self
            .evals
            .iter()
            .map(|e| &e.items)
            .chain([&self.train])
            .flatten()
            .flat_map(|i| i.type_ids.iter().copied())
            .max()
            .unwrap_or(0);
        // type_vocab_size = 0 (DeBERTa-v3): no token types at all, the tokenizer zeroes them.
        if config.type_vocab_size > 0 && max_type >= config.type_vocab_size {
            return Err(TrainError::Invalid(format!(
                "task {} has sentence pairs (token type {max_type}) but the model's \
                 type_vocab_size = {} ({})",
                self.task.name(),
                config.type_vocab_size,
                config_path.display()
            )));
        }
        Ok(())
    }
}

impl Splits {
    /// Train (a stratified subset when asked), dev (split in halves when asked) and, for
    /// MNLI, the mismatched dev set.
    fn read(spec: &RunSpec, task: &Task) -> Result<Splits, TrainError> {
        let train_full = task.load_split(&spec.data_dir, "train")?;
        let mnli = task.name().eq_ignore_ascii_case("mnli");
        let dev_split = if mnli { "dev_matched" } else { "dev" };
        let dev = task.load_split(&spec.data_dir, dev_split)?;
        let mismatched = mnli
            .then(|| task.load_split(&spec.data_dir, "dev_mismatched"))
            .transpose()?;
        if train_full.is_empty() || dev.is_empty() {
            return Err(TrainError::Invalid(format!(
                "task {}: the train or dev split is empty",
                task.name()
            )));
        }
        let train = match spec.train_subset {
            // Training on everything under a spec (and run id) that says `n` would be a
            // silent mislabel of the run: refused, naming what the split has.
            Some(n) if n > train_full.len() => {
                return Err(TrainError::Invalid(format!(
                    "train_subset = {n} but task {}'s train split has {} examples: lower \
                     train_subset, or remove it to train on all of them",
                    task.name(),
                    train_full.len()
                )))
            }
            Some(n) => {
                let labels = train_full
                    .labels()
                    .unwrap_or_else(|| vec![Label::Score(0.0); train_full.len()]);
                train_full.subset(&stab_data::stratified_subset(&labels, n, spec.subset_seed))
            }
            None => train_full,
        };
        let (selection, report) = match spec.dev_split_seed {
            Some(seed) => {
                let labels = dev.labels();
                let (a, b) = stab_data::split_halves(labels.as_deref(), dev.len(), seed);
                (dev.subset(&a), Some(dev.subset(&b)))
            }
            None => (dev, None),
        };
        Ok(Splits {
            train,
            selection,
            report,
            mismatched,
        })
    }

    /// The majority baseline on the reported split, on the mismatched set under
    /// `mismatched/…`, and on the selection half of a split dev set under `selection_half/…`.
    fn baseline(&self, task: &Task) -> Result<Metrics, TrainError> {
        let reported = self.report.as_ref().unwrap_or(&self.selection);
        let mut baseline = task.majority_baseline(&self.train, reported)?;
        if let Some(mm) = &self.mismatched {
            for (k, v) in task.majority_baseline(&self.train, mm)? {
                baseline.insert(format!("{MISMATCHED_PREFIX}{k}"), v);
            }
        }
        // A split dev set: the evaluations (and their curve) are on the selection half, whose
        // majority baseline differs from the report half's by a few examples.
        if self.report.is_some() {
            for (k, v) in task.majority_baseline(&self.train, &self.selection)? {
                baseline.insert(format!("{SELECTION_HALF_PREFIX}{k}"), v);
            }
        }
        Ok(baseline)
    }
}

/// Tokenises a dataset into items: sentences (pairs) in one batch call; tagged sentences word
/// by word, each word's tag on its first sub-token.
pub fn encode(tok: &Tokenizer, data: &Dataset) -> Result<Vec<Item>, TrainError> {
    match data {
        Dataset::Sentences(ex) => {
            let inputs: Vec<(&str, Option<&str>)> = ex
                .iter()
                .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
                .collect();
            let enc = tok.encode_batch(&inputs)?;
            Ok(enc
                .into_iter()
                .zip(ex)
                .map(|(e, x)| Item {
                    ids: e.ids,
                    type_ids: e.type_ids,
                    label: x.label,
                    word_starts: Vec::new(),
                    tags: Vec::new(),
                })
                .collect())
        }
        Dataset::Tagged(sents) => sents
            .iter()
            .map(|s| {
                let e = tok.encode_words(&s.tokens)?;
                Ok(Item {
                    word_starts: word_starts(&e.word_ids, s.tokens.len()),
                    ids: e.ids,
                    type_ids: e.type_ids,
                    label: None,
                    tags: s.tags.clone(),
                })
            })
            .collect(),
    }
}

/// Unlabelled sentence (pair) items of raw texts, as [`encode`] makes them.
pub fn encode_texts(
    tok: &Tokenizer,
    texts: &[(String, Option<String>)],
) -> Result<Vec<Item>, TrainError> {
    let examples = texts
        .iter()
        .enumerate()
        .map(|(i, (a, b))| Example {
            text_a: a.clone(),
            text_b: b.clone(),
            label: None,
            line: i + 1,
        })
        .collect();
    encode(tok, &Dataset::Sentences(examples))
}

/// The token position of each of `words` words' first sub-token (the first of each run of
/// tokens with its word id), `None` for a word truncated away.
pub fn word_starts(word_ids: &[Option<u32>], words: usize) -> Vec<Option<usize>> {
    let mut starts = vec![None; words];
    let mut prev = None;
    for (p, w) in word_ids.iter().enumerate() {
        if let Some(w) = *w {
            if prev != Some(w) {
                starts[w as usize] = Some(p);
            }
        }
        prev = *w;
    }
    starts
}

fn eval_set(tok: &Tokenizer, role: Role, data: &Dataset) -> Result<EvalSet, TrainError> {
    Ok(EvalSet {
        role,
        items: encode(tok, data)?,
        gold: data.answers("evaluation split")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_starts_at_its_first_sub_token_and_truncated_words_have_none() {
        // [CLS] w0 w1 w1 w2 [SEP] of four words, the last one truncated away.
        let ids = [None, Some(0), Some(1), Some(1), Some(2), None];
        assert_eq!(word_starts(&ids, 4), vec![Some(1), Some(2), Some(4), None]);
        assert_eq!(word_starts(&[None, None], 2), vec![None, None]);
    }
}
