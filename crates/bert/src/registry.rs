//! The one table of model families, and the lookup that picks one from `config.json`.
//!
//! Adding a family is one new file implementing [`Family`] and [`crate::Encoder`] (plus its
//! `mod` line in `lib.rs`) and one line in [`FAMILIES`]. The table sits apart from
//! [`crate::encoder`] because it names every family, and every family imports the encoder
//! interface: keeping both in one file made the module graph a cycle.

use std::path::Path;

use crate::encoder::Family;
use crate::ModelError;

/// Every family stab knows, one line each; [`family_for`] searches it.
pub static FAMILIES: &[&dyn Family] = &[
    &crate::bert::Bert,
    &crate::roberta::Roberta,
    &crate::electra::Electra,
    &crate::albert::Albert,
    &crate::deberta_v2::DebertaV2,
    &crate::modernbert::ModernBert,
];

/// The family of `model_type` (`None`, as in old BERT checkpoints without the key: BERT).
pub fn family_for(
    model_type: Option<&str>,
    path: &Path,
) -> Result<&'static dyn Family, ModelError> {
    let model_type = model_type.unwrap_or("bert");
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.model_types().contains(&model_type))
        .ok_or_else(|| ModelError::Config {
            path: path.to_path_buf(),
            message: format!(
                "model_type `{model_type}` is not supported (supported: {})",
                FAMILIES
                    .iter()
                    .flat_map(|f| f.model_types().iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}
