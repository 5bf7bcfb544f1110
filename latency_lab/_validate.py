"""Parameter checks shared by every public function: clear errors naming the parameter."""

import math
from numbers import Integral, Real

import numpy as np


def integer(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int, or raise naming ``name`` and the allowed range [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    _check_range(name, value, low, high)
    return int(value)


def real(name: str, value, *, low=None, high=None, low_open=False) -> float:
    """Return ``value`` as a finite float in [low, high] (or (low, high] if ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if low_open and low is not None and value <= low:
        raise ValueError(f"{name} must be > {low}, got {value}")
    _check_range(name, value, low, high)
    return value


def samples(name: str, values, *, allow_empty: bool = False) -> np.ndarray:
    """Return ``values`` as a 1-D float or int array with no NaN/inf, or raise."""
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to summarise")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_range(name, value, low, high) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
