#!/usr/bin/env bash
# Train and evaluate the runs of the README results table on the shared Materials Project data.
# Resumable: rerunning continues unfinished runs from their last.pt and skips finished ones.
# Usage: bash benchmarks/results/run_all.sh [RUNS_DIR]   (data from $CRYSTALGENOME_DATA_DIR or ../shared/data)
# Then:  python benchmarks/results/collect.py RUNS_DIR   (the markdown table)
# About 3 hours on 2 CPU cores (two chains of one-thread runs side by side).
# (The crystal_system default model is lattice_symmetry; cs_lattice_contrast and cs_lattice_conv are the
# comparisons without the mirror contrast and without any contrast.)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${CRYSTALGENOME_DATA_DIR:-../shared/data}
RUNS=${1:-runs/results}
CG=".venv/bin/crystalgenome"
mkdir -p "$RUNS"

train() {  # name, then train options
  local name=$1; shift
  if [ -f "$RUNS/$name/evaluation/metrics.json" ]; then echo "== $name: done"; return; fi
  echo "== $name: $CG train $* --out $RUNS/$name"
  "$CG" train "$@" --threads 1 --out "$RUNS/$name" --no-progress > "$RUNS/$name.summary.json" 2> "$RUNS/$name.log" \
    || echo "!! $name failed (see $RUNS/$name.log)"
}

ensemble() {  # evaluate run folders as one ensemble, into the first one's evaluation_ensemble/
  echo "== ensemble: $CG evaluate $*"
  "$CG" evaluate "$@" --no-progress > "$1.ensemble.json" 2>> "$1.log" || echo "!! ensemble of $1 failed"
}

CGCNN=(--data "$DATA/mp_cgcnn_mtcgcnn")
ELASTIC=(--data "$DATA/mp_elasticity_matcalc" --data "$DATA/mp_elastic_trachote")
# With no --model/--cell, train uses the task's defaults (crystalgenome.workflows.defaults):
# crystal_system: conventional cell + lattice_symmetry; the other tasks: primitive cell + lattice.
(
  train cs_lattice_mirror "${CGCNN[@]}" --task crystal_system --epochs 20 --seed 0
  train cs_lattice_contrast "${CGCNN[@]}" --task crystal_system --model lattice_contrasts --epochs 20 --seed 0
  train cs_lattice_conv "${CGCNN[@]}" --task crystal_system --model lattice --epochs 20 --seed 0
) &
(
  train metal_lattice_e30 "${CGCNN[@]}" --task metal --epochs 30 --seed 0
  train metal_e30 "${CGCNN[@]}" --task metal --model default --epochs 30 --seed 0
  train stability_lattice_bal_e20 "${CGCNN[@]}" --labels "$DATA/mp_ehull_wyatt/mp_energy.csv" \
    --task stability --class-weighting balanced --epochs 20 --seed 0
  for task in bulk shear; do
    train ${task}_lattice_e40 "${ELASTIC[@]}" --task ${task}_modulus --epochs 40 --seed 0
    train ${task}_e40 "${ELASTIC[@]}" --task ${task}_modulus --model default --epochs 40 --seed 0
    for seed in 1 2; do
      train ${task}_lattice_e40_s$seed "${ELASTIC[@]}" --task ${task}_modulus --epochs 40 --seed $seed --split-seed 0
    done
  done
) &
wait
for name in bulk_lattice_e40 shear_lattice_e40; do
  ensemble "$RUNS/$name" "$RUNS/${name}_s1" "$RUNS/${name}_s2"
done
.venv/bin/python benchmarks/results/collect.py "$RUNS"
