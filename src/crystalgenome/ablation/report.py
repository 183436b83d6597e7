"""The study's tables and report: results.csv (one row per run), report.md (mean ± std over seeds and
the change against the unperturbed model) and ablation.png (a bar chart of the headline metric)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.ablation.perturbations import Perturbation
from crystalgenome.ablation.study import read_result
from crystalgenome.utils.atomic import atomic_path, atomic_write_text

BINARY_METRICS = ("roc_auc", "accuracy", "balanced_accuracy", "f1")
MULTICLASS_METRICS = ("accuracy", "balanced_accuracy")
METRIC_TITLES = {
    "roc_auc": "ROC-AUC",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "f1": "F1",
}
CHART_FILE = "ablation.png"


def task_metrics(num_classes: int) -> tuple[str, ...]:
    """The metrics reported for a task: ROC-AUC, accuracy, balanced accuracy, F1 (binary), or
    accuracy and balanced accuracy (multi-class). The first one is the headline metric."""
    return BINARY_METRICS if num_classes == 2 else MULTICLASS_METRICS


def collect_rows(
    study_dir: Path, perturbations: Sequence[Perturbation], seeds: Sequence[int], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per (perturbation, seed), in report order; unfinished runs have status ``pending``."""
    rows = []
    for perturbation in perturbations:
        for seed in seeds:
            record = read_result(study_dir, perturbation.name, seed) or {"status": "pending"}
            values = record.get("metrics", {})
            row: dict[str, Any] = {"perturbation": perturbation.name, "seed": seed}
            row |= {name: values.get(name) for name in metrics}
            row |= {
                "status": record["status"],
                "seconds": record.get("seconds"),
                "best_epoch": record.get("best_epoch"),
                "n_test": record.get("n_test"),
                "missing": record.get("missing"),
                "mean_points": record.get("mean_real_points"),
                "error": record.get("error", ""),
            }
            rows.append(row)
    return rows


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def write_results_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``results.csv``: the rows of :func:`collect_rows` (atomic)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(rows[0]) if rows else ["perturbation", "seed"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows({key: _csv_value(value) for key, value in row.items()} for row in rows)
    atomic_write_text(path, buffer.getvalue())


@dataclass(frozen=True)
class Summary:
    """Mean and standard deviation (ddof 1; NaN for one run) of each metric over the finished seeds."""

    perturbation: Perturbation
    finished: int
    failed: int
    pending: int
    mean: dict[str, float]
    std: dict[str, float]
    delta: dict[str, float]


def summarise(
    rows: Sequence[dict[str, Any]], perturbations: Sequence[Perturbation], metrics: Sequence[str]
) -> list[Summary]:
    """Per perturbation: counts, mean ± std of each metric over ok runs, and mean − baseline mean."""
    summaries = []
    for perturbation in perturbations:
        own = [row for row in rows if row["perturbation"] == perturbation.name]
        ok = [row for row in own if row["status"] == "ok"]
        mean, std = {}, {}
        for name in metrics:
            values = np.array([row[name] for row in ok if row[name] is not None], dtype=float)
            mean[name] = float(values.mean()) if values.size else math.nan
            std[name] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        summaries.append(Summary(
            perturbation=perturbation, finished=len(ok), failed=sum(row["status"] == "failed" for row in own),
            pending=sum(row["status"] == "pending" for row in own), mean=mean, std=std, delta={},
        ))  # fmt: skip
    baseline = next((s for s in summaries if s.perturbation.name == "baseline"), None)
    for summary in summaries:
        for name in metrics:
            summary.delta[name] = summary.mean[name] - baseline.mean[name] if baseline else math.nan
    return summaries


def _mean_std(summary: Summary, name: str) -> str:
    mean, std = summary.mean[name], summary.std[name]
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _delta(summary: Summary, name: str) -> str:
    if summary.perturbation.name == "baseline":
        return "—"
    value = summary.delta[name]
    return "–" if math.isnan(value) else f"{value:+.3f}"


def markdown_table(summaries: Sequence[Summary], metrics: Sequence[str]) -> str:
    """The report's table: runs finished, then mean ± std and Δ against baseline for each metric."""
    header = ["perturbation", "runs ok"]
    for name in metrics:
        header += [METRIC_TITLES[name], "Δ"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for summary in summaries:
        runs = f"{summary.finished}" + (f" ({summary.failed} failed)" if summary.failed else "")
        runs += f" ({summary.pending} pending)" if summary.pending else ""
        cells = [f"`{summary.perturbation.name}`", runs]
        for name in metrics:
            cells += [_mean_std(summary, name), _delta(summary, name)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_chart(summaries: Sequence[Summary], metric: str, path: Path, *, title: str) -> None:
    """Horizontal bars of ``metric`` (mean ± std over seeds) per perturbation, baseline as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.perturbation.name for s in summaries]
    means = np.array([s.mean[metric] for s in summaries])
    errors = np.nan_to_num(np.array([s.std[metric] for s in summaries]))
    figure, axes = plt.subplots(figsize=(7.0, 0.32 * len(names) + 1.4))
    positions = np.arange(len(names))[::-1]
    colours = ["#4c72b0" if s.perturbation.name != "baseline" else "#dd8452" for s in summaries]
    axes.barh(positions, np.nan_to_num(means), xerr=errors, color=colours, capsize=3)
    baseline = next((s for s in summaries if s.perturbation.name == "baseline"), None)
    if baseline is not None and not math.isnan(baseline.mean[metric]):
        axes.axvline(baseline.mean[metric], color="#dd8452", linestyle="--", linewidth=1)
    finite = means[np.isfinite(means)]
    low = max(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
    low = low if metric in ("roc_auc", "accuracy", "balanced_accuracy") and low > 0.3 else 0.0
    axes.set_xlim(low, 1.0)
    for position, summary, mean, error in zip(positions, summaries, means, errors, strict=True):
        if math.isnan(mean):
            label = "failed" if summary.failed else "pending"
            axes.text(low + 0.005, position, label, va="center", fontsize=8, color="#c44e52")
        else:
            axes.text(min(mean + error, 1.0) + 0.004, position, f"{mean:.3f}", va="center", fontsize=7)
    axes.set_yticks(positions, names)
    axes.set_xlabel(f"test {METRIC_TITLES[metric]} (mean ± std over seeds)")
    axes.set_title(title)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)


def _study_lines(plan: dict[str, Any], seeds: Sequence[int]) -> list[str]:
    spec = plan["spec"]
    sizes = plan["split_sizes"]
    counts = ", ".join(f"{name}: {count}" for name, count in plan["class_counts"].items())
    subset = (
        f"a random subset (seed {spec['seed']}) of {spec['limit']} labelled structures"
        if spec["limit"] is not None
        else "every labelled structure"
    )
    model = plan["model_config"]
    return [
        f"- **Command:** `{plan['metadata'].get('command', '')}`",
        f"- **Data:** {', '.join(f'`{p}`' for p in spec['data'])}; {subset}: "
        f"{len(plan['ids'])} structures ({counts}).",
        f"- **Task:** `{plan['task']}` (classes {', '.join(plan['class_names'])}; "
        f"thresholds {plan['thresholds']}).",
        f"- **Split:** one random split (seed {spec['seed']}) for every run: train {sizes['train']}, "
        f"validation {sizes['valid']}, test {sizes['test']} (`split.json`).",
        f"- **Training:** {spec['epochs']} epochs, batch {spec['batch_size']}, Adam + cosine, "
        "best epoch on validation; "
        f"PointNet point widths {model['point_widths']}, head {model['head_widths']}; "
        f"uniform random rotations in training, {spec['test_time_rotations']} fixed test-time rotations "
        f"({spec['val_rotations']} for validation); seeds {', '.join(map(str, seeds))}.",
        f"- **Inputs:** X-ray, standardised primitive cells, Miller box N = {spec['max_miller']}; "
        "authors' normalisation. Metrics on the test split; mean ± std over seeds; "
        "Δ = mean − baseline mean.",
        f"- **Versions:** crystalgenome {plan['metadata']['versions'].get('crystalgenome')}, "
        f"torch {plan['metadata']['versions'].get('torch')}; data fingerprint `{plan['data_fingerprint']}`.",
    ]


def _interval_lines(study_dir: Path, seeds: Sequence[int], metric: str) -> list[str]:
    """The baseline's bootstrap 95% interval on the test split: the resolution of the whole table."""
    for seed in seeds:
        record = read_result(study_dir, "baseline", seed) or {}
        low, high = (record.get("intervals") or {}).get(metric, (None, None))
        if record.get("status") == "ok" and low is not None and high is not None:
            return [
                "",
                f"Test-set resolution: the baseline's {METRIC_TITLES[metric]} (seed {seed}) has a bootstrap "
                f"95% interval [{low:.3f}, {high:.3f}] over the {record.get('n_test')} test structures; "
                "the spread over seeds (± std) leaves out this sampling error of the one test split.",
            ]
    return []


def _missing_lines(rows: Sequence[dict[str, Any]], total: int) -> list[str]:
    """A note for each perturbation whose data variant lacks some of the study's structures."""
    missing: dict[str, int] = {}
    for row in rows:
        if row["status"] == "ok" and row["missing"]:
            missing[row["perturbation"]] = max(missing.get(row["perturbation"], 0), int(row["missing"]))
    if not missing:
        return []
    lines = ["", "## Structures left out", ""]
    lines += [
        f"- `{name}`: {count} of {total} structures could not be diffracted with this variant and were left "
        "out of its runs (from every split)."
        for name, count in missing.items()
    ]
    return lines


def write_report(
    study_dir: str | Path, plan: dict[str, Any], perturbations: Sequence[Perturbation], seeds: Sequence[int]
) -> Path:
    """Write results.csv, ablation.png and report.md for the runs of ``perturbations`` × ``seeds``."""
    study_dir = Path(study_dir)
    metrics = task_metrics(len(plan["class_names"]))
    rows = collect_rows(study_dir, perturbations, seeds, metrics)
    write_results_csv(study_dir / "results.csv", rows)
    summaries = summarise(rows, perturbations, metrics)
    headline = metrics[0]
    bar_chart(summaries, headline, study_dir / CHART_FILE, title=f"{plan['task']}: input ablations")
    finished = sum(row["status"] == "ok" for row in rows)
    failed = [row for row in rows if row["status"] == "failed"]
    pending = sum(row["status"] == "pending" for row in rows)
    state = "complete" if finished == len(rows) else "PARTIAL" if pending else "finished with failures"
    lines = [
        f"# Input ablations: `{plan['task']}`",
        "",
        f"**Status: {state}** — {finished} of {len(rows)} runs finished, {len(failed)} failed, "
        f"{pending} pending.",
        "",
        *_study_lines(plan, seeds),
        "",
        "## Results (test split)",
        "",
        markdown_table(summaries, metrics),
        "",
        f"![{METRIC_TITLES[headline]} per perturbation]({CHART_FILE})",
        "",
        "## Perturbations",
        "",
        *[f"- `{p.name}`: {p.description}." for p in perturbations],
    ]
    lines[lines.index(f"![{METRIC_TITLES[headline]} per perturbation]({CHART_FILE})") + 1 : 0] = (
        _interval_lines(study_dir, seeds, headline)
    )
    lines += _missing_lines(rows, len(plan["ids"]))
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{row['perturbation']}` seed {row['seed']}: {row['error']}" for row in failed]
    lines.append("")
    path = study_dir / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
