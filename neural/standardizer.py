"""Per-feature input normalization: (X - mean) / scale, learned or fixed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from neural import _validation as check


class Standardizer:
    """Shift and scale each feature: `transform(X) = (X - mean) / scale`.

    `Standardizer().fit(X)` learns the mean and standard deviation of each column (a constant column
    gets scale 1, so nothing is divided by zero). The seed's fixed shift, weight - 135 lb and
    height - 66 in without scaling, is `Standardizer(mean=[135, 66], scale=[1, 1])`.
    """

    def __init__(self, mean: ArrayLike | None = None, scale: ArrayLike | None = None) -> None:
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        if mean is not None or scale is not None:
            if mean is None or scale is None:
                raise ValueError("give both mean and scale, or neither")
            self._set(mean, scale)

    def _set(self, mean: ArrayLike, scale: ArrayLike) -> None:
        m = check.finite_array(mean, "mean")
        s = check.finite_array(scale, "scale")
        if m.ndim != 1 or m.shape != s.shape or m.size == 0:
            raise ValueError(
                f"mean and scale must be 1-D of one length, got {m.shape} and {s.shape}"
            )
        if (s <= 0).any():
            raise ValueError("every scale must be > 0")
        self.mean, self.scale = m.copy(), s.copy()

    def fit(self, X: ArrayLike) -> Standardizer:
        """Learn each column's mean and standard deviation from X (n, n_features); return self."""
        data = check.finite_array(X, "X")
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
            raise ValueError(
                f"X must have shape (n_samples, n_features) with n >= 1, got {data.shape}"
            )
        std = data.std(axis=0)
        self._set(data.mean(axis=0), np.where(std > 0, std, 1.0))
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """(X - mean) / scale for X of shape (n, n_features) or one sample (n_features,)."""
        if self.mean is None or self.scale is None:
            raise ValueError("this Standardizer is not fitted: call fit(X) or give mean and scale")
        data = check.finite_array(X, "X")
        if data.shape[-1:] != self.mean.shape or data.ndim not in (1, 2):
            n = self.mean.size
            raise ValueError(f"X must have shape (n, {n}) or ({n},), got {data.shape}")
        return (data - self.mean) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """{"mean": [...], "scale": [...]} as plain lists of floats."""
        if self.mean is None or self.scale is None:
            raise ValueError("this Standardizer is not fitted")
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Standardizer:
        """Rebuild from `to_dict()` output."""
        try:
            return cls(mean=data["mean"], scale=data["scale"])
        except KeyError as exc:
            raise ValueError(f"standardizer data lacks {exc.args[0]!r}") from exc
