"""Trained models behind one interface: shipped models by task name, or any run folder.

::

    import crystalgenome
    model = crystalgenome.load_model("metal")          # shipped with the package, offline
    model.predict(["my.cif", structure, atoms])        # paths, pymatgen Structures or ASE Atoms

A run folder is either a PointNet run (``crystalgenome train``) or a boosted run
(``crystalgenome baseline``); both predict from the same parsed cells, so ``predict --all`` reads
each file once for every shipped model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.errors import StructureError
from crystalgenome.structures import Cell

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
"""Shipped run folders, one per task (package data)."""

CARD_FILE = "MODEL_CARD.md"
"""A shipped model's card: data and licence, split, test metrics beside the baselines, command."""

NamedCell = tuple[str, Cell]


def shipped_models() -> list[str]:
    """Task names of the models shipped with the package, sorted."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "dataset.json").is_file())


def resolve_model_dir(model: str | Path) -> Path:
    """A run folder for ``model``: an existing folder as given, else a shipped model's task name.

    Raises:
        ValueError: neither a run folder nor a shipped model, naming the shipped ones.
    """
    path = Path(model)
    if path.is_dir():
        return path
    if str(model) in shipped_models():
        return PRETRAINED_DIR / str(model)
    shipped = ", ".join(shipped_models()) or "none"
    raise ValueError(f"{model}: neither a run folder nor a shipped model (shipped: {shipped})")


def model_card(model: str | Path) -> str:
    """The model card (Markdown) of a shipped model or run folder that has one."""
    path = resolve_model_dir(model) / CARD_FILE
    if not path.is_file():
        raise ValueError(f"{model}: no {CARD_FILE}")
    return path.read_text(encoding="utf-8")


def headline_metrics(model: str | Path) -> dict[str, Any]:
    """Task, model kind and test ROC-AUC / accuracy with 95% intervals of a run folder; ``metric`` names
    the headline one (ROC-AUC for two classes, accuracy for more, as model selection uses)."""
    run_dir = resolve_model_dir(model)
    record = json.loads((run_dir / "dataset.json").read_text(encoding="utf-8"))
    metrics_path = run_dir / "evaluation" / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    from crystalgenome.workflows.boosted import is_boosted_run

    summary: dict[str, Any] = {
        "model": str(model),
        "task": record["task"],
        "kind": "boosted trees" if is_boosted_run(run_dir) else "PointNet",
        "classes": record["class_names"],
        "test_size": record.get("split_sizes", {}).get("test"),
        "metric": "roc_auc" if len(record["class_names"]) == 2 else "accuracy",
    }
    for name in ("roc_auc", "accuracy"):
        if isinstance(metrics.get(name), dict) and metrics[name].get("value") is not None:
            summary[name] = {"value": metrics[name]["value"], "ci95": metrics[name]["ci95"]}
    return summary


def read_cell(path: Path) -> Cell:
    """A structure file as a :class:`Cell`, read as ``predict`` and ``featurize`` read it (fast P1-CIF
    reader, else pymatgen).

    Raises:
        StructureError: naming the file, when it cannot be read.
    """
    from crystalgenome.workflows.predict import file_record

    return file_record(path).to_cell()


def _checked_cell(name: str, structure: Any) -> Cell:
    try:
        return Cell.from_structure(structure)
    except StructureError:
        raise
    except (ValueError, ZeroDivisionError, IndexError) as error:
        raise StructureError(name, f"not a usable structure ({error})") from None


def as_named_cells(items: Iterable[Any]) -> tuple[list[NamedCell], list[StructureError]]:
    """``(name, Cell)`` of each file path, pymatgen ``Structure``, ASE ``Atoms`` or :class:`Cell`,
    and the errors of those that cannot be read (named by path, or by position and formula)."""
    cells: list[NamedCell] = []
    errors: list[StructureError] = []
    for index, item in enumerate(items):
        name = str(item) if isinstance(item, str | Path) else f"#{index}"
        try:
            if isinstance(item, str | Path):
                cell = read_cell(Path(item))
            elif isinstance(item, Cell):
                cell = item
            elif hasattr(item, "get_chemical_formula") and hasattr(item, "get_cell"):  # ASE Atoms
                from pymatgen.io.ase import AseAtomsAdaptor

                name = f"#{index} {item.get_chemical_formula(empirical=True)}"
                cell = _checked_cell(name, AseAtomsAdaptor.get_structure(item))
            elif hasattr(item, "lattice") and hasattr(item, "species"):  # pymatgen Structure
                name = f"#{index} {item.composition.reduced_formula}"
                cell = _checked_cell(name, item)
            else:
                raise StructureError(name, f"not a structure ({type(item).__name__})")
        except StructureError as error:
            errors.append(error)
            continue
        cells.append((name, cell))
    return cells, errors


@dataclass
class Clouds:
    """Padded point clouds (n, P, 7: g in Å⁻¹, I, h, k, l) of the cells that could be diffracted,
    with their positions in the input (``indices``) and names."""

    indices: list[int]
    names: list[str]
    points: np.ndarray
    mask: np.ndarray
    formulas: list[str]
    errors: list[StructureError] = field(default_factory=list)


def diffract_cells(settings: Any, cells: Sequence[NamedCell]) -> Clouds:
    """Diffract ``cells`` with the batched engine; the ones that fail go to ``errors``."""
    from crystalgenome.data import cell_reduced_formula
    from crystalgenome.diffraction import compute_batch

    indices, patterns, errors = [], [], []
    for index, result in enumerate(compute_batch(settings, cells)):
        if isinstance(result, StructureError):
            errors.append(result)
        else:
            indices.append(index)
            patterns.append(result)
    from crystalgenome.diffraction.clouds import PointClouds

    clouds = PointClouds.stack(
        ((pattern.point_cloud(), pattern.hkl) for pattern in patterns), with_hkl=True, min_width=1
    )
    points, mask = clouds.packed(), clouds.mask
    formulas = [cell_reduced_formula(cells[index][1]) for index in indices]
    return Clouds(indices, [cells[index][0] for index in indices], points, mask, formulas, errors)


def _predictions(names: Sequence[str], probabilities: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    return [
        {
            "file": name,
            "label": class_names[int(row.argmax())],
            "probabilities": {c: float(p) for c, p in zip(class_names, row, strict=True)},
        }
        for name, row in zip(names, probabilities, strict=True)
    ]


class Model:
    """A trained classifier (shipped or a run folder) that predicts from structures.

    Attributes:
        name: the task name of a shipped model, or the run folder as given.
        run_dir: its run folder.
        task, class_names: what it predicts (class names as the data layer's).
        kind: ``"pointnet"`` or ``"boosted"``.
    """

    def __init__(self, model: str | Path) -> None:
        from crystalgenome.workflows.boosted import is_boosted_run, load_boosted_run
        from crystalgenome.workflows.tasks import read_dataset_record

        self.name = str(model)
        self.run_dir = resolve_model_dir(model)
        record = read_dataset_record(self.run_dir)
        self.task: str = record["task"]
        self.class_names: list[str] = list(record["class_names"])
        from crystalgenome.diffraction import DiffractionSettings

        self.settings = DiffractionSettings.from_dict(record["diffraction"])
        if is_boosted_run(self.run_dir):
            self.kind = "boosted"
            self._boosted = load_boosted_run(self.run_dir)
        else:
            from crystalgenome.training import load_run

            self.kind = "pointnet"
            self._run = load_run(self.run_dir)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, task={self.task!r}, kind={self.kind!r})"

    def predict(self, structures: Iterable[Any], *, raise_errors: bool = True) -> list[dict[str, Any]]:
        """``{"file", "label", "probabilities": {class: p}}`` per structure, in input order
        (``file`` is the path, or ``#i formula`` for an in-memory structure).

        Raises:
            StructureError: the first structure that cannot be read or diffracted, unless
                ``raise_errors`` is False (then such structures are left out).
        """
        cells, errors = as_named_cells(structures)
        predictions, more = self.predict_cells(cells)
        errors += more
        if errors and raise_errors:
            raise errors[0]
        for prediction in predictions:
            del prediction["index"]
        return predictions

    def predict_cells(self, cells: Sequence[NamedCell]) -> tuple[list[dict[str, Any]], list[StructureError]]:
        """Predictions of parsed cells (input order; each also gets ``"index"``, its position in
        ``cells``), and the errors of those that cannot be diffracted."""
        if not cells:
            return [], []
        base = diffract_cells(self.settings, cells)
        if not base.names:
            return [], base.errors
        if self.kind == "pointnet":
            from crystalgenome.diffraction.clouds import BASE_CHANNELS

            points = base.points if self._run.model_config.needs_hkl else base.points[..., :BASE_CHANNELS]
            probabilities = self._run.predict_proba(np.ascontiguousarray(points), base.mask)
        else:
            probabilities = self._boosted_probabilities(cells, base)
        predictions = _predictions(base.names, probabilities, self.class_names)
        for prediction, index in zip(predictions, base.indices, strict=True):
            prediction["index"] = index
        return predictions, base.errors

    def _boosted_probabilities(self, cells: Sequence[NamedCell], base: Clouds) -> np.ndarray:
        from crystalgenome.descriptors import PatternClouds

        spec = self._boosted.spec
        clouds = None
        if spec.probes:
            chosen = [cells[index] for index in base.indices]
            points = {}
            for probe in spec.probes:
                if probe == self.settings.radiation:
                    points[probe] = base.points
                    continue
                other = diffract_cells(replace(self.settings, radiation=probe), chosen)
                points[probe] = _probe_points(base, other)
            clouds = PatternClouds(points, base.mask)
        return self._boosted.ensemble.predict_proba(spec.compute(clouds, base.formulas))


def _probe_points(base: Clouds, other: Clouds) -> np.ndarray:
    """``other``'s clouds in ``base``'s rows; NaN intensities where the probe failed (as in training)."""
    points = base.points.copy()
    from crystalgenome.diffraction.clouds import INTENSITY

    points[..., INTENSITY] = np.nan
    for row, source in zip(other.indices, other.points, strict=True):  # other ran on base's rows
        width = min(points.shape[1], source.shape[0])
        points[row, :width] = source[:width]
    return points


def load_model(model: str | Path) -> Model:
    """A shipped model by task name (``crystalgenome.load_model("metal")``) or a run folder."""
    return Model(model)


def predict_model_files(
    model: str | Path | Model, paths: Iterable[str | Path], *, batch_files: int = 512
) -> tuple[list[dict[str, Any]], list[StructureError]]:
    """``{"file", "label", "probabilities"}`` for every structure file under ``paths``, and the errors
    of the files that cannot be read or diffracted (the others are still predicted)."""
    from crystalgenome.workflows.predict import collect_structure_files

    model = model if isinstance(model, Model) else load_model(model)
    files = collect_structure_files(paths)
    predictions: list[dict[str, Any]] = []
    errors: list[StructureError] = []
    for start in range(0, len(files), batch_files):
        cells, bad = as_named_cells(files[start : start + batch_files])
        found, failed = model.predict_cells(cells)
        errors += bad + failed
        for prediction in found:
            del prediction["index"]
        predictions += found
    return predictions, errors


def predict_all(
    paths: Iterable[str | Path], models: Sequence[str] | None = None, *, batch_files: int = 512
) -> tuple[list[dict[str, Any]], list[StructureError]]:
    """Every shipped model (or ``models``) on every file, reading each file once.

    Returns one ``{"file", "predictions": {task: {"label", "probabilities"}}}`` per file that at least
    one model could predict, and the errors (each distinct one once).
    """
    from crystalgenome.workflows.predict import collect_structure_files

    loaded = [load_model(name) for name in (models or shipped_models())]
    if not loaded:
        raise ValueError("no shipped models are installed")
    files = collect_structure_files(paths)
    results: list[dict[str, Any]] = []
    errors: list[StructureError] = []
    for start in range(0, len(files), batch_files):
        cells, bad = as_named_cells(files[start : start + batch_files])
        errors += bad
        found: list[dict[str, Any]] = [{} for _ in cells]
        for model in loaded:
            predictions, failed = model.predict_cells(cells)
            errors += failed
            for prediction in predictions:
                found[prediction["index"]][model.name] = {
                    "label": prediction["label"],
                    "probabilities": prediction["probabilities"],
                }
        results += [
            {"file": name, "predictions": models_found}
            for (name, _), models_found in zip(cells, found, strict=True)
            if models_found
        ]
    return results, errors
