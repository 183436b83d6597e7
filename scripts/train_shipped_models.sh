#!/usr/bin/env bash
# Retrain every shipped model from the shared Materials Project data and copy the chosen runs, with their
# model cards, into src/crystalgenome/pretrained/ (seeded; deterministic on CPU).
# Usage: bash scripts/train_shipped_models.sh [RUNS_DIR]   (data from $CRYSTALGENOME_DATA_DIR or ../shared/data)
# Resumable: finished runs are skipped. About 2 hours on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${CRYSTALGENOME_DATA_DIR:-../shared/data}
RUNS=${1:-runs/shipped}
CG=".venv/bin/crystalgenome"
mkdir -p "$RUNS"
# Symmetry tasks: the lattice_symmetry PointNet (train's default for them), 12 epochs.
(
  for task in trigonal_hexagonal crystal_family crystal_system; do
    if [ -f "$RUNS/${task}_pointnet/evaluation/metrics.json" ]; then continue; fi
    "$CG" train --data "$DATA/mp_cgcnn_mtcgcnn" --task "$task" --epochs 12 --seed 0 --threads 1 \
      --out "$RUNS/${task}_pointnet" --no-progress > "$RUNS/${task}_pointnet.summary.json"
  done
) &
# Every task: the trees (pattern and composition baselines, both, and the structure-only rich model).
OMP_NUM_THREADS=1 bash benchmarks/results/run_baselines.sh "$RUNS"
wait
.venv/bin/python scripts/ship_models.py "$RUNS"
