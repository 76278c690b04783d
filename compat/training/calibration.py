"""Calibration: cosine similarity -> probability of compatibility, fitted on validation pairs.

P(compatible | cos) = sigmoid(scale * (cos - threshold)), a one-feature logistic regression fitted by
Newton's method. An L2 penalty on the slope (strength 1, as scikit-learn's default C=1) keeps the
scale finite when validation is perfectly separated, so "99%" still means "very likely", not certainty.
"""

from __future__ import annotations

import math
from typing import Sequence

L2_PENALTY = 1.0


def fit_calibration(similarities: Sequence[float], labels: Sequence[int], iterations: int = 100) -> dict:
    """{"threshold", "scale"} of the logistic fit of labels on similarities (compat.models.Calibration)."""
    import numpy as np

    s = np.asarray(similarities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if s.size < 2 or y.min() == y.max():
        raise ValueError("calibration needs compatible and incompatible validation pairs")
    w, b = 0.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(w * s + b, -60, 60)))
        grad = np.array([np.sum((p - y) * s) + L2_PENALTY * w, np.sum(p - y)])
        r = p * (1 - p)
        hess = np.array([[np.sum(r * s * s) + L2_PENALTY, np.sum(r * s)], [np.sum(r * s), np.sum(r) + 1e-9]])
        step = np.linalg.solve(hess, grad)
        w, b = w - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    if not math.isfinite(w) or abs(w) < 1e-9:
        raise ValueError("calibration failed: similarities do not predict the labels")
    return {"threshold": float(-b / w), "scale": float(w)}
