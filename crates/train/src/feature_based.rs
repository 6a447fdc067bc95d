//! The feature-based approach (Devlin et al. Table 7): a head trained on features of the
//! frozen encoder, computed once per example and cached here.
//!
//! The encoder runs once over every set (eval mode: no dropout) right after the weights are
//! loaded; each epoch then costs only the head. Sentences cache one pooled vector per layer
//! read (`[F]`, or `[layers, H]` for a learned mix); tagged sentences cache one feature per word
//! that kept a sub-token ([W, …], in order), and their targets are word-level too — a BiLSTM
//! reads exactly those words, not a stand-in vector for words truncated away.

use stab_bert::Encoder;
use stab_data::TaskKind;
use stab_spec::{FeatureMode, Pooling};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::batch::{targets, Batch, Item, IGNORE};
use crate::run_data::RunData;
use crate::task_model::{combine_layers, feature_layers, pool, FeatureModel};
use crate::trainable::{Load, Setup, Trainable};
use crate::TrainError;

/// A head on cached features of the frozen encoder.
pub struct FeatureBased {
    /// The frozen encoder (its variables stay in the run's store; it classifies them).
    bert: Box<dyn Encoder>,
    head: FeatureModel,
    kind: TaskKind,
    device: Device,
    /// Features of the training items.
    train: Vec<Tensor>,
    /// Features of each evaluation set, in the order of [`RunData::evals`].
    evals: Vec<Vec<Tensor>>,
}

/// What the cache reads from the encoder.
struct Reading<'a> {
    layers: &'a [usize],
    mode: FeatureMode,
    pooling: Pooling,
    kind: TaskKind,
    pad_id: i64,
    device: Device,
}

impl FeatureBased {
    /// Creates the encoder and the head, loads the checkpoint, then caches the features of
    /// every set of `data`.
    pub fn build(
        vs: &mut VarStore,
        s: &Setup,
        data: &RunData,
        load: Load,
    ) -> Result<FeatureBased, TrainError> {
        let spec = s.spec;
        let (bert, head) = {
            let root = vs.root();
            let bert = s.encoder(&root)?;
            let head = FeatureModel::new(
                &root,
                spec.feature_mode,
                spec.feature_head,
                s.config.hidden_size,
                s.num_layers(),
                s.outputs,
                s.classifier_dropout(),
                spec.lstm_hidden as i64,
                s.config.initializer_range,
            );
            (bert, head)
        };
        load(vs, bert.as_ref())?;
        let layers = feature_layers(spec.feature_mode, s.num_layers());
        // The pooler is part of the frozen encoder's fine-tuning head: features read [CLS].
        let pooling = match spec.pooling {
            Pooling::Pooler => Pooling::Cls,
            p => p,
        };
        let reading = Reading {
            layers: &layers,
            mode: spec.feature_mode,
            pooling,
            kind: s.kind,
            pad_id: s.pad_id,
            device: s.device,
        };
        let cache = |items: &[Item]| cache_features(bert.as_ref(), items, &reading);
        let train = cache(&data.train);
        let evals = data.evals.iter().map(|e| cache(&e.items)).collect();
        Ok(FeatureBased {
            train,
            evals,
            bert,
            head,
            kind: s.kind,
            device: s.device,
        })
    }
}

impl Trainable for FeatureBased {
    fn freezes_encoder(&self) -> bool {
        true
    }

    fn encoder(&self) -> &dyn Encoder {
        self.bert.as_ref()
    }

    fn train_outputs(&self, data: &RunData, batch: &Batch) -> Result<(Tensor, Tensor), TrainError> {
        let (x, lengths) = feature_batch(&self.train, &batch.indices, self.device)?;
        let targets = match self.kind {
            TaskKind::Tagging => word_targets(&data.train, &batch.indices, x.size()[1]),
            _ => targets(&data.train, &batch.indices, self.kind, batch.padded_len),
        };
        Ok((
            self.head.forward_t(&x, Some(&lengths), true),
            targets.f_to_device(self.device)?,
        ))
    }

    fn eval_outputs(
        &self,
        _data: &RunData,
        set: usize,
        chunk: &[usize],
    ) -> Result<Tensor, TrainError> {
        let (x, lengths) = feature_batch(&self.evals[set], chunk, self.device)?;
        Ok(self.head.forward_t(&x, Some(&lengths), false))
    }

    /// The head predicts one tag per word that kept a sub-token, in order; words truncated
    /// away get `O` (tag 0), as in fine-tuning.
    fn word_tags(&self, item: &Item, row: &[i64]) -> Vec<usize> {
        let mut tags = row.iter();
        item.word_starts
            .iter()
            .map(|s| match s {
                Some(_) => tags.next().map_or(0, |&t| t as usize),
                None => 0,
            })
            .collect()
    }
}

/// Runs the frozen encoder once over `items` and keeps, per item, the feature the head reads:
/// `[F]` (or `[layers, H]` for a learned mix) for sentences, `[W, …]` for the W words that kept a
/// sub-token.
fn cache_features(bert: &dyn Encoder, items: &[Item], r: &Reading) -> Vec<Tensor> {
    let mut out: Vec<Option<Tensor>> = (0..items.len()).map(|_| None).collect();
    crate::features::hidden_states_by_length(
        bert,
        items,
        64,
        r.pad_id,
        r.device,
        |chunk, b, hs| {
            let chosen: Vec<Tensor> = r.layers.iter().map(|&l| hs[l].shallow_clone()).collect();
            if r.kind == TaskKind::Tagging {
                let f = combine_layers(r.mode, &chosen); // [B, T, F] or [B, T, L, H]
                for (row, &i) in chunk.iter().enumerate() {
                    let starts: Vec<i64> = items[i]
                        .word_starts
                        .iter()
                        .filter_map(|s| s.map(|p| p as i64))
                        .collect();
                    let idx = Tensor::from_slice(&starts).to_device(r.device);
                    out[i] = Some(f.get(row as i64).index_select(0, &idx).copy());
                }
            } else {
                let pooled: Vec<Tensor> = chosen
                    .iter()
                    .map(|h| pool(h, &b.attention_mask, r.pooling))
                    .collect();
                let f = combine_layers(r.mode, &pooled);
                for (row, &i) in chunk.iter().enumerate() {
                    out[i] = Some(f.get(row as i64).copy());
                }
            }
        },
    );
    out.into_iter()
        .map(|t| t.expect("hidden_states_by_length visits every item"))
        .collect()
}

/// Word-level tags `[B, W]` of tagging items (the tag of each word that kept a sub-token, as
/// the feature cache keeps them), padded with [`IGNORE`].
pub fn word_targets(items: &[Item], indices: &[usize], width: i64) -> Tensor {
    let mut t = vec![IGNORE; indices.len() * width as usize];
    for (row, &i) in indices.iter().enumerate() {
        let kept = items[i]
            .word_starts
            .iter()
            .zip(&items[i].tags)
            .filter_map(|(s, &tag)| s.map(|_| tag));
        for (w, tag) in kept.enumerate() {
            t[row * width as usize + w] = tag as i64;
        }
    }
    Tensor::from_slice(&t).view([indices.len() as i64, width])
}

/// Stacks cached features of `indices`, padding word sequences with zeros, and gives each
/// row's length (the number of words; for sentence features, the first dimension, unused).
pub fn feature_batch(
    cache: &[Tensor],
    indices: &[usize],
    device: Device,
) -> Result<(Tensor, Vec<i64>), TrainError> {
    let rows: Vec<&Tensor> = indices.iter().map(|&i| &cache[i]).collect();
    let lens: Vec<i64> = rows.iter().map(|t| t.size()[0]).collect();
    let max = lens.iter().copied().max().unwrap_or(0);
    let padded = rows
        .iter()
        .map(|t| {
            let mut shape = t.size();
            let pad = max - shape[0];
            if pad == 0 {
                return Ok(t.shallow_clone());
            }
            shape[0] = pad;
            let zeros = Tensor::f_zeros(&shape, (t.kind(), t.device()))?;
            Tensor::f_cat(&[t.shallow_clone(), zeros], 0)
        })
        .collect::<Result<Vec<Tensor>, tch::TchError>>()?;
    Ok((Tensor::f_stack(&padded, 0)?.f_to_device(device)?, lens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    /// A batch of word features carries each sentence's length (for packing)
    /// and the tags line up with the words that kept a sub-token — the words the cache holds.
    #[test]
    fn word_feature_batches_carry_lengths_and_aligned_tags() {
        let cache = vec![
            Tensor::ones([3, 2], (Kind::Float, Device::Cpu)),
            Tensor::ones([1, 2], (Kind::Float, Device::Cpu)),
        ];
        let (x, lengths) = feature_batch(&cache, &[1, 0], Device::Cpu).unwrap();
        assert_eq!(lengths, vec![1, 3]);
        assert_eq!(x.size(), vec![2, 3, 2]);
        assert_eq!(
            x.get(0).sum(Kind::Float).double_value(&[]),
            2.0,
            "zero padding"
        );
        // Word 1 lost its sub-tokens (None): the cache skips it, and so do the targets.
        let item = Item {
            ids: vec![101, 7, 8, 9, 102],
            type_ids: vec![0; 5],
            label: None,
            word_starts: vec![Some(1), None, Some(3)],
            tags: vec![4, 5, 6],
        };
        let t = word_targets(&[item], &[0], 3);
        assert_eq!(
            Vec::<i64>::try_from(t.view([-1])).unwrap(),
            vec![4, 6, IGNORE]
        );
    }

    #[test]
    fn sentence_features_stack_without_padding() {
        let cache: Vec<Tensor> = (0..3)
            .map(|k| Tensor::full([4], k as f64, (Kind::Float, Device::Cpu)))
            .collect();
        let (x, lengths) = feature_batch(&cache, &[2, 0], Device::Cpu).unwrap();
        assert_eq!(x.size(), vec![2, 4]);
        assert_eq!(lengths, vec![4, 4]);
        assert_eq!(x.get(0).sum(Kind::Float).double_value(&[]), 8.0);
    }

    #[test]
    fn feature_heads_tag_the_words_they_read_and_o_elsewhere() {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let m = FeatureBased {
            bert: Box::new(stab_bert::BertModel::new(
                vs.root() / "bert",
                &stab_bert::EncoderConfig::tiny(10),
            )),
            head: FeatureModel::new(
                &vs.root(),
                FeatureMode::Last,
                stab_spec::FeatureHead::Linear,
                4,
                1,
                3,
                0.0,
                2,
                0.02,
            ),
            kind: TaskKind::Tagging,
            device: Device::Cpu,
            train: Vec::new(),
            evals: Vec::new(),
        };
        let item = Item {
            ids: vec![101, 7, 102],
            type_ids: vec![0; 3],
            label: None,
            word_starts: vec![None, Some(1), Some(2)],
            tags: vec![0, 0, 0],
        };
        assert_eq!(m.word_tags(&item, &[2, 1, 7]), vec![0, 2, 1]);
    }
}
