"""crystalgenome: learn materials properties from 3D diffraction patterns of crystals.

Data flows one way through the sub-packages::

    structures -> diffraction -> data -> store -> model -> training -> ablation / figures

and the CLI (``crystalgenome.cli``) sits on top. Heavy libraries (torch, pymatgen, ray)
are imported only inside the stages that use them, so ``import crystalgenome`` is cheap.
"""

from __future__ import annotations

import os

# torch's OpenMP threads spin 1,000 rounds (microseconds) when idle, then sleep, instead of libgomp's
# default 300,000 (read when torch is first loaded, so import crystalgenome before torch). On a shared
# machine long spinning takes the cores from the threads doing the work: training with 2 threads ran
# 4-8x slower in wall time at load 3-6; on an idle machine the short spin costs nothing.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")

__version__ = "0.1.0"

__all__ = ["__version__", "load_model"]


def load_model(model: str):
    """A shipped model by task name (e.g. ``"metal"``) or a run folder, ready to ``predict`` structures
    (file paths, pymatgen ``Structure``s or ASE ``Atoms``). See :mod:`crystalgenome.workflows.models`."""
    from crystalgenome.workflows.models import load_model as _load_model

    return _load_model(model)
