"""Names and units of the property columns every source exposes, and the aliases mapped onto them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

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
