"""Options shared by several commands, declared once: the diffraction options (``diffract``,
``featurize``, ``train`` and ``baseline`` get them from :func:`with_diffraction_options` and build their
settings with :func:`diffraction_options`) and the task-data options of ``train`` and ``baseline``."""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
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


TASK_HELP = (
    "crystal_system, crystal_family, trigonal_hexagonal, metal, bulk_modulus, shear_modulus, stability"
)
THRESHOLD_HELP = "Class threshold: K/G_VRH in GPa, e_above_hull in eV/atom; for metal the insulator gap, eV."

DataOption = Annotated[
    list[Path], typer.Option("--data", help="Dataset or feature store; repeat to join several.")
]
TaskOption = Annotated[str, typer.Option("--task", help=TASK_HELP)]
ThresholdOption = Annotated[float | None, typer.Option("--threshold", help=THRESHOLD_HELP)]
SplitOption = Annotated[
    str, typer.Option("--split", help="random, grouped, a split JSON or an authors' CSV.")
]
LabelsOption = Annotated[
    Path | None, typer.Option("--labels", help="Extra label table joined by material id.")
]
ClassWeightingOption = Annotated[str | None, typer.Option("--class-weighting", help="none or balanced.")]
LimitOption = Annotated[
    int | None, typer.Option("--limit", help="Use only the first N structures of each source.")
]
WorkersOption = Annotated[int, typer.Option("--workers", help="Processes for featurizing a source.")]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress")]


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


_DECLARED: dict[str, tuple[Any, Any]] = {
    "radiation": (RadiationOption, Radiation.xray),
    "max_miller": (MaxMillerOption, None),
    "wavelength": (WavelengthOption, None),
    "cell": (CellChoiceOption, None),
    "symprec": (SymprecOption, 0.1),
    "debye_waller": (DebyeWallerOption, None),
    "max_points": (MaxPointsOption, None),
}


def with_diffraction_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the diffraction options ``names`` (default: all of them).

    The command declares a ``diffraction`` parameter where the options go in its signature (and in
    ``--help``); it is called with the values of those options as one dict, ready for
    :func:`diffraction_options`.
    """
    chosen = names or DIFFRACTION_OPTIONS
    unknown = set(chosen) - set(DIFFRACTION_OPTIONS)
    if unknown:
        raise ValueError(f"not diffraction options: {sorted(unknown)}")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        parameters = list(signature.parameters.values())
        at = [parameter.name for parameter in parameters].index("diffraction")
        kind = parameters[at].kind
        options = [
            inspect.Parameter(name, kind, annotation=_DECLARED[name][0], default=_DECLARED[name][1])
            for name in chosen
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            diffraction = {name: kwargs.pop(name) for name in chosen if name in kwargs}
            return command(*args, diffraction=diffraction, **kwargs)

        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*parameters[:at], *options, *parameters[at + 1 :]]
        )
        wrapper.__annotations__ = {}
        return wrapper

    return decorate
