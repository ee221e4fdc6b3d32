"""The value a significance test returns, and two-sided p-values."""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy import stats

__all__ = ["StatResult", "normal_p", "student_p"]


class StatResult(NamedTuple):
    """A test statistic and its two-sided p-value (both NaN when undefined)."""

    statistic: float
    p_value: float


def normal_p(z: float) -> float:
    """Two-sided p-value of ``z`` under the standard normal; NaN for NaN.

    Examples
    --------
    >>> round(normal_p(1.959963985), 6)
    0.05
    """
    return float(2.0 * stats.norm.sf(abs(z))) if math.isfinite(z) else math.nan


def student_p(t: float, df: int) -> float:
    """Two-sided p-value of ``t`` under Student's t with ``df`` degrees of freedom.

    Examples
    --------
    >>> round(student_p(2.776445105, 4), 6)
    0.05
    """
    return float(2.0 * stats.t.sf(abs(t), df)) if math.isfinite(t) and df > 0 else math.nan
