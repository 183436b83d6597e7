"""Train / validation / test splits: seeded random, grouped (no group on two sides), and the authors' own.

Every split is a pure function of its inputs *as sets* (ids are sorted first), so the same ids and
seed give the same split whatever order they come in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from crystalgenome.utils.atomic import atomic_write_json

PARTS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


@dataclass
class Split:
    """Material ids of the three parts (disjoint), plus how the split was made.

    Attributes:
        train, valid, test: material ids.
        info: how the split was made (kind, seed, fractions, source file...), saved with it.
    """

    train: list[str]
    valid: list[str]
    test: list[str]
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for part in PARTS:
            for material_id in getattr(self, part):
                if material_id in seen:
                    raise ValueError(f"material id {material_id!r} is in both {seen[material_id]} and {part}")
                seen[material_id] = part

    def __len__(self) -> int:
        return len(self.train) + len(self.valid) + len(self.test)

    def part_of(self) -> dict[str, str]:
        """Material id -> ``"train"``, ``"valid"`` or ``"test"``."""
        return {material_id: part for part in PARTS for material_id in getattr(self, part)}

    def to_dict(self) -> dict:
        return {"info": self.info, **{part: list(getattr(self, part)) for part in PARTS}}

    def save(self, path: str | Path) -> None:
        """Write the split as JSON, atomically."""
        atomic_write_json(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a split written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [part for part in PARTS if part not in data]
        if missing:
            raise ValueError(f"{path}: not a split file (missing {', '.join(missing)})")
        return cls(*(list(map(str, data[part])) for part in PARTS), info=dict(data.get("info", {})))


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def _unique_sorted(ids: Sequence[str]) -> list[str]:
    ordered = sorted(map(str, ids))
    for previous, current in pairwise(ordered):
        if previous == current:
            raise ValueError(f"material id {current!r} appears more than once")
    return ordered


def random_split(
    ids: Sequence[str], *, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> Split:
    """Seeded random split; part sizes are ``round(n × fraction)`` for train and valid, the rest test."""
    train_f, valid_f, _ = _check_fractions(fractions)
    ordered = _unique_sorted(ids)
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    n_train = round(len(ordered) * train_f)
    n_valid = round(len(ordered) * valid_f)
    info = {"kind": "random", "seed": seed, "fractions": [train_f, valid_f, 1 - train_f - valid_f]}
    return Split(
        shuffled[:n_train], shuffled[n_train : n_train + n_valid], shuffled[n_train + n_valid :], info=info
    )


def grouped_split(
    ids: Sequence[str],
    groups: Sequence[str],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Split:
    """Seeded split in which all ids of a group (e.g. one reduced formula) fall on the same side.

    Groups are shuffled and laid end to end; a group goes to the part in which its first member falls,
    so part sizes are close to the fractions (within one group's size).
    """
    train_f, valid_f, _ = _check_fractions(fractions)
    if len(ids) != len(groups):
        raise ValueError(f"{len(ids)} ids but {len(groups)} groups")
    pairs = sorted(zip(map(str, ids), map(str, groups), strict=True))
    _unique_sorted([material_id for material_id, _ in pairs])
    members: dict[str, list[str]] = {}
    for material_id, group in pairs:
        members.setdefault(group, []).append(material_id)
    names = sorted(members)
    order = np.random.default_rng(seed).permutation(len(names))
    sizes = np.array([len(members[names[i]]) for i in order])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    bounds = np.array([train_f, train_f + valid_f]) * len(pairs)
    part_index = np.searchsorted(bounds, starts, side="right")
    parts: list[list[str]] = [[], [], []]
    for position, index in zip(order, part_index, strict=True):
        parts[int(index)].extend(members[names[position]])
    info = {"kind": "grouped", "seed": seed, "fractions": [train_f, valid_f, 1 - train_f - valid_f]}
    return Split(*parts, info=info)


def authors_split(path: str | Path, ids: Sequence[str]) -> Split:
    """The authors' split lists (``deepKNet_splits/*.csv``: columns ``train``, ``valid``, ``test`` of
    mp-ids, blank-padded), restricted to ``ids``; order within each part is the file's."""
    import pandas as pd

    table = pd.read_csv(path, dtype=str)
    missing = [part for part in PARTS if part not in table.columns]
    if missing:
        raise ValueError(f"{path}: expected columns train, valid, test (missing {', '.join(missing)})")
    present = set(map(str, ids))
    parts = [[i.strip() for i in table[part].dropna() if i.strip() in present] for part in PARTS]
    info = {"kind": "authors", "file": Path(path).name, "listed": int(table[list(PARTS)].notna().sum().sum())}
    return Split(*parts, info=info)
