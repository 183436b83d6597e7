#!/usr/bin/env bash
# Gradient-boosted tree models of the README results table, on the same splits as the PointNet runs of
# run_all.sh (same data, task defaults and split seed 0): the `pattern` summary baseline, the
# `composition` chemistry reference, `both`, and the structure-only `rich` descriptors.
# Resumable: finished runs (evaluation/metrics.json present) are skipped.
# Usage: bash benchmarks/results/run_baselines.sh [RUNS_DIR] [FEATURE_SETS] [TASKS]
#   e.g. bash benchmarks/results/run_baselines.sh runs/results "pattern rich" "metal bulk_modulus"
# About 40 minutes on one CPU core for every task and feature set.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${CRYSTALGENOME_DATA_DIR:-../shared/data}
RUNS=${1:-runs/results}
SETS=${2:-pattern composition both rich}
TASKS=${3:-bulk_modulus shear_modulus metal stability trigonal_hexagonal crystal_family crystal_system}
CG=".venv/bin/crystalgenome"
mkdir -p "$RUNS"

data_of() {
  case $1 in
    bulk_modulus|shear_modulus) echo "--data $DATA/mp_elasticity_matcalc --data $DATA/mp_elastic_trachote" ;;
    stability) echo "--data $DATA/mp_cgcnn_mtcgcnn --labels $DATA/mp_ehull_wyatt/mp_energy.csv" ;;
    *) echo "--data $DATA/mp_cgcnn_mtcgcnn" ;;
  esac
}

for task in $TASKS; do
  for features in $SETS; do
    name="${task}_gbt_${features}"
    if [ -f "$RUNS/$name/evaluation/metrics.json" ]; then echo "== $name: done"; continue; fi
    # shellcheck disable=SC2046
    echo "== $name: $CG baseline $(data_of "$task") --task $task --features $features --out $RUNS/$name"
    # shellcheck disable=SC2046
    "$CG" baseline $(data_of "$task") --task "$task" --features "$features" --split-seed 0 \
      --out "$RUNS/$name" --no-progress > "$RUNS/$name.summary.json" 2> "$RUNS/$name.log" \
      || echo "!! $name failed (see $RUNS/$name.log)"
  done
done
