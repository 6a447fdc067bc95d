"""Golden values for stab-train's weight decay toward the pre-trained weights (`Adam` with
`add_toward_current`, `src/optim.rs`): three steps on parameters of the held tiny checkpoint
(`crates/bert/tests/golden/tiny/model.safetensors`) plus a new head.

The rule is Zhang et al.'s `PriorWD` (asappresearch/revisit-bert-finetuning,
`prior_wd_optim.py`), re-written here from its definition: it wraps an optimizer, remembers
each group's weight decay and sets it to 0 in the wrapped optimizer, keeps a copy of every
parameter as it was when wrapped (θ0), and before each wrapped `step()` moves every parameter
θ <- θ - lr_group * wd_group * (θ - θ0). Its `exclude_last_group` test (`i == len(groups)`)
is never true, so every group, the new head's included, decays toward its own θ0.

Two wrapped optimizers: `torch.optim.AdamW` (Zhang's `--use_torch_adamw`; stab's `torch`
update with bias correction) and transformers' AdamW without bias correction (the Devlin
recipe's `hf` update), the latter as a float64 re-implementation of its documented step
(transformers 4.57 no longer ships it; see make_adam_golden.py). Two parameter groups with
their own learning rates (as layer-wise decay makes them): layer 1's output dense weight and
bias (lr x 0.9, the bias without weight decay), the pooler's weight and a new classifier
weight N(0, 0.02) (lr x 1).

    PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 crates/train/tests/golden/make_prior_wd_golden.py
"""
import json
import math
import os

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "../../../bert/tests/golden/tiny/model.safetensors")
NAMES = [
    "bert.encoder.layer.1.output.dense.weight",
    "bert.encoder.layer.1.output.dense.bias",
    "bert.pooler.dense.weight",
]
SCALES = [0.9, 0.9, 1.0, 1.0]
WD, B1, B2 = 0.5, 0.9, 0.999
DECAYS = [WD, 0.0, WD, WD]
LRS = [1e-2, 2e-2, 1.5e-2]

tensors = load_file(CKPT)
torch.manual_seed(0)
p0 = [tensors[n].to(torch.float64) for n in NAMES]
p0.append(torch.randn(2, 32, dtype=torch.float64) * 0.02)  # the new head
grads = [[torch.randn_like(p) * 0.1 for p in p0] for _ in LRS]


class PriorWD:
    """What prior_wd_optim.PriorWD does with use_prior_wd=True."""

    def __init__(self, groups, step_fn):
        self.groups = groups
        self.step_fn = step_fn
        self.wd = [g["weight_decay"] for g in groups]
        for g in groups:
            g["weight_decay"] = 0.0
        self.prior = {id(p): p.detach().clone() for g in groups for p in g["params"]}

    def step(self):
        with torch.no_grad():
            for g, wd in zip(self.groups, self.wd):
                for p in g["params"]:
                    p.add_(p - self.prior[id(p)], alpha=-g["lr"] * wd)
        self.step_fn()


def groups_of(ps):
    return [{"params": [p], "weight_decay": d, "scale": s} for p, d, s in zip(ps, DECAYS, SCALES)]


def run_torch():
    ps = [p.clone().requires_grad_(True) for p in p0]
    groups = groups_of(ps)
    opt = torch.optim.AdamW(
        [{"params": g["params"], "weight_decay": g["weight_decay"], "lr": LRS[0]} for g in groups],
        betas=(B1, B2), eps=1e-8, foreach=False,
    )
    wrapped = PriorWD(opt.param_groups, opt.step)
    out = []
    for s, lr in enumerate(LRS):
        for g, scale in zip(opt.param_groups, SCALES):
            g["lr"] = lr * scale
        for p, gr in zip(ps, grads[s]):
            p.grad = gr.clone()
        wrapped.step()
        out.append([p.detach().flatten().tolist() for p in ps])
    return out


def run_hf_without_bias_correction():
    ps = [p.clone() for p in p0]
    m = [torch.zeros_like(p) for p in p0]
    v = [torch.zeros_like(p) for p in p0]
    groups = [{"params": [p], "weight_decay": d, "lr": 0.0} for p, d in zip(ps, DECAYS)]

    def hf_step():  # transformers.AdamW(correct_bias=False) with weight_decay 0
        for i, g in enumerate(groups):
            p = g["params"][0]
            gr = grads[step][i]
            m[i].mul_(B1).add_(gr, alpha=1.0 - B1)
            v[i].mul_(B2).addcmul_(gr, gr, value=1.0 - B2)
            p.addcdiv_(m[i], v[i].sqrt().add_(1e-6), value=-g["lr"])

    wrapped = PriorWD(groups, hf_step)
    out = []
    for step, lr in enumerate(LRS):
        for g, scale in zip(groups, SCALES):
            g["lr"] = lr * scale
        wrapped.step()
        out.append([p.flatten().tolist() for p in ps])
    return out


golden = {
    "names": NAMES, "scales": SCALES, "decays": DECAYS, "beta1": B1, "beta2": B2, "lrs": LRS,
    "head_p0": p0[3].flatten().tolist(),
    "shapes": [list(p.shape) for p in p0],
    "grads": [[g.flatten().tolist() for g in gs] for gs in grads],
    "torch_adamw": run_torch(),
    "hf_bertadam": run_hf_without_bias_correction(),
}
with open(os.path.join(HERE, "prior_wd.json"), "w") as f:
    json.dump(golden, f)
print("wrote", os.path.join(HERE, "prior_wd.json"))
