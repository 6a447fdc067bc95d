//! The Hugging Face cache, as `huggingface_hub` lays it out, and the settings that say where
//! it is and how the Hub is reached.
//!
//! ```text
//! $HF_HUB_CACHE/models--org--name/
//!     refs/main                     the commit hash `main` resolved to
//!     snapshots/<commit>/<file>     relative symlink to ../../blobs/<etag>
//!     blobs/<etag>                  the file's bytes (etag = SHA-256 for LFS files)
//! ```

use std::path::{Path, PathBuf};

use crate::{io_err, HubError};

/// Where the cache is and how the Hub is reached, from the environment variables every
/// Hugging Face tool reads.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The hub cache folder (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    pub cache: PathBuf,
    /// `$HF_ENDPOINT`, else `https://huggingface.co`.
    pub endpoint: String,
    /// `$HF_TOKEN`, else the token file `huggingface-cli login` writes (`$HF_HOME/token`).
    pub token: Option<String>,
    /// `HF_HUB_OFFLINE=1` (or `true`/`yes`/`on`): the cache only, never the network.
    pub offline: bool,
    /// Draw download progress bars (off when stderr is not a terminal).
    pub progress: bool,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// huggingface_hub's truthy values for boolean environment variables.
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

impl HubSettings {
    pub fn from_env() -> HubSettings {
        let home = env_nonempty("HF_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let user_home = env_nonempty("HOME").map(PathBuf::from).unwrap_or_default();
                env_nonempty("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| user_home.join(".cache"))
                    .join("huggingface")
            });
        let cache = env_nonempty("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("hub"));
        let token = env_nonempty("HF_TOKEN").or_else(|| {
            std::fs::read_to_string(home.join("token"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        HubSettings {
            cache,
            endpoint: env_nonempty("HF_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://huggingface.co".into()),
            token,
            offline: std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| truthy(&v)),
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

/// The kind of repository (the cache folder's prefix and the URL's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    pub fn word(self) -> &'static str {
        match self {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        }
    }
    #[cfg(feature = "download")]
    pub(crate) fn hf(self) -> hf_hub::RepoType {
        match self {
            RepoKind::Model => hf_hub::RepoType::Model,
            RepoKind::Dataset => hf_hub::RepoType::Dataset,
        }
    }
}

/// One repository's folder in the cache.
#[derive(Debug, Clone)]
pub struct CachedRepo {
    pub dir: PathBuf,
}

impl CachedRepo {
    pub fn new(cache: &Path, kind: RepoKind, repo: &str) -> CachedRepo {
        let prefix = match kind {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        };
        CachedRepo {
            dir: cache.join(format!("{prefix}--{}", repo.replace('/', "--"))),
        }
    }

    /// The commit `revision` stands for here: a full commit hash whose snapshot exists is its
    /// own commit; otherwise `refs/<revision>` says (as huggingface_hub writes it).
    pub fn commit(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) && self.dir.join("snapshots").join(revision).is_dir() {
            return Some(revision.to_string());
        }
        let text = std::fs::read_to_string(self.dir.join("refs").join(revision)).ok()?;
        let commit = text.trim();
        (!commit.is_empty()).then(|| commit.to_string())
    }

    pub fn snapshot(&self, commit: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit)
    }

    /// Writes `refs/<revision>` = `commit` atomically (not for a revision that is the commit).
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.dir.join("refs").join(revision);
        let parent = path.parent().expect("a ref has a folder");
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, commit).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// Removes interrupted downloads (`blobs/*.part`) that no process is writing: `hf-hub`
    /// holds an exclusive lock on `blobs/<etag>.lock` while it writes `blobs/<etag>.part`.
    /// Returns the paths removed.
    pub fn remove_partial_downloads(&self) -> Vec<PathBuf> {
        let blobs = self.dir.join("blobs");
        let mut removed = Vec::new();
        let Ok(entries) = std::fs::read_dir(&blobs) else {
            return removed;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "part") {
                continue;
            }
            let lock = path.with_extension("lock");
            let free = match std::fs::File::open(&lock) {
                Ok(f) => try_lock(&f),
                Err(_) => true,
            };
            if free && std::fs::remove_file(&path).is_ok() {
                removed.push(path);
            }
        }
        removed
    }
}

/// Takes and releases an exclusive lock: whether nobody holds it now.
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns through `file`.
    let got = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if got {
        // SAFETY: as above.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }
    got
}

/// A full (40 hex digit) git commit hash.
pub fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A SHA-256 in hex (the etag, and the blob name, of an LFS file).
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, HubError> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io_err(path))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The blob a snapshot file points at, if it is a symlink into `blobs/`.
pub fn blob_of(snapshot_file: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(snapshot_file).ok()?;
    let abs = snapshot_file.parent()?.join(target);
    Some(abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_folders_follow_huggingface_hub() {
        let c = CachedRepo::new(Path::new("/c"), RepoKind::Model, "org/name");
        assert_eq!(c.dir, Path::new("/c/models--org--name"));
        let d = CachedRepo::new(Path::new("/c"), RepoKind::Dataset, "nyu-mll/glue");
        assert_eq!(d.dir, Path::new("/c/datasets--nyu-mll--glue"));
    }

    #[test]
    fn a_commit_revision_needs_no_ref_but_a_branch_does() {
        let tmp = tempfile::tempdir().unwrap();
        let c = CachedRepo::new(tmp.path(), RepoKind::Model, "a/b");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(c.commit("main"), None);
        std::fs::create_dir_all(c.snapshot(commit)).unwrap();
        assert_eq!(c.commit(commit).as_deref(), Some(commit));
        assert_eq!(c.commit("main"), None);
        c.write_ref("main", commit).unwrap();
        assert_eq!(c.commit("main").as_deref(), Some(commit));
        // huggingface_hub writes refs without a newline; a hand-written one may have one.
        std::fs::write(c.dir.join("refs/v1"), format!("{commit}\n")).unwrap();
        assert_eq!(c.commit("v1").as_deref(), Some(commit));
    }

    #[test]
    fn partial_downloads_are_removed_unless_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let c = CachedRepo::new(tmp.path(), RepoKind::Model, "a/b");
        let blobs = c.dir.join("blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join("aaa.part"), b"half").unwrap();
        std::fs::write(blobs.join("bbb.part"), b"half").unwrap();
        std::fs::write(blobs.join("ccc"), b"whole").unwrap();
        let held = std::fs::File::create(blobs.join("bbb.lock")).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an open file this test owns.
        assert_eq!(
            unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
        let removed = c.remove_partial_downloads();
        assert_eq!(removed, vec![blobs.join("aaa.part")]);
        assert!(blobs.join("bbb.part").exists() && blobs.join("ccc").exists());
    }
}
