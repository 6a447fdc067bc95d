//! bf16 autocast on CUDA.
//!
//! tch 0.24 exposes `autocast(enabled, f)` but not the autocast dtype, whose CUDA default is
//! fp16. `at::autocast::set_autocast_dtype` is an exported C++ function of libtorch_cpu; it is
//! called here through its mangled name so the forward pass autocasts to bf16 while master
//! weights, gradients and optimizer state stay fp32.

use stab_spec::Precision;

extern "C" {
    // void at::autocast::set_autocast_dtype(c10::DeviceType, c10::ScalarType); both enums are
    // int8_t-backed: DeviceType::CUDA = 1, ScalarType::BFloat16 = 15.
    #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
    fn at_set_autocast_dtype(device: i8, dtype: i8);
}

/// Makes CUDA autocast use bf16 (process-wide).
pub fn set_cuda_autocast_bf16() {
    // SAFETY: a plain setter of LibTorch's global autocast state, taking two int8 enums.
    unsafe { at_set_autocast_dtype(1, 15) }
}

/// Runs `f` under autocast when the run asks for bf16 (a no-op without CUDA).
pub fn maybe_autocast<T>(precision: Precision, f: impl FnOnce() -> T) -> T {
    match precision {
        Precision::Bf16 => tch::autocast(true, f),
        Precision::Fp32 => f(),
    }
}
