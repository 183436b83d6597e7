"""Prediction end to end against featurize, on the same structure files, in one run.

    .venv/bin/python benchmarks/bench_predict.py FOLDER            # e.g. 2,000 CIFs from the shared tar
    .venv/bin/python benchmarks/bench_predict.py FOLDER --config lattice_symmetry

Prints, per file of FOLDER:

- CPU time of ``featurize`` into a temporary store (one process: parsing, standardisation, symmetry,
  batched diffraction, writing the store), the reference;
- CPU time of ``predict_files`` with this tree (one process, one torch thread), for a run whose model
  reads Friedel half-clouds (the packaged config) and for the same model as saved before half-clouds
  existed (full clouds), and of the baseline revision's ``predict`` (``--baseline``, in a subprocess on
  the second run) — each with its ratio to featurize (goal ≤ 2×);
- wall time of ``predict_files`` and of ``featurize`` with ``--workers`` processes (both cores).

The runs are untrained PointNets written as run folders (throughput does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from crystalgenome.data.sources.folder import FolderSource
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.model import PointNet, resolve_model_config
from crystalgenome.store import Backend, featurize
from crystalgenome.training import TrainConfig
from crystalgenome.workflows.predict import predict_files

BASELINE = "d1c843a"
"""The revision before batched prediction."""

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"]


def untrained_run(folder: Path, config_name: str, settings: DiffractionSettings, *, half: bool) -> Path:
    """A run folder (best.pt, dataset.json) holding a freshly initialised model; without ``half`` it is
    saved as runs were before ``friedel_half`` existed (no such key), so older code can load it too."""
    folder.mkdir(parents=True)
    model_config = resolve_model_config(config_name).replace(num_classes=len(CLASSES), friedel_half=half)
    torch.manual_seed(0)
    model = PointNet(model_config).eval()
    config_dict = model_config.to_dict()
    if not half:
        del config_dict["friedel_half"]
    train_config = TrainConfig.default_for(model_config)
    checkpoint = {
        "format": 1,
        "model_config": config_dict,
        "train_config": train_config.to_dict(),
        "normalisation": train_config.normalisation_spec().to_dict(),
        "class_names": CLASSES,
        "epoch": 0,
        "metrics": {},
        "model_state": model.state_dict(),
    }
    torch.save(checkpoint, folder / "best.pt")
    (folder / "dataset.json").write_text(json.dumps({"diffraction": settings.to_dict()}))
    return folder


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU time of this process (or of its finished children), s."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(function: object) -> tuple[object, float, float]:
    """(result, wall s, CPU s of this process and of the children that finished meanwhile)."""
    wall, cpu = time.perf_counter(), cpu_seconds() + cpu_seconds(children=True)
    result = function()
    return result, time.perf_counter() - wall, cpu_seconds() + cpu_seconds(children=True) - cpu


BASELINE_SCRIPT = """
import json, resource, sys, time, torch
torch.set_num_threads(1)
from crystalgenome.workflows.predict import predict_files
usage = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
wall, cpu = time.perf_counter(), usage()
result = predict_files(sys.argv[1], [sys.argv[2]])
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": usage() - cpu, "n": len(result.predictions)}))
"""


def baseline_predict(revision: str, run_dir: Path, folder: Path, scratch: Path) -> dict:
    """CPU and wall seconds of the baseline revision's ``predict_files`` (one process, one thread)."""
    if not (scratch / "src").is_dir():
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive, check=True)
    env = dict(os.environ, PYTHONPATH=str(scratch / "src"))
    command = [sys.executable, "-c", BASELINE_SCRIPT, str(run_dir), str(folder)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def warm_up(
    source: FolderSource, scratch: Path, settings: DiffractionSettings, *runs: Path, count: int = 20
) -> None:
    """Featurize and predict a few files first, so that no timed figure pays one-time costs (imports,
    scattering tables, symmetry library)."""
    featurize(source, scratch / "warm", settings=settings, limit=count, progress=False)
    files = sorted(source.path.iterdir())[:count]
    for run in runs:
        predict_files(run, files, workers=1, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="a folder of structure files (e.g. 2,000 CIFs)")
    parser.add_argument("--config", default="lattice", help="packaged model config of the runs")
    parser.add_argument("--cell", default="primitive", help="diffraction cell: primitive or conventional")
    parser.add_argument("--workers", type=int, default=2, help="processes for the wall-time figures")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline predict")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the one-process figures")
    args = parser.parse_args()

    torch.set_num_threads(1)
    settings = DiffractionSettings(cell=args.cell)
    source = FolderSource(args.folder)
    count = len(source)
    print(f"{count} structure files in {args.folder}; model {args.config}; diffraction {settings.to_dict()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        half_run = untrained_run(scratch / "half", args.config, settings, half=True)
        full_run = untrained_run(scratch / "full", args.config, settings, half=False)
        warm_up(source, scratch, settings, half_run, full_run)
        figures: dict[str, list[tuple[float, float, int]]] = {}
        for round_index in range(args.rounds):  # alternated, so that every figure sees the same load
            report, wall, cpu = timed(
                lambda r=round_index: featurize(
                    source, scratch / f"store-{r}", settings=settings, backend=Backend(1), progress=False
                )
            )
            figures.setdefault("featurize, 1 process", []).append((wall, cpu, report.num_featurized))
            for name, run in (("predict, half-cloud run", half_run), ("predict, full-cloud run", full_run)):
                result, wall, cpu = timed(
                    lambda run=run: predict_files(run, [args.folder], workers=1, progress=False)
                )
                figures.setdefault(name, []).append((wall, cpu, len(result.predictions)))
            old = baseline_predict(args.baseline, full_run, args.folder, scratch)
            figures.setdefault(f"predict of {args.baseline}, full-cloud run", []).append(
                (old["wall"], old["cpu"], old["n"])
            )
        reference = min(cpu for _, cpu, _ in figures["featurize, 1 process"]) / count
        print(f"\nCPU time per file, one process (predict: one torch thread), best of {args.rounds} rounds:")
        for name, values in figures.items():
            wall, cpu, done = min(values, key=lambda value: value[1])
            ratio = "" if name.startswith("featurize") else f"  = {cpu / count / reference:.2f}x featurize"
            print(f"  {name:40s} {cpu / count * 1e3:6.2f} ms ({done} done, wall {wall:6.1f} s){ratio}")
        print(f"\nwall time, {args.workers} processes:")
        report, wall, cpu = timed(
            lambda: featurize(
                source, scratch / "store2", settings=settings, backend=Backend(args.workers), progress=False
            )
        )
        print(f"  {'featurize':40s} {wall:6.1f} s ({cpu / count * 1e3:.2f} CPU-ms per file)")
        result, wall, cpu = timed(
            lambda: predict_files(half_run, [args.folder], workers=args.workers, progress=False)
        )
        rate = f"{cpu / count * 1e3:.2f} CPU-ms per file, {count / wall:.0f} files/s"
        print(f"  {'predict, half-cloud run':40s} {wall:6.1f} s ({rate})")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
