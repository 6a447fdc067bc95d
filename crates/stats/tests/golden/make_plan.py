"""Writes plan.json: golden values for `stab plan` (stab_stats::plan).

- noncentral t CDF: scipy.stats.nct.cdf;
- Welch power with equal standard deviations and equal n: statsmodels' TTestIndPower().power
  (df = 2n - 2, which is Welch's df there), and tt_ind_solve_power's continuous n (the Rust
  plan's integer n must be its ceiling);
- Welch power with unequal standard deviations: scipy's nct at the Welch-Satterthwaite df of the
  population standard deviations (the approximation the Rust code documents);
- TOST power: the exact expectation over the chi-square distribution of the standard error,
  integrated with scipy.integrate.quad (statsmodels 0.15 has no two-sample t TOST power);
- exact Fisher power: both binomials enumerated, every table tested with
  scipy.stats.fisher_exact (two-sided, significant at p < alpha), and the smallest n per group
  reaching the power by scanning n = 2, 3, ...

Tests never need Python. To regenerate:
    python3 -m venv /tmp/sm && /tmp/sm/bin/pip install scipy statsmodels
    /tmp/sm/bin/python crates/stats/tests/golden/make_plan.py
(written with statsmodels 0.15.0, scipy 1.17.1).
"""
import json
import math
import os

import numpy as np
import scipy
import statsmodels
from scipy import integrate, stats
from statsmodels.stats.power import TTestIndPower, tt_ind_solve_power

NCT = [
    (0.5, 3.0, 1.0), (2.1, 10.0, 2.5), (-1.2, 7.0, 0.8), (1.96, 38.0, 2.8), (-2.0, 18.0, -1.5),
    (3.0, 4.5, 4.0), (0.0, 12.0, 1.3), (12.0, 60.0, 10.0), (-0.3, 2.0, -0.2), (2.0, 1.3, 0.5),
]
nct = [{"t": t, "df": df, "nc": nc, "cdf": float(stats.nct.cdf(t, df, nc))} for t, df, nc in NCT]

# (difference, sd, n) -> TTestIndPower power; (difference, sd) -> solved continuous n.
TT = [(0.02, 0.02, 10), (0.02, 0.02, 17), (0.01, 0.03, 25), (0.05, 0.02, 4), (0.005, 0.01, 60)]
ttind = []
for diff, sd, n in TT:
    d = diff / sd
    power = TTestIndPower().power(effect_size=d, nobs1=n, alpha=0.05, ratio=1.0)
    ttind.append({"diff": diff, "sd": sd, "n": n, "alpha": 0.05, "power": float(power)})
SOLVE = [(0.02, 0.02, 0.8), (0.02, 0.03, 0.9), (0.01, 0.02, 0.8), (0.05, 0.02, 0.8), (0.004, 0.01, 0.8)]
solve = []
for diff, sd, target in SOLVE:
    n = tt_ind_solve_power(effect_size=diff / sd, alpha=0.05, power=target, ratio=1.0)
    solve.append({"diff": diff, "sd": sd, "power": target, "alpha": 0.05, "nobs1": float(n)})


def welch_df(sa, sb, na, nb):
    va, vb = sa * sa / na, sb * sb / nb
    return (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))


WELCH = [(0.02, 0.01, 0.03, 10), (0.03, 0.02, 0.05, 6), (0.01, 0.005, 0.02, 40)]
welch = []
for diff, sa, sb, n in WELCH:
    df = welch_df(sa, sb, n, n)
    nc = diff / math.sqrt(sa * sa / n + sb * sb / n)
    crit = stats.t.isf(0.025, df)
    power = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
    welch.append({"diff": diff, "sd_a": sa, "sd_b": sb, "n": n, "alpha": 0.05, "power": float(power)})


def tost_power(diff, sa, sb, n, margin, alpha):
    sigma = math.sqrt(sa * sa / n + sb * sb / n)
    df = welch_df(sa, sb, n, n)
    c = stats.t.isf(alpha, df)
    vmax = df * (margin / (c * sigma)) ** 2

    def f(v):
        s = sigma * math.sqrt(v / df)
        hi = (margin - c * s - diff) / sigma
        lo = (-margin + c * s - diff) / sigma
        return stats.chi2.pdf(v, df) * max(0.0, stats.norm.cdf(hi) - stats.norm.cdf(lo))

    # Split at the bulk of the chi-square so quad sees its peak.
    pts = [p for p in (df * 0.5, df, df * 1.5) if p < vmax]
    val, _ = integrate.quad(f, 0.0, vmax, points=pts or None, limit=500, epsabs=1e-14, epsrel=1e-12)
    return val


TOST = [(0.0, 0.02, 0.02, 10, 0.03), (0.005, 0.02, 0.02, 20, 0.02), (0.0, 0.01, 0.03, 15, 0.02),
        (0.01, 0.02, 0.02, 40, 0.025), (0.0, 0.02, 0.02, 4, 0.05), (0.02, 0.02, 0.03, 150, 0.03),
        (0.0, 0.01, 0.01, 400, 0.002)]
tost = [{"diff": d, "sd_a": sa, "sd_b": sb, "n": n, "margin": m, "alpha": 0.05,
         "power": tost_power(d, sa, sb, n, m, 0.05)} for d, sa, sb, n, m in TOST]


def fisher_power(pa, pb, n, alpha):
    ks = np.arange(n + 1)
    fa, fb = stats.binom.pmf(ks, n, pa), stats.binom.pmf(ks, n, pb)
    total = 0.0
    for a in range(n + 1):
        for c in range(n + 1):
            if stats.fisher_exact([[a, n - a], [c, n - c]]).pvalue < alpha:
                total += fa[a] * fb[c]
    return total


FISHER = [(0.4, 0.05, 0.8), (1.0, 0.0, 0.8), (0.5, 0.1, 0.8), (0.6, 0.1, 0.9), (11 / 12, 1 / 12, 0.8),
          (0.3, 0.05, 0.8)]
fisher = []
for pa, pb, target in FISHER:
    curve = {}
    first = None
    n = 2
    while True:
        curve[n] = fisher_power(pa, pb, n, 0.05)
        if first is None and curve[n] >= target:
            first = n
            end = max(first + 10, math.ceil(first * 1.2))
        if first is not None and n >= end:
            break
        n += 1
    stable = first
    for m in range(first, end + 1):
        if curve[m] < target:
            stable = m + 1
    fisher.append({"p_a": pa, "p_b": pb, "power": target, "alpha": 0.05, "n": first,
                   "n_stable": stable, "checked_to": end,
                   "curve": [[k, v] for k, v in sorted(curve.items())]})

out = {"versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
       "nct": nct, "ttest_ind_power": ttind, "tt_ind_solve_power": solve, "welch": welch,
       "tost": tost, "fisher": fisher}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
