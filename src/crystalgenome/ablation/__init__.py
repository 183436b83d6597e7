"""Stage 6: ablations of the input — which physics of the diffraction pattern does the model use?

Each run of a study trains and evaluates one model on one perturbation of the input (one seed), on
the same data and split as every other run; runs execute in parallel as Ray tasks. ::

    from crystalgenome.ablation import StudySpec, run_study

    spec = StudySpec(data=("../shared/data/mp_cgcnn_mtcgcnn",), task="metal", epochs=15, limit=4000)
    outcome = run_study(spec, "studies/metal", perturbations="all", seeds=3, workers=2)
    print(outcome.report)          # studies/metal/report.md (+ results.csv, ablation.png)

The perturbations (:data:`PERTURBATIONS`) live in :mod:`crystalgenome.ablation.perturbations`,
the fully connected contrast network in :mod:`crystalgenome.ablation.fcnet`.
"""

from __future__ import annotations

from crystalgenome.ablation.perturbations import (
    PERTURBATIONS,
    Perturbation,
    PointClouds,
    get_perturbation,
    resolve_perturbations,
)
from crystalgenome.ablation.report import task_metrics, write_report
from crystalgenome.ablation.runner import StudyOutcome, run_study
from crystalgenome.ablation.study import StudySpec

__all__ = [
    "PERTURBATIONS",
    "Perturbation",
    "PointClouds",
    "StudyOutcome",
    "StudySpec",
    "get_perturbation",
    "resolve_perturbations",
    "run_study",
    "task_metrics",
    "write_report",
]
