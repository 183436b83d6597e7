"""The diffraction options of the commands, declared once: ``diffract``, ``featurize``, ``train`` and
``baseline`` share these definitions and build their settings with :func:`diffraction_options`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from crystalgenome.cli.common import parse_debye_waller


class Radiation(enum.StrEnum):
    xray = "xray"
    neutron = "neutron"
    electron = "electron"


class CellOption(enum.StrEnum):
    primitive = "primitive"
    conventional = "conventional"
    input = "input"


RadiationOption = Annotated[
    Radiation,
    typer.Option("--radiation", help="Probe: X-ray form factors, neutron lengths or electron factors."),
]
MaxMillerOption = Annotated[
    int | None, typer.Option("--max-miller", help="Miller box |h|,|k|,|l| <= N (default 3).")
]
WavelengthOption = Annotated[
    str | None,
    typer.Option("--wavelength", help="Limiting sphere |g| <= 2/λ: λ in Å or a name (CuKa, MoKa, ...)."),
]
CellChoiceOption = Annotated[
    CellOption | None,
    typer.Option(
        "--cell",
        help="Standardised primitive or conventional cell, or the input cell as given (default: "
        "primitive; for train and baseline the task's: conventional for the symmetry tasks, else primitive).",
    ),
]
SymprecOption = Annotated[float, typer.Option("--symprec", help="Symmetry tolerance for standardisation, Å.")]
DebyeWallerOption = Annotated[
    str | None, typer.Option("--debye-waller", help="Isotropic B factors, Å²: 'Na=0.5,Cl=0.6'.")
]
MaxPointsOption = Annotated[
    int | None,
    typer.Option("--max-points", help="Cap on the number of points per structure (default 200000)."),
]


DIFFRACTION_OPTIONS = (
    "radiation",
    "max_miller",
    "wavelength",
    "cell",
    "symprec",
    "debye_waller",
    "max_points",
)
"""Parameter names of the diffraction options (each command declares those it offers)."""


def diffraction_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """:class:`~crystalgenome.diffraction.DiffractionSettings` keyword arguments from a command's
    parameters (e.g. ``locals()``): the diffraction options it offers and that were given; the others
    take the settings' defaults, or the task's.

    Raises:
        ValueError: both ``--max-miller`` and ``--wavelength`` were given, or a malformed ``--debye-waller``.
    """
    given = {name: options[name] for name in DIFFRACTION_OPTIONS if options.get(name) is not None}
    if "max_miller" in given and "wavelength" in given:
        raise ValueError("give either --max-miller or --wavelength, not both")
    for name in ("radiation", "cell"):
        if name in given:
            given[name] = str(given[name])
    if "debye_waller" in given:
        given["debye_waller"] = parse_debye_waller(given["debye_waller"])
    return given
