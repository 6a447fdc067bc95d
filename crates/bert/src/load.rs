//! Strict checkpoint loading.
//!
//! HF checkpoints name tensors as the module tree (`encoder.layer.0.attention.self.query.weight`).
//! Task checkpoints prefix the encoder with `bert.`; old TF-converted ones call LayerNorm
//! parameters `gamma`/`beta`; many carry the `embeddings.position_ids` buffer. All of that is
//! normalised in one place, [`normalise_name`]. Loading is strict: every variable must be in the
//! file except those under an allowed prefix (the new head), and shapes must match exactly.
//! Tensors are converted to the variable's dtype explicitly (a bf16 file into an fp32 model).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tch::nn::VarStore;
use tch::Tensor;

use crate::ModelError;

/// What a load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub loaded: usize,
    /// Variables not in the file (all under allowed prefixes): freshly initialised.
    pub initialised: Vec<String>,
    /// Tensors in the file that the model does not use (e.g. pre-training heads `cls.*`).
    pub unused: Vec<String>,
}

/// Maps a checkpoint tensor name to stab's variable name; `None` for buffers that are skipped.
pub fn normalise_name(name: &str) -> Option<String> {
    normalise_family_name(name, "bert")
}

/// [`normalise_name`] for a family whose task checkpoints put the base model under `prefix.`
/// (`roberta.`, `electra.`…).
pub fn normalise_family_name(name: &str, prefix: &str) -> Option<String> {
    let name = name
        .strip_prefix(prefix)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(name);
    if name.ends_with("position_ids") {
        return None;
    }
    let name = if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    };
    Some(name)
}

/// Loads `path` (safetensors) into `vs`. Variables whose name starts with one of
/// `allowed_missing` may be absent from the file; any other absence is an error. Tensors the
/// model does not use are reported in [`LoadReport::unused`] (see [`load_checkpoint`] for the
/// strict version that refuses them).
pub fn load_safetensors(
    vs: &mut VarStore,
    path: &Path,
    allowed_missing: &[&str],
) -> Result<LoadReport, ModelError> {
    load_with(vs, path, allowed_missing, &|n| normalise_name(n))
}

/// Loads a checkpoint of any family into `vs`, strictly: every variable must be in the file
/// (except under `allowed_missing`, the new heads), shapes must match, and every tensor of the
/// file must be used, except the family's known pre-training heads
/// ([`crate::Family::ignored_prefixes`]) and tensors under `allowed_missing` (a fine-tuned head
/// that a new head replaces). Unused tensors are an error that names them.
pub fn load_checkpoint(
    vs: &mut VarStore,
    checkpoint: &crate::Checkpoint,
    allowed_missing: &[&str],
) -> Result<LoadReport, ModelError> {
    let family = checkpoint.family;
    let prefix = family.checkpoint_prefix();
    let report = load_with(vs, &checkpoint.weights, allowed_missing, &|n| {
        normalise_family_name(n, prefix)
    })?;
    let unexpected: Vec<String> = report
        .unused
        .iter()
        .filter(|n| {
            !family
                .ignored_prefixes()
                .iter()
                .chain(allowed_missing)
                .any(|p| n.starts_with(p))
        })
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        return Err(ModelError::UnexpectedWeights {
            path: checkpoint.weights.clone(),
            model_type: family.model_types()[0].to_string(),
            names: unexpected,
        });
    }
    Ok(report)
}

fn load_with(
    vs: &mut VarStore,
    path: &Path,
    allowed_missing: &[&str],
    normalise: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadReport, ModelError> {
    if !path.exists() {
        return Err(ModelError::NoWeights {
            path: path.to_path_buf(),
        });
    }
    let tensors = Tensor::read_safetensors(path).map_err(|e| ModelError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut file: BTreeMap<String, Tensor> = BTreeMap::new();
    for (name, t) in tensors {
        if let Some(n) = normalise(&name) {
            file.insert(n, t);
        }
    }
    let variables = vs.variables();
    let mut report = LoadReport::default();
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    for name in names {
        let var = &variables[name];
        match file.get(name) {
            Some(src) => {
                if src.size() != var.size() {
                    return Err(ModelError::ShapeMismatch {
                        path: path.to_path_buf(),
                        name: name.clone(),
                        expected: var.size(),
                        found: src.size(),
                    });
                }
                let src = src.to_kind(var.kind()).to_device(var.device());
                tch::no_grad(|| var.shallow_clone().copy_(&src));
                used.insert(name.clone());
                report.loaded += 1;
            }
            None if allowed_missing.iter().any(|p| name.starts_with(p)) => {
                report.initialised.push(name.clone())
            }
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(ModelError::MissingWeights {
            path: path.to_path_buf(),
            names: missing,
        });
    }
    report.unused = file
        .keys()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_prefixed_names_are_normalised() {
        assert_eq!(
            normalise_name("bert.embeddings.LayerNorm.gamma").as_deref(),
            Some("embeddings.LayerNorm.weight")
        );
        assert_eq!(
            normalise_name("encoder.layer.3.output.LayerNorm.beta").as_deref(),
            Some("encoder.layer.3.output.LayerNorm.bias")
        );
        assert_eq!(normalise_name("bert.embeddings.position_ids"), None);
        assert_eq!(
            normalise_name("classifier.weight").as_deref(),
            Some("classifier.weight")
        );
    }
}
