"""Stage 1: diffraction physics — structure → 3D point cloud of reflections with intensities."""

from __future__ import annotations

from crystalgenome.diffraction.batch import compute_batch, powder_batch
from crystalgenome.diffraction.engine import (
    DiffractionCalculator,
    diffract,
    friedel_half_intensities,
    structure_factors,
)
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.pointsets import half_to_full, limiting_sphere, miller_box, reciprocal_lattice
from crystalgenome.diffraction.powder import PowderPattern, lorentz_polarisation, powder_pattern
from crystalgenome.diffraction.radiation import WAVELENGTHS, resolve_wavelength
from crystalgenome.diffraction.scattering import (
    NeutronScattering,
    ScatteringModel,
    UnitScattering,
    XRayScattering,
    scattering_model,
)
from crystalgenome.diffraction.settings import DiffractionSettings

__all__ = [
    "WAVELENGTHS",
    "DiffractionCalculator",
    "DiffractionPattern",
    "DiffractionSettings",
    "NeutronScattering",
    "PowderPattern",
    "ScatteringModel",
    "UnitScattering",
    "XRayScattering",
    "compute_batch",
    "diffract",
    "friedel_half_intensities",
    "half_to_full",
    "limiting_sphere",
    "lorentz_polarisation",
    "miller_box",
    "powder_batch",
    "powder_pattern",
    "reciprocal_lattice",
    "resolve_wavelength",
    "scattering_model",
    "structure_factors",
]
