"""Golden values for stab-train's mixout (`src/mixout.rs`): one mixout linear layer, forward and
backward, with fixed masks, as Zhang et al.'s code computes it.

The rule is the one of `mixout.py` in asappresearch/revisit-bert-finetuning (the `Mixout`
autograd function that `MixLinear.forward` applies to its weight before `F.linear`), re-written
here from its definition with the mask passed in instead of drawn:

    forward:  W~ = ((1 - M) * T + M * W - p * T) / (1 - p)      T: the pre-trained weight
    backward: dL/dW = dL/dW~ * M                                 (no 1 / (1 - p) factor)

where M is one row of Bernoulli(1 - p) draws (`noise[0].bernoulli_(1 - p)`) repeated over the
output rows; the bias is not mixed. Two micro-batches with different masks accumulate their
gradients in W.grad, as two forward/backward passes of a `MixLinear` do.

    PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 crates/train/tests/golden/make_mixout_golden.py
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
P = 0.3
IN, OUT, B = 5, 3, 4
T = torch.randn(OUT, IN, dtype=torch.float64)
W0 = T + 0.5 * torch.randn(OUT, IN, dtype=torch.float64)
b0 = torch.randn(OUT, dtype=torch.float64)
xs = [torch.randn(B, IN, dtype=torch.float64) for _ in range(2)]
rs = [torch.randn(B, OUT, dtype=torch.float64) for _ in range(2)]
masks = [[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0]]


class MixoutFixed(torch.autograd.Function):
    """`Mixout.forward`/`backward` of mixout.py with the mask given."""

    @staticmethod
    def forward(ctx, w, target, mask_row, p):
        noise = mask_row.repeat(w.size(0), 1)
        ctx.save_for_backward(noise)
        return ((1 - noise) * target + noise * w - p * target) / (1 - p)

    @staticmethod
    def backward(ctx, grad_out):
        (noise,) = ctx.saved_tensors
        return grad_out * noise, None, None, None


W = W0.clone().requires_grad_(True)
b = b0.clone().requires_grad_(True)
out = {"p": P, "target": T.flatten().tolist(), "weight": W0.flatten().tolist(),
       "bias": b0.tolist(), "shape": [OUT, IN], "masks": masks, "steps": []}
for x, r, m in zip(xs, rs, masks):
    mixed = MixoutFixed.apply(W, T, torch.tensor(m, dtype=torch.float64), P)
    y = torch.nn.functional.linear(x, mixed, b)
    loss = (y * r).sum()
    loss.backward()
    out["steps"].append({
        "x": x.flatten().tolist(), "r": r.flatten().tolist(),
        "y": y.detach().flatten().tolist(),
        # accumulated over the micro-batches so far
        "weight_grad": W.grad.flatten().tolist(),
        "bias_grad": b.grad.tolist(),
    })

with open(os.path.join(HERE, "mixout.json"), "w") as f:
    json.dump(out, f)
print("wrote", os.path.join(HERE, "mixout.json"))
