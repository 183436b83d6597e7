"""Named X-ray wavelengths (Å), the same table as pymatgen's ``WAVELENGTHS``."""

from __future__ import annotations

WAVELENGTHS: dict[str, float] = {
    "CuKa": 1.54184,
    "CuKa2": 1.54439,
    "CuKa1": 1.54056,
    "CuKb1": 1.39222,
    "MoKa": 0.71073,
    "MoKa2": 0.71359,
    "MoKa1": 0.70930,
    "MoKb1": 0.63229,
    "CrKa": 2.29100,
    "CrKa2": 2.29361,
    "CrKa1": 2.28970,
    "CrKb1": 2.08487,
    "FeKa": 1.93735,
    "FeKa2": 1.93998,
    "FeKa1": 1.93604,
    "FeKb1": 1.75661,
    "CoKa": 1.79026,
    "CoKa2": 1.79285,
    "CoKa1": 1.78896,
    "CoKb1": 1.63079,
    "AgKa": 0.560885,
    "AgKa2": 0.563813,
    "AgKa1": 0.559421,
    "AgKb1": 0.497082,
}


def resolve_wavelength(wavelength: float | str) -> float:
    """Wavelength in Å from a number (Å) or a name such as ``"CuKa"`` (case-insensitive)."""
    if isinstance(wavelength, str):
        by_lower = {name.lower(): value for name, value in WAVELENGTHS.items()}
        key = wavelength.strip().lower()
        if key in by_lower:
            return by_lower[key]
        try:
            wavelength = float(key)
        except ValueError:
            names = ", ".join(WAVELENGTHS)
            raise ValueError(
                f"unknown wavelength {wavelength!r}; give a value in Å or one of: {names}"
            ) from None
    value = float(wavelength)
    if not value > 0:
        raise ValueError(f"wavelength must be positive (Å), got {value}")
    return value
