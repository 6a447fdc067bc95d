//! A model given by name (`org/name`, optionally `@revision`), resolved to a checkpoint
//! directory in the Hugging Face cache: from the cache when a complete snapshot is there,
//! else downloaded (unless `HF_HUB_OFFLINE=1`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::{blob_of, is_sha256, sha256_file, CachedRepo, HubSettings, RepoKind};
use crate::http::Remote;
use crate::HubError;

/// The files stab reads from a checkpoint; the first two are required, and one of the
/// tokenizer's `tokenizer.json` / `vocab.txt`.
const REQUIRED: [&str; 2] = ["config.json", "model.safetensors"];
const TOKENIZER: [&str; 4] = [
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

/// A model named the Hub's way: `repo` is `org/name` (or a legacy `name`), `revision` a
/// branch, tag or commit (`main` unless `@revision` was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub repo: String,
    pub revision: String,
}

impl ModelRef {
    /// Reads `model` as a Hub name, or `None` when it is a local path: one that exists, is
    /// absolute, starts with `.` or `~`, has more than one `/`, or has characters a Hub name
    /// cannot have.
    pub fn parse(model: &str) -> Option<ModelRef> {
        if model.is_empty() || Path::new(model).exists() {
            return None;
        }
        let (repo, revision) = match model.split_once('@') {
            Some((r, rev)) if !rev.is_empty() => (r, rev),
            Some(_) => return None,
            None => (model, "main"),
        };
        let parts: Vec<&str> = repo.split('/').collect();
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['.', '-'])
                && !p.ends_with('.')
                && !p.contains("..")
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if parts.len() > 2 || !parts.iter().all(|p| part_ok(p)) {
            return None;
        }
        if revision.contains("..") || revision.starts_with('/') {
            return None;
        }
        Some(ModelRef {
            repo: repo.into(),
            revision: revision.into(),
        })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.revision == "main" {
            write!(f, "{}", self.repo)
        } else {
            write!(f, "{}@{}", self.repo, self.revision)
        }
    }
}

/// Where a Hub model came from, for the run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSource {
    pub repo: String,
    /// As asked for (`main` unless `@revision` was given).
    pub revision: String,
    /// The commit the revision resolved to.
    pub commit: String,
    /// SHA-256 of `model.safetensors`.
    pub weights_sha256: String,
}

/// A checkpoint directory (a snapshot in the cache) and where it came from.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub dir: PathBuf,
    pub source: ModelSource,
    /// Whether this call downloaded anything.
    pub downloaded: bool,
}

/// The first file a checkpoint directory lacks, if any.
fn missing_file(dir: &Path) -> Option<&'static str> {
    for f in REQUIRED {
        if !dir.join(f).exists() {
            return Some(f);
        }
    }
    if !dir.join("tokenizer.json").exists() && !dir.join("vocab.txt").exists() {
        return Some("tokenizer.json (or vocab.txt)");
    }
    None
}

/// SHA-256 of the weights: an LFS blob's name is its SHA-256, so a cached file needs no
/// hashing; anything else is hashed.
fn weights_sha256(dir: &Path) -> Result<String, HubError> {
    let file = dir.join("model.safetensors");
    if let Some(blob) = blob_of(&file) {
        if let Some(name) = blob.file_name().and_then(|n| n.to_str()) {
            if is_sha256(name) {
                return Ok(name.to_ascii_lowercase());
            }
        }
    }
    sha256_file(&file)
}

/// Looks `model` up in the cache only; `None` where no complete snapshot is there.
pub fn cached_model(settings: &HubSettings, model: &ModelRef) -> Option<ResolvedModel> {
    let cached = CachedRepo::new(&settings.cache, RepoKind::Model, &model.repo);
    let commit = cached.commit(&model.revision)?;
    let dir = cached.snapshot(&commit);
    if missing_file(&dir).is_some() {
        return None;
    }
    let sha = weights_sha256(&dir).ok()?;
    Some(ResolvedModel {
        dir,
        source: ModelSource {
            repo: model.repo.clone(),
            revision: model.revision.clone(),
            commit,
            weights_sha256: sha,
        },
        downloaded: false,
    })
}

/// Resolves `model` to a checkpoint directory: a complete cached snapshot as is, else (not
/// offline) the revision's commit and file list from the Hub and the files stab reads
/// downloaded into the cache.
pub fn resolve_model(settings: &HubSettings, model: &ModelRef) -> Result<ResolvedModel, HubError> {
    if let Some(found) = cached_model(settings, model) {
        return Ok(found);
    }
    let cached = CachedRepo::new(&settings.cache, RepoKind::Model, &model.repo);
    if settings.offline {
        let missing = match cached.commit(&model.revision) {
            None if cached.dir.is_dir() => {
                format!(" (no snapshot for revision {})", model.revision)
            }
            None => String::new(),
            Some(c) => format!(
                " (snapshot {c} lacks {})",
                missing_file(&cached.snapshot(&c)).unwrap_or("a file")
            ),
        };
        return Err(HubError::NotCached {
            repo: model.to_string(),
            cache: settings.cache.clone(),
            missing,
        });
    }
    let remote = Remote::new(settings, RepoKind::Model, &model.repo, &model.revision)?;
    let info = remote.info()?;
    let has = |f: &str| info.files.iter().any(|x| x == f);
    if !has("model.safetensors") {
        let also = if has("pytorch_model.bin") {
            " (only pytorch_model.bin)".to_string()
        } else if has("model.safetensors.index.json") {
            " (only sharded weights, model.safetensors.index.json)".to_string()
        } else {
            String::new()
        };
        return Err(HubError::NoSafetensors {
            repo: model.to_string(),
            also,
        });
    }
    if !has("config.json") {
        return Err(HubError::Incomplete {
            repo: model.to_string(),
            file: "config.json".into(),
        });
    }
    if !has("tokenizer.json") && !has("vocab.txt") {
        return Err(HubError::Incomplete {
            repo: model.to_string(),
            file: "tokenizer.json (or vocab.txt)".into(),
        });
    }
    let mut dir = None;
    for file in REQUIRED.iter().chain(TOKENIZER.iter()).filter(|f| has(f)) {
        let path = remote.download(file, &info.commit)?;
        let parent = path.parent().map(Path::to_path_buf);
        match (&dir, parent) {
            (None, p) => dir = p,
            (Some(d), Some(p)) if *d == p => {}
            _ => {
                return Err(HubError::Http {
                    repo: model.to_string(),
                    what: format!(
                        "revision {} moved to another commit during the download; run again",
                        model.revision
                    ),
                    url: settings.endpoint.clone(),
                })
            }
        }
    }
    let dir = dir.expect("config.json was downloaded");
    let commit = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(&info.commit)
        .to_string();
    cached.write_ref(&model.revision, &commit)?;
    let sha = weights_sha256(&dir)?;
    Ok(ResolvedModel {
        dir,
        source: ModelSource {
            repo: model.repo.clone(),
            revision: model.revision.clone(),
            commit,
            weights_sha256: sha,
        },
        downloaded: true,
    })
}

/// One file of a repository at a revision, from the cache or downloaded into it (the cache
/// alone when offline); its snapshot path.
pub fn fetch_file(
    settings: &HubSettings,
    kind: RepoKind,
    repo: &str,
    revision: &str,
    file: &str,
) -> Result<PathBuf, HubError> {
    let cached = CachedRepo::new(&settings.cache, kind, repo);
    if let Some(commit) = cached.commit(revision) {
        let path = cached.snapshot(&commit).join(file);
        if path.exists() {
            return Ok(path);
        }
    }
    if settings.offline {
        return Err(HubError::NotCached {
            repo: format!("{repo} ({file})"),
            cache: settings.cache.clone(),
            missing: String::new(),
        });
    }
    let remote = Remote::new(settings, kind, repo, revision)?;
    let info = remote.info()?;
    let path = remote.download(file, &info.commit)?;
    cached.write_ref(revision, &info.commit)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_and_local_paths_are_told_apart() {
        let m = ModelRef::parse("google-bert/bert-base-uncased").unwrap();
        assert_eq!(m.repo, "google-bert/bert-base-uncased");
        assert_eq!(m.revision, "main");
        let m = ModelRef::parse("microsoft/deberta-v3-base@v1.0").unwrap();
        assert_eq!(
            (m.repo.as_str(), m.revision.as_str()),
            ("microsoft/deberta-v3-base", "v1.0")
        );
        assert_eq!(m.to_string(), "microsoft/deberta-v3-base@v1.0");
        assert!(ModelRef::parse("bert-base-uncased").is_some());
        for local in [
            "/abs/model",
            "./model",
            "../shared/model",
            "a/b/c",
            ".deps/minilm/x",
            "~/models/x",
            "org/name@",
            "",
            "has space/x",
        ] {
            assert_eq!(ModelRef::parse(local), None, "{local}");
        }
        // An existing directory is local even when it looks like a Hub name.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("org").join("name");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(ModelRef::parse(dir.to_str().unwrap()), None);
    }
}
