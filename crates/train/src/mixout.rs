//! Mixout (Lee et al. 2020) as Zhang et al. (2021) run it: during training every linear
//! weight W is mixed with its pre-trained value T, element columns at a time, and rescaled so
//! that its expectation is W.
//!
//! What Zhang's code computes (`mixout.py`'s `Mixout` function inside `MixLinear`, installed by
//! `run_glue.py` on every `nn.Linear` of the model when `--mixout p > 0`):
//!
//! ```text
//! forward:  W̃ = ((1 − M)·T + M·W − p·T) / (1 − p)  =  T + M·(W − T)/(1 − p)
//! backward: ∂L/∂W = M · ∂L/∂W̃                       (no 1/(1 − p) factor)
//! ```
//!
//! with M a 0/1 mask drawn with P(1) = 1 − p for **one row** of W (`noise[0].bernoulli_`) and
//! repeated over all output rows: an input column of W is either entirely W's or entirely
//! T's. Biases are not mixed. T is the weight when mixout was installed: after loading and
//! re-initialisation, so a re-initialised layer mixes with its re-initialised value and the
//! new head with its initial value. Evaluation uses W itself. `run_glue.py` also sets every
//! dropout probability to 0; stab's spec asks for that explicitly (`RunSpec::validate`).
//!
//! How stab does it without a module per family: the mixed value is written into the weight
//! variable for one forward/backward ([`Mixout::mix`]) — a linear layer then computes exactly
//! `F.linear(x, W̃, b)` and autograd leaves ∂L/∂W̃ in the variable's gradient — and
//! [`Mixout::unmix`] writes W back and multiplies that gradient by M, which is Zhang's
//! backward. Every family's linear layers are found by name ([`stab_bert::is_linear_weight`]),
//! so no model code changes. Where stab differs: a weight used several times in one forward
//! (ALBERT's shared layers) gets one mask per step here, where a `MixLinear` would draw one per
//! application.
//!
//! Masks come from LibTorch's generator, which the loop seeds with the data seed (as dropout
//! masks): a run is reproducible under its seeds.

use stab_bert::is_linear_weight;
use tch::nn::VarStore;
use tch::{Kind, TchError, Tensor};

/// One mixed weight.
struct Slot {
    name: String,
    /// The variable (shallow clone).
    param: Tensor,
    /// T: its value when mixout was installed.
    target: Tensor,
    /// W while the variable holds W̃.
    saved: Tensor,
    /// M of the current step, [1, in] (broadcast over the output rows), 0/1 in the weight's
    /// dtype; undefined when not mixed.
    mask: Tensor,
    /// The gradient accumulated by earlier micro-batches of the same optimizer step.
    stash: Option<Tensor>,
}

/// The mixout state of a run: targets and the masks of the current step.
pub struct Mixout {
    p: f64,
    slots: Vec<Slot>,
    mixed: bool,
}

impl Mixout {
    /// Mixout with probability `p` on every linear weight of `vs` that trains (requires a
    /// gradient), with the weights' current values as targets. Call it after loading,
    /// re-initialisation and freezing.
    pub fn new(vs: &VarStore, p: f64) -> Mixout {
        let variables = vs.variables();
        let mut names: Vec<&String> = variables.keys().collect();
        names.sort();
        let slots = names
            .into_iter()
            .filter_map(|name| {
                let v = &variables[name];
                (v.requires_grad() && is_linear_weight(name, v.dim())).then(|| Slot {
                    name: name.clone(),
                    param: v.shallow_clone(),
                    target: v.detach().copy(),
                    saved: v.detach().copy(),
                    mask: Tensor::new(),
                    stash: None,
                })
            })
            .collect();
        Mixout {
            p,
            slots,
            mixed: false,
        }
    }

    /// Names of the mixed weights, in name order.
    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// Draws a mask per weight and writes W̃ into the variables for one forward/backward.
    /// `accumulating`: gradients of earlier micro-batches of this step are in the variables
    /// (gradient accumulation); they are kept apart so that only this micro-batch's part is
    /// masked.
    pub fn mix(&mut self, accumulating: bool) -> Result<(), TchError> {
        let keep = 1.0 - self.p;
        let masks = self
            .slots
            .iter()
            .map(|s| {
                let cols = s.param.size()[1];
                Tensor::f_empty([1, cols], (s.param.kind(), s.param.device()))?
                    .f_bernoulli_float_(keep)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.mix_with(masks, accumulating)
    }

    /// [`Mixout::mix`] with given masks ([1, in] each, in [`Mixout::names`] order).
    pub fn mix_with(&mut self, masks: Vec<Tensor>, accumulating: bool) -> Result<(), TchError> {
        assert!(!self.mixed, "mix called twice without unmix");
        assert_eq!(masks.len(), self.slots.len(), "one mask per mixed weight");
        let scale = 1.0 / (1.0 - self.p);
        tch::no_grad(|| -> Result<(), TchError> {
            for (s, mask) in self.slots.iter_mut().zip(masks) {
                s.saved.f_copy_(&s.param)?;
                // W̃ = T + M·(W − T)/(1 − p)
                let mixed = s
                    .param
                    .f_sub(&s.target)?
                    .f_mul(&mask)?
                    .f_mul_scalar(scale)?
                    .f_add(&s.target)?;
                s.param.shallow_clone().f_copy_(&mixed)?;
                s.mask = mask;
                let g = s.param.grad();
                s.stash = if accumulating && g.defined() {
                    let kept = g.copy();
                    let _ = g.shallow_clone().f_zero_()?;
                    Some(kept)
                } else {
                    None
                };
            }
            Ok(())
        })?;
        self.mixed = true;
        Ok(())
    }

    /// Writes W back after the backward pass and masks the gradient it left (Zhang's
    /// backward), adding back what earlier micro-batches accumulated.
    pub fn unmix(&mut self) -> Result<(), TchError> {
        if !self.mixed {
            return Ok(());
        }
        tch::no_grad(|| -> Result<(), TchError> {
            for s in &mut self.slots {
                s.param.shallow_clone().f_copy_(&s.saved)?;
                let g = s.param.grad();
                if g.defined() {
                    let mut g = g.shallow_clone();
                    let _ = g.f_mul_(&s.mask)?;
                    if let Some(kept) = s.stash.take() {
                        let _ = g.f_add_(&kept)?;
                    }
                }
                s.mask = Tensor::new();
            }
            Ok(())
        })?;
        self.mixed = false;
        Ok(())
    }
}

/// The mask of a mixed weight as Zhang's code draws it, for tests: `[1, in]` of 0/1 in `kind`.
pub fn column_mask(keep: &[bool], kind: Kind) -> Tensor {
    let v: Vec<f64> = keep.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
    Tensor::from_slice(&v).to_kind(kind).unsqueeze(0)
}
