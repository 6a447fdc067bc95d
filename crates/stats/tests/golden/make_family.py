"""Writes family.json: statsmodels' Holm–Bonferroni adjustment and TOST equivalence test, for
the parity tests of `stab_stats::family` (adjusted p-values over the pairs compared, and
"no difference larger than δ" claimed only from an equivalence test).

Tests never need Python. To regenerate (statsmodels is not in scripts/setup-reference.sh):
    python3 -m venv /tmp/sm && /tmp/sm/bin/pip install statsmodels
    /tmp/sm/bin/python crates/stats/tests/golden/make_family.py
(written with statsmodels 0.15.0).
"""
import json
import os

import numpy as np
import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

# p-value families: one pair, the examples of the docs, ties, p = 1, and 28 pairs (8 groups).
rng = np.random.default_rng(7)
FAMILIES = [
    [0.033],
    [0.01, 0.04, 0.03, 0.2],
    [0.001, 0.001, 0.02, 0.02, 0.5],
    [1.0, 0.3, 0.0004],
    [0.05, 0.05, 0.05, 0.05],
    [1e-12, 0.7, 0.049, 0.012, 0.9, 0.0311],
    list(rng.uniform(0, 0.2, 28)),
]

holm = []
for p in FAMILIES:
    reject, adj, _, _ = multipletests(p, alpha=0.05, method="holm")
    holm.append({"p": [float(x) for x in p], "holm": [float(x) for x in adj]})

# Two-sample TOST with Welch's standard error and df: (x1, x2, δ), testing
# δ_lower = −δ < mean(x1) − mean(x2) < δ.
CASES = [
    ([0.61, 0.63, 0.60, 0.64, 0.62], [0.60, 0.62, 0.61, 0.63, 0.59], 0.02),
    ([0.61, 0.63, 0.60, 0.64, 0.62], [0.60, 0.62, 0.61, 0.63, 0.59], 0.05),
    ([0.51, 0.58, 0.33, 0.55, 0.0, 0.49], [0.52, 0.54, 0.50, 0.56], 0.05),
    ([0.0, 0.0, 0.12, 0.3], [0.2, 0.25, 0.31, 0.29, 0.22, 0.27, 0.3], 0.1),
    (list(rng.normal(0.7, 0.02, 10)), list(rng.normal(0.71, 0.05, 10)), 0.01),
    (list(rng.normal(0.7, 0.02, 10)), list(rng.normal(0.7, 0.02, 12)), 0.03),
]
tost = []
for x1, x2, d in CASES:
    p, lower, upper = ttost_ind(np.array(x1), np.array(x2), -d, d, usevar="unequal")
    tost.append({
        "a": [float(x) for x in x1],
        "b": [float(x) for x in x2],
        "margin": d,
        "p": float(p),
        "t_lower": float(lower[0]), "p_lower": float(lower[1]),
        "t_upper": float(upper[0]), "p_upper": float(upper[1]),
        "df": float(lower[2]),
    })

# A report: four groups (labels in report order), all six pairs in report order; Welch's
# p-values and TOST (margin 0.02) per pair, each Holm-adjusted over the six pairs.
from statsmodels.stats.weightstats import ttest_ind

GROUPS = {
    "a": [0.71, 0.69, 0.73, 0.70, 0.72, 0.68],
    "b": [0.70, 0.72, 0.69, 0.71, 0.73, 0.70],
    "c": [0.61, 0.66, 0.58, 0.64, 0.70, 0.55],
    "d": [0.72, 0.74, 0.73, 0.75, 0.71, 0.76],
}
MARGIN = 0.02
labels = sorted(GROUPS)
pairs = [(x, y) for i, x in enumerate(labels) for y in labels[i + 1:]]
welch_p = [float(ttest_ind(np.array(GROUPS[x]), np.array(GROUPS[y]), usevar="unequal")[1]) for x, y in pairs]
tost_p = [float(ttost_ind(np.array(GROUPS[x]), np.array(GROUPS[y]), -MARGIN, MARGIN, usevar="unequal")[0]) for x, y in pairs]
report = {
    "groups": GROUPS,
    "margin": MARGIN,
    "pairs": [list(p) for p in pairs],
    "welch_p": welch_p,
    "welch_p_holm": [float(x) for x in multipletests(welch_p, method="holm")[1]],
    "tost_p": tost_p,
    "tost_p_holm": [float(x) for x in multipletests(tost_p, method="holm")[1]],
}

out = {"statsmodels": statsmodels.__version__, "holm": holm, "tost": tost, "report": report}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "family.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
