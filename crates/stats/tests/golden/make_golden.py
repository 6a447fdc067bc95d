"""Writes golden.json: reference values from numpy / scipy / deepsig for stab-stats' parity tests.

Run from the repository root:
    PYTHONPATH=.deps/pyref python3 crates/stats/tests/golden/make_golden.py
(numpy 2.3.5, scipy 1.16.3, deepsig 1.2.8). deepsig's top-level imports pandas and psutil,
which its `aso()` does not use, and sets joblib's pickler to dill; these are stubbed so that only numpy/scipy/joblib are needed.
"""
import json
import math
import os
import sys
import types
from fractions import Fraction

for name in ("pandas", "psutil"):
    if name not in sys.modules:
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.DataFrame = type("DataFrame", (), {})  # only used in type annotations
            sys.modules[name] = stub

import joblib.externals.loky as _loky

_loky.set_loky_pickler = lambda *a, **k: None  # deepsig asks for dill; n_jobs=1 never pickles.

import numpy as np
import scipy
from scipy import stats

import deepsig
from deepsig.aso import aso, compute_violation_ratio

rng = np.random.default_rng(20210503)


def samples():
    """Score vectors shaped like fine-tuning results, including ties and a bimodal one."""
    return {
        "mosbach": list(rng.normal(0.70, 0.024, 25)),
        "devlin": list(np.concatenate([rng.normal(0.66, 0.05, 15), rng.normal(0.5, 0.02, 10)])),
        "small": [0.61, 0.55, 0.58],
        "ties": list(np.round(rng.normal(0.8, 0.01, 30), 2)),
        "ties2": list(np.round(rng.normal(0.805, 0.012, 22), 2)),
        "wide": list(rng.uniform(0.4, 0.9, 40)),
    }


S = {k: [float(v) for v in vs] for k, vs in samples().items()}
out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                    "deepsig": getattr(deepsig, "__version__", "1.2.8")},
       "samples": S, "describe": {}, "expected_max": {}, "pairs": [], "levene3": {}, "aso": []}

for k, x in S.items():
    a = np.asarray(x)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    out["describe"][k] = {"mean": float(a.mean()), "std": float(a.std(ddof=1)),
                          "median": float(np.median(a)), "q1": float(q1), "q3": float(q3),
                          "min": float(a.min()), "max": float(a.max())}
    # Expected max, straight from the formulas (exact binomials for the unbiased one).
    v = sorted(x)
    N = len(v)
    curve = []
    for n in range(1, N + 1):
        p1 = [(i / N) ** n - ((i - 1) / N) ** n for i in range(1, N + 1)]
        e1 = sum(pi * vi for pi, vi in zip(p1, v))
        sd1 = math.sqrt(sum(pi * (vi - e1) ** 2 for pi, vi in zip(p1, v)))
        p2 = [float(Fraction(math.comb(j - 1, n - 1), math.comb(N, n))) for j in range(1, N + 1)]
        e2 = sum(pi * vi for pi, vi in zip(p2, v))
        sd2 = math.sqrt(max(0.0, sum(pi * (vi - e2) ** 2 for pi, vi in zip(p2, v))))
        curve.append([n, e1, sd1, e2, sd2])
    out["expected_max"][k] = curve

for a, b in [("mosbach", "devlin"), ("small", "mosbach"), ("ties", "ties2"), ("wide", "devlin"),
             ("mosbach", "wide")]:
    x, y = S[a], S[b]
    lm = stats.levene(x, y, center="mean")
    lmed = stats.levene(x, y, center="median")
    w = stats.ttest_ind(x, y, equal_var=False)
    # SciPy's default method="auto" (exact for a sample of <= 8 runs without ties), as stab.
    mw = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto", use_continuity=True)
    out["pairs"].append({
        "a": a, "b": b,
        "levene_mean": [float(lm.statistic), float(lm.pvalue)],
        "levene_median": [float(lmed.statistic), float(lmed.pvalue)],
        "welch": [float(w.statistic), float(w.df), float(w.pvalue)],
        "mannwhitney": [float(mw.statistic), float(mw.pvalue)],
        "violation_ratio": float(compute_violation_ratio(np.array(x), np.array(y), dt=0.005)),
    })

# Mann-Whitney on seed-group sizes (3-8 runs, and 3 vs 25): method="auto" is exact here; the
# asymptotic p is recorded too, to show how far apart they are.
mw_rng = np.random.default_rng(11)
out["mannwhitney_small"] = []
for n1, n2, shift in [(3, 3, 0.1), (3, 5, 0.02), (4, 4, 0.0), (5, 7, 0.03), (8, 8, 0.01),
                      (6, 8, 0.2), (3, 25, 0.01), (8, 9, 0.01), (2, 40, 0.0)]:
    x = [float(v) for v in mw_rng.normal(0.70 + shift, 0.02, n1)]
    y = [float(v) for v in mw_rng.normal(0.70, 0.02, n2)]
    auto = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
    asym = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    out["mannwhitney_small"].append({"a": x, "b": y, "u": float(auto.statistic),
                                     "p_auto": float(auto.pvalue),
                                     "p_asymptotic": float(asym.pvalue),
                                     "exact": bool(min(n1, n2) <= 8)})

l3 = stats.levene(S["mosbach"], S["devlin"], S["wide"], center="median")
out["levene3"] = {"groups": ["mosbach", "devlin", "wide"], "center": "median",
                  "statistic": float(l3.statistic), "p": float(l3.pvalue)}

# ASO on clear and on overlapping cases; Bonferroni via num_comparisons.
for a, b, m in [("mosbach", "devlin", 1), ("devlin", "mosbach", 1), ("ties", "ties2", 1),
                ("mosbach", "wide", 3), ("wide", "devlin", 1)]:
    eps = aso(S[a], S[b], confidence_level=0.95, num_comparisons=m, num_bootstrap_iterations=1000,
              dt=0.005, num_jobs=1, show_progress=False, seed=1234)
    out["aso"].append({"a": a, "b": b, "num_comparisons": m, "eps_min": float(eps)})

# Two-way random-effects variance components, 4 init × 5 data seeds, 1 and 2 runs per cell.
def anova(y):
    a, b, r = y.shape
    g = y.mean()
    mi, md, mc = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=2)
    ms_a = b * r * ((mi - g) ** 2).sum() / (a - 1)
    ms_b = a * r * ((md - g) ** 2).sum() / (b - 1)
    ms_ab = r * ((mc - mi[:, None] - md[None, :] + g) ** 2).sum() / ((a - 1) * (b - 1))
    if r > 1:
        ms_e = ((y - mc[:, :, None]) ** 2).sum() / (a * b * (r - 1))
        vi, vr = max(0.0, (ms_ab - ms_e) / r), ms_e
    else:
        vi, vr = 0.0, ms_ab
    va, vb = max(0.0, (ms_a - ms_ab) / (b * r)), max(0.0, (ms_b - ms_ab) / (a * r))
    t = va + vb + vi + vr
    return {"var_init": va, "var_data": vb, "var_interaction": vi, "var_residual": vr,
            "share_init": va / t, "share_data": vb / t}

out["anova"] = []
for r in (1, 2):
    init_eff = rng.normal(0, 0.02, 4)
    data_eff = rng.normal(0, 0.01, 5)
    y = 0.7 + init_eff[:, None, None] + data_eff[None, :, None] + rng.normal(0, 0.01, (4, 5, r))
    runs = [[i, d, float(y[i, d, k])] for i in range(4) for d in range(5) for k in range(r)]
    out["anova"].append({"runs": runs, **{k: float(v) for k, v in anova(y).items()}})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
