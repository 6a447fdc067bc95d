//! Encoded examples, batch order and dynamic padding.
//!
//! The order of training examples is a pure function of the data seed and the epoch (a ChaCha
//! stream seeded once per run), independent of the init seed and of the thread count. Batches
//! are padded to their longest member (dynamic padding) unless the run asks for HF run_glue's
//! pad-to-max-length. Length-grouped batching follows HF's `LengthGroupedSampler`: a random
//! permutation cut into mega-batches of 50 batches, each sorted by length — still fully
//! determined by the data seed, and it cuts padded tokens roughly in half on RTE.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stab_data::{Label, TaskKind};
use tch::{Device, Tensor};

/// Label id for sub-tokens that carry no label (CrossEntropy's `ignore_index`, HF's -100).
pub const IGNORE: i64 = -100;

/// One tokenised example with its gold answer in the data's own terms (no training-time
/// encoding: [`targets`] derives the loss targets from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
    /// Sentence tasks: the example's label (`None` in an unlabelled split).
    pub label: Option<Label>,
    /// Tagging tasks: token position of each word's first sub-token (None when truncated away).
    pub word_starts: Vec<Option<usize>>,
    /// Tagging tasks: each word's tag id, one per entry of `word_starts`.
    pub tags: Vec<usize>,
}

/// A padded batch on a device.
pub struct Batch {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
    /// Indices of the items in their set.
    pub indices: Vec<usize>,
    /// Tokens that are not padding.
    pub real_tokens: usize,
    /// Padded length.
    pub padded_len: usize,
}

/// Pads `items[indices]` to the longest (or to `pad_to`) and moves them to `device`.
pub fn make_batch(
    items: &[Item],
    indices: &[usize],
    pad_to: Option<usize>,
    pad_id: i64,
    device: Device,
) -> Batch {
    let longest = indices
        .iter()
        .map(|&i| items[i].ids.len())
        .max()
        .unwrap_or(0);
    let len = pad_to.unwrap_or(longest).max(longest);
    let b = indices.len();
    let mut ids = vec![pad_id; b * len];
    let mut types = vec![0i64; b * len];
    let mut mask = vec![0i64; b * len];
    let mut real = 0;
    for (row, &i) in indices.iter().enumerate() {
        let it = &items[i];
        let n = it.ids.len();
        real += n;
        ids[row * len..row * len + n].copy_from_slice(&it.ids);
        types[row * len..row * len + n].copy_from_slice(&it.type_ids);
        mask[row * len..row * len + n].fill(1);
    }
    let shape = [b as i64, len as i64];
    Batch {
        input_ids: Tensor::from_slice(&ids).view(shape).to_device(device),
        token_type_ids: Tensor::from_slice(&types).view(shape).to_device(device),
        attention_mask: Tensor::from_slice(&mask).view(shape).to_device(device),
        indices: indices.to_vec(),
        real_tokens: real,
        padded_len: len,
    }
}

/// The loss targets of `items[indices]` (on the CPU) for a task of kind `kind`, padded to
/// `len` tokens for tagging: `[B]` int64 class ids ([`IGNORE`] for an unlabelled item), `[B]`
/// float scores, or `[B, len]` int64 tags on each word's first sub-token and [`IGNORE`]
/// elsewhere (HF's `label_all_tokens = False`).
pub fn targets(items: &[Item], indices: &[usize], kind: TaskKind, len: usize) -> Tensor {
    let rows = indices.iter().map(|&i| &items[i]);
    match kind {
        TaskKind::Classification => {
            let c: Vec<i64> = rows
                .map(|it| it.label.and_then(Label::class).map_or(IGNORE, |c| c as i64))
                .collect();
            Tensor::from_slice(&c)
        }
        TaskKind::Regression => {
            let s: Vec<f32> = rows
                .map(|it| {
                    it.label
                        .and_then(Label::score)
                        .map_or(f32::NAN, |s| s as f32)
                })
                .collect();
            Tensor::from_slice(&s)
        }
        TaskKind::Tagging => {
            let mut t = vec![IGNORE; indices.len() * len];
            for (row, it) in rows.enumerate() {
                for (start, &tag) in it.word_starts.iter().zip(&it.tags) {
                    if let Some(p) = start {
                        t[row * len + p] = tag as i64;
                    }
                }
            }
            Tensor::from_slice(&t).view([indices.len() as i64, len as i64])
        }
    }
}

/// How many terms the mean loss of `items[indices]` averages over: labelled examples, or for
/// tagging labelled words (first sub-tokens). Micro-batches of one accumulated step weigh
/// their mean losses by it, so that the step's loss and gradient are the whole batch's.
pub fn loss_terms(items: &[Item], indices: &[usize], kind: TaskKind) -> usize {
    let rows = indices.iter().map(|&i| &items[i]);
    match kind {
        TaskKind::Classification => rows
            .filter(|it| it.label.and_then(Label::class).is_some())
            .count(),
        TaskKind::Regression => rows
            .filter(|it| it.label.and_then(Label::score).is_some())
            .count(),
        TaskKind::Tagging => rows
            .map(|it| it.word_starts.iter().filter(|s| s.is_some()).count())
            .sum(),
    }
}

/// Training loss of the best constant predictor on `items` (the loss a model that learned
/// nothing about its inputs converges to): the entropy of the class (or, for tagging, the
/// first-sub-token tag) frequencies over the loss terms, or the variance of the scores under
/// mean squared error. `None` without labelled items.
pub fn constant_loss(items: &[Item], kind: TaskKind) -> Option<f64> {
    match kind {
        TaskKind::Regression => {
            let scores: Vec<f64> = items
                .iter()
                .filter_map(|it| it.label.and_then(Label::score))
                .collect();
            stab_spec::variance(&scores)
        }
        TaskKind::Classification | TaskKind::Tagging => {
            let mut counts: Vec<usize> = Vec::new();
            let mut add = |c: usize| {
                if counts.len() <= c {
                    counts.resize(c + 1, 0);
                }
                counts[c] += 1;
            };
            for it in items {
                if kind == TaskKind::Classification {
                    if let Some(c) = it.label.and_then(Label::class) {
                        add(c);
                    }
                } else {
                    for (start, &tag) in it.word_starts.iter().zip(&it.tags) {
                        if start.is_some() {
                            add(tag);
                        }
                    }
                }
            }
            stab_spec::entropy(&counts)
        }
    }
}

/// Produces each epoch's batches from one ChaCha stream seeded with the data seed.
pub struct BatchOrder {
    rng: ChaCha8Rng,
    n: usize,
    batch_size: usize,
    lengths: Option<Vec<usize>>,
}

impl BatchOrder {
    /// `lengths`: Some(token counts) for length-grouped batching.
    pub fn new(n: usize, batch_size: usize, data_seed: u64, lengths: Option<Vec<usize>>) -> Self {
        BatchOrder {
            rng: ChaCha8Rng::seed_from_u64(data_seed),
            n,
            batch_size,
            lengths,
        }
    }

    /// The batches of the next epoch (the last one may be smaller, as PyTorch's DataLoader).
    pub fn next_epoch(&mut self) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut self.rng);
        if let Some(lengths) = &self.lengths {
            for mega in order.chunks_mut(50 * self.batch_size) {
                mega.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
            }
        }
        order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// Number of batches per epoch.
pub fn batches_per_epoch(n: usize, batch_size: usize) -> usize {
    n.div_ceil(batch_size)
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_loss_is_the_label_entropy_or_the_score_variance() {
        let item = |label: Option<Label>| Item {
            ids: vec![1],
            type_ids: vec![0],
            label,
            word_starts: Vec::new(),
            tags: Vec::new(),
        };
        let classes: Vec<Item> = [0, 0, 0, 1, 1]
            .iter()
            .map(|&c| item(Some(Label::Class(c))))
            .chain(std::iter::once(item(None)))
            .collect();
        // 3 of class 0, 2 of class 1; the unlabelled item is no loss term.
        let h = constant_loss(&classes, TaskKind::Classification).unwrap();
        assert!((h - stab_spec::entropy(&[3, 2]).unwrap()).abs() < 1e-15);
        let scores: Vec<Item> = [1.0, 3.0]
            .iter()
            .map(|&s| item(Some(Label::Score(s))))
            .collect();
        assert_eq!(constant_loss(&scores, TaskKind::Regression), Some(1.0));
        // Tagging: only words whose first sub-token survived truncation count.
        let tagged = Item {
            word_starts: vec![Some(1), Some(2), None],
            tags: vec![0, 1, 1],
            ..item(None)
        };
        let h = constant_loss(&[tagged], TaskKind::Tagging).unwrap();
        assert!((h - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(constant_loss(&[], TaskKind::Classification), None);
    }
    use super::*;

    fn item(n: usize, c: usize) -> Item {
        Item {
            ids: vec![1; n],
            type_ids: vec![0; n],
            label: Some(Label::Class(c)),
            word_starts: vec![],
            tags: vec![],
        }
    }

    #[test]
    fn dynamic_padding_pads_to_the_longest() {
        let items = vec![item(3, 0), item(5, 1)];
        let b = make_batch(&items, &[0, 1], None, 0, Device::Cpu);
        assert_eq!(b.input_ids.size(), vec![2, 5]);
        assert_eq!(b.real_tokens, 8);
        assert_eq!(
            Vec::<i64>::try_from(b.attention_mask.view([-1])).unwrap(),
            vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
        );
        let p = make_batch(&items, &[0, 1], Some(8), 0, Device::Cpu);
        assert_eq!(p.input_ids.size(), vec![2, 8]);
    }

    #[test]
    fn targets_follow_the_task_kind() {
        let items = vec![item(3, 1), item(5, 0)];
        let t = targets(&items, &[1, 0], TaskKind::Classification, 5);
        assert_eq!(Vec::<i64>::try_from(t).unwrap(), vec![0, 1]);
        let mut unlabelled = item(2, 0);
        unlabelled.label = None;
        let t = targets(&[unlabelled], &[0], TaskKind::Classification, 2);
        assert_eq!(Vec::<i64>::try_from(t).unwrap(), vec![IGNORE]);
        let mut score = item(2, 0);
        score.label = Some(Label::Score(2.5));
        let t = targets(&[score], &[0], TaskKind::Regression, 2);
        assert_eq!(Vec::<f32>::try_from(t).unwrap(), vec![2.5]);
    }

    /// Tags sit on each word's first sub-token, padded with IGNORE; a word truncated away
    /// (no start) has no target.
    #[test]
    fn tag_targets_sit_on_first_sub_tokens() {
        let tagged = Item {
            ids: vec![101, 7, 8, 9, 102],
            type_ids: vec![0; 5],
            label: None,
            word_starts: vec![Some(1), Some(2), None],
            tags: vec![3, 4, 5],
        };
        let t = targets(&[tagged], &[0], TaskKind::Tagging, 6);
        assert_eq!(t.size(), vec![1, 6]);
        assert_eq!(
            Vec::<i64>::try_from(t.view([-1])).unwrap(),
            vec![IGNORE, 3, 4, IGNORE, IGNORE, IGNORE]
        );
    }

    #[test]
    fn order_depends_only_on_the_data_seed() {
        let a = BatchOrder::new(100, 16, 7, None).next_epoch();
        let b = BatchOrder::new(100, 16, 7, None).next_epoch();
        let c = BatchOrder::new(100, 16, 8, None).next_epoch();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 7);
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn length_grouping_sorts_within_mega_batches() {
        let lengths: Vec<usize> = (0..40).map(|i| (i * 7) % 23).collect();
        let mut o = BatchOrder::new(40, 4, 1, Some(lengths.clone()));
        let batches = o.next_epoch();
        let flat: Vec<usize> = batches.concat();
        assert!(flat.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
    }
}
