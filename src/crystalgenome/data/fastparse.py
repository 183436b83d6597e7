"""Fast readers that build a :class:`~crystalgenome.structures.Cell` without pymatgen's parsers.

pymatgen's CIF parser costs about 1.6 ms per structure, too slow to featurize tens of thousands
of materials in a minute. The simple P1 CIFs that pymatgen itself writes (and pymatgen
``Structure.as_dict()`` dictionaries) can be read much faster. These readers reproduce pymatgen's
result exactly: the lattice from a, b, c, α, β, γ by the same formula as
``Lattice.from_parameters``, fractional coordinates wrapped into [0, 1) as ``CifParser`` does, and
sites in the order ``CifParser`` returns them (stably sorted by electronegativity, then symbol).

Whenever a file is anything but that simple case (symmetry operations other than the identity,
partial occupancies, duplicate sites, uncertainties, oxidation-state symbols, magnetic CIFs,
multi-line values, ...), the readers return ``None`` and the caller falls back to pymatgen.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from crystalgenome.structures import Cell
from crystalgenome.structures.io import CIF_CELL_TAGS

SITE_TOLERANCE = 1e-4
"""Fractional distance under which pymatgen's ``CifParser`` merges two sites; such files fall back."""

FRAC_TOLERANCE = 1e-4
"""Relative tolerance within which ``CifParser`` snaps a coordinate to 1/3 or 2/3."""

MIN_THICKNESS = 0.01
"""Smallest interplanar spacing d(100), d(010), d(001) pymatgen accepts, Å; thinner cells fall back."""

_SYMOP_KEYS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
_XYZ_KEYS = ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z")


@cache
def electronegativities() -> dict[str, float]:
    """Pauling electronegativity of every element symbol, as pymatgen orders sites by it."""
    import warnings

    from pymatgen.core.periodic_table import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {element.symbol: float(element.X) for element in Element}


def _lattice_from_parameters(
    a: float, b: float, c: float, alpha: float, beta: float, gamma: float
) -> np.ndarray:
    """Lattice rows (Å) from lengths (Å) and angles (degrees), operation for operation as pymatgen's
    ``Lattice.from_parameters`` (so the result is bit-identical)."""
    angles_r = np.radians([alpha, beta, gamma])
    cos_alpha, cos_beta, cos_gamma = np.cos(angles_r)
    sin_alpha, sin_beta, _ = np.sin(angles_r)
    val = (cos_alpha * cos_beta - cos_gamma) / (sin_alpha * sin_beta)
    gamma_star = np.arccos(np.clip(val, -1, 1))
    vector_a = [a * sin_beta, 0.0, a * cos_beta]
    vector_b = [-b * sin_alpha * np.cos(gamma_star), b * sin_alpha * np.sin(gamma_star), b * cos_alpha]
    vector_c = [0.0, 0.0, float(c)]
    return np.array([vector_a, vector_b, vector_c], dtype=np.float64).reshape((3, 3))


def _is_identity_op(headers: list[str], rows: list[str]) -> bool:
    """True when a symmetry-operation loop holds exactly the identity 'x, y, z'."""
    if len(rows) != 1:
        return False
    row = rows[0]
    if len(headers) == 2:
        quote = min((i for i in (row.find("'"), row.find('"')) if i >= 0), default=-1)
        row = row[quote:] if quote >= 0 else row.split(None, 1)[-1]
    elif len(headers) != 1:
        return False
    return row.replace("'", "").replace('"', "").replace(" ", "").lower() == "x,y,z"


def _tokenize(text: str) -> tuple[dict[str, str], list[tuple[list[str], list[str]]]] | None:
    """Scalar tags and loops (headers, raw row lines) of a single-block CIF, or None if not simple."""
    values: dict[str, str] = {}
    loops: list[tuple[list[str], list[str]]] = []
    blocks = 0
    current: tuple[list[str], list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        head = line[0]
        if head == "_":
            key, _, rest = line.partition(" ")
            key = key.lower()
            if current is not None and not current[1]:
                if rest.strip():
                    return None
                current[0].append(key)
                continue
            current = None
            rest = rest.strip()
            if not rest:
                return None  # value on the next line(s): not the simple layout
            values[key] = rest
        elif head == "#":
            continue
        elif head in "lL" and line.lower() == "loop_":
            current = ([], [])
            loops.append(current)
        elif head in "dD" and line[:5].lower() == "data_":
            blocks += 1
            if blocks > 1:
                return None
            current = None
        elif current is not None and current[0] and head != ";":
            current[1].append(line)
        else:
            return None
    return (values, loops) if blocks == 1 else None


def _site_order(symbols: list[str]) -> list[int] | None:
    """Stable order by (electronegativity, symbol), pymatgen's default site order; None if unknown."""
    table = electronegativities()
    try:
        negativity = [table[symbol] for symbol in symbols]
    except KeyError:
        return None
    if any(math.isnan(x) for x in negativity):
        return None  # pymatgen's order is ill-defined for elements without X (noble gases)
    return sorted(range(len(symbols)), key=lambda i: (negativity[i], symbols[i]))


def _snap_thirds(frac: np.ndarray) -> np.ndarray:
    """Replace coordinates within 1e-4 (relative) of 1/3 or 2/3 by the exact value, as ``CifParser``
    does to repair finite-precision fractions such as 0.6667."""
    for ideal in (1 / 3, 2 / 3):
        frac = np.where(np.abs(frac / ideal - 1) <= FRAC_TOLERANCE, ideal, frac)
    return frac


def _has_duplicate_sites(frac: np.ndarray) -> bool:
    """True when two sites coincide within :data:`SITE_TOLERANCE` (periodic images included)."""
    if len(frac) < 2:
        return False
    diff = frac[:, None, :] - frac[None, :, :]
    diff -= np.round(diff)
    close = np.all(np.abs(diff) < SITE_TOLERANCE, axis=-1)
    np.fill_diagonal(close, False)
    return bool(close.any())


def _too_thin(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> bool:
    """True when an interplanar spacing d(100), d(010) or d(001) is below :data:`MIN_THICKNESS` Å, or
    the parameters are no cell at all (lengths not positive, angles outside (0°, 180°), not finite):
    such files go to the full reader, which says what is wrong."""
    lengths_ok = all(math.isfinite(x) and x > 0 for x in (a, b, c))
    if not (lengths_ok and all(math.isfinite(x) and 0 < x < 180 for x in (alpha, beta, gamma))):
        return True
    cosines = [math.cos(math.radians(angle)) for angle in (alpha, beta, gamma)]
    squared = 1 - sum(x * x for x in cosines) + 2 * cosines[0] * cosines[1] * cosines[2]
    if not squared > 0:
        return True
    volume = a * b * c * math.sqrt(squared)
    areas = [
        b * c * math.sin(math.radians(alpha)),
        a * c * math.sin(math.radians(beta)),
        a * b * math.sin(math.radians(gamma)),
    ]
    return any(not volume / area >= MIN_THICKNESS for area in areas)


def _ordered_cell(lattice: np.ndarray, frac: np.ndarray, symbols: list[str]) -> Cell:
    """A Cell of fully occupied sites; types numbered by first appearance, as ``Cell.from_structure``."""
    index: dict[str, int] = {}
    types = np.array([index.setdefault(symbol, len(index)) for symbol in symbols], dtype=np.int64)
    compositions = tuple({symbol: 1.0} for symbol in index)
    return Cell(lattice=lattice, frac_coords=frac, types=types, compositions=compositions)


def read_p1_cif(text: str) -> Cell | None:
    """Cell of a simple, fully ordered P1 CIF (the layout pymatgen's ``CifWriter`` produces), or None.

    The result equals ``Cell.from_structure(Structure.from_str(text, fmt="cif"))``: same lattice
    (bit for bit), same fractional coordinates (wrapped into [0, 1)), same site order and types.
    None means "not the simple case": parse it with pymatgen instead.
    """
    parsed = _tokenize(text)
    if parsed is None:
        return None
    values, loops = parsed
    tags = [*values, *(h for loop_headers, _ in loops for h in loop_headers)]
    if any("magn" in tag or "moment" in tag for tag in tags):
        return None
    try:
        parameters = [float(values[key]) for key in CIF_CELL_TAGS]
    except (KeyError, ValueError):
        return None
    symops = [(h, r) for h, r in loops if any(k in h for k in _SYMOP_KEYS)]
    atoms = [(h, r) for h, r in loops if "_atom_site_fract_x" in h]
    if len(symops) != 1 or len(atoms) != 1 or not _is_identity_op(*symops[0]):
        return None
    headers, lines = atoms[0]
    if not lines or "_atom_site_attached_hydrogens" in headers:
        return None
    if "_atom_site_type_symbol" not in headers or "_atom_site_label" not in headers:
        return None
    rows = [line.split() for line in lines]
    if any(len(row) != len(headers) for row in rows) or any(line[0] in "'\";" for line in lines):
        return None
    column = {name: index for index, name in enumerate(headers)}
    x, y, z = (column[key] for key in _XYZ_KEYS)
    occupancy = column.get("_atom_site_occupancy")
    symbol = column["_atom_site_type_symbol"]
    try:
        if occupancy is not None and any(float(row[occupancy]) != 1.0 for row in rows):
            return None
        coords = [(float(row[x]), float(row[y]), float(row[z])) for row in rows]
    except ValueError:
        return None
    symbols = [row[symbol] for row in rows]
    order = _site_order(symbols)
    if order is None or _too_thin(*parameters):
        return None
    frac = _snap_thirds(np.array(coords, dtype=np.float64)[order])
    lattice = _lattice_from_parameters(*parameters)
    if not (np.isfinite(frac).all() and np.isfinite(lattice).all()) or _has_duplicate_sites(frac):
        return None
    return _ordered_cell(lattice, frac - np.floor(frac), [symbols[i] for i in order])


def _site_amounts(site: dict) -> dict[str, float] | None:
    amounts: dict[str, float] = {}
    table = electronegativities()
    for entry in site["species"]:
        symbol = entry["element"]
        occupancy = float(entry["occu"])
        if symbol not in table or not occupancy > 1e-8:
            return None
        amounts[symbol] = amounts.get(symbol, 0.0) + occupancy
    return amounts


def cell_from_structure_dict(data: dict) -> Cell | None:
    """Cell of a pymatgen ``Structure.as_dict()`` without building the Structure, or None when the
    dictionary holds anything unusual (dummy species, missing keys): then use pymatgen.

    Equals ``Cell.from_structure(Structure.from_dict(data))`` (same site order, no wrapping).
    """
    try:
        lattice = np.array(data["lattice"]["matrix"], dtype=np.float64).reshape((3, 3))
        sites = data["sites"]
        frac = np.array([site["abc"] for site in sites], dtype=np.float64).reshape(-1, 3)
        site_amounts = [_site_amounts(site) for site in sites]
    except (KeyError, TypeError, ValueError):
        return None
    if not sites or any(a is None for a in site_amounts):
        return None
    keys: dict[tuple[tuple[str, float], ...], int] = {}
    types = np.empty(len(sites), dtype=np.int64)
    for index, amounts in enumerate(site_amounts):
        key = tuple(sorted((symbol, round(occ, 10)) for symbol, occ in amounts.items()))  # type: ignore[union-attr]
        types[index] = keys.setdefault(key, len(keys))
    compositions = tuple(dict(key) for key in keys)
    if not (np.all(np.isfinite(lattice)) and np.all(np.isfinite(frac))):
        return None
    return Cell(lattice=lattice, frac_coords=frac, types=types, compositions=compositions)
