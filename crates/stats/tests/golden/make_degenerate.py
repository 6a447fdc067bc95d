"""Writes degenerate.json: what SciPy (and deepsig, numpy) return on degenerate inputs, for the
tests of `stab_stats::hypothesis` rules. Alongside each degenerate case the file keeps
near-degenerate but valid cases, where stab must agree with SciPy.

Run from the repository root:
    python3 -m venv /tmp/refpy && /tmp/refpy/bin/pip install scipy numpy deepsig==1.2.8
    /tmp/refpy/bin/python crates/stats/tests/golden/make_degenerate.py
or with the reference Python:
    PYTHONPATH=.deps/pyref python3 crates/stats/tests/golden/make_degenerate.py
(written with numpy 2.3.5, scipy 1.16.3, deepsig 1.2.8; deepsig's unused pandas/psutil imports
are stubbed as in make_golden.py). Non-finite numbers are stored as the
strings "inf", "-inf" and "nan" (JSON has no such numbers).
"""
import json
import math
import os
import sys
import types
import warnings

for _name in ("pandas", "psutil"):
    if _name not in sys.modules:
        try:
            __import__(_name)
        except ImportError:
            _stub = types.ModuleType(_name)
            _stub.DataFrame = type("DataFrame", (), {})  # only used in type annotations
            sys.modules[_name] = _stub
try:
    import joblib.externals.loky as _loky

    _loky.set_loky_pickler = lambda *a, **k: None  # deepsig asks for dill; n_jobs=1 never pickles.
except ImportError:
    pass

import numpy as np
import scipy
from scipy import stats

try:
    from deepsig import aso as deepsig_aso
except Exception:  # deepsig is only needed for the ASO column
    deepsig_aso = None

warnings.simplefilter("ignore")


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


CASES = {
    # 2 runs per group: |x - centre| is equal within each group; F = inf (or ~1e29 by rounding).
    "two_per_group": ([0.61, 0.66], [0.52, 0.71]),
    "two_per_group_rounding": ([0.5270758, 0.6353791], [0.5306859, 0.5487365]),
    # Every run of each group at one score (e.g. all failed to the majority class).
    "constant_groups": ([0.527, 0.527, 0.527], [0.6, 0.6, 0.6]),
    # Constant groups whose mean is not exact in floating point: SciPy's variance is ~1e-34.
    "constant_groups_rounding": ([0.1, 0.1, 0.1], [0.2, 0.2, 0.2]),
    "all_tied": ([0.527, 0.527, 0.527], [0.527, 0.527, 0.527, 0.527]),
    "single_run": ([0.6], [0.5, 0.55, 0.7]),
    # Valid: one constant group against a varying one; 3 vs 2 runs.
    "one_constant": ([0.527] * 5, [0.6, 0.62, 0.65, 0.61, 0.7]),
    "three_vs_two": ([0.6, 0.62, 0.7], [0.5, 0.55]),
}

out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__}, "cases": {}}
for name, (a, b) in CASES.items():
    c = {"a": a, "b": b}
    for centre in ("mean", "median"):
        r = stats.levene(a, b, center=centre)
        c[f"levene_{centre}"] = [num(r.statistic), num(r.pvalue)]
    w = stats.ttest_ind(a, b, equal_var=False)
    c["welch"] = [num(w.statistic), num(getattr(w, "df", float("nan"))), num(w.pvalue)]
    # SciPy's default method="auto" (exact for a sample of <= 8 runs without ties), as stab.
    m = stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
    c["mannwhitney"] = [num(m.statistic), num(m.pvalue)]
    if deepsig_aso is not None:
        c["aso_eps_min"] = num(deepsig_aso(a, b, num_bootstrap_iterations=1000, seed=1234,
                                           show_progress=False, num_jobs=1))
    out["cases"][name] = c

# Two-way random-effects shares on a 2 x 2 grid where every run has the same score: the numpy
# formula of make_golden.py divides 0 by 0.
y = np.full((2, 2, 1), 0.527)
g = y.mean()
ms_a = 2 * ((y.mean(axis=(1, 2)) - g) ** 2).sum()
ms_b = 2 * ((y.mean(axis=(0, 2)) - g) ** 2).sum()
ms_ab = ((y.mean(axis=2) - y.mean(axis=(1, 2))[:, None] - y.mean(axis=(0, 2))[None, :] + g) ** 2).sum()
va, vb = max(0.0, (ms_a - ms_ab) / 2), max(0.0, (ms_b - ms_ab) / 2)
total = va + vb + ms_ab
with np.errstate(all="ignore"):
    out["anova_constant"] = {"runs": [[i, d, 0.527] for i in range(2) for d in range(2)],
                             "share_init": num(np.float64(va) / np.float64(total))}

if deepsig_aso is not None:
    from importlib.metadata import version  # deepsig.__version__ is stale (says 1.2.6)
    out["versions"]["deepsig"] = version("deepsig")

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "degenerate.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
