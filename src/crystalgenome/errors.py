"""Exceptions shared by all stages.

Every error about one structure names the structure (file name or material id) and the
reason, so a batch job can report it in one line and move on.
"""

from __future__ import annotations


class CrystalGenomeError(Exception):
    """Base class of all errors raised by crystalgenome."""


class StructureError(CrystalGenomeError, ValueError):
    """A structure cannot be read or diffracted.

    Args:
        name: file name or material id of the structure.
        reason: what is wrong, in words a user can act on.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


class PointCapError(StructureError):
    """The requested point set is larger than the configured cap."""
