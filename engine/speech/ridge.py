"""A small ridge regression with frame context, for fitting audio features to one presenter's mouth."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAMBDAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def stack_context(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """(n, d) -> (n, d * (before + after + 1)): each row with its neighbours, edges repeated."""
    n = len(x)
    idx = np.clip(np.arange(n)[:, None] + np.arange(-before, after + 1)[None, :], 0, max(n - 1, 0))
    return x[idx].reshape(n, -1)


@dataclass
class RidgeFit:
    """y ~ ((x - mean) / scale) @ coef + intercept (one intercept per column of y)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float | np.ndarray
    lam: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted y for rows of x."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def _solve(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    d = x.shape[1]
    return np.linalg.solve(x.T @ x + lam * np.eye(d), x.T @ y)


def fit_ridge(x: np.ndarray, y: np.ndarray, folds: int = 4) -> RidgeFit:
    """Fit on the finite rows, choosing the penalty by contiguous-block cross-validation."""
    ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[ok], y[ok]
    if len(y) < 10:
        raise ValueError("too few frames to fit")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z, yc = (x - mean) / scale, y - y.mean()
    blocks = np.array_split(np.arange(len(y)), folds)
    best = (np.inf, LAMBDAS[0])
    for lam in LAMBDAS:
        err = 0.0
        for b in blocks:
            train = np.setdiff1d(np.arange(len(y)), b)
            coef = _solve(z[train], yc[train] - yc[train].mean(), lam * len(train) / 100.0)
            err += float(((z[b] @ coef + yc[train].mean() - yc[b]) ** 2).sum())
        best = min(best, (err, lam))
    return fit_penalised(x, y, best[1])


def fit_penalised(x: np.ndarray, y: np.ndarray, lam: float) -> RidgeFit:
    """Ridge fit with a given penalty over the rows finite in x and y; y may have several columns.

    The penalty is per 100 rows (it grows with the data, so one value means the same on any set).
    """
    ok = np.isfinite(x).all(axis=1) & np.isfinite(y).reshape(len(y), -1).all(axis=1)
    x, y = x[ok], y[ok]
    if len(y) < 10:
        raise ValueError("too few frames to fit")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    intercept = y.mean(axis=0)
    coef = _solve((x - mean) / scale, y - intercept, lam * len(y) / 100.0)
    return RidgeFit(mean, scale, coef, float(intercept) if y.ndim == 1 else intercept, lam)
