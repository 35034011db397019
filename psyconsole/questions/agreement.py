"""Inter-annotator agreement: Krippendorff's alpha per rubric dimension, computed by the
`krippendorff` package (Castro's implementation of Krippendorff 2011), never by hand.

Ordinal dimensions use the ordinal metric over the whole 1-5 scale (`value_domain`, so a
scale point nobody used still counts in the ordinal distances); `medical_advice` uses the
nominal metric over yes/no. The data are gathered by `selectors.reliability_data()`.

alpha is undefined (None here, with a `note`) when no item has two values, or when every
value is the same (no variation: expected disagreement is zero).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version

import krippendorff
import numpy as np

from psyconsole.questions import rubric
from psyconsole.questions.limits import RATING_RANGE

Value = int | bool | float | None

METHOD = f"Krippendorff's alpha (krippendorff {version('krippendorff')})"


@dataclass(frozen=True)
class AlphaResult:
    dimension: str
    level: str  # "ordinal" or "nominal"
    alpha: float | None
    n_items: int  # items with at least two values: the pairable ones
    n_values: int  # values in those items
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _domain(dimension: str) -> list[int] | None:
    """The values the dimension's scale allows: 1-5, or 0/1 for yes/no; None (the values
    seen) for a name outside the rubric."""
    known = rubric.BY_NAME.get(dimension)
    if known is None:
        return None
    if known.level == rubric.NOMINAL:
        return [0, 1]
    return list(range(RATING_RANGE[0], RATING_RANGE[1] + 1))


def _matrix(rows: Sequence[Sequence[Value]]) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    matrix = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                matrix[i, j] = float(value)
    return matrix


def alpha_for(dimension: str, reliability_data: Sequence[Sequence[Value]],
              level: str | None = None) -> AlphaResult:
    """alpha for one dimension. `reliability_data` is the package's layout: one row per
    annotator (or annotator slot: first, second...), one column per item, None or NaN
    where a value is missing. Booleans count as 1 (yes) and 0 (no)."""
    if level is None:
        level = rubric.BY_NAME[dimension].level
    matrix = _matrix(reliability_data)
    counts = (~np.isnan(matrix)).sum(axis=0) if matrix.size else np.array([], dtype=int)
    pairable = counts >= 2
    n_items = int(pairable.sum())
    n_values = int(counts[pairable].sum())
    if n_items == 0:
        return AlphaResult(dimension, level, None, 0, 0, "no item has two values yet")
    values = matrix[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:
        return AlphaResult(dimension, level, None, n_items, n_values,
                           "undefined: every value is the same (no variation)")
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = krippendorff.alpha(reliability_data=matrix, value_domain=_domain(dimension),
                                   level_of_measurement=level)
    if alpha is None or math.isnan(alpha):
        return AlphaResult(dimension, level, None, n_items, n_values, "undefined")
    return AlphaResult(dimension, level, float(alpha), n_items, n_values)


def agreement(reliability_data_by_dimension: Mapping[str, Sequence[Sequence[Value]]]
              ) -> dict[str, AlphaResult]:
    """alpha for each dimension given, at the rubric's level of measurement for it."""
    return {dimension: alpha_for(dimension, data)
            for dimension, data in reliability_data_by_dimension.items()}
