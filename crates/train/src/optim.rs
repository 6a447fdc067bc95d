//! Adam with decoupled weight decay and a bias-correction switch — the update rule at the
//! centre of the Devlin-vs-Mosbach comparison, written out explicitly.
//!
//! For each parameter θ with gradient g, at step t (1-based), learning rate lr (already scaled
//! by the schedule and the parameter's layer-wise factor) and weight decay λ (0 for biases and
//! LayerNorm weights):
//!
//! ```text
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! c₁, c₂ = 1 − β₁ᵗ, 1 − β₂ᵗ   (both 1 when bias_correction = false)
//!
//! update = torch (torch.optim.AdamW; Zhang et al.; without bias correction Google's BERTAdam):
//!   θ ← θ · (1 − lr·λ)                          decoupled weight decay on the old θ
//!   θ ← θ − lr · (m / c₁) / (√(v / c₂) + ε)      ε added to the corrected √v̂
//! update = hf (transformers.AdamW; Mosbach et al.'s mAdamW, their Devlin baseline too):
//!   θ ← θ − lr · (√c₂ / c₁) · m / (√v + ε)      ε added to the uncorrected √v
//!   θ ← θ · (1 − lr·λ)                          decoupled weight decay on the new θ
//! ```
//!
//! With `prior` weight decay (Zhang et al.'s `PriorWD`, `prior_wd_optim.py`) the decay pulls
//! toward the parameter's value when it was added to the optimizer (θ₀: the pre-trained
//! weight; for a new head or a re-initialised layer, its initial value) instead of toward 0,
//! before the update, for either placement, and the update itself then decays nothing:
//!
//! ```text
//!   θ ← θ − lr·λ·(θ − θ₀)                       then the update above with λ = 0
//! ```
//!
//! `PriorWD` wraps the optimizer and sets the groups' own weight decay to 0, then decays with
//! the group's current learning rate before calling the wrapped `step()`: the same order for
//! torch's AdamW and transformers' AdamW, which is why stab does not move it after the hf
//! update. Parameters without weight decay (biases, norms) are not decayed toward anything.
//!
//! The two placements differ only through ε: hf's ε acts like ε/√c₂ in torch's, which is
//! ≈31.6·ε at t = 1 (β₂ = 0.999) and fades to ε as c₂ → 1; and through the O(lr²·λ) order of
//! the decay. Mosbach's code is hf, Zhang's `--use_torch_adamw` is torch, so each preset takes
//! its reference's.
//!
//! Without bias correction the first updates are *larger*, not smaller: for a steady gradient
//! m/√v is (1−β₁ᵗ)/√(1−β₂ᵗ) times the bias-corrected m̂/√v̂ — ≈3.16 at t = 1, ≈6.5 at t = 10,
//! ≈3.2 at t = 100, ≈1.26 at t = 1000 for (0.9, 0.999) — exactly while warmup is meant to keep
//! steps small: what Mosbach et al. identify as a cause of failed runs.
//! Parity: step-for-step against `torch.optim.AdamW`, the hand-written BERTAdam rule, and a
//! float64 re-implementation of transformers' AdamW (`tests/golden/make_adam_golden.py`).

pub use stab_spec::AdamUpdate;
use tch::{TchError, Tensor};

/// One parameter with its optimizer state.
struct Slot {
    param: Tensor,
    m: Tensor,
    v: Tensor,
    lr_scale: f64,
    weight_decay: f64,
    /// θ₀ of weight decay toward the starting value (`None`: decay toward 0).
    prior: Option<Tensor>,
}

/// Hyper-parameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub bias_correction: bool,
    /// Placement of ε and of the weight decay.
    pub update: AdamUpdate,
}

/// Adam with decoupled weight decay; see the module docs for the exact update.
pub struct Adam {
    config: AdamConfig,
    slots: Vec<Slot>,
    step: u64,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Adam {
            config,
            slots: Vec::new(),
            step: 0,
        }
    }

    /// Adds a parameter with its learning-rate factor and weight decay (toward 0).
    pub fn add(&mut self, param: &Tensor, lr_scale: f64, weight_decay: f64) {
        self.slots.push(Slot {
            m: param.zeros_like(),
            v: param.zeros_like(),
            param: param.shallow_clone(),
            lr_scale,
            weight_decay,
            prior: None,
        });
    }

    /// Adds a parameter whose weight decay pulls toward its current value θ₀ (Zhang et al.'s
    /// `PriorWD`; see the module docs) instead of toward 0.
    pub fn add_toward_current(&mut self, param: &Tensor, lr_scale: f64, weight_decay: f64) {
        self.add(param, lr_scale, weight_decay);
        let slot = self.slots.last_mut().expect("just added");
        slot.prior = Some(param.detach().copy());
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Number of scalar parameters updated.
    pub fn numel(&self) -> u64 {
        self.slots.iter().map(|s| s.param.numel() as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The parameters' gradients, in insertion order (those that have one).
    pub fn grads(&self) -> Vec<Tensor> {
        self.slots
            .iter()
            .map(|s| s.param.grad())
            .filter(|g| g.defined())
            .collect()
    }

    /// Applies one update with base learning rate `lr`. A LibTorch failure (out of memory, a
    /// device mismatch) is returned, not a panic, and ends the run with an `error` record.
    pub fn step(&mut self, lr: f64) -> Result<(), TchError> {
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let (bc1, bc2) = if c.bias_correction {
            (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t))
        } else {
            (1.0, 1.0)
        };
        tch::no_grad(|| -> Result<(), TchError> {
            for s in &mut self.slots {
                let lr = lr * s.lr_scale;
                // In-place ops only, one temporary (the denominator): the update runs over
                // every parameter each step, so passes over memory are what it costs.
                let decay = s.weight_decay != 0.0 && lr != 0.0;
                if let (true, Some(prior)) = (decay, &s.prior) {
                    // PriorWD: θ ← θ − lr·λ·(θ − θ₀), before the update, gradient or not.
                    let pull = s.param.f_sub(prior)?;
                    let _ = s.param.f_add_(&pull.f_mul_scalar(-lr * s.weight_decay)?)?;
                }
                let decay = decay && s.prior.is_none();
                let g = s.param.grad();
                if !g.defined() {
                    continue;
                }
                if decay && c.update == AdamUpdate::Torch {
                    let _ = s.param.f_mul_scalar_(1.0 - lr * s.weight_decay)?;
                }
                let _ = s.m.f_lerp_(&g, 1.0 - c.beta1)?;
                // v ← β₂·v + (1−β₂)·g², as ((β₂/(1−β₂))·v + g²)·(1−β₂).
                let _ = s.v.f_mul_scalar_(c.beta2 / (1.0 - c.beta2))?;
                let _ = s.v.f_addcmul_(&g, &g)?;
                let _ = s.v.f_mul_scalar_(1.0 - c.beta2)?;
                if lr == 0.0 {
                    continue; // e.g. the first warmup step: moments move, parameters do not
                }
                let mut denom = s.v.sqrt();
                match c.update {
                    AdamUpdate::Torch => {
                        // θ ← θ + m / d, d = −(√v/√bc₂ + ε)·bc₁/lr: θ − lr·(m/bc₁)/(√(v/bc₂)+ε).
                        let _ = denom.f_div_scalar_(bc2.sqrt())?;
                        let _ = denom.f_add_scalar_(c.eps)?;
                        let _ = denom.f_mul_scalar_(-bc1 / lr)?;
                        let _ = s.param.f_addcdiv_(&s.m, &denom)?;
                    }
                    AdamUpdate::Hf => {
                        // θ ← θ + m / d, d = −(√v + ε)/step, step = lr·√bc₂/bc₁.
                        let step = lr * bc2.sqrt() / bc1;
                        let _ = denom.f_add_scalar_(c.eps)?;
                        let _ = denom.f_mul_scalar_(-1.0 / step)?;
                        let _ = s.param.f_addcdiv_(&s.m, &denom)?;
                        if decay {
                            let _ = s.param.f_mul_scalar_(1.0 - lr * s.weight_decay)?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// Clears the gradients of all parameters.
    pub fn zero_grad(&mut self) {
        for s in &mut self.slots {
            let mut g = s.param.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }
}

/// Global L2 norm of `grads` (as `torch.nn.utils.clip_grad_norm_`).
pub fn global_norm(grads: &[Tensor]) -> f64 {
    if grads.is_empty() {
        return 0.0;
    }
    let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
    Tensor::stack(&norms, 0).norm().double_value(&[])
}

/// Scales `grads` so that their global norm is at most `max_norm` (clip coefficient
/// max_norm / (norm + 1e-6), as PyTorch). Returns the norm before clipping.
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Result<f64, TchError> {
    let norm = global_norm(grads);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        tch::no_grad(|| -> Result<(), TchError> {
            for g in grads {
                let _ = g.shallow_clone().f_mul_scalar_(coef)?;
            }
            Ok(())
        })?;
    }
    Ok(norm)
}
