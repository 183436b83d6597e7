"""Stage 1: diffraction physics — structure → 3D point cloud of reflections with intensities."""

from __future__ import annotations

from crystalgenome.diffraction.batch import compute_batch, powder_batch
from crystalgenome.diffraction.engine import DiffractionCalculator, diffract
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.powder import PowderPattern, powder_pattern
from crystalgenome.diffraction.radiation import WAVELENGTHS, resolve_wavelength
from crystalgenome.diffraction.scattering import ScatteringModel, scattering_model
from crystalgenome.diffraction.settings import DiffractionSettings

__all__ = [
    "WAVELENGTHS",
    "DiffractionCalculator",
    "DiffractionPattern",
    "DiffractionSettings",
    "PowderPattern",
    "ScatteringModel",
    "compute_batch",
    "diffract",
    "powder_batch",
    "powder_pattern",
    "resolve_wavelength",
    "scattering_model",
]
