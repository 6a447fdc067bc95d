//! Which GPUs a launch may use: `--gpus all` or an explicit list.
//!
//! The launcher pins each worker to one GPU through `CUDA_VISIBLE_DEVICES` (see
//! [`crate::GpuSlots`]); this module only turns the user's words into that list. It needs no
//! CUDA: `all` means the devices the environment already restricts us to
//! (`CUDA_VISIBLE_DEVICES`, as Slurm sets it for an allocation) or else every device
//! `nvidia-smi` lists.

use std::process::Command;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GpuError {
    #[error("--gpus: empty entry in {0:?} (expected `all` or a list like `0,1`)")]
    Empty(String),
    #[error("--gpus all: no GPU found ({0})")]
    NoneFound(String),
    #[error("--gpus: {0:?} is listed twice")]
    Duplicate(String),
}

/// Parses `--gpus`: `all`, or a comma-separated list of device indices or UUIDs.
pub fn parse_gpus(text: &str) -> Result<Vec<String>, GpuError> {
    if text.trim() == "all" {
        return detect();
    }
    let mut out: Vec<String> = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(GpuError::Empty(text.to_string()));
        }
        if out.iter().any(|g| g == part) {
            return Err(GpuError::Duplicate(part.to_string()));
        }
        out.push(part.to_string());
    }
    Ok(out)
}

/// The GPUs this process may use.
fn detect() -> Result<Vec<String>, GpuError> {
    if let Ok(visible) = std::env::var("CUDA_VISIBLE_DEVICES") {
        let list = visible_list(&visible);
        return if list.is_empty() {
            Err(GpuError::NoneFound(format!(
                "CUDA_VISIBLE_DEVICES={visible:?} hides every device"
            )))
        } else {
            Ok(list)
        };
    }
    let out = Command::new("nvidia-smi")
        .args(["--query-gpu=index", "--format=csv,noheader"])
        .output()
        .map_err(|e| GpuError::NoneFound(format!("could not run nvidia-smi: {e}")))?;
    if !out.status.success() {
        return Err(GpuError::NoneFound(format!(
            "nvidia-smi failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let list = visible_list(&String::from_utf8_lossy(&out.stdout).replace('\n', ","));
    if list.is_empty() {
        return Err(GpuError::NoneFound("nvidia-smi lists no device".into()));
    }
    Ok(list)
}

/// Entries of a `CUDA_VISIBLE_DEVICES`-style list. CUDA stops at the first invalid entry
/// (`-1` is the usual way to hide everything); so does this.
fn visible_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take_while(|s| !s.starts_with('-'))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_lists() {
        assert_eq!(parse_gpus("0").unwrap(), ["0"]);
        assert_eq!(parse_gpus("0, 2,3").unwrap(), ["0", "2", "3"]);
        assert_eq!(
            parse_gpus("GPU-8a1f").unwrap(),
            ["GPU-8a1f"],
            "UUIDs pass through"
        );
        assert!(matches!(parse_gpus("0,,1"), Err(GpuError::Empty(_))));
        assert_eq!(parse_gpus("1,1"), Err(GpuError::Duplicate("1".into())));
    }

    #[test]
    fn visible_devices_semantics() {
        assert_eq!(visible_list("0,1\n"), ["0", "1"]);
        assert!(visible_list("-1").is_empty());
        assert_eq!(visible_list("2,-1,3"), ["2"]);
        assert!(visible_list("").is_empty());
    }
}
