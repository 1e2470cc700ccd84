"""Batched Newton solver for the small logistic regressions behind the parametric calibrators.

Temperature, Platt and beta calibration are all 1-3 parameter logistic
regressions, one per class. Solving them with damped Newton steps, vectorised
over classes, reaches the exact maximum-likelihood optimum (to ~1e-10 in the
parameters) in 5-15 passes over the data, far faster than a generic
quasi-Newton optimiser with numerical gradients (what netcal runs through
torch + scipy.optimize.minimize, one class at a time).

The objective per class c is ``sum_i softplus(eta_i) - t_i * eta_i + l2/2 * |w|^2``
with ``eta = sum_j w_j * X_j[:, c] (+ b)``; ``t`` are targets in [0, 1].
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def _nll(eta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(C,) sum over rows of softplus(eta) - t * eta (numerically stable)."""
    return (np.logaddexp(0.0, eta) - t * eta).sum(axis=0)


def fit_logistic(features: list[np.ndarray], t: np.ndarray, *, intercept: bool = True,
                 l2: float = 0.0, init: np.ndarray | None = None,
                 lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                 max_iter: int = 100, tol: float = 1e-13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column maximum-likelihood logistic fits.

    features: k arrays (n, C), the regressors of each class; t: (n, C) targets.
    Returns ``(theta (C, k [+1]), nll (C,), converged (C,) bool)``; the intercept,
    if any, is the last parameter. ``lower``/``upper`` (k [+1],) bound the
    parameters (projected Newton; meant for the 1-parameter temperature fit).
    """
    k = len(features)
    m = k + int(intercept)
    n, C = t.shape
    theta = np.zeros((C, m)) if init is None else np.array(init, dtype=np.float64).reshape(C, m)
    lo = None if lower is None else np.asarray(lower, dtype=np.float64)
    hi = None if upper is None else np.asarray(upper, dtype=np.float64)
    if lo is not None or hi is not None:
        theta = np.clip(theta, lo, hi)
    reg = np.zeros(m)
    reg[:k] = l2

    def design(cols):
        xs = [f[:, cols] for f in features]
        if intercept:
            xs.append(np.ones((n, len(cols))))
        return xs

    def eta_of(xs, th):  # th (c, m)
        e = xs[0] * th[:, 0]
        for j in range(1, m):
            e += xs[j] * th[:, j]
        return e

    def objective(xs, th, tc):
        return _nll(eta_of(xs, th), tc) + 0.5 * (reg * th * th).sum(axis=1)

    converged = np.zeros(C, dtype=bool)
    active = np.arange(C)
    xs = design(active)
    tc = t[:, active]
    fval = objective(xs, theta[active], tc)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        eta = eta_of(xs, th)
        p = expit(eta)
        r = p - tc
        w = p * (1.0 - p)
        g = np.empty((active.size, m))
        H = np.empty((active.size, m, m))
        for a in range(m):
            g[:, a] = (r * xs[a]).sum(axis=0) + reg[a] * th[:, a]
            wa = w * xs[a]
            for b in range(a, m):
                H[:, a, b] = H[:, b, a] = (wa * xs[b]).sum(axis=0)
            H[:, a, a] += reg[a] + 1e-12 * max(n, 1)
        step = np.linalg.solve(H, g[:, :, None])[:, :, 0]
        dec = (g * step).sum(axis=1)  # Newton decrement squared (>= 0)
        # backtracking line search, per class
        s = np.ones(active.size)
        new_th = th - step
        if lo is not None or hi is not None:
            new_th = np.clip(new_th, lo, hi)
        f_new = objective(xs, new_th, tc)
        ok = f_new <= fval + 1e-12 * np.abs(fval)
        for _ls in range(40):
            bad = ~ok
            if not bad.any():
                break
            s[bad] *= 0.5
            cand = th[bad] - s[bad, None] * step[bad]
            if lo is not None or hi is not None:
                cand = np.clip(cand, lo, hi)
            xb = [x[:, bad] for x in xs]
            fb = objective(xb, cand, tc[:, bad])
            new_th[bad] = cand
            f_new[bad] = fb
            ok[bad] = fb <= fval[bad] + 1e-12 * np.abs(fval[bad])
        # classes whose line search failed cannot improve further: keep old parameters
        new_th[~ok] = th[~ok]
        f_new[~ok] = fval[~ok]
        theta[active] = new_th
        done = (~ok) | (dec <= tol * np.maximum(np.abs(fval), 1.0)) | \
            (np.abs(s[:, None] * step).max(axis=1) <= 1e-13 * (1.0 + np.abs(th).max(axis=1)))
        converged[active[done]] = ok[done] | (dec[done] <= 1e-8 * np.maximum(np.abs(fval[done]), 1.0))
        keep = ~done
        if not keep.all():
            active = active[keep]
            xs = [x[:, keep] for x in xs]
            tc = tc[:, keep]
            fval = f_new[keep]
        else:
            fval = f_new
    # final objective values
    nll = _nll(eta_of(design(np.arange(C)), theta), t)
    return theta, nll, converged

