//! Link-time set-up shared by every crate that links LibTorch (included by their build scripts).
//!
//! - An rpath to the LibTorch that torch-sys linked against, so binaries and tests run without
//!   `LD_LIBRARY_PATH`.
//! - With the `cuda` feature, keep `libtorch_cuda` linked even though no symbol of it is used
//!   directly (the linker's `--as-needed` would drop it and LibTorch would report no CUDA).
//!   The CUDA libraries it needs (cuBLAS, cuDNN…) are only present on the GPU machine, so
//!   undefined symbols in shared libraries are allowed at link time.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    }
}
