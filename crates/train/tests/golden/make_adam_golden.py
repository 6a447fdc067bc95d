"""Golden values for stab-train's Adam, step for step:

- `adamw`: torch.optim.AdamW (bias correction on; the `torch` update);
- `bertadam`: the hand-written BERTAdam update of google-research/bert `optimization.py`
  (bias correction off, decay on the old θ; the `torch` update without bias correction);
- `hf_adamw` / `hf_bertadam`: Hugging Face `transformers.AdamW` with `correct_bias` True / False,
  which Mosbach et al. run as `mAdamW` (uds-lsv/bert-stable-fine-tuning,
  examples/bert_stable_fine_tuning/adamw.py; the `hf` update). transformers 4.57 no longer ships
  that class, so `run_hf` re-implements its documented step in float64 torch ops: ε added to
  the uncorrected √v, step size lr·√(1−β₂ᵗ)/(1−β₁ᵗ), decay θ ← θ − lr·λ·θ after the update.

    PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 crates/train/tests/golden/make_adam_golden.py

Two parameters (one with weight decay, one without), 6 steps with a changing learning rate
(as a schedule would give), gradients drawn once from a fixed seed and stored.
"""
import json
import math
import os

import torch

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
p0 = [torch.randn(3, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
grads = [[torch.randn_like(p) * (s + 1) for p in p0] for s in range(6)]
lrs = [1e-3, 2e-3, 3e-3, 2.5e-3, 1e-3, 5e-4]
WD, B1, B2, EPS = 0.01, 0.9, 0.999, 1e-6


def run_torch():
    ps = [p.clone().requires_grad_(True) for p in p0]
    opt = torch.optim.AdamW(
        [{"params": [ps[0]], "weight_decay": WD}, {"params": [ps[1]], "weight_decay": 0.0}],
        lr=lrs[0], betas=(B1, B2), eps=EPS, foreach=False,
    )
    out = []
    for s in range(6):
        for g in opt.param_groups:
            g["lr"] = lrs[s]
        for p, g in zip(ps, grads[s]):
            p.grad = g.clone()
        opt.step()
        out.append([p.detach().flatten().tolist() for p in ps])
    return out


def run_bertadam():
    # θ ← θ(1 − lr·wd); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; θ ← θ − lr·m/(√v + ε)
    ps = [p.clone() for p in p0]
    m = [torch.zeros_like(p) for p in p0]
    v = [torch.zeros_like(p) for p in p0]
    out = []
    for s in range(6):
        for i, p in enumerate(ps):
            wd = WD if i == 0 else 0.0
            g = grads[s][i]
            p.mul_(1 - lrs[s] * wd)
            m[i] = B1 * m[i] + (1 - B1) * g
            v[i] = B2 * v[i] + (1 - B2) * g * g
            p.sub_(lrs[s] * m[i] / (v[i].sqrt() + EPS))
        out.append([p.flatten().tolist() for p in ps])
    return out


def run_hf(correct_bias):
    ps = [p.clone() for p in p0]
    m = [torch.zeros_like(p) for p in p0]
    v = [torch.zeros_like(p) for p in p0]
    out = []
    for s in range(6):
        t = s + 1
        for i, p in enumerate(ps):
            wd = WD if i == 0 else 0.0
            g = grads[s][i]
            m[i].mul_(B1).add_(g, alpha=1.0 - B1)
            v[i].mul_(B2).addcmul_(g, g, value=1.0 - B2)
            denom = v[i].sqrt().add_(EPS)
            step_size = lrs[s]
            if correct_bias:
                step_size = step_size * math.sqrt(1.0 - B2**t) / (1.0 - B1**t)
            p.addcdiv_(m[i], denom, value=-step_size)
            if wd > 0.0:
                p.add_(p, alpha=-lrs[s] * wd)
        out.append([p.flatten().tolist() for p in ps])
    return out


golden = {
    "weight_decay": WD, "beta1": B1, "beta2": B2, "eps": EPS, "lrs": lrs,
    "p0": [p.flatten().tolist() for p in p0],
    "shapes": [list(p.shape) for p in p0],
    "grads": [[g.flatten().tolist() for g in gs] for gs in grads],
    "adamw": run_torch(),
    "bertadam": run_bertadam(),
    "hf_adamw": run_hf(True),
    "hf_bertadam": run_hf(False),
}
with open(os.path.join(HERE, "adam.json"), "w") as f:
    json.dump(golden, f)
print("wrote", os.path.join(HERE, "adam.json"))
