"""Element fractions of a composition: the chemistry reference the structure-only models are compared to."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

MAX_Z = 103
"""Elements H (Z = 1) to Lr (Z = 103) get a column each."""


@lru_cache(maxsize=1)
def _symbols() -> tuple[str, ...]:
    from pymatgen.core import Element

    return tuple(Element.from_Z(z).symbol for z in range(1, MAX_Z + 1))


def composition_names() -> list[str]:
    """Column names of :func:`element_fractions`: ``frac_H`` … ``frac_Lr``."""
    return [f"frac_{symbol}" for symbol in _symbols()]


def element_fractions(formulas: Sequence[str]) -> np.ndarray:
    """(n, 103) atomic fractions of each element (rows sum to 1) of each formula (e.g. ``"Fe2O3"``).

    Raises:
        ValueError: naming a formula that pymatgen cannot parse or that holds an element beyond Z = 103.
    """
    from pymatgen.core import Composition

    out = np.zeros((len(formulas), MAX_Z), dtype=np.float32)
    for row, formula in enumerate(formulas):
        try:
            fractions = Composition(formula).fractional_composition
            for element, amount in fractions.items():
                z = element.Z
                if not 1 <= z <= MAX_Z:
                    raise ValueError(f"element {element} (Z = {z}) is beyond Z = {MAX_Z}")
                out[row, z - 1] += amount
        except ValueError as error:
            raise ValueError(f"formula {formula!r}: {error}") from None
    return out
