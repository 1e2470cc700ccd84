"""lteval's isotonic knots (numpy + scipy) are exactly scikit-learn's IsotonicRegression knots."""

from __future__ import annotations

import numpy as np
import pytest

from lteval.calibration.isotonic import isotonic_knots


@pytest.mark.parametrize("kind", ["uniform", "ties", "near_ties", "logits", "constant", "all_pos", "all_neg"])
def test_knots_identical_to_sklearn(kind):
    IsotonicRegression = pytest.importorskip("sklearn.isotonic").IsotonicRegression
    rng = np.random.default_rng(sum(map(ord, kind)))
    for _ in range(60):
        n = int(rng.integers(1, 400))
        x = {"uniform": lambda: rng.random(n),
             "ties": lambda: np.round(rng.random(n), 2),
             "near_ties": lambda: 0.5 + rng.integers(0, 6, n) * 3e-16,  # distinct values < 1e-15 apart
             "logits": lambda: rng.normal(size=n) * 5,
             }.get(kind, lambda: np.full(n, 0.25))()
        y = (rng.random(n) < 0.3).astype(np.int8)
        if kind == "all_pos":
            y[:] = 1
        if kind == "all_neg":
            y[:] = 0
        ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(x, y)
        kx, ky = isotonic_knots(x, y)
        np.testing.assert_array_equal(kx, ref.X_thresholds_)
        np.testing.assert_array_equal(ky, ref.y_thresholds_)
        t = rng.random(50) * 1.2 - 0.1
        np.testing.assert_array_equal(np.interp(t, kx, ky), ref.predict(t))
