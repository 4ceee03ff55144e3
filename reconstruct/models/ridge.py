"""Ridge regression from flattened EEG features to flattened spectrograms: the baseline to beat."""

from __future__ import annotations

import numpy as np


class RidgeDecoder:
    """Closed-form ridge in the dual or primal, whichever is smaller, on standardised features."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeDecoder:
        """Fit on x [shape=(n, ...)] → y [shape=(n, ...)]."""
        xf = x.reshape(len(x), -1).astype(np.float64)
        yf = y.reshape(len(y), -1).astype(np.float64)
        x_mean, y_mean = xf.mean(0), yf.mean(0)
        xc, yc = xf - x_mean, yf - y_mean
        scale = self.alpha * len(xf)
        if xc.shape[1] <= xc.shape[0]:
            coef = np.linalg.solve(xc.T @ xc + scale * np.eye(xc.shape[1]), xc.T @ yc)
        else:
            coef = xc.T @ np.linalg.solve(xc @ xc.T + scale * np.eye(xc.shape[0]), yc)
        self.coef_, self.intercept_ = coef, y_mean - x_mean @ coef
        self._out_shape = y.shape[1:]
        return self

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of one prediction."""
        return tuple(self._out_shape)

    @classmethod
    def from_arrays(cls, alpha: float, coef: np.ndarray, intercept: np.ndarray,
                    out_shape: tuple[int, ...]) -> RidgeDecoder:
        """A fitted decoder from saved coefficients."""
        model = cls(alpha)
        model.coef_, model.intercept_, model._out_shape = coef, intercept, tuple(out_shape)
        return model

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict y [shape=(n, *out_shape)]."""
        yf = x.reshape(len(x), -1) @ self.coef_ + self.intercept_
        return yf.reshape(len(x), *self._out_shape).astype(np.float32)
