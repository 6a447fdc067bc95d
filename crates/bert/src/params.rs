//! Which part of BERT a Hugging Face parameter name belongs to: embeddings, encoder layer i,
//! pooler, or a head on top.
//!
//! The names are the ones [`crate::model`] builds through `nn::Path` (`embeddings.…`,
//! `encoder.layer.<i>.…`, `pooler.…`), so the classification lives here, beside them: a
//! training policy (freezing, layer-wise learning rates, re-initialisation) asks for a
//! parameter's [`ParamGroup`] instead of parsing names itself. Anything else — `classifier.…`,
//! a scalar mix, an LSTM — is a head.

/// The part of the model a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamGroup {
    /// `embeddings.…`: word, position and token-type embeddings and their LayerNorm.
    Embeddings,
    /// `encoder.layer.<i>.…`, 0-based from the bottom.
    Layer(usize),
    /// `pooler.…`: the dense + tanh on `[CLS]`.
    Pooler,
    /// Everything that is not BERT's own: task heads, scalar mixes, LSTMs.
    Head,
}

impl ParamGroup {
    /// The group of a variable name as [`crate::BertModel`] creates it (no `bert.` prefix).
    ///
    /// ```
    /// use stab_bert::ParamGroup;
    /// assert_eq!(ParamGroup::of("encoder.layer.3.output.dense.bias"), ParamGroup::Layer(3));
    /// assert_eq!(ParamGroup::of("embeddings.LayerNorm.weight"), ParamGroup::Embeddings);
    /// assert_eq!(ParamGroup::of("classifier.weight"), ParamGroup::Head);
    /// ```
    pub fn of(name: &str) -> ParamGroup {
        if name.starts_with("embeddings.") {
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
    }
}
