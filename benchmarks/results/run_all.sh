#!/usr/bin/env bash
# Train and evaluate the five headline tasks on the shared Materials Project data (README results table).
# Resumable: rerunning continues unfinished runs from their last.pt and skips finished ones.
# Usage: bash benchmarks/results/run_all.sh [RUNS_DIR]   (data from $CRYSTALGENOME_DATA_DIR or ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${CRYSTALGENOME_DATA_DIR:-../shared/data}
RUNS=${1:-runs/results}
EPOCHS_LARGE=${EPOCHS_LARGE:-6}
EPOCHS_SMALL=${EPOCHS_SMALL:-20}
CG=".venv/bin/crystalgenome"
mkdir -p "$RUNS"

train() {  # name, then train options
  local name=$1; shift
  if [ -f "$RUNS/$name/evaluation/metrics.json" ]; then echo "== $name: done"; return; fi
  echo "== $name: $CG train $* --out $RUNS/$name"
  "$CG" train "$@" --out "$RUNS/$name" --no-progress > "$RUNS/$name.summary.json" 2> "$RUNS/$name.log" \
    || echo "!! $name failed (see $RUNS/$name.log)"
}

ELASTIC=(--data "$DATA/mp_elasticity_matcalc" --data "$DATA/mp_elastic_trachote")
# Two chains of one-thread runs side by side (2 cores).
(
  train bulk_modulus "${ELASTIC[@]}" --task bulk_modulus --epochs "$EPOCHS_SMALL" --seed 0 --threads 1
  train shear_modulus "${ELASTIC[@]}" --task shear_modulus --epochs "$EPOCHS_SMALL" --seed 0 --threads 1
  train stability --data "$DATA/mp_cgcnn_mtcgcnn" --labels "$DATA/mp_ehull_wyatt/mp_energy.csv" \
    --task stability --epochs "$EPOCHS_LARGE" --seed 0 --threads 1
) &
(
  train metal --data "$DATA/mp_cgcnn_mtcgcnn" --task metal --epochs "$EPOCHS_LARGE" --seed 0 --threads 1
  train crystal_system --data "$DATA/mp_cgcnn_mtcgcnn" --task crystal_system --cell conventional \
    --epochs "$EPOCHS_LARGE" --seed 0 --threads 1
) &
wait
.venv/bin/python benchmarks/results/collect.py "$RUNS"
