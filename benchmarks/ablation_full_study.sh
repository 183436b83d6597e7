#!/usr/bin/env bash
# The full input-ablation studies of docs/ablations/ (issue 5, section 4), one after the other.
# Resumable: run it again after an interruption and finished runs are skipped.
#   nohup benchmarks/ablation_full_study.sh [STUDIES_DIR] > ablation_study.log 2>&1 &
# Then copy STUDIES_DIR/{metal,bulk_modulus}/{report.md,results.csv,ablation.png} to docs/ablations/.
set -u
cd "$(dirname "$0")/.."
DATA="${CRYSTALGENOME_DATA_DIR:-../shared/data}"
OUT="${1:-../ablation_studies}"
COMMON=(--perturbations all --seeds 3 --epochs 10 --limit 2000 --model docs/ablations/pointnet_small.json
        --test-time-rotations 4 --val-rotations 2 --workers 2 --no-progress)
.venv/bin/crystalgenome ablate --data "$DATA/mp_cgcnn_mtcgcnn" --task metal --out "$OUT/metal" "${COMMON[@]}"
.venv/bin/crystalgenome ablate --data "$DATA/mp_elasticity_matcalc" --data "$DATA/mp_elastic_trachote" \
    --task bulk_modulus --out "$OUT/bulk_modulus" "${COMMON[@]}"
