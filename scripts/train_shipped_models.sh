#!/usr/bin/env bash
# Retrain every shipped model from the shared Materials Project data and copy the chosen runs, with their
# model cards, into src/crystalgenome/pretrained/ (seeded; deterministic on CPU).
# Usage: bash scripts/train_shipped_models.sh [RUNS_DIR]   (data from $CRYSTALGENOME_DATA_DIR or ../shared/data)
# Resumable: finished runs are skipped. About 3 hours on 2 CPU cores.
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
# Property tasks: the task's default PointNet, a candidate beside the rich trees (chosen on validation).
(
  ELASTIC=(--data "$DATA/mp_elasticity_matcalc" --data "$DATA/mp_elastic_trachote")
  pointnet() {  # name, then train options
    local name=$1; shift
    if [ -f "$RUNS/$name/evaluation/metrics.json" ]; then return; fi
    "$CG" train "$@" --seed 0 --threads 1 --out "$RUNS/$name" --no-progress > "$RUNS/$name.summary.json"
  }
  pointnet bulk_modulus_pointnet "${ELASTIC[@]}" --task bulk_modulus --epochs 40
  pointnet shear_modulus_pointnet "${ELASTIC[@]}" --task shear_modulus --epochs 40
  pointnet stability_pointnet --data "$DATA/mp_cgcnn_mtcgcnn" --labels "$DATA/mp_ehull_wyatt/mp_energy.csv" \
    --task stability --epochs 20 --class-weighting balanced
  pointnet metal_pointnet --data "$DATA/mp_cgcnn_mtcgcnn" --task metal --epochs 30
) &
# Every task: the trees (pattern and composition baselines, both, and the structure-only rich model).
OMP_NUM_THREADS=1 bash benchmarks/results/run_baselines.sh "$RUNS"
wait
.venv/bin/python scripts/ship_models.py "$RUNS"
