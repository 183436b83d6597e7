"""``crystalgenome diffract``: the 3D diffraction pattern of one structure file."""

from __future__ import annotations

import enum
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from crystalgenome.cli.common import emit, fail, reports_errors
from crystalgenome.cli.options import diffraction_options, with_diffraction_options


class OutputFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


def _to_csv(data: dict) -> str:
    buffer = io.StringIO()
    buffer.write("h,k,l,gx,gy,gz,g_norm,intensity\n")
    for (h, k, l), (gx, gy, gz), g_norm, value in zip(
        data["hkl"], data["g"], data["g_norm"], data["intensity"], strict=True
    ):
        buffer.write(f"{h},{k},{l},{gx:.10g},{gy:.10g},{gz:.10g},{g_norm:.10g},{value:.10g}\n")
    return buffer.getvalue()


@with_diffraction_options()
def diffract(
    file: Annotated[Path, typer.Argument(help="Structure file: CIF, POSCAR/CONTCAR or pymatgen JSON.")],
    diffraction: dict[str, Any],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="json (one object) or csv.")
    ] = OutputFormat.json,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Compute the 3D diffraction pattern (hkl, g in Å⁻¹, |F|²/V²) of one structure file."""
    if diffraction.get("max_miller") is not None and diffraction.get("wavelength") is not None:
        raise fail(f"{file}: give either --max-miller or --wavelength, not both")
    _run(file, diffraction, output_format, out)


@reports_errors
def _run(file: Path, options: dict, output_format: OutputFormat, out: Path | None) -> None:
    from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
    from crystalgenome.errors import StructureError
    from crystalgenome.structures import read_structure

    try:
        settings = DiffractionSettings(**diffraction_options(options))
    except ValueError as error:
        raise StructureError(str(file), str(error)) from None
    structure = read_structure(file)
    data = DiffractionCalculator(settings).compute(structure, name=str(file)).to_dict()
    text = json.dumps(data) if output_format is OutputFormat.json else _to_csv(data)
    emit(text, out)
