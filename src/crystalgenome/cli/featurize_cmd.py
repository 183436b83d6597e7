"""``crystalgenome featurize``: diffraction point clouds of a whole source into a resumable store."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from crystalgenome.cli.common import fail, reports_errors
from crystalgenome.cli.options import diffraction_options, with_diffraction_options
from crystalgenome.errors import one_line

_SHOWN_SKIPS = 10


@with_diffraction_options()
def featurize(
    source: Annotated[Path, typer.Argument(help="CGCNN folder, matbench/trachote JSON, or generic folder.")],
    *,
    out: Annotated[Path, typer.Option("--out", help="Store folder (created; an interrupted run resumes).")],
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Local worker processes (1 = this one).")
    ] = 2,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Run shards on this Ray cluster.")
    ] = None,
    use_ray: Annotated[
        bool, typer.Option("--ray", help="Run shards on a local Ray with --workers CPUs.")
    ] = False,
    diffraction: dict[str, Any],
    shard_size: Annotated[int, typer.Option("--shard-size", min=1, help="Structures per shard file.")] = 512,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Join this label table by material id.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="Only the first N structures.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
) -> None:
    """Featurize every structure of SOURCE into a feature store (HDF5 shards, labels, skipped report)."""
    if diffraction.get("max_miller") is not None and diffraction.get("wavelength") is not None:
        raise fail("give either --max-miller or --wavelength, not both")
    if ray_address is not None and use_ray:
        raise fail("give either --ray-address or --ray, not both")
    _run(
        source,
        out,
        settings_options=diffraction,
        backend_options={
            "workers": workers,
            "use_ray": use_ray or ray_address is not None,
            "ray_address": ray_address,
        },
        shard_size=shard_size,
        labels=labels,
        limit=limit,
        progress=progress,
    )


@reports_errors
def _run(
    source_path: Path,
    out: Path,
    *,
    settings_options: dict,
    backend_options: dict,
    shard_size: int,
    labels: Path | None,
    limit: int | None,
    progress: bool,
) -> None:
    from crystalgenome.data import open_source
    from crystalgenome.diffraction import DiffractionSettings
    from crystalgenome.store import Backend, featurize

    settings = DiffractionSettings(**diffraction_options(settings_options))
    backend = Backend(**backend_options)
    source = open_source(source_path, labels=labels)
    report = featurize(
        source, out, settings=settings, backend=backend, shard_size=shard_size, limit=limit, progress=progress
    )
    if report.resumed:
        print(
            f"resumed {out}: {report.resumed} of {report.num_structures} structures were already in finished "
            "shards of an earlier run",
            file=sys.stderr,
        )
    print(
        f"{report.num_featurized} of {report.num_structures} structures featurized into {out} "
        f"({report.shards_computed} shards computed, {report.shards_reused} reused, "
        f"{len(report.skipped)} skipped; {report.seconds:.1f} s on {backend.describe()})"
    )
    if report.skipped:
        _print_skipped(report.skipped, out)


def _print_skipped(skipped: tuple[tuple[str, str], ...], out: Path) -> None:
    """The first skipped structures and the commonest reasons, on stderr; the full list is in the store."""
    for material_id, reason in skipped[:_SHOWN_SKIPS]:
        print(f"skipped {one_line(material_id)}: {reason}", file=sys.stderr)
    rest = skipped[_SHOWN_SKIPS:]
    if rest:
        print(f"... {len(rest)} more ({reason_summary([reason for _, reason in rest])})", file=sys.stderr)
    print(f"all skipped structures and reasons: {out / 'skipped.csv'}", file=sys.stderr)


def reason_summary(reasons: list[str], kinds: int = 5) -> str:
    """``"3 × cell length a is 0 Å; 2 × file is empty; 4 other"``: the commonest kinds of ``reasons``
    (text before the first ':', '(' or '['), counts adding up to ``len(reasons)``."""
    tally = Counter(re.split(r"[:(\[]", reason, maxsplit=1)[0].strip() or reason for reason in reasons)
    shown = tally.most_common(kinds)
    parts = [f"{count} × {kind}" for kind, count in shown]
    other = len(reasons) - sum(count for _, count in shown)
    return "; ".join(parts + ([f"{other} other"] if other else []))
