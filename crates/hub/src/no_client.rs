//! The network side in a build without the `download` feature: every attempt to reach the Hub
//! is a [`HubError::NoClient`] that says how to get a build that can (cached models and data
//! need no client).

use std::convert::Infallible;
use std::path::PathBuf;

use crate::cache::{HubSettings, RepoKind};
use crate::HubError;

/// Never constructed: [`Remote::new`] fails.
pub(crate) struct Remote {
    pub(crate) revision: String,
    never: Infallible,
}

/// A revision's commit and file names.
pub(crate) struct RevisionInfo {
    pub commit: String,
    pub files: Vec<String>,
}

impl Remote {
    pub(crate) fn new(
        _settings: &HubSettings,
        kind: RepoKind,
        repo: &str,
        revision: &str,
    ) -> Result<Remote, HubError> {
        let what = kind.word();
        let python = match kind {
            RepoKind::Model => format!("huggingface-cli download {repo} --revision {revision}"),
            RepoKind::Dataset => {
                format!("huggingface-cli download --repo-type dataset {repo} --revision {revision}")
            }
        };
        Err(HubError::NoClient {
            what: format!("{what} {repo}@{revision} is not in the Hugging Face cache"),
            python,
        })
    }

    pub(crate) fn info(&self) -> Result<RevisionInfo, HubError> {
        match self.never {}
    }

    pub(crate) fn download(&self, _file: &str, _commit: &str) -> Result<PathBuf, HubError> {
        match self.never {}
    }
}
