"""crystalgenome: learn materials properties from 3D diffraction patterns of crystals.

Data flows one way through the sub-packages::

    structures -> diffraction -> data -> store -> model -> training -> ablation / figures

and the CLI (``crystalgenome.cli``) sits on top. Heavy libraries (torch, pymatgen, ray)
are imported only inside the stages that use them, so ``import crystalgenome`` is cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
