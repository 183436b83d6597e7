"""Run a study: every (perturbation, seed) as a Ray task, on a local Ray or an existing cluster.

The driver prepares the study (X-ray stores, split), then submits one Ray task per data variant
that some pending run needs (another radiation's stores, the standardised cells for positional
noise) and one task per pending run, which Ray starts once its variant is ready. Runs are submitted
seed by seed (every perturbation of seed 0 first), so a study stopped early still covers every
perturbation. Each finished run rewrites results.csv, report.md and the chart. Runs with a
``result.json`` of status ``ok`` are skipped; failed and interrupted runs run again (an interrupted
PointNet run resumes from its ``last.pt``).

With ``ray_address`` the study folder (and the feature-store cache, for sources given without
``--limit``) must be on a file system every node sees.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystalgenome.ablation.perturbations import Perturbation, resolve_perturbations
from crystalgenome.ablation.report import write_report
from crystalgenome.ablation.study import (
    StudySpec,
    execute_run,
    failed_record,
    prepare_study,
    prepare_variant,
    read_result,
    variant_key,
    write_result,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyOutcome:
    """What :func:`run_study` did.

    Attributes:
        study_dir: the study folder.
        report: path of report.md.
        ran: runs executed by this call, as (perturbation, seed).
        skipped: runs already finished before this call.
        failed: runs of the selection whose result is ``failed``.
    """

    study_dir: Path
    report: Path
    ran: list[tuple[str, int]]
    skipped: list[tuple[str, int]]
    failed: list[tuple[str, int]]


def _is_finished(study_dir: Path, perturbation: Perturbation, seed: int) -> bool:
    record = read_result(study_dir, perturbation.name, seed)
    return record is not None and record.get("status") == "ok"


def _init_ray(workers: int, ray_address: str | None) -> bool:
    """Connect to Ray: a new local instance with ``workers`` CPUs, or the cluster at ``ray_address``.

    Returns True when this call started (and so must shut down) Ray.
    """
    import ray

    if ray.is_initialized():
        return False
    if ray_address:
        ray.init(address=ray_address, log_to_driver=False)
    else:
        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    return True


def execute_on_ray(
    study_dir: Path,
    runs: Sequence[tuple[Perturbation, int]],
    *,
    workers: int,
    ray_address: str | None,
    on_result: Callable[[dict[str, Any]], None],
    progress: bool = True,
) -> None:
    """Run ``runs`` as Ray tasks (1 CPU each), calling ``on_result`` with each record as it finishes."""
    import ray

    started_here = _init_ray(workers, ray_address)
    try:
        run_task = ray.remote(num_cpus=1, max_retries=0)(execute_run)
        variant_task = ray.remote(num_cpus=1, max_retries=0)(prepare_variant)
        keys = sorted({key for perturbation, _ in runs if (key := variant_key(perturbation)) is not None})
        variants = {key: variant_task.remote(str(study_dir), key) for key in keys}
        pending = {}
        for perturbation, seed in runs:
            key = variant_key(perturbation)
            needs = [variants[key]] if key is not None else []
            pending[run_task.remote(str(study_dir), perturbation, seed, *needs)] = (perturbation, seed)
        bar = _progress_bar(len(pending), enabled=progress)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            perturbation, seed = pending.pop(done[0])
            try:
                record = ray.get(done[0])
            except Exception as error:  # the worker died, or the data variant it waited for failed
                record = failed_record(perturbation, seed, str(error))
                write_result(study_dir, record)
            on_result(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{perturbation.name} seed {seed}: {record['status']}")
        if bar is not None:
            bar.close()
    finally:
        if started_here:
            ray.shutdown()


def _progress_bar(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="ablation runs", unit="run")


def run_study(
    spec: StudySpec,
    study_dir: str | Path,
    *,
    perturbations: str | Sequence[str | Perturbation] = "all",
    seeds: int | Sequence[int] = 3,
    workers: int = 2,
    ray_address: str | None = None,
    progress: bool = True,
    command: str | None = None,
) -> StudyOutcome:
    """Run (or finish) an ablation study in ``study_dir`` and write its report.

    Args:
        spec: what every run shares (data, task, epochs, subset, model).
        study_dir: the study folder (created; an existing one must hold the same ``spec``).
        perturbations: ``"all"``, comma-separated names, or names/:class:`Perturbation` objects
            (``baseline`` is always added).
        seeds: K (seeds 0..K−1) or explicit seeds.
        workers: CPUs of the local Ray (parallel runs) and processes for the initial featurization.
        ray_address: an existing Ray cluster (``"auto"``, ``"ray://host:10001"``); None: local Ray.
        progress: progress bars on stderr.
        command: recorded in the report (default: this process's command line).
    """
    study_dir = Path(study_dir).expanduser().resolve()
    chosen = resolve_perturbations(perturbations)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("give at least one seed")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    command = command or " ".join(shlex.quote(arg) for arg in sys.argv)
    plan = prepare_study(spec, study_dir, workers=workers, progress=progress, command=command)
    runs = [(perturbation, seed) for seed in seed_list for perturbation in chosen]
    skipped = [(p.name, s) for p, s in runs if _is_finished(study_dir, p, s)]
    pending = [(p, s) for p, s in runs if not _is_finished(study_dir, p, s)]
    logger.info("%d runs: %d finished before, %d to run", len(runs), len(skipped), len(pending))
    plan["metadata"]["command"] = command
    report = write_report(study_dir, plan, chosen, seed_list)
    if pending:
        execute_on_ray(
            study_dir, pending, workers=workers, ray_address=ray_address, progress=progress,
            on_result=lambda _record: write_report(study_dir, plan, chosen, seed_list),
        )  # fmt: skip
    report = write_report(study_dir, plan, chosen, seed_list)
    failed = [
        (p.name, s) for p, s in runs if (read_result(study_dir, p.name, s) or {}).get("status") == "failed"
    ]
    return StudyOutcome(
        study_dir=study_dir,
        report=report,
        ran=[(p.name, s) for p, s in pending],
        skipped=skipped,
        failed=failed,
    )
