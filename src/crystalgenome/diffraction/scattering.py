"""Scattering strengths per element: X-ray and electron form factors f(s), neutron lengths b.

One interface for both radiations (:class:`ScatteringModel`): a new radiation is a new
sibling class. Tables live in ``data/`` (see its README for their source).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from functools import cache, lru_cache
from importlib import resources
from typing import ClassVar

import numpy as np

from crystalgenome.errors import StructureError

FORM_FACTOR_PREFACTOR = 41.78214
"""Constant of the fitted X-ray form factor f(s) = Z − 41.78214 s² Σ aᵢ exp(−bᵢ s²)."""


ISOTOPES: dict[str, tuple[str, str]] = {"D": ("H", "2H"), "T": ("H", "3H")}
"""Isotopes a structure may name (pymatgen's ``D`` and ``T``): (element, key in the neutron table).
X-rays see the electrons, so an isotope scatters as its element; neutrons see the nucleus, so it
has its own length (H −3.739 fm, D 6.671 fm, T 4.792 fm)."""


def element_of(symbol: str) -> str:
    """The element of an isotope symbol (``D`` -> ``H``); any other symbol unchanged."""
    return ISOTOPES[symbol][0] if symbol in ISOTOPES else symbol


@cache
def _load_table(filename: str) -> dict:
    text = resources.files("crystalgenome.diffraction").joinpath("data", filename).read_text()
    return json.loads(text)


@cache
def _atomic_numbers() -> dict[str, int]:
    from pymatgen.core.periodic_table import Element

    return {element.symbol: int(element.Z) for element in Element}


class ScatteringModel(ABC):
    """Scattering amplitude of each element as a function of s = sinθ/λ = |g|/2 (Å⁻¹)."""

    radiation: ClassVar[str]

    @abstractmethod
    def known(self, symbol: str) -> bool:
        """Whether the table has data for element ``symbol``."""

    @abstractmethod
    def amplitudes(self, symbols: list[str], s_squared: np.ndarray) -> np.ndarray:
        """(len(symbols), len(s_squared)) scattering amplitudes at each s² (Å⁻²)."""

    def check(self, symbols: list[str], name: str) -> None:
        """Raise :class:`StructureError` if an element has no scattering data."""
        missing = sorted(symbol for symbol in set(symbols) if not self.known(symbol))
        if missing:
            raise StructureError(
                name, f"no {self.radiation} scattering data for element(s) {', '.join(missing)}"
            )


class XRayScattering(ScatteringModel):
    """Fitted X-ray atomic form factors (electrons), the parameters pymatgen uses."""

    radiation = "xray"

    def __init__(self) -> None:
        self._table = _load_table("atomic_scattering_params.json")

    def known(self, symbol: str) -> bool:
        symbol = element_of(symbol)
        return symbol in self._table and symbol in _atomic_numbers()

    @lru_cache(maxsize=8192)  # noqa: B019 - one instance per radiation (see scattering_model)
    def _coefficients(self, symbols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Z (n,), a (n, k) and −b (n, k) for ``symbols`` (isotopes as their element); all-zero
        Gaussian terms dropped."""
        symbols = tuple(element_of(s) for s in symbols)
        z = np.array([_atomic_numbers()[s] for s in symbols], dtype=float)
        coeffs = np.array([self._table[s] for s in symbols], dtype=float)  # (n, 4, 2)
        used = np.any(coeffs[..., 0] != 0, axis=0)
        return z, coeffs[:, used, 0], -coeffs[:, used, 1]

    def amplitudes(self, symbols: list[str], s_squared: np.ndarray) -> np.ndarray:
        z, a, minus_b = self._coefficients(tuple(symbols))
        gauss = np.exp(minus_b[:, :, None] * s_squared)  # (n, k, M)
        return z[:, None] - FORM_FACTOR_PREFACTOR * s_squared * np.einsum("ni,nim->nm", a, gauss)


class ElectronScattering(XRayScattering):
    """Electron scattering factors (Å) from the same fitted table, by the Mott–Bethe formula:
    f_e(s) = (Z − f_x(s)) / (41.78214 s²) = Σ aᵢ exp(−bᵢ s²), finite at s = 0 (Σ aᵢ).

    Electrons see the electrostatic potential: light, diffuse atoms (alkali metals) scatter strongly
    relative to Z, so their weights differ from the X-ray ones element by element.
    """

    radiation = "electron"

    def amplitudes(self, symbols: list[str], s_squared: np.ndarray) -> np.ndarray:
        _, a, minus_b = self._coefficients(tuple(symbols))
        return np.einsum("ni,nim->nm", a, np.exp(minus_b[:, :, None] * s_squared))


class NeutronScattering(ScatteringModel):
    """Bound coherent neutron scattering lengths (fm); independent of s. Elements use the natural
    isotope mixture, ``D`` and ``T`` their own lengths (see :data:`ISOTOPES`)."""

    radiation = "neutron"

    def __init__(self) -> None:
        self._table = _load_table("neutron_scattering_length.json")

    def known(self, symbol: str) -> bool:
        return self._key(symbol) in self._table

    @staticmethod
    def _key(symbol: str) -> str:
        """Table key of an element or isotope symbol (``D`` -> ``2H``)."""
        return ISOTOPES[symbol][1] if symbol in ISOTOPES else symbol

    def amplitudes(self, symbols: list[str], s_squared: np.ndarray) -> np.ndarray:
        lengths = np.array([self._table[self._key(s)] for s in symbols], dtype=float)
        return np.repeat(lengths[:, None], s_squared.shape[0], axis=1)


class UnitScattering(ScatteringModel):
    """Identical point scatterers, f = 1 for every atom: lattice and site geometry only.

    Not a physical radiation: the chemistry-free control of the input ablations, where neither
    the form factors nor the origin point (which becomes the number density squared) carry
    the composition.
    """

    radiation = "unit"

    def known(self, symbol: str) -> bool:
        return True

    def amplitudes(self, symbols: list[str], s_squared: np.ndarray) -> np.ndarray:
        return np.ones((len(symbols), s_squared.shape[0]))


RADIATIONS: dict[str, type[ScatteringModel]] = {
    "xray": XRayScattering,
    "neutron": NeutronScattering,
    "electron": ElectronScattering,
    "unit": UnitScattering,
}
"""Scattering models by radiation name."""


@cache
def scattering_model(radiation: str) -> ScatteringModel:
    """The (cached) scattering model of ``radiation``: ``"xray"``, ``"neutron"``, ``"electron"`` or
    ``"unit"``."""
    if radiation not in RADIATIONS:
        raise ValueError(f"unknown radiation {radiation!r}; use one of {', '.join(RADIATIONS)}")
    return RADIATIONS[radiation]()
