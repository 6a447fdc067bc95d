//! The checkpoint directory a spec's `model` names: a local directory as it is, or a model
//! named on the Hugging Face Hub (`org/name[@revision]`) resolved through the Hugging Face
//! cache by stab-hub (downloaded when missing, unless `HF_HUB_OFFLINE=1`).

use std::path::PathBuf;

use stab_spec::ModelSource;

use crate::TrainError;

/// A checkpoint directory and, for a Hub model, where it came from.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub source: Option<ModelSource>,
}

/// Resolves `model` (a spec's field or a `--model` flag). A Hub model is announced on stderr
/// (the run's log) with the commit it resolved to.
pub fn resolve(model: &std::path::Path) -> Result<ModelDir, TrainError> {
    let Some(name) = model.to_str().and_then(stab_hub::ModelRef::parse) else {
        return Ok(ModelDir {
            dir: model.to_path_buf(),
            source: None,
        });
    };
    let settings = stab_hub::HubSettings::from_env();
    let got = stab_hub::resolve_model(&settings, &name)?;
    eprintln!(
        "model {name}: commit {} ({}) in {}",
        got.source.commit,
        if got.downloaded {
            "downloaded"
        } else {
            "from the Hugging Face cache"
        },
        got.dir.display()
    );
    Ok(ModelDir {
        dir: got.dir,
        source: Some(source_of(got.source)),
    })
}

/// Looks a Hub model up in the cache only (no network): `None` for a local path or a model
/// that is not cached. For `--print-spec`, which must not download.
pub fn cached(model: &std::path::Path) -> Option<ModelDir> {
    let name = model.to_str().and_then(stab_hub::ModelRef::parse)?;
    let got = stab_hub::model::cached_model(&stab_hub::HubSettings::from_env(), &name)?;
    Some(ModelDir {
        dir: got.dir,
        source: Some(source_of(got.source)),
    })
}

fn source_of(s: stab_hub::ModelSource) -> ModelSource {
    ModelSource {
        repo: s.repo,
        revision: s.revision,
        commit: s.commit,
        weights_sha256: s.weights_sha256,
    }
}
