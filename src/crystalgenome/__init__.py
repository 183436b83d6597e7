"""crystalgenome: learn materials properties from 3D diffraction patterns of crystals.

Data flows one way through the sub-packages::

    structures -> diffraction -> data -> store -> model -> training -> ablation / figures

and the CLI (``crystalgenome.cli``) sits on top. Heavy libraries (torch, pymatgen, ray)
are imported only inside the stages that use them, so ``import crystalgenome`` is cheap.
"""

from __future__ import annotations

import os

# torch's OpenMP threads sleep when idle instead of spinning (read when torch is first imported, so
# import crystalgenome before torch): on a shared machine spinning threads take the cores from those
# doing the work — training with 2 threads at load 5 ran 8× slower in wall time with spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["__version__"]
