"""Writes counts.json: SciPy's Fisher's exact test and binomial confidence intervals, for the
parity tests of `stab_stats::counts` (the failure rates and Fisher tests of the findings).

Run from the repository root:
    PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 crates/stats/tests/golden/make_counts.py
(written with scipy 1.16.3). Non-finite odds ratios are stored as the strings "inf" and "nan".
"""
import json
import math
import os

import scipy
from scipy import stats


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# (k, n): the edges (k = 0, k = n, n = 1), seed-sweep sizes, and large n.
PROPORTIONS = [
    (0, 1), (1, 1), (0, 3), (1, 3), (3, 3), (0, 5), (2, 5), (5, 5), (4, 10), (0, 10),
    (10, 10), (12, 25), (1, 50), (48, 100), (0, 1000), (1, 1000), (999, 1000), (500, 1000),
    (3, 100000), (12345, 100000),
]
LEVELS = [0.95, 0.9, 0.99]

# [[failed A, not failed A], [failed B, not failed B]]: empty rows and columns, mirror images,
# one-sided extremes, seed-sweep sizes, large n.
TABLES = [
    [[0, 0], [0, 0]], [[0, 0], [3, 4]], [[3, 4], [0, 0]], [[0, 5], [0, 5]], [[5, 0], [5, 0]],
    [[1, 0], [0, 1]], [[3, 0], [0, 3]], [[0, 3], [3, 0]], [[1, 2], [2, 1]], [[1, 2], [3, 0]],
    [[1, 2], [0, 3]], [[4, 6], [0, 10]], [[12, 13], [0, 25]], [[5, 20], [6, 19]],
    [[10, 10], [10, 10]], [[8, 2], [1, 5]], [[0, 1], [1, 0]], [[2, 7], [8, 2]],
    [[100, 900], [130, 870]], [[480, 520], [520, 480]], [[1, 999], [10, 990]],
    [[3, 0], [4, 0]], [[0, 3], [0, 4]], [[7, 3], [2, 8]], [[20, 0], [0, 20]],
]

out = {"versions": {"scipy": scipy.__version__}, "proportions": [], "fisher": []}
for k, n in PROPORTIONS:
    for level in LEVELS:
        r = stats.binomtest(k, n)
        w = r.proportion_ci(confidence_level=level, method="wilson")
        e = r.proportion_ci(confidence_level=level, method="exact")
        out["proportions"].append({"k": k, "n": n, "level": level,
                                   "wilson": [num(w.low), num(w.high)],
                                   "exact": [num(e.low), num(e.high)]})
for t in TABLES:
    res = stats.fisher_exact(t, alternative="two-sided")
    out["fisher"].append({"table": t, "odds_ratio": num(res.statistic), "p": num(res.pvalue)})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "counts.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {path}: {len(out['proportions'])} intervals, {len(out['fisher'])} tables")
