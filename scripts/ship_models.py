"""Copy the chosen run of every task into the package (src/crystalgenome/pretrained/TASK/) with a model card.

Usage: python scripts/ship_models.py RUNS_DIR [--dest src/crystalgenome/pretrained]

RUNS_DIR holds the runs made by scripts/train_shipped_models.sh. For each task the candidate with the best
*validation* score is shipped (the test split plays no part in the choice); its card shows its test metrics
beside the `pattern` and `composition` baselines measured on the same test structures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

CANDIDATES: dict[str, list[str]] = {
    "crystal_system": ["crystal_system_pointnet", "crystal_system_gbt_rich"],
    "crystal_family": ["crystal_family_pointnet", "crystal_family_gbt_rich"],
    "trigonal_hexagonal": ["trigonal_hexagonal_pointnet", "trigonal_hexagonal_gbt_rich"],
    "metal": ["metal_gbt_rich", "metal_pointnet"],
    "bulk_modulus": ["bulk_modulus_gbt_rich", "bulk_modulus_pointnet"],
    "shear_modulus": ["shear_modulus_gbt_rich", "shear_modulus_pointnet"],
    "stability": ["stability_gbt_rich", "stability_pointnet"],
}
"""Structure-only candidates per task (composition models are references, never shipped)."""

SHIPPED_FILES = ("dataset.json", "boosted.json", "trees.npz", "best.pt", "config.json", "metadata.json")

DATA_NOTES = {
    "mp_cgcnn_mtcgcnn": "36,738 Materials Project crystals with DFT properties, as collected for MT-CGCNN "
    "(kdmsit/mt-cgcnn, MIT licence)",
    "mp_elasticity_matcalc": "Materials Project PBE elasticity data of binaries (materialsvirtuallab/matcalc "
    "benchmark data, BSD-3-Clause; de Jong et al., Sci. Data 2, 150009 (2015))",
    "mp_elastic_trachote": "Materials Project elastic tensors (trachote/predict_elastic_tensor, MIT licence; "
    "de Jong et al., Sci. Data 2, 150009 (2015))",
    "mp_ehull_wyatt": "Materials Project energies above the hull (WyattBunstine/ML_SC_Project)",
}

CAVEATS = {
    "crystal_system": "Labels and patterns both come from cells standardised by moyopy at symprec 0.1 Å; the "
    "standardisation idealises the metric, which the model reads. Expect lower accuracy on raw experimental "
    "cells whose symmetry is broken by noise beyond that tolerance.",
    "metal": "DFT (PBE) band gaps underestimate real gaps: 'metal' means a PBE gap below 1e-6 eV. The "
    "composition baseline is stronger than this structure-only model on this task.",
    "stability": "Stability depends on competing phases that are not in a structure's own pattern; the "
    "model ranks structures, it does not compute a hull.",
}


GENERAL_CAVEAT = "Trained on Materials Project DFT data: chemistries far from it are extrapolations."


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def validation_score(run_dir: Path) -> float:
    """The run's model-selection score on its validation split (never the test split)."""
    if (run_dir / "boosted.json").is_file():
        return float(_json(run_dir / "boosted.json")["selection"]["valid"])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    key = next(k for k in ("val_roc_auc", "val_accuracy") if k in rows[0])
    return max(float(row[key]) for row in rows)


def _test_ids_hash(run_dir: Path) -> str:
    test = _json(run_dir / "splits.json")["test"]
    return hashlib.sha256("\n".join(sorted(test)).encode()).hexdigest()[:16]


def _second_metric(name: str) -> str:
    """The card's second column: accuracy beside ROC-AUC, balanced accuracy beside accuracy."""
    return "balanced_accuracy" if name == "accuracy" else "accuracy"


def _metric_line(label: str, metrics: dict[str, Any], name: str) -> str:
    entry = metrics[name]
    low, high = entry["ci95"]
    second = metrics[_second_metric(name)]["value"]
    return f"| {label} | {entry['value']:.3f} [{low:.3f}, {high:.3f}] | {second:.3f} |"


def _probes_note(run_dir: Path) -> str:
    """Which probes' patterns a boosted run's descriptors read besides the cell's own radiation."""
    if not (run_dir / "boosted.json").is_file():
        return "."
    pattern = _json(run_dir / "boosted.json")["features"].get("pattern") or {}
    probes = [probe for probe in pattern.get("probes", ["xray"]) if probe != "xray"] + ["unit"]
    probes = list(dict.fromkeys(probes))
    return f" (the trees' descriptors also read {', '.join(probes)}-scatterer patterns of the same cell)."


def _describe(run_dir: Path) -> str:
    if (run_dir / "boosted.json").is_file():
        record = _json(run_dir / "boosted.json")
        return (
            f"gradient-boosted trees ({record['rounds']} rounds, scikit-learn HistGradientBoosting "
            f"exported to numpy arrays) on {len(record['feature_names'])} rotation-invariant descriptors "
            f"of the '{record['features']['name']}' set"
        )
    config = _json(run_dir / "config.json")["model_config"]
    return (
        f"PointNet, lattice frame (exactly rotation invariant), widths {config.get('point_widths')} → "
        f"{config.get('head_widths')}, cell contrasts {config.get('cell_contrasts')}, mirror contrast "
        f"{config.get('mirror_contrast')}"
    )


def _command(task: str, run_name: str) -> str:
    data = {
        "bulk_modulus": "--data $DATA/mp_elasticity_matcalc --data $DATA/mp_elastic_trachote",
        "shear_modulus": "--data $DATA/mp_elasticity_matcalc --data $DATA/mp_elastic_trachote",
        "stability": "--data $DATA/mp_cgcnn_mtcgcnn --labels $DATA/mp_ehull_wyatt/mp_energy.csv",
    }.get(task, "--data $DATA/mp_cgcnn_mtcgcnn")
    if "_gbt_" in run_name:
        features = run_name.split("_gbt_")[1]
        return f"crystalgenome baseline {data} --task {task} --features {features} --split-seed 0 --out OUT"
    return f"crystalgenome train {data} --task {task} --epochs 12 --seed 0 --threads 1 --out OUT"


def model_card(task: str, run_dir: Path, runs: Path, chosen_from: dict[str, float]) -> str:
    record = _json(run_dir / "dataset.json")
    metrics = _json(run_dir / "evaluation" / "metrics.json")
    name = "roc_auc" if len(record["class_names"]) == 2 else "accuracy"
    sources = sorted({Path(path).name for path in record["data"]})
    if record.get("labels"):
        sources.append(Path(record["labels"]).parent.name)
    settings = record["diffraction"]
    lines = [
        f"# crystalgenome shipped model: `{task}`",
        "",
        f"Predicts **{task}** ({', '.join(record['class_names'])}) from crystal structure alone: "
        f"{_describe(run_dir)}. No element identity is an input.",
        "",
        "## Test metrics (95% bootstrap intervals), beside the baselines on the same test structures",
        "",
        f"| model | {name} | {_second_metric(name).replace('_', ' ')} |",
        "| --- | --- | --- |",
        _metric_line(f"**this model** (`{run_dir.name}`)", metrics, name),
    ]
    baselines = (
        ("pattern", "pattern summary + trees (baseline)"),
        ("composition", "element fractions + trees (chemistry reference)"),
    )
    for baseline, label in baselines:
        other = runs / f"{task}_gbt_{baseline}"
        if (other / "evaluation" / "metrics.json").is_file():
            if _test_ids_hash(other) != _test_ids_hash(run_dir):
                raise SystemExit(f"{other}: not on the same test split as {run_dir}")
            lines.append(_metric_line(label, _json(other / "evaluation" / "metrics.json"), name))
        else:
            lines.append(f"| {label} | not measured for this release | |")
    sizes = record["split_sizes"]
    lines += [
        "",
        f"Test split: {sizes['test']} structures (fingerprint of its ids `{_test_ids_hash(run_dir)}`), never "
        "used for training, for choosing rounds/epochs, or for choosing this model among the candidates "
        "(validation scores: " + ", ".join(f"`{k}` {v:.4f}" for k, v in chosen_from.items()) + ").",
        "",
        "## Data and licence",
        "",
        *(f"- `{source}`: {DATA_NOTES.get(source, 'see its SOURCE.md')}" for source in sources),
        '- Underlying data: the Materials Project, licensed CC BY 4.0. Cite A. Jain et al., "The Materials '
        'Project", APL Mater. 1, 011002 (2013).',
        "",
        "## Split and preprocessing",
        "",
        f"- Split: {record['split']} 70/15/15, seed {record['split_seed']}: {sizes['train']} train / "
        f"{sizes['val']} validation / {sizes['test']} test (the same split as `crystalgenome train` makes).",
        f"- Labels: thresholds {record['thresholds']} (the published code's defaults).",
        f"- Cell: the {settings['cell']} cell standardised by {settings['symmetry_backend']} at symprec "
        f"{settings['symprec']} Å; Miller box |h|,|k|,|l| ≤ {settings['max_miller']}; "
        f"{settings['radiation']} pattern{_probes_note(run_dir)}",
        f"- Data fingerprint: `{record['data_fingerprint']}`.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "DATA=../shared/data   # the shared Materials Project datasets",
        _command(task, run_dir.name),
        "# or every shipped model at once: bash scripts/train_shipped_models.sh runs/shipped",
        "```",
        "Seeded and deterministic on CPU.",
        "",
        "## Caveats",
        "",
        f"- {CAVEATS.get(task, GENERAL_CAVEAT)}",
        "- Metrics come from one random split of one dataset; the intervals cover resampling of the test "
        "set, "
        "not other datasets or experimental structures.",
        "",
    ]
    return "\n".join(lines)


def _sanitised_record(run_dir: Path) -> dict[str, Any]:
    """dataset.json without this machine's paths."""
    record = _json(run_dir / "dataset.json")
    record["data"] = [Path(path).name for path in record["data"]]
    record["labels"] = None if record.get("labels") is None else Path(record["labels"]).name
    record["stores"] = []
    return record


def _without_run_paths(text: str, run_dir: Path, task: str) -> str:
    """``text`` with the training machine's path of ``run_dir`` (as given and resolved) replaced by
    ``task``: shipped files name no folder of the machine that trained them."""
    paths = {str(run_dir.resolve()), str(run_dir.absolute()), str(run_dir)}
    for path in sorted(paths, key=len, reverse=True):
        text = text.replace(path, task)
    return text


def ship(task: str, runs: Path, dest: Path) -> str:
    scores = {name: validation_score(runs / name) for name in CANDIDATES[task] if (runs / name).is_dir()}
    if not scores:
        raise SystemExit(f"{task}: none of {CANDIDATES[task]} in {runs}")
    chosen = runs / max(scores, key=scores.get)
    target = dest / task
    if target.exists():
        shutil.rmtree(target)
    (target / "evaluation").mkdir(parents=True)
    for name in SHIPPED_FILES:
        if (chosen / name).is_file() and name != "dataset.json":
            if name.endswith(".json"):
                (target / name).write_text(_without_run_paths((chosen / name).read_text(), chosen, task))
            else:
                shutil.copy2(chosen / name, target / name)
    (target / "dataset.json").write_text(json.dumps(_sanitised_record(chosen), indent=2) + "\n")
    metrics = _json(chosen / "evaluation" / "metrics.json")
    metrics["run_dir"] = task
    text = _without_run_paths(json.dumps(metrics, indent=2) + "\n", chosen, task)
    (target / "evaluation" / "metrics.json").write_text(text)
    (target / "MODEL_CARD.md").write_text(model_card(task, chosen, runs, scores))
    return chosen.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--dest", type=Path, default=Path("src/crystalgenome/pretrained"))
    parser.add_argument("--tasks", nargs="*", default=list(CANDIDATES))
    args = parser.parse_args(argv)
    for task in args.tasks:
        print(f"{task}: shipped {ship(task, args.runs, args.dest)}", file=sys.stderr)


if __name__ == "__main__":
    main()
