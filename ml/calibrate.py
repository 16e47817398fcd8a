"""Probability calibration on held-out rows: Platt scaling (default) or isotonic regression.

Both map LightGBM's raw margin (log-odds, distorted by `scale_pos_weight`) to a probability and are
fitted on rows the booster never trained on. Platt is the default because it is strictly monotone
(ROC AUC is exactly that of the booster: no ties, so the promotion gate compares rankings, not
calibration artefacts), has two parameters (stable on a few hundred positives), and the main
distortion here, the log-odds shift from class weighting, is exactly what it models. Isotonic is
there for large calibration sets where the reliability curve is not sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibrator:
    method: str
    a: float = 1.0  # platt: p = sigmoid(a * margin + b)
    b: float = 0.0
    x: tuple[float, ...] = ()  # isotonic: piecewise-linear through (x, y)
    y: tuple[float, ...] = ()

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "platt":
            return _sigmoid(self.a * margin + self.b)
        if self.method == "isotonic":
            return np.interp(margin, np.asarray(self.x), np.asarray(self.y))
        if self.method == "identity":
            return _sigmoid(margin)
        raise ValueError(f"unknown calibration method {self.method!r}")

    def to_dict(self) -> dict:
        return {"method": self.method, "a": self.a, "b": self.b, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(data["method"], data["a"], data["b"], tuple(data["x"]), tuple(data["y"]))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|


def fit_calibrator(margin: np.ndarray, y: np.ndarray, method: str = "platt") -> Calibrator:
    """Fit on held-out (margin, label) pairs. Raises if the rows hold a single class."""
    margin = np.asarray(margin, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"calibration rows hold a single class ({int(y.sum())} positives of {len(y)}): "
            f"more labelled history is needed"
        )
    if method == "platt":
        a, b = _platt(margin, y)
        return Calibrator("platt", a=a, b=b)
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(margin, y)
        return Calibrator(
            "isotonic", x=tuple(iso.X_thresholds_.tolist()), y=tuple(iso.y_thresholds_.tolist())
        )
    raise ValueError(f"unknown calibration method {method!r}; use platt or isotonic")


def _platt(margin: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Platt (1999) with Lin, Lin & Weng's (2007) smoothed targets: Newton steps with backtracking."""
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    target = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(a: float, b: float) -> float:
        z = a * margin + b
        # sum of log(1 + e^z) - target * z, computed stably
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    a, b = 1.0, float(np.log((n_pos + 1.0) / (n_neg + 1.0)) - np.mean(margin))
    current = loss(a, b)
    for _ in range(iterations):
        p = _sigmoid(a * margin + b)
        w = np.maximum(p * (1 - p), 1e-12)
        grad_a = np.sum((p - target) * margin)
        grad_b = np.sum(p - target)
        h_aa = np.sum(w * margin * margin) + 1e-9
        h_ab = np.sum(w * margin)
        h_bb = np.sum(w) + 1e-9
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        da = (h_bb * grad_a - h_ab * grad_b) / det
        db = (h_aa * grad_b - h_ab * grad_a) / det
        step = 1.0
        while step > 1e-8:
            candidate = loss(a - step * da, b - step * db)
            if candidate <= current:
                break
            step /= 2
        a, b, previous, current = a - step * da, b - step * db, current, candidate
        if previous - current < 1e-12 * max(1.0, abs(previous)):
            break
    return float(a), float(b)
