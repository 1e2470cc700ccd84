"""Batched Newton solver for the small logistic regressions behind the parametric calibrators.

Temperature, Platt and beta calibration are all 1-3 parameter logistic
regressions, one per class. Solving them with damped (projected) Newton steps,
vectorised over classes, reaches the exact maximum-likelihood optimum (to
~1e-9 in the parameters) in a handful of passes over the data, far faster than
a generic quasi-Newton optimiser with numerical gradients (what netcal runs
through torch + scipy.optimize.minimize, one class at a time).

The objective per class c is ``sum_i softplus(eta_i) - t_i * eta_i + l2/2 * |w|^2``
with ``eta = sum_j w_j * X_j[:, c] (+ b)``; ``t`` are targets in [0, 1].
Bounds (``lower``/``upper``) are handled by the projected Newton method of
Bertsekas (1982): parameters sitting on a bound with the gradient pushing
outward are held there, the others take a Newton step in the reduced space,
and the result is projected back onto the box. The problem is convex, so the
point where no step improves (KKT) is the constrained optimum.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def _loss_rows(eta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row (class): sum_i softplus(eta_i) - t_i * eta_i, stable and cheaper than logaddexp."""
    tmp = np.abs(eta)
    np.negative(tmp, out=tmp)
    np.exp(tmp, out=tmp)
    np.log1p(tmp, out=tmp)
    tmp += np.maximum(eta, 0.0)
    tmp -= t * eta
    return tmp.sum(axis=1)


def _eta(X: list[np.ndarray], th: np.ndarray, intercept: bool) -> np.ndarray:
    """Linear predictor: X k arrays (c, n) class-major, th (c, k [+1]) -> eta (c, n)."""
    k = len(X)
    e = X[0] * th[:, 0:1]
    for j in range(1, k):
        e += X[j] * th[:, j:j + 1]
    if intercept:
        e += th[:, k:k + 1]
    return e


def _warm_start(features: list[np.ndarray], t: np.ndarray, theta: np.ndarray, *,
                intercept: bool, l2: float, lower: np.ndarray | None, upper: np.ndarray | None,
                lo: np.ndarray, hi: np.ndarray, max_iter: int, warm_start_rows: int) -> None:
    """Overwrite rows of theta (C, m) with a fit on an evenly strided ~warm_start_rows-row subsample.

    Only classes with both labels in the subsample are refitted; theta is
    modified in place (clipped to [lo, hi]). features: k arrays (n, C); t: (n, C).
    """
    stride = t.shape[0] // warm_start_rows
    sub_t = t[::stride]
    both = (sub_t.max(axis=0) > 0.5) & (sub_t.min(axis=0) < 0.5)
    if both.any():
        th0, _, _ = fit_logistic([f[::stride][:, both] for f in features], sub_t[:, both],
                                 intercept=intercept, l2=l2 / stride, init=theta[both],
                                 lower=lower, upper=upper, max_iter=max_iter, tol=1e-9,
                                 warm_start_rows=0)
        theta[both] = np.clip(th0, lo, hi)


def _grad_hess(X: list[np.ndarray], r: np.ndarray, w: np.ndarray, intercept: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """Unregularised gradient (c, m) and Hessian (c, m, m) of the logistic loss.

    X: k arrays (c, n); r = p - t and w = p (1 - p): (c, n); m = k [+1].
    """
    k = len(X)
    na = r.shape[0]
    m = k + int(intercept)
    g = np.empty((na, m))
    H = np.empty((na, m, m))
    for a in range(k):
        g[:, a] = np.einsum("cn,cn->c", r, X[a])
        wa = w * X[a]
        for b in range(a, k):
            H[:, a, b] = H[:, b, a] = np.einsum("cn,cn->c", wa, X[b])
        if intercept:
            H[:, a, k] = H[:, k, a] = wa.sum(axis=1)
    if intercept:
        g[:, k] = r.sum(axis=1)
        H[:, k, k] = w.sum(axis=1)
    return g, H


def _hold_bounds(H: np.ndarray, g: np.ndarray, th: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 bounded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected-Newton system: hold parameters on a bound whose gradient pushes outward.

    H (c, m, m), g (c, m), th (c, m); lo/hi/bounded (m,). Returns the reduced
    (Hr (c, m, m), gr (c, m)): held rows/columns zeroed but the diagonal, gradient zeroed.
    """
    m = g.shape[1]
    at_lo = bounded & (th <= lo + 1e-12) & (g > 0)
    at_hi = bounded & (th >= hi - 1e-12) & (g < 0)
    held = at_lo | at_hi
    if not held.any():
        return H, g
    Hr = np.where((held[:, :, None] | held[:, None, :]), 0.0, H)
    diag = np.einsum("cii->ci", H)
    Hr[:, np.arange(m), np.arange(m)] = np.where(held, diag, np.einsum("cii->ci", Hr))
    gr = np.where(held, 0.0, g)
    return Hr, gr


def _objective(eta: np.ndarray, T: np.ndarray, th: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Penalised loss per class: eta (c, n), T (c, n), th (c, m), reg (m,) l2 weights -> (c,)."""
    return _loss_rows(eta, T) + 0.5 * (reg * th * th).sum(axis=1)


def _line_search(X: list[np.ndarray], T: np.ndarray, th: np.ndarray, step: np.ndarray,
                 fval: np.ndarray, lo: np.ndarray, hi: np.ndarray, reg: np.ndarray,
                 intercept: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backtracking (halving, up to 50 times) on the projected step th - s * step.

    X: k arrays (c, n); T (c, n); th, step (c, m); fval (c,) current objective.
    Returns (new_th (c, m), new_eta (c, n), f_new (c,), ok (c,) bool: decrease found).
    """
    s = np.ones(th.shape[0])
    new_th = np.clip(th - step, lo, hi)
    new_eta = _eta(X, new_th, intercept)
    f_new = _objective(new_eta, T, new_th, reg)
    ok = f_new <= fval + 1e-13 * np.abs(fval)
    for _ls in range(50):
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            break
        s[bad] *= 0.5
        cand = np.clip(th[bad] - s[bad, None] * step[bad], lo, hi)
        e_b = _eta([x[bad] for x in X], cand, intercept)
        f_b = _objective(e_b, T[bad], cand, reg)
        new_th[bad], new_eta[bad], f_new[bad] = cand, e_b, f_b
        ok[bad] = f_b <= fval[bad] + 1e-13 * np.abs(fval[bad])
    return new_th, new_eta, f_new, ok


def fit_logistic(features: list[np.ndarray], t: np.ndarray, *, intercept: bool = True,
                 l2: float = 0.0, init: np.ndarray | None = None,
                 lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                 max_iter: int = 100, tol: float = 1e-12, warm_start_rows: int = 16384
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class maximum-likelihood logistic fits, optionally box-constrained.

    features: k arrays (n, C), the regressors of each class; t: (n, C) targets.
    ``lower``/``upper``: (k [+1],) bounds per parameter (``-inf``/``inf`` = none).
    Returns ``(theta (C, k [+1]), loss (C,), converged (C,) bool)``; the
    intercept, if any, is the last parameter.

    With more than ``4 * warm_start_rows`` rows, a fit on an evenly strided
    subsample of about ``warm_start_rows`` rows first provides the starting
    point (for classes with both labels in it); the full-data Newton steps
    then only polish it (2-4 instead of ~10 passes). The optimum is the same.
    """
    k = len(features)
    m = k + int(intercept)
    n, C = t.shape
    lo = np.full(m, -np.inf) if lower is None else np.asarray(lower, dtype=np.float64)
    hi = np.full(m, np.inf) if upper is None else np.asarray(upper, dtype=np.float64)
    theta = np.zeros((C, m)) if init is None else np.array(init, dtype=np.float64).reshape(C, m)
    theta = np.clip(theta, lo, hi)
    if warm_start_rows and n > 4 * warm_start_rows:
        _warm_start(features, t, theta, intercept=intercept, l2=l2, lower=lower, upper=upper,
                    lo=lo, hi=hi, max_iter=max_iter, warm_start_rows=warm_start_rows)
    reg = np.zeros(m)
    reg[:k] = l2
    bounded = np.isfinite(lo) | np.isfinite(hi)

    # class-major copies: each class's data contiguous
    X = [np.ascontiguousarray(f.T) for f in features]
    T = np.ascontiguousarray(t.T)
    active = np.arange(C)

    eta = _eta(X, theta, intercept)
    fval = _objective(eta, T, theta, reg)
    converged = np.zeros(C, dtype=bool)
    eye = np.eye(m)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        p = expit(eta)
        g, H = _grad_hess(X, p - T, p - p * p, intercept)
        g += reg * th
        H += (reg + 1e-12 * n) * eye
        Hr, gr = _hold_bounds(H, g, th, lo, hi, bounded)
        step = np.linalg.solve(Hr, gr[:, :, None])[:, :, 0]
        dec = (gr * step).sum(axis=1)  # Newton decrement^2 in the free subspace (>= 0)
        new_th, new_eta, f_new, ok = _line_search(X, T, th, step, fval, lo, hi, reg, intercept)
        # a class whose line search failed is at its optimum to machine precision
        fail = ~ok
        new_th[fail], new_eta[fail], f_new[fail] = th[fail], eta[fail], fval[fail]
        theta[active] = new_th
        small = dec <= tol * np.maximum(np.abs(fval), 1.0)
        done = fail | small
        converged[active[done]] = small[done] | (dec[done] <= 1e-7 * np.maximum(np.abs(fval[done]), 1.0))
        if done.any():
            keep = ~done
            active = active[keep]
            X = [x[keep] for x in X]
            T = T[keep]
            eta = new_eta[keep]
            fval = f_new[keep]
        else:
            eta, fval = new_eta, f_new
    loss = _loss_rows(_eta([np.ascontiguousarray(f.T) for f in features], theta, intercept),
                      np.ascontiguousarray(t.T))
    return theta, loss, converged
