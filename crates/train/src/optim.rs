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
use tch::{Device, Kind, TchError, Tensor};

/// How [`Adam`] holds its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Parameters, gradients and moments of a group live in one contiguous buffer each; the
    /// variables become views into it. The update, the gradient norm and zeroing are a few
    /// kernels per group.
    #[default]
    Flat,
    /// One set of kernels per parameter tensor (the reference the flat layout is measured
    /// and tested against).
    PerTensor,
}

impl Layout {
    /// The name records carry (`versions.adam_layout`).
    pub fn name(self) -> &'static str {
        match self {
            Layout::Flat => "flat",
            Layout::PerTensor => "per-tensor",
        }
    }
}

/// One parameter (or, in the flat layout, one group's concatenation) with its optimizer state.
struct Slot {
    param: Tensor,
    m: Tensor,
    v: Tensor,
    lr_scale: f64,
    weight_decay: f64,
    /// θ₀ of weight decay toward the starting value (`None`: decay toward 0).
    prior: Option<Tensor>,
}

/// Parameters that share a learning-rate factor, a weight decay, its target, a dtype and a
/// device, flattened: `state.param` is the buffer the member variables are views of, `grad`
/// the buffer their gradients are views of.
struct FlatGroup {
    state: Slot,
    grad: Tensor,
    /// Reused for g² and the denominator, so that a step allocates nothing.
    scratch: Tensor,
    /// The member variables (shallow clones), for counting.
    members: Vec<Tensor>,
}

/// A token-embedding matrix of which only some rows can ever have a non-zero gradient (the
/// tokens the training data holds): see [`Adam::restrict_rows`].
struct RowSlot {
    param: Tensor,
    /// The rows that train (sorted, distinct), as an index tensor on the parameter's device.
    rows: Tensor,
    /// Moments of those rows only: every other row's stay 0.
    m: Tensor,
    v: Tensor,
    lr_scale: f64,
    weight_decay: f64,
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
///
/// ## The flat layout
/// LibTorch's `_foreach_`/fused optimizer kernels are not in tch's API, so the multi-tensor
/// update is done with ordinary kernels over flat buffers, as apex's and DeepSpeed's
/// flattened optimizers do. On the first step (the first call of [`Adam::grads`] or
/// [`Adam::step`], after the first backward pass) the parameters of each group — same
/// learning-rate factor, weight decay, decay target, dtype and device — are copied into one
/// contiguous buffer and every variable's data is re-pointed (`set_data`) to its slice, so the
/// model, the `VarStore` and the optimizer share that memory; the gradients autograd created
/// are re-pointed to slices of one gradient buffer the same way. Autograd accumulates into an
/// existing gradient in place, and [`Adam::zero_grad`] zeroes in place, so the gradients stay
/// in the buffer from then on. Each update line of the module docs is then one kernel per
/// group, and [`global_norm`]/[`clip_grad_norm`] see one tensor per group.
///
/// Freezing keeps its meaning (frozen variables are never added), as do layer-wise decay
/// (each factor is its own group) and re-initialisation (done before the optimizer sees the
/// values). A parameter that has no gradient on the first step (one the forward pass never
/// uses, such as the pooler of a token-classification run) is not flattened: it stays a
/// per-tensor slot and is skipped while it has no gradient, as torch's AdamW skips it.
///
/// The rule is the per-tensor one; the flat update also takes fewer passes over memory
/// ([`FlatGroup::update`]), and the gradient norm is one reduction per group instead of one per
/// tensor, so results differ from the per-tensor layout in the last bits (both match the
/// goldens; `the_flat_layout_updates_as_the_per_tensor_one` bounds the difference).
pub struct Adam {
    config: AdamConfig,
    layout: Layout,
    /// Per-tensor slots: every parameter in the per-tensor layout, and before the first step;
    /// afterwards, in the flat layout, those that had no gradient.
    slots: Vec<Slot>,
    groups: Vec<FlatGroup>,
    /// Token embeddings updated on their training rows only.
    row_slots: Vec<RowSlot>,
    /// Whether the flat layout has been set up (it is, at the first step).
    bound: bool,
    step: u64,
}

impl Adam {
    /// Adam in the (default) flat layout.
    pub fn new(config: AdamConfig) -> Self {
        Adam::with_layout(config, Layout::Flat)
    }

    pub fn with_layout(config: AdamConfig, layout: Layout) -> Self {
        Adam {
            config,
            layout,
            slots: Vec::new(),
            groups: Vec::new(),
            row_slots: Vec::new(),
            bound: layout == Layout::PerTensor,
            step: 0,
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Adds a parameter with its learning-rate factor and weight decay (toward 0).
    pub fn add(&mut self, param: &Tensor, lr_scale: f64, weight_decay: f64) {
        assert!(
            !self.bound || self.layout == Layout::PerTensor,
            "parameters are added before the first step"
        );
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

    /// Restricts the update of `param` — a token-embedding matrix already added, decaying
    /// toward 0 — to the rows `rows` (token ids): the rows of the tokens the training data
    /// holds, the only rows an embedding lookup can give a gradient.
    ///
    /// Exact, not an approximation: a row that is never looked up has gradient 0 at every
    /// step, so its m and v stay 0 and its Adam step is θ + 0/d = θ; all that changes it is the
    /// decoupled weight decay, which is applied to the whole matrix (before the update for the
    /// `torch` placement, after it for `hf`, as for any parameter). The update proper then runs
    /// over the training rows only — on CoLA's 500-example quickstart about 2,000 of
    /// MiniLM's 30,522, where the embedding matrix is half of all parameters. Returns whether
    /// `param` was found (frozen embeddings are not in the optimizer; a parameter that decays
    /// toward its starting value, or the per-tensor layout, keeps the full update).
    pub fn restrict_rows(&mut self, param: &Tensor, mut rows: Vec<i64>) -> bool {
        if self.layout == Layout::PerTensor || self.bound {
            return false;
        }
        let Some(i) = self
            .slots
            .iter()
            .position(|s| s.param.data_ptr() == param.data_ptr() && s.prior.is_none())
        else {
            return false;
        };
        let n = param.size()[0];
        rows.sort_unstable();
        rows.dedup();
        assert!(
            rows.iter().all(|&r| (0..n).contains(&r)),
            "token ids within the embedding matrix's {n} rows"
        );
        let s = self.slots.remove(i);
        let rows = Tensor::from_slice(&rows).to_device(param.device());
        let live = s.param.detach().index_select(0, &rows);
        self.row_slots.push(RowSlot {
            m: live.zeros_like(),
            v: live.zeros_like(),
            rows,
            param: s.param,
            lr_scale: s.lr_scale,
            weight_decay: s.weight_decay,
        });
        true
    }

    /// Number of parameter tensors.
    pub fn len(&self) -> usize {
        self.slots.len()
            + self.row_slots.len()
            + self.groups.iter().map(|g| g.members.len()).sum::<usize>()
    }

    /// Number of scalar parameters updated.
    pub fn numel(&self) -> u64 {
        let loose: u64 = self
            .slots
            .iter()
            .map(|s| &s.param)
            .chain(self.row_slots.iter().map(|r| &r.param))
            .map(|p| p.numel() as u64)
            .sum();
        loose
            + self
                .groups
                .iter()
                .map(|g| g.state.param.numel() as u64)
                .sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of flat groups (0 in the per-tensor layout and before the first step).
    pub fn flat_groups(&self) -> usize {
        self.groups.len()
    }

    /// The gradients to clip: one flat buffer per group, then the per-tensor slots' (those
    /// that have one). Sets up the flat layout on the first call.
    pub fn grads(&mut self) -> Result<Vec<Tensor>, TchError> {
        self.bind()?;
        let flat = self.groups.iter().map(|g| g.grad.shallow_clone());
        let loose = self
            .slots
            .iter()
            .map(|s| s.param.grad())
            .chain(self.row_slots.iter().map(|r| r.param.grad()))
            .filter(|g| g.defined());
        Ok(flat.chain(loose).collect())
    }

    /// Sets up the flat layout (see the type's docs): groups the slots whose parameter has a
    /// gradient, concatenates parameters, gradients, moments and decay targets, and re-points
    /// the variables and their gradients to slices of the buffers.
    fn bind(&mut self) -> Result<(), TchError> {
        if self.bound {
            return Ok(());
        }
        self.bound = true;
        type Key = (u64, u64, bool, Kind, Device);
        let key = |s: &Slot| -> Key {
            (
                s.lr_scale.to_bits(),
                s.weight_decay.to_bits(),
                s.prior.is_some(),
                s.param.kind(),
                s.param.device(),
            )
        };
        let mut keys: Vec<Key> = Vec::new();
        let mut members: Vec<Vec<Slot>> = Vec::new();
        let mut loose = Vec::new();
        for s in std::mem::take(&mut self.slots) {
            if !s.param.grad().defined() {
                loose.push(s);
                continue;
            }
            let k = key(&s);
            match keys.iter().position(|x| *x == k) {
                Some(i) => members[i].push(s),
                None => {
                    keys.push(k);
                    members.push(vec![s]);
                }
            }
        }
        self.slots = loose;
        tch::no_grad(|| -> Result<(), TchError> {
            for slots in members {
                let cat = |f: &dyn Fn(&Slot) -> Tensor| -> Result<Tensor, TchError> {
                    let parts = slots
                        .iter()
                        .map(|s| f(s).f_reshape([-1]))
                        .collect::<Result<Vec<_>, _>>()?;
                    Tensor::f_cat(&parts, 0)
                };
                let param = cat(&|s| s.param.detach())?;
                let grad = cat(&|s| s.param.grad())?;
                let m = cat(&|s| s.m.shallow_clone())?;
                let v = cat(&|s| s.v.shallow_clone())?;
                let prior = match slots[0].prior {
                    Some(_) => Some(cat(&|s| {
                        s.prior.as_ref().expect("same key").shallow_clone()
                    })?),
                    None => None,
                };
                let mut offset = 0;
                let mut group_members = Vec::with_capacity(slots.len());
                for s in &slots {
                    let (n, shape) = (s.param.numel() as i64, s.param.size());
                    let mut p = s.param.shallow_clone();
                    p.f_set_data(&param.f_narrow(0, offset, n)?.f_view(shape.as_slice())?)?;
                    let mut g = s.param.grad();
                    g.f_set_data(&grad.f_narrow(0, offset, n)?.f_view(shape.as_slice())?)?;
                    group_members.push(p);
                    offset += n;
                }
                self.groups.push(FlatGroup {
                    scratch: param.f_empty_like()?,
                    state: Slot {
                        param,
                        m,
                        v,
                        lr_scale: slots[0].lr_scale,
                        weight_decay: slots[0].weight_decay,
                        prior,
                    },
                    grad,
                    members: group_members,
                });
            }
            Ok(())
        })
    }

    /// Applies one update with base learning rate `lr`. A LibTorch failure (out of memory, a
    /// device mismatch) is returned, not a panic, and ends the run with an `error` record.
    pub fn step(&mut self, lr: f64) -> Result<(), TchError> {
        self.bind()?;
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bc = if c.bias_correction {
            (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t))
        } else {
            (1.0, 1.0)
        };
        tch::no_grad(|| -> Result<(), TchError> {
            for g in &mut self.groups {
                g.update(&c, bc, lr)?;
            }
            for s in &mut self.slots {
                let g = s.param.grad();
                s.update(&c, bc, lr, g.defined().then_some(&g))?;
            }
            for r in &mut self.row_slots {
                r.update(&c, bc, lr)?;
            }
            Ok(())
        })
    }

    /// Clears the gradients of all parameters (in place: the flat layout keeps them in its
    /// buffers).
    pub fn zero_grad(&mut self) {
        for g in &mut self.groups {
            let _ = g.grad.zero_();
        }
        for p in self
            .slots
            .iter()
            .map(|s| &s.param)
            .chain(self.row_slots.iter().map(|r| &r.param))
        {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }
}

/// The moments' update of the flat layout: m ← lerp(m, g, 1 − β₁), and v ← β₂·v + (1−β₂)·g²
/// as torch's AdamW moves it, `lerp` toward g² (written into `scratch`).
fn update_moments(
    c: &AdamConfig,
    g: &Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    scratch: &Tensor,
) -> Result<(), TchError> {
    let _ = m.f_lerp_(g, 1.0 - c.beta1)?;
    let _ = g.f_mul_out(scratch, g)?;
    let _ = v.f_lerp_(scratch, 1.0 - c.beta2)?;
    Ok(())
}

/// The flat layout's step θ ← θ + m / d for learning rate `lr` (> 0), with the denominator d
/// written into `scratch`: for the `torch` placement d = −(√v/√bc₂ + ε)·bc₁/lr = a·√v + b,
/// one multiply-add; for `hf` d = −(√v + ε)/step, step = lr·√bc₂/bc₁. Weight decay is the
/// caller's.
fn apply_step(
    c: &AdamConfig,
    (bc1, bc2): (f64, f64),
    lr: f64,
    theta: &mut Tensor,
    m: &Tensor,
    v: &Tensor,
    scratch: &mut Tensor,
) -> Result<(), TchError> {
    let _ = v.f_sqrt_out(scratch)?;
    match c.update {
        AdamUpdate::Torch => {
            let _ = scratch.f_mul_scalar_(-bc1 / (lr * bc2.sqrt()))?;
            let _ = scratch.f_add_scalar_(-bc1 * c.eps / lr)?;
        }
        AdamUpdate::Hf => {
            let step = lr * bc2.sqrt() / bc1;
            let _ = scratch.f_add_scalar_(c.eps)?;
            let _ = scratch.f_mul_scalar_(-1.0 / step)?;
        }
    }
    let _ = theta.f_addcdiv_(m, scratch)?;
    Ok(())
}

impl RowSlot {
    /// [`FlatGroup::update`] on the training rows, the weight decay on the whole matrix (see
    /// [`Adam::restrict_rows`]).
    fn update(&mut self, c: &AdamConfig, bc: (f64, f64), lr: f64) -> Result<(), TchError> {
        let full = self.param.grad();
        if !full.defined() {
            return Ok(());
        }
        let lr = lr * self.lr_scale;
        let decay = self.weight_decay != 0.0 && lr != 0.0;
        if decay && c.update == AdamUpdate::Torch {
            let _ = self.param.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
        }
        let g = full.f_index_select(0, &self.rows)?;
        let mut scratch = g.f_empty_like()?;
        update_moments(c, &g, &mut self.m, &mut self.v, &scratch)?;
        if lr == 0.0 {
            return Ok(());
        }
        let mut theta = self.param.f_index_select(0, &self.rows)?;
        apply_step(c, bc, lr, &mut theta, &self.m, &self.v, &mut scratch)?;
        let _ = self.param.f_index_copy_(0, &self.rows, &theta)?;
        if decay && c.update == AdamUpdate::Hf {
            let _ = self.param.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
        }
        Ok(())
    }
}

impl FlatGroup {
    /// The update of [`Slot::update`] over the group's buffers, in fewer passes over memory:
    /// the denominator and g² are written into a buffer kept from step to step (the per-tensor
    /// update allocates a denominator per tensor and step, which for a large tensor is a fresh
    /// mapping and its page faults), v moves as torch's AdamW moves it (`lerp` toward g²: two
    /// passes instead of three), and the torch placement's denominator is one multiply-add
    /// instead of a divide, an add and a multiply ([`update_moments`], [`apply_step`]). The
    /// same rule; the rounding differs in the last bits.
    fn update(&mut self, c: &AdamConfig, bc: (f64, f64), lr: f64) -> Result<(), TchError> {
        let s = &mut self.state;
        let lr = lr * s.lr_scale;
        let decay = s.weight_decay != 0.0 && lr != 0.0;
        if let (true, Some(prior)) = (decay, &s.prior) {
            // PriorWD: θ ← θ − lr·λ·(θ − θ₀), before the update.
            let _ = s.param.f_sub_out(&self.scratch, prior)?;
            let _ = self.scratch.f_mul_scalar_(-lr * s.weight_decay)?;
            let _ = s.param.f_add_(&self.scratch)?;
        }
        let decay = decay && s.prior.is_none();
        if decay && c.update == AdamUpdate::Torch {
            let _ = s.param.f_mul_scalar_(1.0 - lr * s.weight_decay)?;
        }
        update_moments(c, &self.grad, &mut s.m, &mut s.v, &self.scratch)?;
        if lr == 0.0 {
            return Ok(());
        }
        apply_step(c, bc, lr, &mut s.param, &s.m, &s.v, &mut self.scratch)?;
        if decay && c.update == AdamUpdate::Hf {
            let _ = s.param.f_mul_scalar_(1.0 - lr * s.weight_decay)?;
        }
        Ok(())
    }
}

impl Slot {
    /// One update of this slot with gradient `g` (`None`: the parameter has none, and only
    /// prior weight decay applies), base learning rate `lr` and bias corrections `(bc₁, bc₂)`.
    fn update(
        &mut self,
        c: &AdamConfig,
        (bc1, bc2): (f64, f64),
        lr: f64,
        g: Option<&Tensor>,
    ) -> Result<(), TchError> {
        let lr = lr * self.lr_scale;
        // In-place ops only, one temporary (the denominator): the update runs over every
        // parameter each step, so passes over memory are what it costs.
        let decay = self.weight_decay != 0.0 && lr != 0.0;
        if let (true, Some(prior)) = (decay, &self.prior) {
            // PriorWD: θ ← θ − lr·λ·(θ − θ₀), before the update, gradient or not.
            let pull = self.param.f_sub(prior)?;
            let _ = self
                .param
                .f_add_(&pull.f_mul_scalar(-lr * self.weight_decay)?)?;
        }
        let decay = decay && self.prior.is_none();
        let Some(g) = g else {
            return Ok(());
        };
        if decay && c.update == AdamUpdate::Torch {
            let _ = self.param.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
        }
        let _ = self.m.f_lerp_(g, 1.0 - c.beta1)?;
        // v ← β₂·v + (1−β₂)·g², as ((β₂/(1−β₂))·v + g²)·(1−β₂).
        let _ = self.v.f_mul_scalar_(c.beta2 / (1.0 - c.beta2))?;
        let _ = self.v.f_addcmul_(g, g)?;
        let _ = self.v.f_mul_scalar_(1.0 - c.beta2)?;
        if lr == 0.0 {
            return Ok(()); // e.g. the first warmup step: moments move, parameters do not
        }
        let mut denom = self.v.f_sqrt()?;
        match c.update {
            AdamUpdate::Torch => {
                // θ ← θ + m / d, d = −(√v/√bc₂ + ε)·bc₁/lr: θ − lr·(m/bc₁)/(√(v/bc₂)+ε).
                let _ = denom.f_div_scalar_(bc2.sqrt())?;
                let _ = denom.f_add_scalar_(c.eps)?;
                let _ = denom.f_mul_scalar_(-bc1 / lr)?;
                let _ = self.param.f_addcdiv_(&self.m, &denom)?;
            }
            AdamUpdate::Hf => {
                // θ ← θ + m / d, d = −(√v + ε)/step, step = lr·√bc₂/bc₁.
                let step = lr * bc2.sqrt() / bc1;
                let _ = denom.f_add_scalar_(c.eps)?;
                let _ = denom.f_mul_scalar_(-1.0 / step)?;
                let _ = self.param.f_addcdiv_(&self.m, &denom)?;
                if decay {
                    let _ = self.param.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
                }
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters of several shapes (sizes that are no multiple of a SIMD width) in three
    /// groups — decayed, not decayed, a smaller learning-rate factor — and one the loss never
    /// uses; `grads[step][i]` is ∂loss/∂pᵢ at `step`.
    fn problem(kind: Kind) -> (Vec<Vec<i64>>, Vec<Tensor>, Vec<Vec<Tensor>>) {
        let shapes = vec![vec![7, 5], vec![5], vec![3, 11], vec![13], vec![4, 4]];
        // Deterministic values without LibTorch's generator, which tests running in parallel
        // share.
        let values = |shape: &[i64], phase: f64, scale: f64| {
            let n: i64 = shape.iter().product();
            (Tensor::arange(n, (kind, Device::Cpu)) * 1.37 + phase).sin() * scale
        };
        let p0 = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| values(s, i as f64, 1.0).view(s.as_slice()))
            .collect();
        let grads = (0..5)
            .map(|step| {
                shapes
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        values(s, 10.0 * step as f64 + 0.5 * i as f64, 3.0).view(s.as_slice())
                    })
                    .collect()
            })
            .collect();
        (shapes, p0, grads)
    }

    const SETTINGS: [(f64, f64, bool); 5] = [
        (1.0, 0.01, false),
        (1.0, 0.0, false),
        (0.5, 0.01, false),
        (1.0, 0.01, false),
        (1.0, 0.1, true),
    ];

    /// Trains the problem's parameters for five steps (clipped at norm 1) and returns them,
    /// with the optimizer.
    fn train(layout: Layout, config: AdamConfig, kind: Kind) -> (Vec<Tensor>, Adam) {
        let (_, p0, grads) = problem(kind);
        let params: Vec<Tensor> = p0
            .iter()
            .map(|p| p.copy().set_requires_grad(true))
            .collect();
        let mut adam = Adam::with_layout(config, layout);
        for (p, &(scale, decay, prior)) in params.iter().zip(&SETTINGS) {
            if prior {
                adam.add_toward_current(p, scale, decay);
            } else {
                adam.add(p, scale, decay);
            }
        }
        let unused = 3;
        for (step, g) in grads.iter().enumerate() {
            // Two micro-batches: the second accumulates into the first's gradients.
            for half in [0.25, 0.75] {
                let loss = params
                    .iter()
                    .zip(g)
                    .enumerate()
                    .filter(|(i, _)| *i != unused)
                    .map(|(_, (p, g))| (p * g).sum(kind) * half)
                    .reduce(|a, b| a + b)
                    .unwrap();
                loss.backward();
            }
            let grads = adam.grads().unwrap();
            clip_grad_norm(&grads, 1.0).unwrap();
            adam.step(1e-2 * (step + 1) as f64).unwrap();
            adam.zero_grad();
        }
        (params, adam)
    }

    fn config(bias_correction: bool, update: AdamUpdate) -> AdamConfig {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            bias_correction,
            update,
        }
    }

    #[test]
    fn the_flat_layout_updates_as_the_per_tensor_one() {
        for bias_correction in [true, false] {
            for update in [AdamUpdate::Torch, AdamUpdate::Hf] {
                let c = config(bias_correction, update);
                let (flat, adam) = train(Layout::Flat, c, Kind::Double);
                let (per_tensor, reference) = train(Layout::PerTensor, c, Kind::Double);
                // Decayed, not decayed, factor 0.5, toward θ₀; the unused one stays loose.
                assert_eq!(adam.flat_groups(), 4);
                assert_eq!(reference.flat_groups(), 0);
                assert_eq!((adam.len(), adam.numel()), (5, 35 + 5 + 33 + 13 + 16));
                assert_eq!(adam.numel(), reference.numel());
                for (i, (a, b)) in flat.iter().zip(&per_tensor).enumerate() {
                    let diff = (a - b).abs().max().double_value(&[]);
                    // Only the gradient norm's summation order differs.
                    assert!(
                        diff <= 1e-12,
                        "{bias_correction} {update:?} param {i}: {diff}"
                    );
                }
                let (_, p0, _) = problem(Kind::Double);
                assert_eq!(flat[3], p0[3], "no gradient: never updated, never decayed");
                assert!(flat[0] != p0[0], "trained");
            }
        }
    }

    #[test]
    fn variables_become_views_of_their_groups_buffer() {
        let (params, adam) = train(Layout::Flat, config(true, AdamUpdate::Torch), Kind::Float);
        let group = &adam.groups[0];
        let base = group.state.param.data_ptr() as usize;
        // The first decayed parameter is the group's first slice.
        assert_eq!(params[0].data_ptr() as usize, base);
        assert_eq!(params[0].grad().data_ptr(), group.grad.data_ptr());
        // Writing through the variable is seen by the buffer, and the gradient stays put.
        let mut p = params[0].shallow_clone();
        tch::no_grad(|| {
            let _ = p.fill_(3.0);
        });
        let first = group.state.param.narrow(0, 0, 35);
        assert_eq!(first, Tensor::full([35], 3.0, (Kind::Float, Device::Cpu)));
        (&params[0] * 2.0).sum(Kind::Float).backward();
        let g = group.grad.narrow(0, 0, 35);
        assert_eq!(g, Tensor::full([35], 2.0, (Kind::Float, Device::Cpu)));
    }

    /// An embedding matrix of 50 rows of which training looks up rows 0, 3, 17 and 42 (row 0
    /// only at even steps), trained with its update restricted to those rows and without.
    fn train_embedding(restrict: bool, layout: Layout, c: AdamConfig) -> Tensor {
        let kind = Kind::Double;
        let values =
            |n: i64, phase: f64| (Tensor::arange(n, (kind, Device::Cpu)) * 0.91 + phase).sin();
        let emb = values(300, 0.0).view([50, 6]).set_requires_grad(true);
        let other = values(6, 1.0).set_requires_grad(true);
        let mut adam = Adam::with_layout(c, layout);
        adam.add(&emb, 1.0, 0.01);
        adam.add(&other, 1.0, 0.0);
        if restrict {
            assert!(adam.restrict_rows(&emb, vec![42, 3, 17, 3, 0]));
            assert_eq!((adam.len(), adam.numel()), (2, 306));
        }
        for step in 0..6 {
            let ids: &[i64] = if step % 2 == 0 {
                &[3, 17, 0, 42, 3]
            } else {
                &[42, 17, 3]
            };
            let ids = Tensor::from_slice(ids);
            let g = values(ids.size()[0] * 6, step as f64).view([-1, 6]) * 4.0;
            let loss = (emb.index_select(0, &ids) * g).sum(kind) + (&other * 2.0).sum(kind);
            loss.backward();
            let grads = adam.grads().unwrap();
            clip_grad_norm(&grads, 1.0).unwrap();
            adam.step(0.05).unwrap();
            adam.zero_grad();
        }
        emb
    }

    #[test]
    fn restricting_an_embedding_to_its_training_rows_changes_nothing() {
        for bias_correction in [true, false] {
            for update in [AdamUpdate::Torch, AdamUpdate::Hf] {
                let c = config(bias_correction, update);
                let restricted = train_embedding(true, Layout::Flat, c);
                let full = train_embedding(false, Layout::Flat, c);
                let reference = train_embedding(false, Layout::PerTensor, c);
                let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
                // Only the gradient norm's summation order differs (the tensors' order).
                assert!(
                    diff(&restricted, &full) <= 1e-14,
                    "{bias_correction} {update:?}"
                );
                assert!(diff(&restricted, &reference) <= 1e-12);
                // Rows never looked up only decayed.
                let start = (Tensor::arange(300, (Kind::Double, Device::Cpu)) * 0.91).sin();
                let row = |t: &Tensor, r: i64| t.view([50, 6]).get(r);
                let ratio = (row(&restricted, 5) / row(&start, 5)).mean(Kind::Double);
                assert!((ratio.double_value(&[]) - (1.0 - 0.05 * 0.01f64).powi(6)).abs() < 1e-12);
                assert!(
                    diff(&row(&restricted, 3), &row(&start, 3)) > 1e-3,
                    "trained"
                );
            }
        }
        // Not in the per-tensor layout (the reference), nor for a parameter it does not hold.
        let mut adam = Adam::with_layout(config(true, AdamUpdate::Torch), Layout::PerTensor);
        let p = Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        adam.add(&p, 1.0, 0.0);
        assert!(!adam.restrict_rows(&p, vec![1]));
        let mut adam = Adam::new(config(true, AdamUpdate::Torch));
        assert!(!adam.restrict_rows(&p, vec![1]));
    }
}
