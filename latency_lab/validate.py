"""Parameter checks at every public boundary: clear errors that name the parameter (all lessons).

Each check returns the value converted to its one canonical type (``int``, ``float``,
``numpy.random.SeedSequence``, a 1-D array), or raises ``TypeError`` for a wrong type and
``ValueError`` for a value out of range, naming the parameter and what is allowed. Strings,
booleans and NaN are never numbers here.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def integer(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int, or raise naming ``name`` and the allowed range [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        value = _zero_dim(value)
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    _check_range(name, value, low, high)
    return value


def real(
    name: str, value, *, low=None, high=None, low_open=False, allow_inf: bool = False
) -> float:
    """Return ``value`` as a float in [low, high] (or (low, high] if ``low_open``).

    Infinity is refused unless ``allow_inf`` (for example a wait of ``inf``: "no limit").
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        value = _zero_dim(value)
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise ValueError(
            f"{name} must be a finite number, got an integer of {value.bit_length()} bits"
        ) from None
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(value) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value}")
    if low_open and low is not None and value <= low:
        raise ValueError(f"{name} must be > {low}, got {value}")
    _check_range(name, value, low, high)
    return value


def samples(name: str, values, *, allow_empty: bool = False) -> np.ndarray:
    """Return ``values`` as a 1-D float or int array with no NaN/inf, or raise.

    A 0-d value is one sample; an array of two or more dimensions is refused rather than
    silently flattened.
    """
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be numbers, got {type(values).__name__}")
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr = arr.reshape(-1)
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to summarise")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def seed(name: str, value) -> np.random.SeedSequence:
    """Return ``value`` as a ``SeedSequence``: an int >= 0, a SeedSequence, or None (fresh).

    One seed drives a whole run: callers ``spawn`` children from it for each source of
    randomness (traffic, service), so the same seed means the same run everywhere.
    """
    if value is None or isinstance(value, np.random.SeedSequence):
        return value if value is not None else np.random.SeedSequence()
    return np.random.SeedSequence(integer(name, value, low=0))


def rng(name: str, value) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (see :func:`seed`) or a Generator as is."""
    if isinstance(value, np.random.Generator):
        return value
    return np.random.default_rng(seed(name, value))


def one_of(name: str, value, allowed) -> object:
    """Return ``value`` if it is one of ``allowed``, else raise listing them."""
    if not isinstance(value, str | int | float | type(None)) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def _zero_dim(value):
    """A numpy 0-d array as its scalar (learners and numpy hand these out); else as is."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _check_range(name, value, low, high) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else f"{low:,}" if isinstance(low, int) else low
        hi = "inf" if high is None else f"{high:,}" if isinstance(high, int) else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
