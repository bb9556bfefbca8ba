#!/usr/bin/env python3
"""Reference values for synthvol's metrics from SciPy and scikit-learn.

Reads the inputs that tests/metrics_reference.rs writes (JSON) and prints the reference value
of every metric as JSON; the test compares them with synthvol's own. Needs numpy, scipy and
scikit-learn (scripts/bootstrap installs them).
"""
import json
import sys

import numpy as np
from scipy import linalg, stats
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score


def frechet(a, b):
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(c1 @ c2)
    covmean = np.real(covmean)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))


def wasserstein(a, b):
    d = cdist(a, b)
    r, c = linear_sum_assignment(d)
    w1 = d[r, c].mean()
    d2 = d**2
    r, c = linear_sum_assignment(d2)
    w2 = np.sqrt(d2[r, c].mean())
    return float(w1), float(w2)


def main():
    inp = json.load(open(sys.argv[1]))
    out = {}
    for i, (x, y) in enumerate(inp["ks"]):
        out[f"ks_{i}"] = float(stats.ks_2samp(x, y).statistic)
    a, b = np.array(inp["frechet_a"]), np.array(inp["frechet_b"])
    out["frechet"] = frechet(a, b)
    a, b = np.array(inp["wasserstein_a"]), np.array(inp["wasserstein_b"])
    out["w1"], out["w2"] = wasserstein(a, b)
    x, y = np.array(inp["w1d_a"]), np.array(inp["w1d_b"])
    out["w1_1d"] = float(stats.wasserstein_distance(x, y))
    out["auc"] = float(roc_auc_score(inp["auc_labels"], inp["auc_scores"]))
    out["macro_f1"] = float(f1_score(inp["f1_truth"], inp["f1_pred"], average="macro"))
    # pMSE: an unpenalised logistic regression on synthvol's design (intercept column dropped:
    # scikit-learn fits its own).
    x = np.array(inp["pmse_x"])[:, 1:]
    t = np.array(inp["pmse_t"])
    m = LogisticRegression(C=1e10, tol=1e-12, max_iter=100000).fit(x, t)
    p = m.predict_proba(x)[:, 1]
    c = t.mean()
    out["pmse"] = float(np.mean((p - c) ** 2))
    x = np.array(inp["ls_x"])[:, 1:]
    y = np.array(inp["ls_y"])
    out["ls_r2"] = float(LinearRegression().fit(x, y).score(x, y))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
