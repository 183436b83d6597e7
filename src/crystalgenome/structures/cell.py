"""A light, array-based view of a crystal: what the diffraction engine actually needs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure


def species_symbol(species: object) -> str:
    """Element symbol of a pymatgen species, keeping the hydrogen isotopes ``D`` and ``T`` apart
    (pymatgen gives them the symbol ``H``; their scattering lengths for neutrons differ from H's)."""
    element = getattr(species, "element", species)
    name = getattr(element, "name", None)
    if name in ("D", "T"):
        return name
    return getattr(species, "symbol", str(species))


@dataclass(frozen=True)
class Cell:
    """A periodic cell as plain arrays.

    Attributes:
        lattice: (3, 3) direct lattice vectors as rows, Å.
        frac_coords: (n, 3) fractional coordinates of the sites.
        types: (n,) index of each site's composition in ``compositions``.
        compositions: per site type, a mapping element symbol -> occupancy (1.0 when ordered);
            deuterium and tritium are ``D`` and ``T``.
    """

    lattice: np.ndarray
    frac_coords: np.ndarray
    types: np.ndarray
    compositions: tuple[dict[str, float], ...]

    @classmethod
    def from_structure(cls, structure: Structure) -> Cell:
        """Convert a pymatgen ``Structure`` (ordered or with partial occupancies)."""
        keys: dict[tuple[tuple[str, float], ...], int] = {}
        types = np.empty(len(structure), dtype=np.int64)
        for index, site in enumerate(structure):
            amounts: dict[str, float] = {}
            for species, occupancy in site.species.items():
                symbol = species_symbol(species)
                amounts[symbol] = amounts.get(symbol, 0.0) + float(occupancy)
            key = tuple(sorted((symbol, round(occ, 10)) for symbol, occ in amounts.items()))
            types[index] = keys.setdefault(key, len(keys))
        compositions = tuple(dict(key) for key in keys)
        return cls(
            lattice=np.array(structure.lattice.matrix, dtype=float),
            frac_coords=np.array(structure.frac_coords, dtype=float).reshape(-1, 3),
            types=types,
            compositions=compositions,
        )

    @property
    def num_sites(self) -> int:
        return int(self.frac_coords.shape[0])

    @cached_property
    def volume(self) -> float:
        """Cell volume, Å³ (positive also for a left-handed basis)."""
        return float(abs(np.linalg.det(self.lattice)))

    @cached_property
    def reciprocal(self) -> np.ndarray:
        """Crystallographic reciprocal lattice a*, b*, c* as rows (no 2π), Å⁻¹."""
        return np.linalg.inv(self.lattice).T

    @property
    def is_ordered(self) -> bool:
        """True when every site holds one element with occupancy 1."""
        return all(len(c) == 1 and abs(next(iter(c.values())) - 1.0) < 1e-8 for c in self.compositions)

    @cached_property
    def elements(self) -> list[str]:
        """Distinct element symbols, sorted."""
        return sorted({symbol for comp in self.compositions for symbol in comp})

    def to_structure(self) -> Structure:
        """Back to a pymatgen ``Structure``."""
        from pymatgen.core import Lattice, Structure

        species = [self.compositions[int(t)] for t in self.types]
        return Structure(Lattice(self.lattice), species, self.frac_coords, coords_are_cartesian=False)
