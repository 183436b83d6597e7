"""JSON round-trip shared by the frozen configuration dataclasses (model and training)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Self

from crystalgenome.utils.atomic import atomic_write_json


class JsonConfig:
    """Mixin for frozen dataclasses: ``replace``, ``to_dict``/``from_dict``, ``to_json``/``from_json``.

    ``from_dict`` rejects unknown keys, which catches typos in hand-written config files.
    """

    config_kind: ClassVar[str] = "config"

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, e.g. ``config.replace(num_classes=7)``."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()  # type: ignore[call-overload]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.config_kind} keys: {', '.join(unknown)}")
        return cls(**data)

    def to_json(self, path: str | Path) -> None:
        """Write the config as JSON (atomically)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | Path) -> Self:
        """Read a config written by :meth:`to_json` (or by hand)."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
