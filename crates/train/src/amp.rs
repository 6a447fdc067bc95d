//! bf16 autocast on CUDA and on CPU.
//!
//! tch 0.24 exposes `autocast(enabled, f)`, which only switches *CUDA* autocast and leaves the
//! autocast dtype at its CUDA default, fp16. LibTorch itself has per-device autocast state:
//! `at::autocast::set_autocast_enabled(DeviceType, bool)` and
//! `at::autocast::set_autocast_dtype(DeviceType, ScalarType)`, exported C++ functions of
//! libtorch_cpu. They are called here through their mangled names, with the same nesting and
//! cache discipline as `torch.autocast`'s context manager, so that:
//!
//! - the forward pass runs its matrix products in bf16 (LibTorch's autocast op lists decide
//!   which ops: `linear`, `matmul`, `bmm`… in bf16; `softmax`, `layer_norm`, losses in fp32);
//! - master weights, gradients and optimizer state stay fp32 (autocast casts the weights inside
//!   the graph, so their gradients arrive in fp32);
//! - on CPU the same mechanism uses oneDNN's bf16 kernels (AVX-512 BF16 / AMX where the
//!   processor has them).
//!
//! `Precision::Bf16` therefore means the same thing on both devices, and a run record's
//! `versions.precision` says which one ran.

use stab_spec::Precision;
use tch::Device;

extern "C" {
    // c10::DeviceType and c10::ScalarType are int8_t-backed enums:
    // DeviceType::CPU = 0, DeviceType::CUDA = 1, ScalarType::BFloat16 = 15.
    #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
    fn at_set_autocast_dtype(device: i8, dtype: i8);
    #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
    fn at_set_autocast_enabled(device: i8, enabled: bool);
    #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
    fn at_is_autocast_enabled(device: i8) -> bool;
    #[link_name = "_ZN2at8autocast17increment_nestingEv"]
    fn at_increment_nesting() -> i32;
    #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
    fn at_decrement_nesting() -> i32;
    #[link_name = "_ZN2at8autocast11clear_cacheEv"]
    fn at_clear_cache();
}

const BFLOAT16: i8 = 15;

/// LibTorch's `c10::DeviceType` of a tch device, where autocast exists for it.
fn device_type(device: Device) -> Option<i8> {
    match device {
        Device::Cpu => Some(0),
        Device::Cuda(_) => Some(1),
        _ => None,
    }
}

/// Makes autocast on `device` use bf16 (process-wide; CPU's default already is bf16, CUDA's
/// is fp16).
pub fn set_autocast_bf16(device: Device) {
    if let Some(dt) = device_type(device) {
        // SAFETY: a plain setter of LibTorch's global autocast state, taking two int8 enums.
        unsafe { at_set_autocast_dtype(dt, BFLOAT16) }
    }
}

/// Whether autocast is on for `device` in this thread.
pub fn is_enabled(device: Device) -> bool {
    // SAFETY: reads LibTorch's thread-local autocast state.
    device_type(device).is_some_and(|dt| unsafe { at_is_autocast_enabled(dt) })
}

/// Autocast switched on for one device while alive; restores the previous state on drop (also
/// when unwinding), like `torch.autocast.__exit__`.
struct Guard {
    device: i8,
    previous: bool,
}

impl Guard {
    fn enter(device: i8) -> Guard {
        // SAFETY: thread-local autocast state of LibTorch; balanced by `Drop`.
        unsafe {
            let previous = at_is_autocast_enabled(device);
            at_set_autocast_enabled(device, true);
            at_increment_nesting();
            Guard { device, previous }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: undoes `enter`; the cast cache is cleared when the outermost region ends.
        unsafe {
            if at_decrement_nesting() == 0 {
                at_clear_cache();
            }
            at_set_autocast_enabled(self.device, self.previous);
        }
    }
}

/// Runs `f` under bf16 autocast on `device` when the run asks for bf16, else plainly.
pub fn maybe_autocast<T>(precision: Precision, device: Device, f: impl FnOnce() -> T) -> T {
    match (precision, device_type(device)) {
        (Precision::Bf16, Some(dt)) => {
            let _guard = Guard::enter(dt);
            f()
        }
        _ => f(),
    }
}

/// What the record says ran: `fp32`, or `bf16-autocast` with the device.
pub fn describe(precision: Precision, device: Device) -> String {
    match precision {
        Precision::Fp32 => "fp32".into(),
        Precision::Bf16 => match device {
            Device::Cpu => "bf16-autocast (cpu)".into(),
            _ => "bf16-autocast (cuda)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn cpu_autocast_runs_matmul_in_bf16_and_restores_state() {
        set_autocast_bf16(Device::Cpu);
        let a = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        assert!(!is_enabled(Device::Cpu));
        let out = maybe_autocast(Precision::Bf16, Device::Cpu, || {
            assert!(is_enabled(Device::Cpu));
            a.matmul(&b)
        });
        assert_eq!(out.kind(), Kind::BFloat16);
        assert!(
            !is_enabled(Device::Cpu),
            "autocast left on after the region"
        );
        // fp32 runs are untouched.
        let plain = maybe_autocast(Precision::Fp32, Device::Cpu, || a.matmul(&b));
        assert_eq!(plain.kind(), Kind::Float);
        // bf16 result is the fp32 one to bf16 precision.
        let diff = (out.to_kind(Kind::Float) - &plain)
            .abs()
            .max()
            .double_value(&[]);
        let scale = plain.abs().max().double_value(&[]);
        assert!(diff <= 2e-2 * scale.max(1.0), "diff {diff} scale {scale}");
    }

    #[test]
    fn gradients_of_fp32_weights_stay_fp32_under_autocast() {
        let w = Tensor::randn([8, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let x = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let y = maybe_autocast(Precision::Bf16, Device::Cpu, || x.matmul(&w));
        y.to_kind(Kind::Float).sum(Kind::Float).backward();
        assert_eq!(w.grad().kind(), Kind::Float);
        assert_eq!(w.kind(), Kind::Float);
    }

    #[test]
    fn guard_restores_on_unwind() {
        let r = std::panic::catch_unwind(|| {
            maybe_autocast(Precision::Bf16, Device::Cpu, || panic!("inside"));
        });
        assert!(r.is_err());
        assert!(!is_enabled(Device::Cpu));
    }
}
