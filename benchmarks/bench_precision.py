"""Does bfloat16 mixed precision cost accuracy? float32 and bfloat16 training side by side.

For each study (task, packaged model, subset of mp_cgcnn) and training seed, trains the same run twice
with ``crystalgenome train --precision float32`` and ``--precision bfloat16`` (split seed 0 for all, so
every run of a study has the same split), then prints each run's validation score with its 95%
bootstrap interval, the median training samples/s and the seconds spent in epochs, and per study the
mean difference bfloat16 − float32 and the speed ratio. Only validation scores are read: the test split
plays no part in this choice. Resumable: finished runs (summary.json present) are skipped.

    .venv/bin/python benchmarks/bench_precision.py --out runs/precision             # all studies, seeds 0 1
    .venv/bin/python benchmarks/bench_precision.py --out runs/precision --study metal_lattice --seeds 0

Data: ``--data`` or ``$CRYSTALGENOME_DATA_DIR`` (default ``../shared/data``), which must hold
``mp_cgcnn_mtcgcnn``. About 25 minutes on 2 CPU cores with bfloat16 instructions for all studies.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "bfloat16")
STUDIES: dict[str, dict[str, object]] = {
    "metal_lattice": {"task": "metal", "model": "lattice", "limit": 16000},
    "metal_default": {"task": "metal", "model": "default", "limit": 16000},
    "crystal_system_lattice_symmetry": {"task": "crystal_system", "model": "lattice_symmetry", "limit": 8000},
    "trigonal_hexagonal_lattice_symmetry": {
        "task": "trigonal_hexagonal",
        "model": "lattice_symmetry",
        "limit": 32000,
    },
}


def train_command(data: Path, study: dict[str, object], seed: int, precision: str, out: Path) -> list[str]:
    executable = Path(sys.executable).with_name("crystalgenome")
    return [
        str(executable), "train", "--data", str(data / "mp_cgcnn_mtcgcnn"), "--task", str(study["task"]),
        "--model", str(study["model"]), "--limit", str(study["limit"]), "--epochs", "30",
        "--seed", str(seed), "--split-seed", "0", "--precision", precision, "--out", str(out),
        "--no-progress",
    ]  # fmt: skip


def run_result(run_dir: Path) -> dict[str, float]:
    """Validation score with its interval, median samples/s and epoch seconds of a finished run."""
    summary = json.loads((run_dir / "summary.json").read_text())
    metric = summary["selection_metric"]
    score = summary["val"][metric] if metric in summary["val"] else summary["val"]["metrics"][metric]
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {
        "metric": metric,
        "value": score["value"],
        "low": score["low"],
        "high": score["high"],
        "samples_per_s": statistics.median(float(row["train_samples_per_s"]) for row in rows),
        "seconds": sum(float(row["seconds"]) for row in rows),
        "epochs": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder of the runs (resumed)")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--study", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="training seeds")
    args = parser.parse_args()
    data = args.data or Path(os.environ.get("CRYSTALGENOME_DATA_DIR", REPO.parent / "shared" / "data"))
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    for name in args.study:
        results: dict[str, list[dict[str, float]]] = {precision: [] for precision in PRECISIONS}
        for seed in args.seeds:
            for precision in PRECISIONS:
                run_dir = args.out / f"{name}_{precision}_s{seed}"
                if not (run_dir / "summary.json").exists():
                    command = train_command(data, STUDIES[name], seed, precision, run_dir)
                    print("$", " ".join(command), file=sys.stderr, flush=True)
                    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
                result = run_result(run_dir)
                results[precision].append(result)
                print(
                    f"{name} seed {seed} {precision:8s}: val {result['metric']} {result['value']:.4f} "
                    f"[{result['low']:.4f}, {result['high']:.4f}], {result['samples_per_s']:.0f} samples/s, "
                    f"{result['seconds']:.0f} s for {result['epochs']} epochs",
                    flush=True,
                )
        mean = {p: statistics.mean(r["value"] for r in results[p]) for p in PRECISIONS}
        speed = {p: statistics.median(r["samples_per_s"] for r in results[p]) for p in PRECISIONS}
        print(
            f"{name}: bfloat16 − float32 = {mean['bfloat16'] - mean['float32']:+.4f} (mean over seeds "
            f"{', '.join(map(str, args.seeds))}); training {speed['bfloat16'] / speed['float32']:.2f}× the "
            f"float32 samples/s\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
