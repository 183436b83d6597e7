"""Exceptions shared by all stages.

Every error about one structure names the structure (file name or material id) and the
reason, so a batch job can report it in one line and move on.
"""

from __future__ import annotations

_CONTROL = {ord(c): repr(c)[1:-1] for c in "\t\n\r\v\f\x00"}


def one_line(text: str) -> str:
    """``text`` with tabs, newlines and other control characters escaped (``\\t``, ``\\n``), so a file
    name cannot break a one-line message or a tab-separated table."""
    return text.translate(_CONTROL)


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
        lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
        super().__init__(f"{one_line(name)}: {one_line('; '.join(lines))}")


class PointCapError(StructureError):
    """The requested point set is larger than the configured cap."""
