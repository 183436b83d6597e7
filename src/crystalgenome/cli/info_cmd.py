"""``crystalgenome info``: what a source folder or a feature store holds, with class counts per task."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crystalgenome.cli.common import emit, reports_errors
from crystalgenome.errors import one_line

if TYPE_CHECKING:
    import pandas as pd


_SHOWN_FAILURES = 10


class InfoFormat(enum.StrEnum):
    text = "text"
    json = "json"


def info(
    path: Annotated[
        Path, typer.Argument(help="A source (CGCNN folder, JSON file, generic folder) or a store.")
    ],
    *,
    output_format: Annotated[
        InfoFormat, typer.Option("--format", help="text (a table) or json.")
    ] = InfoFormat.text,
    symprec: Annotated[float, typer.Option("--symprec", help="Symmetry tolerance for a source, Å.")] = 0.1,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Join this label table by material id.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N of a source.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes for symmetry analysis.")] = 2,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Count the structures of a source or store and the classes of every task (crystal system, metal, ...).

    For a source, crystal systems come from a symmetry analysis at --symprec (cached after the first
    run); for a store, from the analysis done while featurizing, at the store's own symprec.
    """
    _run(
        path,
        output_format=output_format,
        symprec=symprec,
        labels=labels,
        limit=limit,
        workers=workers,
        out=out,
    )


@reports_errors
def _run(
    path: Path,
    *,
    output_format: InfoFormat,
    symprec: float,
    labels: Path | None,
    limit: int | None,
    workers: int,
    out: Path | None,
) -> None:
    from crystalgenome.store import is_store

    if is_store(path):
        summary = store_summary(path)
    else:
        summary = source_summary(path, symprec=symprec, labels=labels, limit=limit, workers=workers)
    emit(json.dumps(summary, indent=2) if output_format is InfoFormat.json else summary_text(summary), out)


def task_counts(properties: pd.DataFrame, space_group_numbers: pd.Series) -> dict[str, dict[str, int]]:
    """Per task, the number of structures in each class (every class listed, zeros included)."""
    from crystalgenome.data import TASKS, task_class_names, task_labels

    counts: dict[str, dict[str, int]] = {}
    for task in TASKS:
        names = task_class_names(task)
        labels = task_labels(task, properties, space_group_numbers=space_group_numbers).dropna()
        tally = labels.astype(int).value_counts()
        counts[task] = {name: int(tally.get(index, 0)) for index, name in enumerate(names)}
    return counts


def _property_counts(properties: pd.DataFrame) -> dict[str, int]:
    from crystalgenome.data import PROPERTY_COLUMNS

    return {
        name: int(properties[name].notna().sum()) for name in PROPERTY_COLUMNS if name in properties.columns
    }


def source_summary(
    path: Path, *, symprec: float, labels: Path | None, limit: int | None, workers: int
) -> dict[str, Any]:
    """The info report of a source (``count`` = structures covered: all, or the first ``limit``)."""
    from crystalgenome.data import detect_format, open_source

    source = open_source(path, labels=labels)
    ids = source.ids()[:limit] if limit is not None else source.ids()
    properties = source.labels().reindex(ids)
    symmetry = _symmetry(source, ids, symprec=symprec, workers=workers, whole=limit is None)
    return {
        "kind": "source",
        "path": str(path),
        "source": {**_source_block(source), "format": detect_format(path)[0]},
        "count": len(ids),
        "symprec": symprec,
        "symmetry_failures": int(symmetry["space_group_number"].isna().sum()),
        "symmetry_failed": _failures(symmetry),
        "properties": _property_counts(properties),
        "tasks": task_counts(properties, symmetry["space_group_number"]),
    }


def _failures(symmetry: pd.DataFrame) -> list[dict[str, str]]:
    """Material id and reason of every structure whose symmetry could not be analysed."""
    failed = symmetry[symmetry["space_group_number"].isna()]
    reasons = failed["error"].fillna("").astype(str).replace("", "not analysed")
    return [{"id": str(material_id), "reason": reason} for material_id, reason in reasons.items()]


def _source_block(source: Any) -> dict[str, Any]:
    return {
        "name": source.name,
        "type": type(source).__name__,
        "path": str(source.path),
        "fingerprint": source.fingerprint(),
        "count": len(source),
    }


def _symmetry(source: Any, ids: list[str], *, symprec: float, workers: int, whole: bool) -> pd.DataFrame:
    """Space-group numbers of ``ids`` (NaN where the analysis failed, with the reason in ``error``): the
    cached table of the whole source, or, for a prefix, a direct analysis of just those structures."""
    import pandas as pd

    from crystalgenome.data import symmetry_table

    if whole:
        table = symmetry_table(source, symprec=symprec, workers=workers)
        return table.reindex(ids)
    from crystalgenome.errors import StructureError
    from crystalgenome.structures import analyse_symmetry

    numbers: dict[str, float] = {}
    errors: dict[str, str] = {}
    for record in source.iter_raw(ids):
        name = record.material_id
        try:
            numbers[name] = analyse_symmetry(record.to_cell(), symprec=symprec, name=name).number
            errors[name] = ""
        except StructureError as error:
            numbers[name], errors[name] = float("nan"), error.reason
    frame = pd.DataFrame({"space_group_number": pd.Series(numbers, dtype=float), "error": pd.Series(errors)})
    return frame.reindex(ids)


def store_summary(path: Path) -> dict[str, Any]:
    """The info report of a feature store (``count`` = featurized structures)."""
    from crystalgenome.store import FeatureStore

    store = FeatureStore.open(path)
    table = store.labels()
    return {
        "kind": "store",
        "path": str(path),
        "source": store.source,
        "count": len(store),
        "skipped": len(store.skipped()),
        "settings": store.manifest["settings"],
        "settings_fingerprint": store.manifest["settings_fingerprint"],
        "fingerprint": store.fingerprint(),
        "max_num_points": store.max_num_points,
        "symprec": store.settings.symprec,
        "ordered": int(table["is_ordered"].sum()),
        "properties": _property_counts(table),
        "tasks": task_counts(table, table["space_group_number"]),
    }


def summary_text(summary: dict[str, Any]) -> str:
    """A readable table of an info report."""
    source = summary["source"]
    lines = [
        f"{summary['kind']} {summary['path']}",
        f"data: {source['name']} ({source.get('format', source['type'])}) {source['path']}, "
        f"{source['count']} structures, fingerprint {source['fingerprint']}",
        f"structures counted: {summary['count']}"
        + (f" (skipped while featurizing: {summary['skipped']})" if "skipped" in summary else ""),
    ]
    if "settings" in summary:
        settings = ", ".join(f"{key}={value}" for key, value in summary["settings"].items())
        lines.append(f"settings ({summary['settings_fingerprint']}): {settings}")
    lines.append("properties known: " + ", ".join(f"{k} {v}" for k, v in summary["properties"].items()))
    lines.extend(_failure_lines(summary))
    width = max(len(task) for task in summary["tasks"])
    lines.append("")
    lines.append(f"{'task':<{width}}  {'labelled':>8}  classes (symprec {summary['symprec']} Å)")
    for task, classes in summary["tasks"].items():
        detail = "  ".join(f"{name} {count}" for name, count in classes.items())
        lines.append(f"{task:<{width}}  {sum(classes.values()):>8}  {detail}")
    return "\n".join(lines)


def _failure_lines(summary: dict[str, Any]) -> list[str]:
    """The symmetry failures of a source report (the first ones with their reasons)."""
    failures = summary.get("symmetry_failures", 0)
    if not failures:
        return []
    listed = summary.get("symmetry_failed", [])
    lines = [
        f"symmetry analysis failed for {failures} of {summary['count']} structures "
        "(not counted in the symmetry tasks):"
    ]
    lines += [f"  {one_line(entry['id'])}: {entry['reason']}" for entry in listed[:_SHOWN_FAILURES]]
    if failures > _SHOWN_FAILURES:
        lines.append(f"  ... {failures - _SHOWN_FAILURES} more (all are listed by --format json)")
    return lines
