//! The fine-tuned approach: an encoder of any family and its head trained together on padded token batches, in
//! bf16 autocast when the spec asks.
//!
//! Tagging heads predict every sub-token; a word's prediction is its first sub-token's, as
//! HF's `label_all_tokens = False` trains it.

use stab_bert::{Encoder, EncoderInput};
use stab_data::TaskKind;
use stab_spec::Precision;
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::batch::{make_batch, targets, Batch, Item};
use crate::run_data::RunData;
use crate::task_model::FineTuneModel;
use crate::trainable::{Load, Setup, Trainable};
use crate::TrainError;

/// An encoder plus its task head, all of it trained.
pub struct FineTuned {
    model: FineTuneModel,
    kind: TaskKind,
    pad_id: i64,
    device: Device,
    precision: Precision,
}

impl FineTuned {
    /// Creates the encoder and the head, then loads the checkpoint.
    pub fn build(vs: &mut VarStore, s: &Setup, load: Load) -> Result<FineTuned, TrainError> {
        let model = {
            let root = vs.root();
            FineTuneModel::new(
                &root,
                s.encoder(&root)?,
                s.kind,
                s.outputs,
                s.spec.pooling,
                s.classifier_dropout(),
            )
        };
        load(vs, model.bert.as_ref())?;
        Ok(FineTuned {
            model,
            kind: s.kind,
            pad_id: s.pad_id,
            device: s.device,
            precision: s.precision(),
        })
    }

    fn forward(&self, b: &Batch, train: bool) -> Tensor {
        let input = EncoderInput {
            input_ids: &b.input_ids,
            token_type_ids: Some(&b.token_type_ids),
            attention_mask: Some(&b.attention_mask),
        };
        crate::amp::maybe_autocast(self.precision, self.device, || {
            self.model.forward_t(&input, train)
        })
    }
}

impl Trainable for FineTuned {
    fn freezes_encoder(&self) -> bool {
        false
    }

    fn encoder(&self) -> &dyn Encoder {
        self.model.bert.as_ref()
    }

    fn train_outputs(&self, data: &RunData, batch: &Batch) -> Result<(Tensor, Tensor), TrainError> {
        let t = targets(&data.train, &batch.indices, self.kind, batch.padded_len);
        Ok((self.forward(batch, true), t.f_to_device(self.device)?))
    }

    fn eval_outputs(
        &self,
        data: &RunData,
        set: usize,
        chunk: &[usize],
    ) -> Result<Tensor, TrainError> {
        let b = make_batch(
            &data.evals[set].items,
            chunk,
            None,
            self.pad_id,
            self.device,
        );
        Ok(self.forward(&b, false))
    }

    fn word_tags(&self, item: &Item, row: &[i64]) -> Vec<usize> {
        word_predictions(item, row)
    }
}

/// Turns a token-level argmax `[T]` of one item into per-word predictions (first sub-token);
/// words truncated away are predicted as tag 0 (`O`).
pub fn word_predictions(item: &Item, token_preds: &[i64]) -> Vec<usize> {
    item.word_starts
        .iter()
        .map(|s| s.map(|p| token_preds[p] as usize).unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_predicted_by_its_first_sub_token() {
        let item = Item {
            ids: vec![101, 7, 8, 9, 102],
            type_ids: vec![0; 5],
            label: None,
            word_starts: vec![Some(1), Some(3), None],
            tags: vec![1, 2, 3],
        };
        assert_eq!(word_predictions(&item, &[0, 4, 5, 6, 0]), vec![4, 6, 0]);
    }
}
