"""Names and units of the property columns every source exposes, and the aliases mapped onto them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

logger = logging.getLogger(__name__)

PROPERTY_COLUMNS: tuple[str, ...] = (
    "band_gap",
    "formation_energy_per_atom",
    "e_above_hull",
    "k_vrh",
    "g_vrh",
)
"""Canonical property columns: band gap (eV), formation energy (eV/atom), energy above the convex hull
(eV/atom), Voigt-Reuss-Hill bulk and shear moduli (GPa). ``NaN`` means unknown."""

PROPERTY_UNITS: dict[str, str] = {
    "band_gap": "eV",
    "formation_energy_per_atom": "eV/atom",
    "e_above_hull": "eV/atom",
    "k_vrh": "GPa",
    "g_vrh": "GPa",
}

NON_NEGATIVE: frozenset[str] = frozenset({"band_gap", "e_above_hull", "k_vrh", "g_vrh"})
"""Property columns whose values cannot be negative (a band gap, an energy above the hull, a modulus)."""

SHOWN_EXAMPLES = 5
"""Bad label values quoted (with their rows) in the warning about a column."""

ID_COLUMN = "material_id"
"""Name of the index of every label table."""

COLUMN_ALIASES: dict[str, str] = {
    "gap": "band_gap",
    "gap pbe": "band_gap",
    "bandgap": "band_gap",
    "e_form": "formation_energy_per_atom",
    "formation_energy": "formation_energy_per_atom",
    "energy_above_hull": "e_above_hull",
    "ehull": "e_above_hull",
    "e_hull": "e_above_hull",
    "bulk_modulus_vrh": "k_vrh",
    "K_VRH": "k_vrh",
    "elasticity.K_VRH": "k_vrh",
    "shear_modulus_vrh": "g_vrh",
    "G_VRH": "g_vrh",
    "elasticity.G_VRH": "g_vrh",
}
"""Column names seen in the wild (MP, matbench, matcalc, ...) and the canonical name each means.
All aliases have the canonical unit, so renaming is the only conversion."""

LOG10_ALIASES: dict[str, str] = {"log10(K_VRH)": "k_vrh", "log10(G_VRH)": "g_vrh"}
"""matbench stores log10 of the moduli (GPa); these are converted back with ``10**x``."""

ID_ALIASES: tuple[str, ...] = ("material_id", "mp_id", "mpid", "mp-id", "id", "task_id", "identifier")
"""Record keys recognised as the material id, in order of preference."""


def rename_aliases(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename aliased columns to their canonical names and convert matbench's log10 moduli. A canonical
    column already present wins over an alias for the same quantity (the alias keeps its own name)."""
    import numpy as np
    import pandas as pd

    renames = {
        alias: name
        for alias, name in COLUMN_ALIASES.items()
        if alias in frame.columns and name not in frame.columns
    }
    frame = frame.rename(columns=renames)
    for alias, name in LOG10_ALIASES.items():
        if alias in frame.columns and name not in frame.columns:
            frame[name] = np.power(10.0, pd.to_numeric(frame.pop(alias), errors="coerce"))
    return frame


def canonical_properties(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`rename_aliases`, then every :data:`PROPERTY_COLUMNS` column as float64 (``NaN`` when
    absent or not a number), placed first."""
    import numpy as np
    import pandas as pd

    frame = rename_aliases(frame.copy())
    for name in PROPERTY_COLUMNS:
        frame[name] = (
            pd.to_numeric(frame[name], errors="coerce").astype(float) if name in frame.columns else np.nan
        )
    ordered = list(PROPERTY_COLUMNS) + [c for c in frame.columns if c not in PROPERTY_COLUMNS]
    return frame[ordered]


def checked_properties(
    frame: pd.DataFrame, where: str, *, first_row: int = 2, numeric: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The :data:`PROPERTY_COLUMNS` of a label table read from a file, as float64, with every value
    that cannot be used reported, never silently dropped or used.

    Empty cells mean unknown. Any other value that is not a number (``abc``, ``N/A``, ``12 GPa``), not
    finite (``inf``, ``1e400``, ``nan``) or negative where impossible (:data:`NON_NEGATIVE`) becomes
    unknown too, and one warning per column names ``where``, the count and the first examples with
    their row (``first_row`` is the file line of the table's first row) and id. Columns named in
    ``numeric`` are checked the same way (numbers expected, any sign).
    """
    import numpy as np
    import pandas as pd

    frame = rename_aliases(frame.copy())
    for name in dict.fromkeys([*PROPERTY_COLUMNS, *numeric]):
        if name not in frame.columns:
            continue
        raw = frame[name]
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
        blank = raw.isna().to_numpy() | raw.astype(str).str.strip().eq("").to_numpy()
        values = numbers.to_numpy()
        problems = np.where(
            np.isnan(values) & ~blank,
            "is not a number",
            np.where(np.isinf(values), "is not finite", np.where(values < 0, "is negative", "")),
        )
        if name not in NON_NEGATIVE:
            problems[problems == "is negative"] = ""
        bad = np.flatnonzero(problems != "")
        if bad.size:
            logger.warning("%s", _bad_values_message(where, name, raw, problems, bad, first_row))
            values = values.copy()
            values[bad] = np.nan
        frame[name] = values
    return frame


def _bad_values_message(
    where: str, name: str, raw: pd.Series, problems: np.ndarray, bad: np.ndarray, first_row: int
) -> str:
    """``labels.csv: 3 k_vrh value(s) not used, ...: row 4 (id b) 'abc' is not a number; ...``."""
    examples = [
        f"row {first_row + i} (id {raw.index[i]}) {str(raw.iloc[i])!r} {problems[i]}"
        for i in bad[:SHOWN_EXAMPLES].tolist()
    ]
    more = len(bad) - len(examples)
    unit = PROPERTY_UNITS.get(name)
    expected = f" (a number in {unit} is expected)" if unit else ""
    tail = f"; and {more} more" if more else ""
    head = f"{where}: {len(bad)} {name} value(s) not used, treated as unknown{expected}"
    return f"{head}: {'; '.join(examples)}{tail}"
