//! Models and data sets by name from the Hugging Face Hub, through the cache every Hugging Face
//! tool shares (no LibTorch).
//!
//! Design decisions:
//! - **The cache layout is huggingface_hub's, exactly**: `$HF_HUB_CACHE`, else `$HF_HOME/hub`,
//!   else `~/.cache/huggingface/hub`; `models--org--name/{refs,snapshots,blobs}` with snapshot
//!   files as relative symlinks into `blobs/`. A model that Python downloaded is used without
//!   any network access, and one stab downloaded is visible to Python. Lookups are our own
//!   code ([`cache`]) because `hf-hub`'s `Cache::get` reads only `refs/<revision>` (a commit
//!   hash given as the revision has no ref) and knows only `$HF_HOME`.
//! - **Downloads go through `hf-hub`** (the client the Hugging Face Rust projects use; its
//!   blocking `ureq` API, so no async runtime is linked) with `HF_ENDPOINT`, `HF_TOKEN` and
//!   `HF_HUB_OFFLINE=1` honoured here ([`HubSettings::from_env`]): `hf-hub` itself reads only
//!   `HF_ENDPOINT` and the token file.
//! - **The cache never holds a half-written file**: `hf-hub` keeps an interrupted download as
//!   `blobs/<etag>.part` to resume it later; stab removes it (unless another process is still
//!   writing it, which its lock file tells), and checks every LFS blob against its SHA-256 (the
//!   etag the Hub gives LFS files), removing blob and snapshot link on a mismatch.
//! - **A cached, complete snapshot is used without asking the network** (as `hf-hub`'s `get`
//!   does), so runs are reproducible and a sweep's workers never race for a download; the run
//!   record stores the commit that was used ([`ModelSource`]).
//! - **Only the files stab reads are downloaded**: `config.json`, `model.safetensors`, and the
//!   tokenizer files (`tokenizer.json`, `vocab.txt`, `tokenizer_config.json`,
//!   `special_tokens_map.json`) that the repository has.
//! - **The network client and the parquet reader are a feature** (`download`, on by default;
//!   the `stab` binary's `hub`): they are about half of a cold release build. Without them
//!   names still resolve from the cache, and a download or a parquet file gives
//!   [`HubError::NoClient`], which says how to get a build that has them.
//! - **GLUE comes from the Hub's parquet files** (`nyu-mll/glue`), read with arrow-rs's
//!   `parquet` crate through its row API (no arrow arrays, Snappy only), and is written in the
//!   layout of the GLUE download script that stab's readers take ([`glue`]).

pub mod cache;
pub mod glue;
#[cfg(feature = "download")]
mod http;
#[cfg(not(feature = "download"))]
#[path = "no_client.rs"]
mod http;
pub mod model;

/// Whether this build can download (the `download` feature: hf-hub and parquet).
pub const CAN_DOWNLOAD: bool = cfg!(feature = "download");

use std::path::PathBuf;

pub use cache::HubSettings;
pub use model::{resolve_model, ModelRef, ModelSource, ResolvedModel};

/// What can go wrong between stab and the Hub or its cache. Every message names the
/// repository, file or URL, and says what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{repo} is not in the Hugging Face cache at {cache}{missing} and HF_HUB_OFFLINE=1: run once with network access (unset HF_HUB_OFFLINE) or copy the model there")]
    NotCached {
        repo: String,
        cache: PathBuf,
        missing: String,
    },
    #[error("the Hub has no {kind} {repo} (404 at {url}); check the name, or set HF_TOKEN if it is private")]
    RepoNotFound {
        kind: &'static str,
        repo: String,
        url: String,
    },
    #[error("{repo} has no revision {revision} (404 at {url})")]
    RevisionNotFound {
        repo: String,
        revision: String,
        url: String,
    },
    #[error("{repo} has no file {file} (404 at {url})")]
    FileNotFound {
        repo: String,
        file: String,
        url: String,
    },
    #[error("{repo}: access refused ({status} at {url}); the repository is private or gated: accept its terms on the Hub and set HF_TOKEN to a token that may read it")]
    Unauthorized {
        repo: String,
        status: u16,
        url: String,
    },
    #[error("{repo}: {what} (at {url})")]
    Http {
        repo: String,
        what: String,
        url: String,
    },
    #[error(
        "{repo}: could not download {file}: {what}; nothing half-written was left in the cache"
    )]
    Download {
        repo: String,
        file: String,
        what: String,
    },
    #[error("{repo}: {file} was downloaded with SHA-256 {found}, the Hub announced {expected}; the file was removed from the cache, try again")]
    Corrupt {
        repo: String,
        file: String,
        expected: String,
        found: String,
    },
    #[error("{repo} has no model.safetensors{also}; stab reads safetensors weights only (convert with transformers' `save_pretrained(safe_serialization=True)`)")]
    NoSafetensors { repo: String, also: String },
    #[error("{repo} has no {file}; a stab model needs config.json, model.safetensors and tokenizer.json or vocab.txt")]
    Incomplete { repo: String, file: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable parquet file: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("{what}, and this stab was built without the Hub client (the `hub` feature, on by default; the quickstart leaves it out when its data is on disk): rebuild with `cargo build --release -p stab`, or download with Python into the Hugging Face cache, which stab reads: `{python}`")]
    NoClient { what: String, python: String },
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> HubError {
    let path = path.into();
    move |source| HubError::Io { path, source }
}
