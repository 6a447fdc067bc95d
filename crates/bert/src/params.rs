//! Which part of a model a parameter belongs to: embeddings, encoder layer i, layers shared by
//! every layer, pooler, or a head on top.
//!
//! [`ParamGroup`] is the one classification of parameters: every family answers it through
//! [`crate::Encoder::param_group`], and a training policy (freezing, layer-wise learning rates,
//! re-initialisation) reads only that instead of parsing names itself. BERT's own names — the
//! ones [`crate::bert`] builds through `nn::Path` (`embeddings.…`, `encoder.layer.<i>.…`,
//! `pooler.…`) — are classified here, beside the type, by [`ParamGroup::of`]; families that
//! share BERT's layout (RoBERTa, ELECTRA, DeBERTa) use [`ParamGroup::of_bert_layout`] with their
//! extra embedding prefixes, the others (ALBERT, ModernBERT) classify their own names. Anything
//! else — `classifier.…`, a scalar mix, an LSTM — is a head.

/// The part of the model a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamGroup {
    /// Token/position/type embeddings, their LayerNorm, and what maps them to the first layer
    /// (ELECTRA's `embeddings_project`, ALBERT's `embedding_hidden_mapping_in`).
    Embeddings,
    /// Encoder layer i (0-based from the bottom) and nothing else: BERT's
    /// `encoder.layer.<i>.…`.
    Layer(usize),
    /// Parameters every layer uses (ALBERT's shared layer group): "layer k" has no parameters
    /// of its own, so layer-wise knobs can only take all of them or none.
    SharedLayers,
    /// A pre-trained pooler: BERT's `pooler.…` (the dense + tanh on `[CLS]`), ALBERT's
    /// `pooler`.
    Pooler,
    /// Everything that is not the encoder's own: task heads, scalar mixes, LSTMs.
    Head,
}

impl ParamGroup {
    /// The group of a variable name as [`crate::BertModel`] creates it (no `bert.` prefix):
    /// BERT's implementation of [`crate::Encoder::param_group`].
    ///
    /// ```
    /// use stab_bert::ParamGroup;
    /// assert_eq!(ParamGroup::of("encoder.layer.3.output.dense.bias"), ParamGroup::Layer(3));
    /// assert_eq!(ParamGroup::of("embeddings.LayerNorm.weight"), ParamGroup::Embeddings);
    /// assert_eq!(ParamGroup::of("classifier.weight"), ParamGroup::Head);
    /// ```
    pub fn of(name: &str) -> ParamGroup {
        ParamGroup::of_bert_layout(name, &[])
    }

    /// The group of a variable in BERT's layout (`embeddings.…`, `encoder.layer.<i>.…`,
    /// `pooler.…`), where the prefixes `extra_embeddings` also count as embeddings.
    pub fn of_bert_layout(name: &str, extra_embeddings: &[&str]) -> ParamGroup {
        if name.starts_with("embeddings.") || extra_embeddings.iter().any(|p| name.starts_with(p)) {
            return ParamGroup::Embeddings;
        }
        if name.starts_with("pooler.") {
            return ParamGroup::Pooler;
        }
        let layer = name
            .strip_prefix("encoder.layer.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|i| i.parse().ok());
        match layer {
            Some(i) => ParamGroup::Layer(i),
            None => ParamGroup::Head,
        }
    }

    /// Whether the parameter is part of the pretrained encoder (embeddings, layers, pooler).
    pub fn is_encoder(self) -> bool {
        self != ParamGroup::Head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_fall_into_their_groups() {
        for (name, group) in [
            ("embeddings.word_embeddings.weight", ParamGroup::Embeddings),
            ("embeddings.LayerNorm.bias", ParamGroup::Embeddings),
            (
                "encoder.layer.0.attention.self.query.weight",
                ParamGroup::Layer(0),
            ),
            (
                "encoder.layer.11.output.LayerNorm.weight",
                ParamGroup::Layer(11),
            ),
            ("pooler.dense.weight", ParamGroup::Pooler),
            ("classifier.bias", ParamGroup::Head),
            ("scalar_mix.gamma", ParamGroup::Head),
            ("lstm.weight_ih_l0_reverse", ParamGroup::Head),
        ] {
            assert_eq!(ParamGroup::of(name), group, "{name}");
            assert_eq!(group.is_encoder(), group != ParamGroup::Head);
        }
        assert!(ParamGroup::SharedLayers.is_encoder());
    }

    #[test]
    fn extra_embedding_prefixes_count_as_embeddings() {
        let extra = ["embeddings_project.", "encoder.rel_embeddings."];
        for (name, group) in [
            ("embeddings_project.weight", ParamGroup::Embeddings),
            ("encoder.rel_embeddings.weight", ParamGroup::Embeddings),
            ("encoder.layer.2.output.dense.bias", ParamGroup::Layer(2)),
            ("classifier.out_proj.weight", ParamGroup::Head),
        ] {
            assert_eq!(ParamGroup::of_bert_layout(name, &extra), group, "{name}");
        }
        assert_eq!(
            ParamGroup::of("embeddings_project.weight"),
            ParamGroup::Head
        );
    }
}
