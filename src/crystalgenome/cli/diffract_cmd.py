"""``crystalgenome diffract``: the 3D diffraction pattern of one structure file."""

from __future__ import annotations

import enum
import io
import json
from pathlib import Path

import typer

from crystalgenome.cli.common import emit, fail, parse_debye_waller, reports_errors


class Radiation(enum.StrEnum):
    xray = "xray"
    neutron = "neutron"
    electron = "electron"


class CellOption(enum.StrEnum):
    primitive = "primitive"
    conventional = "conventional"
    input = "input"


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


def diffract(
    file: Path = typer.Argument(..., help="Structure file: CIF, POSCAR/CONTCAR or pymatgen JSON."),
    radiation: Radiation = typer.Option(
        Radiation.xray, "--radiation", help="X-ray form factors, neutron lengths or electron factors."
    ),
    max_miller: int | None = typer.Option(
        None, "--max-miller", help="Miller box |h|,|k|,|l| <= N (default 3)."
    ),
    wavelength: str | None = typer.Option(
        None, "--wavelength", help="Limiting sphere |g| <= 2/λ: λ in Å or a name (CuKa, MoKa, ...)."
    ),
    cell: CellOption = typer.Option(
        CellOption.primitive, "--cell", help="Standardised primitive/conventional cell, or as given."
    ),
    symprec: float = typer.Option(0.1, "--symprec", help="Symmetry tolerance for standardisation, Å."),
    debye_waller: str | None = typer.Option(
        None, "--debye-waller", help="Isotropic B factors, Å²: 'Na=0.5,Cl=0.6'."
    ),
    max_points: int | None = typer.Option(
        None, "--max-points", help="Cap on the number of points (default 200000)."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.json, "--format", help="json (one object) or csv."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
) -> None:
    """Compute the 3D diffraction pattern (hkl, g in Å⁻¹, |F|²/V²) of one structure file."""
    if max_miller is not None and wavelength is not None:
        raise fail(f"{file}: give either --max-miller or --wavelength, not both")
    _run(
        file,
        radiation.value,
        max_miller,
        wavelength,
        cell.value,
        symprec,
        debye_waller,
        max_points,
        output_format,
        out,
    )


@reports_errors
def _run(
    file: Path,
    radiation: str,
    max_miller: int | None,
    wavelength: str | None,
    cell: str,
    symprec: float,
    debye_waller: str | None,
    max_points: int | None,
    output_format: OutputFormat,
    out: Path | None,
) -> None:
    from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
    from crystalgenome.errors import StructureError
    from crystalgenome.structures import read_structure

    try:
        settings = DiffractionSettings(
            radiation=radiation,
            max_miller=3 if max_miller is None else max_miller,
            wavelength=wavelength,
            cell=cell,
            symprec=symprec,
            debye_waller=parse_debye_waller(debye_waller),
            **({} if max_points is None else {"max_points": max_points}),
        )
    except ValueError as error:
        raise StructureError(str(file), str(error)) from None
    structure = read_structure(file)
    data = DiffractionCalculator(settings).compute(structure, name=str(file)).to_dict()
    text = json.dumps(data) if output_format is OutputFormat.json else _to_csv(data)
    emit(text, out)
