#!/usr/bin/env python3
"""Writes metrics_golden.json: reference values from scikit-learn, SciPy and seqeval for
tests/metrics_parity.rs. Run from anywhere:

    PYTHONPATH=$(scripts/setup-reference.sh --pythonpath) python3 crates/data/tests/golden/make_golden.py

Versions used for the committed file are stored in it. Where the reference returns NaN
(constant input to pearsonr / spearmanr), the expected value is 0: stab-data defines undefined
correlations as 0 (see the crate docs), and the JSON records `reference_nan: true`.
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import seqeval
import sklearn
from scipy.stats import pearsonr, spearmanr
from seqeval.metrics import accuracy_score as seq_accuracy
from seqeval.metrics import f1_score as seq_f1
from seqeval.metrics import precision_score as seq_precision
from seqeval.metrics import recall_score as seq_recall
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

warnings.simplefilter("ignore")
rng = np.random.default_rng(20240607)


def classification_case(name, gold, pred, n_classes):
    gold = [int(x) for x in gold]
    pred = [int(x) for x in pred]
    case = {
        "name": name,
        "n_classes": n_classes,
        "gold": gold,
        "pred": pred,
        "accuracy": float(accuracy_score(gold, pred)),
        "mcc": float(matthews_corrcoef(gold, pred)),
    }
    if n_classes == 2:
        case["f1"] = float(f1_score(gold, pred, pos_label=1, average="binary", zero_division=0.0))
    return case


def corr(fn, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = float(fn(x, y)[0])
    return (0.0, True) if math.isnan(v) else (v, False)


def regression_case(name, x, y):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    p, pn = corr(pearsonr, x, y)
    s, sn = corr(spearmanr, x, y)
    return {"name": name, "gold": x, "pred": y, "pearson": p, "spearman": s, "reference_nan": pn or sn}


def seqeval_case(name, gold, pred):
    return {
        "name": name,
        "gold": gold,
        "pred": pred,
        "precision": float(seq_precision(gold, pred)),
        "recall": float(seq_recall(gold, pred)),
        "f1": float(seq_f1(gold, pred)),
        "accuracy": float(seq_accuracy(gold, pred)),
    }


cls = []
cls.append(classification_case("perfect", [0, 1, 1, 0, 1], [0, 1, 1, 0, 1], 2))
cls.append(classification_case("inverted", [0, 1, 1, 0, 1], [1, 0, 0, 1, 0], 2))
cls.append(classification_case("constant_pred_ones", [0, 1, 1, 0, 1, 1], [1] * 6, 2))
cls.append(classification_case("constant_pred_zeros", [0, 1, 1, 0, 1, 1], [0] * 6, 2))
cls.append(classification_case("constant_gold", [1] * 7, [1, 0, 1, 1, 0, 1, 1], 2))
cls.append(classification_case("all_constant_same", [0] * 5, [0] * 5, 2))
cls.append(classification_case("no_positive_anywhere", [0, 0, 0], [0, 0, 0], 2))
for i, n in enumerate([10, 57, 400, 700]):
    g = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.7, g, rng.integers(0, 2, n))
    cls.append(classification_case(f"random_binary_{i}", g, p, 2))
for i, n in enumerate([9, 123, 600]):
    g = rng.integers(0, 3, n)
    p = np.where(rng.random(n) < 0.5, g, rng.integers(0, 3, n))
    cls.append(classification_case(f"random_3class_{i}", g, p, 3))
cls.append(classification_case("3class_constant_pred", [0, 1, 2, 2, 1], [2] * 5, 3))

reg = []
reg.append(regression_case("perfect", [0.0, 1.0, 2.5, 4.0], [0.0, 1.0, 2.5, 4.0]))
reg.append(regression_case("ties_both", [1, 2, 2, 3, 3, 3, 5], [2, 2, 1, 4, 4, 5, 5]))
reg.append(regression_case("negative", [1, 2, 3, 4, 5], [5, 3, 4, 1, 2]))
reg.append(regression_case("constant_pred", [0.5, 1.5, 3.2, 4.8], [2.7] * 4))
reg.append(regression_case("constant_gold", [3.0] * 4, [0.1, 0.2, 0.3, 0.9]))
reg.append(regression_case("stsb_like_grid", [round(v * 0.2, 1) for v in rng.integers(0, 26, 300)],
                           [round(v * 0.2, 1) for v in rng.integers(0, 26, 300)]))
for i, n in enumerate([3, 50, 500]):
    x = rng.uniform(0, 5, n)
    y = 0.8 * x + rng.normal(0, 1, n)
    reg.append(regression_case(f"random_{i}", x, y))
reg.append(regression_case("large_offset", list(1e6 + rng.normal(0, 1, 40)), list(rng.normal(0, 1, 40))))

seq = []
seq.append(seqeval_case("basic", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]))
seq.append(seqeval_case("i_starts_span", [["B-PER", "I-PER", "O", "B-LOC"]], [["I-PER", "I-PER", "O", "I-LOC"]]))
seq.append(seqeval_case("type_change_inside", [["B-ORG", "I-ORG", "I-ORG", "O"]], [["B-ORG", "I-LOC", "I-ORG", "O"]]))
seq.append(seqeval_case("boundary_error", [["B-MISC", "I-MISC", "O", "O"]], [["B-MISC", "O", "O", "O"]]))
seq.append(seqeval_case("b_after_b", [["B-PER", "B-PER", "O"]], [["B-PER", "I-PER", "O"]]))
seq.append(seqeval_case("all_o_pred", [["B-PER", "O"], ["O", "B-LOC", "I-LOC"]], [["O", "O"], ["O", "O", "O"]]))
seq.append(seqeval_case("all_o_both", [["O", "O"], ["O"]], [["O", "O"], ["O"]]))
seq.append(seqeval_case("span_at_sentence_end", [["O", "B-LOC"], ["I-LOC", "O"]], [["O", "B-LOC"], ["I-LOC", "O"]]))
seq.append(seqeval_case("bies_tags", [["S-PER", "B-LOC", "I-LOC", "E-LOC", "O", "E-ORG"]],
                        [["S-PER", "B-LOC", "E-LOC", "E-LOC", "I-ORG", "E-ORG"]]))
seq.append(seqeval_case("i_after_other_type_i", [["I-PER", "I-LOC", "I-LOC", "O", "I-MISC"]],
                        [["B-PER", "B-LOC", "I-LOC", "O", "B-MISC"]]))
tags = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
for i in range(3):
    gold, pred = [], []
    for _ in range(40):
        n = int(rng.integers(1, 15))
        g = [tags[int(t)] if rng.random() < 0.4 else "O" for t in rng.integers(0, 9, n)]
        p = [t if rng.random() < 0.7 else tags[int(rng.integers(0, 9))] for t in g]
        gold.append(g)
        pred.append(p)
    seq.append(seqeval_case(f"random_conll_{i}", gold, pred))

out = {
    "generated_by": "crates/data/tests/golden/make_golden.py",
    "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__,
                 "seqeval": getattr(seqeval, "__version__", "1.2.2"), "numpy": np.__version__},
    "classification": cls,
    "regression": reg,
    "seqeval": seq,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_golden.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
