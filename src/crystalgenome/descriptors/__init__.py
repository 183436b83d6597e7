"""Stage 3b: fixed-length, rotation-invariant descriptors of diffraction patterns (and, as a chemistry
reference only, of compositions), for gradient-boosted tree models and baselines.

``PatternDescriptor.baseline().compute(clouds)`` turns each structure's point clouds (one per
probe: ``xray``, ``neutron``, ``electron``, ``unit``) into one row of numbers that depend on the
pattern and the cell only, never on element identities or on the orientation of the input.
"""

from __future__ import annotations

from crystalgenome.descriptors.composition import composition_names, element_fractions
from crystalgenome.descriptors.pattern import PROBES, PatternClouds, PatternDescriptor, reciprocal_metric

__all__ = [
    "PROBES",
    "PatternClouds",
    "PatternDescriptor",
    "composition_names",
    "element_fractions",
    "reciprocal_metric",
]
