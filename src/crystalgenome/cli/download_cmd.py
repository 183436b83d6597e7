"""``crystalgenome download-mp``: download Materials Project structures and properties into a folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from crystalgenome.cli.common import reports_errors


def _parse_value(text: str) -> object:
    """REST criterion values: true/false -> bool, numbers -> int/float, anything else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _criteria(items: list[str] | None) -> dict[str, object]:
    criteria: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--criterion expects KEY=VALUE (e.g. nelements_max=3), got {item!r}")
        criteria[key.strip()] = _parse_value(value)
    return criteria


def download_mp(
    out_dir: Path = typer.Argument(..., help="Dataset folder to create or resume (generic folder format)."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Materials Project API key (default: $MP_API_KEY). Never printed or stored."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Download at most this many materials."),
    criterion: list[str] | None = typer.Option(
        None,
        "--criterion",
        "-c",
        help="Summary query parameter KEY=VALUE, repeatable: e.g. -c nelements_max=3 -c deprecated=false.",
    ),
    chunk_size: int = typer.Option(1000, "--chunk-size", help="Documents per request (at most 1000)."),
    max_retries: int = typer.Option(5, "--max-retries", help="Retries of a request on transient failures."),
    backoff: float = typer.Option(
        2.0, "--backoff", help="First retry delay in seconds (doubles each retry)."
    ),
    elasticity: bool = typer.Option(True, "--elasticity/--no-elasticity", help="Also fetch K_VRH and G_VRH."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="REST endpoint (default: $MP_API_ENDPOINT or the public API)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Download MP structures (CIF) and labels (band gap, energies, moduli, warnings) into OUT_DIR.

    An interrupted download resumes where it stopped when run again with the same options.
    """
    _run(out_dir, api_key, limit, criterion, chunk_size, max_retries, backoff, elasticity, endpoint, quiet)


@reports_errors
def _run(
    out_dir: Path,
    api_key: str | None,
    limit: int | None,
    criterion: list[str] | None,
    chunk_size: int,
    max_retries: int,
    backoff: float,
    elasticity: bool,
    endpoint: str | None,
    quiet: bool,
) -> None:
    from crystalgenome.data.sources.materials_project import download_materials_project

    report = download_materials_project(
        out_dir,
        api_key=api_key,
        criteria=_criteria(criterion),
        limit=limit,
        chunk_size=chunk_size,
        max_retries=max_retries,
        backoff=backoff,
        elasticity=elasticity,
        endpoint=endpoint,
        progress=not quiet,
    )
    summary = {
        "out_dir": str(report.out_dir),
        "written": report.written,
        "already_present": report.already_present,
        "available": report.available,
        "with_elasticity": report.with_elasticity,
        "failed": [{"material_id": i, "reason": r} for i, r in report.failed],
    }
    typer.echo(json.dumps(summary, indent=1))
