"""Class labels of the seven tasks (METHOD.md) and the filters that decide what may be trained on.

Binary tasks put the positive class at index 1 (``metal``, ``high``, ``unstable``). Thresholds are
those of the authors' published code, as options (:class:`LabelThresholds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.structures import CRYSTAL_SYSTEMS

if TYPE_CHECKING:
    import pandas as pd

TASKS: tuple[str, ...] = (
    "crystal_system",
    "crystal_family",
    "trigonal_hexagonal",
    "metal",
    "bulk_modulus",
    "shear_modulus",
    "stability",
)

CRYSTAL_FAMILIES: tuple[str, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "hexagonal",
    "cubic",
)
"""Crystal families: the trigonal and hexagonal crystal systems form the hexagonal family."""

_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "crystal_system": CRYSTAL_SYSTEMS,
    "crystal_family": CRYSTAL_FAMILIES,
    "trigonal_hexagonal": ("trigonal", "hexagonal"),
    "metal": ("insulator", "metal"),
    "bulk_modulus": ("low", "high"),
    "shear_modulus": ("low", "high"),
    "stability": ("stable", "unstable"),
}

# Highest space-group number of each crystal system, in CRYSTAL_SYSTEMS order.
_SYSTEM_UPPER_NUMBERS = np.array([2, 15, 74, 142, 167, 194, 230])
# crystal system index -> crystal family index (trigonal and hexagonal merge)
_FAMILY_OF_SYSTEM = np.array([0, 1, 2, 3, 4, 4, 5])
# crystal system index -> trigonal_hexagonal class (-1: not in the task)
_TRIGONAL_HEXAGONAL_OF_SYSTEM = np.array([-1, -1, -1, -1, 0, 1, -1])


@dataclass(frozen=True)
class LabelThresholds:
    """Thresholds of the binary tasks (defaults: the authors' published code).

    Attributes:
        metal_gap: a band gap below this is a metal, eV.
        insulator_gap: a band gap above this is an insulator, eV; gaps in between are dropped.
        bulk_modulus: K_VRH above this is ``high``, GPa.
        shear_modulus: G_VRH above this is ``high``, GPa.
        stability: an energy above the hull above this is ``unstable``, eV/atom.
    """

    metal_gap: float = 1e-6
    insulator_gap: float = 0.05
    bulk_modulus: float = 85.0
    shear_modulus: float = 34.0
    stability: float = 0.02

    def __post_init__(self) -> None:
        if self.insulator_gap < self.metal_gap:
            raise ValueError(f"insulator_gap ({self.insulator_gap}) must be >= metal_gap ({self.metal_gap})")


def task_class_names(task: str) -> tuple[str, ...]:
    """Class names of ``task``, index = class label (index 1 is the positive class of binary tasks)."""
    try:
        return _CLASS_NAMES[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}") from None


def _system_index(numbers: pd.Series) -> np.ndarray:
    """Crystal-system index per space-group number (-1 where unknown or out of 1..230)."""
    import pandas as pd

    values = pd.to_numeric(numbers, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    valid = np.isfinite(values) & (values >= 1) & (values <= 230)
    index = np.searchsorted(_SYSTEM_UPPER_NUMBERS, np.where(valid, values, 1))
    return np.where(valid, index, -1)


def _column(properties: pd.DataFrame, name: str) -> np.ndarray:
    import pandas as pd

    if name not in properties.columns:
        return np.full(len(properties), np.nan)
    return pd.to_numeric(properties[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _binary(values: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """1 where ``positive``, 0 where ``negative``, -1 elsewhere (incl. NaN values)."""
    known = np.isfinite(values)
    return np.where(known & positive, 1, np.where(known & negative, 0, -1))


def _metal_labels(properties: pd.DataFrame, thresholds: LabelThresholds) -> np.ndarray:
    gap = _column(properties, "band_gap")
    with np.errstate(invalid="ignore"):
        labels = _binary(gap, gap < thresholds.metal_gap, gap > thresholds.insulator_gap)
    if "has_bandstructure" in properties.columns:  # MP downloads: only computed band structures count
        has = properties["has_bandstructure"].map(_truthy).to_numpy(dtype=bool)
        labels = np.where(has, labels, -1)
    return labels


def _threshold_labels(properties: pd.DataFrame, column: str, threshold: float) -> np.ndarray:
    values = _column(properties, column)
    with np.errstate(invalid="ignore"):
        return _binary(values, values > threshold, values <= threshold)


def task_labels(
    task: str,
    properties: pd.DataFrame,
    *,
    space_group_numbers: pd.Series | None = None,
    thresholds: LabelThresholds = LabelThresholds(),
) -> pd.Series:
    """Integer class of every material for ``task`` (index aligned with ``properties``), dtype ``Int64``,
    ``<NA>`` where the material has no label.

    - crystal_system / crystal_family / trigonal_hexagonal: from ``space_group_numbers`` (1-230, aligned
      by material id; required); trigonal_hexagonal is ``<NA>`` for the other systems.
    - metal: ``metal`` when band_gap < ``metal_gap``, ``insulator`` when > ``insulator_gap``, ``<NA>`` in
      between or when the gap is unknown (or when a ``has_bandstructure`` column says False).
    - bulk_modulus / shear_modulus: ``high`` when k_vrh / g_vrh > threshold (GPa), else ``low``.
    - stability: ``unstable`` when e_above_hull > ``stability`` (eV/atom), else ``stable``.
    """
    import pandas as pd

    task_class_names(task)
    if task in ("crystal_system", "crystal_family", "trigonal_hexagonal"):
        if space_group_numbers is None:
            raise ValueError(f"task {task!r} needs space_group_numbers (see symmetry_table)")
        system = _system_index(space_group_numbers.reindex(properties.index))
        mapping = {
            "crystal_system": np.arange(7),
            "crystal_family": _FAMILY_OF_SYSTEM,
            "trigonal_hexagonal": _TRIGONAL_HEXAGONAL_OF_SYSTEM,
        }[task]
        labels = np.where(system >= 0, mapping[np.maximum(system, 0)], -1)
    elif task == "metal":
        labels = _metal_labels(properties, thresholds)
    elif task == "bulk_modulus":
        labels = _threshold_labels(properties, "k_vrh", thresholds.bulk_modulus)
    elif task == "shear_modulus":
        labels = _threshold_labels(properties, "g_vrh", thresholds.shear_modulus)
    else:
        labels = _threshold_labels(properties, "e_above_hull", thresholds.stability)
    series = pd.Series(labels, index=properties.index, name=task).astype("Int64")
    return series.mask(series < 0)


def _truthy(value: object) -> bool:
    """True for True/1/"true"/"yes"; False for False/0/""/NaN/None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "t")
    return bool(value)


def _has_text(value: object) -> bool:
    """True for a non-empty warning text (NaN, None and "" are no warning)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    text = str(value).strip()
    return bool(text) and text not in ("[]", "nan")


def filter_records(
    properties: pd.DataFrame,
    *,
    symmetry: pd.DataFrame | None = None,
    drop_warned: bool = True,
    drop_deprecated: bool = True,
    ordered_only: bool = True,
) -> pd.Index:
    """The material ids that may be used for training (a subset of ``properties.index``, same order).

    Drops, when the columns exist: entries with a non-empty ``warnings`` column (``drop_warned``) or a
    true ``deprecated`` column (``drop_deprecated``) — the Materials Project download has both; and,
    with ``symmetry`` (from :func:`~crystalgenome.data.symmetry_table`), structures that are not fully
    ordered or could not be analysed (``ordered_only``).
    """
    keep = np.ones(len(properties), dtype=bool)
    if drop_warned and "warnings" in properties.columns:
        keep &= ~properties["warnings"].map(_has_text).to_numpy(dtype=bool)
    if drop_deprecated and "deprecated" in properties.columns:
        keep &= ~properties["deprecated"].map(_truthy).to_numpy(dtype=bool)
    if ordered_only and symmetry is not None:
        aligned = symmetry.reindex(properties.index)
        ordered = aligned["is_ordered"].map(_truthy).to_numpy(dtype=bool)
        analysed = aligned["error"].fillna("missing").astype(str).eq("").to_numpy(dtype=bool)
        keep &= ordered & analysed
    return properties.index[keep]


def training_labels(
    task: str,
    properties: pd.DataFrame,
    *,
    symmetry: pd.DataFrame | None = None,
    thresholds: LabelThresholds = LabelThresholds(),
    drop_warned: bool = True,
    drop_deprecated: bool = True,
    ordered_only: bool = True,
) -> pd.Series:
    """:func:`task_labels` with the :func:`filter_records` filters applied (filtered ids get ``<NA>``);
    the space-group numbers come from ``symmetry``."""
    numbers = symmetry["space_group_number"] if symmetry is not None else None
    labels = task_labels(task, properties, space_group_numbers=numbers, thresholds=thresholds)
    keep = filter_records(
        properties,
        symmetry=symmetry,
        drop_warned=drop_warned,
        drop_deprecated=drop_deprecated,
        ordered_only=ordered_only,
    )
    return labels.where(labels.index.isin(keep))
