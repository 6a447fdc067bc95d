//! Link-time set-up shared by every crate that links LibTorch (included by their build scripts).
//!
//! - An rpath to the LibTorch that torch-sys linked against, so binaries and tests run without
//!   `LD_LIBRARY_PATH`.
//! - `STAB_LIBTORCH_VERSION`, `STAB_TCH_VERSION` and `STAB_GIT_REVISION` for the versions in run
//!   records. The tch version is the one Cargo resolved, read from the workspace's `Cargo.lock`
//!   (torch-sys's `links` metadata carries only the LibTorch path, not its own version).
//! - With the `cuda` feature, keep `libtorch_cuda` linked even though no symbol of it is used
//!   directly (the linker's `--as-needed` would drop it and LibTorch would report no CUDA).
//!   The CUDA libraries it needs (cuBLAS, cuDNN…) are only present on the GPU machine, so
//!   undefined symbols in shared libraries are allowed at link time.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        // PyPI's torch keeps its version next to lib/: torch/version.py.
        let version = std::fs::read_to_string(std::path::Path::new(&lib).join("../version.py"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("__version__ = "))
                    .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=STAB_LIBTORCH_VERSION={version}");
    }
    let root = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let lock = root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let tch = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|t| locked_version(&t, "tch"))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STAB_TCH_VERSION={tch}");
    let git = root.join(".git");
    for f in ["HEAD", "refs/heads"] {
        if git.join(f).exists() {
            println!("cargo:rerun-if-changed={}", git.join(f).display());
        }
    }
    let revision = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STAB_GIT_REVISION={revision}");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    }
}

/// The version of package `name` in a `Cargo.lock` (its `[[package]]` entry's `version`).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let entry = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    lines.find(|l| *l == entry)?;
    lines
        .next()?
        .strip_prefix("version = ")
        .map(|v| v.trim_matches('"').to_string())
}
