//! The network side, through `hf-hub`'s blocking API: a revision's file list and commit, and
//! downloads into the cache, with the Hub's answers turned into [`HubError`]s that say what to
//! do, and nothing half-written left behind.

use std::path::PathBuf;

use hf_hub::api::sync::{ApiBuilder, ApiError, ApiRepo};
use hf_hub::Repo;

use crate::cache::{blob_of, is_sha256, sha256_file, CachedRepo, HubSettings, RepoKind};
use crate::HubError;

/// One repository at one revision on the Hub.
pub(crate) struct Remote {
    api: ApiRepo,
    pub(crate) repo: String,
    pub(crate) revision: String,
    kind: RepoKind,
    cached: CachedRepo,
    endpoint: String,
}

/// A revision's commit and file names, from `/api/{models,datasets}/<repo>/revision/<rev>`.
pub(crate) struct RevisionInfo {
    pub commit: String,
    pub files: Vec<String>,
}

impl Remote {
    pub(crate) fn new(
        settings: &HubSettings,
        kind: RepoKind,
        repo: &str,
        revision: &str,
    ) -> Result<Remote, HubError> {
        let api = ApiBuilder::new()
            .with_cache_dir(settings.cache.clone())
            .with_endpoint(settings.endpoint.clone())
            .with_token(settings.token.clone())
            .with_progress(settings.progress)
            .with_user_agent("stab", env!("CARGO_PKG_VERSION"))
            .build()
            .map_err(|e| HubError::Http {
                repo: repo.into(),
                what: format!("could not set up the Hub client: {e}"),
                url: settings.endpoint.clone(),
            })?;
        let api = api.repo(Repo::with_revision(
            repo.to_string(),
            kind.hf(),
            revision.to_string(),
        ));
        Ok(Remote {
            api,
            repo: repo.into(),
            revision: revision.into(),
            kind,
            cached: CachedRepo::new(&settings.cache, kind, repo),
            endpoint: settings.endpoint.clone(),
        })
    }

    fn info_url(&self) -> String {
        let prefix = match self.kind {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        };
        format!(
            "{}/api/{prefix}/{}/revision/{}",
            self.endpoint,
            self.repo,
            self.revision.replace('/', "%2F")
        )
    }

    /// The revision's commit and the repository's file names (one request).
    pub(crate) fn info(&self) -> Result<RevisionInfo, HubError> {
        let url = self.info_url();
        let response = self
            .api
            .info_request()
            .call()
            .map_err(|e| self.request_error(e, None, &url))?;
        let value: serde_json::Value = response.into_json().map_err(|e| HubError::Http {
            repo: self.repo.clone(),
            what: format!("the revision's description is not JSON: {e}"),
            url: url.clone(),
        })?;
        let commit = value.get("sha").and_then(|s| s.as_str());
        let siblings = value.get("siblings").and_then(|s| s.as_array());
        let (Some(commit), Some(siblings)) = (commit, siblings) else {
            return Err(HubError::Http {
                repo: self.repo.clone(),
                what: "the revision's description lacks `sha` or `siblings` (is HF_ENDPOINT a Hugging Face Hub?)".into(),
                url,
            });
        };
        let files = siblings
            .iter()
            .filter_map(|s| s.get("rfilename").and_then(|f| f.as_str()))
            .map(String::from)
            .collect();
        Ok(RevisionInfo {
            commit: commit.to_string(),
            files,
        })
    }

    /// Downloads `file` into the cache (or finds it there for `commit`) and returns its
    /// snapshot path. On failure the partial blob is removed; an LFS blob whose SHA-256 is not
    /// its name (the Hub's etag) is removed with its snapshot link.
    pub(crate) fn download(&self, file: &str, commit: &str) -> Result<PathBuf, HubError> {
        let cached = self.cached.snapshot(commit).join(file);
        if cached.exists() {
            return Ok(cached);
        }
        let url = self.api.url(file);
        let path = match self.api.download(file) {
            Ok(p) => p,
            Err(e) => {
                self.cached.remove_partial_downloads();
                return Err(self.api_error(e, Some(file), &url));
            }
        };
        if let Some(blob) = blob_of(&path) {
            let name = blob
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if is_sha256(&name) {
                let found = sha256_file(&blob)?;
                if found != name {
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(&blob);
                    return Err(HubError::Corrupt {
                        repo: self.repo.clone(),
                        file: file.into(),
                        expected: name,
                        found,
                    });
                }
            }
        }
        Ok(path)
    }

    fn api_error(&self, e: ApiError, file: Option<&str>, url: &str) -> HubError {
        match e {
            ApiError::RequestError(e) => self.request_error(*e, file, url),
            ApiError::MissingHeader(h) | ApiError::InvalidHeader(h) => HubError::Http {
                repo: self.repo.clone(),
                what: format!("the server's answer lacks a valid `{h}` header (is HF_ENDPOINT a Hugging Face Hub?)"),
                url: url.into(),
            },
            ApiError::TooManyRetries(e) => self.api_error(*e, file, url),
            other => HubError::Download {
                repo: self.repo.clone(),
                file: file.unwrap_or("the file list").into(),
                what: other.to_string(),
            },
        }
    }

    fn request_error(&self, e: ureq::Error, file: Option<&str>, url: &str) -> HubError {
        let repo = self.repo.clone();
        let url = url.to_string();
        match e {
            ureq::Error::Status(status, response) => {
                let code = response.header("x-error-code").unwrap_or("").to_string();
                match (status, code.as_str()) {
                    (_, "RepoNotFound") => HubError::RepoNotFound {
                        kind: self.kind.word(),
                        repo,
                        url,
                    },
                    (_, "RevisionNotFound") => HubError::RevisionNotFound {
                        repo,
                        revision: self.revision.clone(),
                        url,
                    },
                    (_, "EntryNotFound") => HubError::FileNotFound {
                        repo,
                        file: file.unwrap_or_default().into(),
                        url,
                    },
                    (401 | 403, _) | (_, "GatedRepo") => HubError::Unauthorized { repo, status, url },
                    (404, _) => match file {
                        Some(f) => HubError::FileNotFound {
                            repo,
                            file: f.into(),
                            url,
                        },
                        None => HubError::RepoNotFound {
                            kind: self.kind.word(),
                            repo,
                            url,
                        },
                    },
                    _ => HubError::Http {
                        repo,
                        what: format!("the Hub answered {status}"),
                        url,
                    },
                }
            }
            ureq::Error::Transport(t) => HubError::Http {
                repo,
                what: format!("could not reach the Hub ({t}); without network, set HF_HUB_OFFLINE=1 to use the Hugging Face cache only"),
                url,
            },
        }
    }
}
