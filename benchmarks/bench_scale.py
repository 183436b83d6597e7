"""Featurize and train at scale (issue 10, part 3): 300,000 structures on one 2-core, 24 GiB machine.

Steps (``--steps``, default ``source,featurize,train,ray``), each skipped when its output already
exists and its figures are in the results (so an interrupted benchmark resumes):

1. ``source``: ten randomly strained copies of the mp_cgcnn_mtcgcnn structures, written once as a
   CGCNN folder (``id_prop.csv``, ``material_id_hash.csv``, ``cifs.tar.gz``: one archive, not 300k
   files) under ``SCRATCH/strained``. Copy k of structure i has the id ``<mp-id>-s<k>`` and the
   labels of structure i; its lattice L becomes L (1 + ε), ε a random symmetric strain (entries
   uniform in ±``--strain``, seeded), fractional coordinates unchanged. The first ``--count`` // 10
   source structures are used, each ten times.
2. ``featurize``: ``crystalgenome featurize SRC --out SCRATCH/store --workers 2``.
3. ``train``: ``crystalgenome train --data SCRATCH/store --task metal --epochs 1 --out SCRATCH/run``
   (the task's default model), with the time and peak memory of each phase (from when the run's
   files were written).
4. ``ray``: the featurize of step 2 on a Ray cluster of local processes, started as a user with a
   cluster would: ``ray start --head --num-cpus 2``, then ``crystalgenome featurize SRC --out
   SCRATCH/store-ray --ray-address auto [--limit --ray-limit]``. The head runs with ``--block`` as a
   child of this script and is stopped with SIGTERM to its process id (a user types ``ray stop``, which
   stops every Ray on the machine).
5. ``load`` (not by default): only what ``train`` does before its first batch (load the store,
   build the training tensors). ``PYTHONPATH=OLD/src ... --steps load --label=_before`` measures an
   older crystalgenome; ``--label`` also names the results of ``train``.

Every command runs as a child process and is measured from outside: wall time; CPU time and the
largest single-process peak RSS of its process tree (``wait4`` rusage: exact); and the peak of the
summed PSS of the tree (for Ray: of the driver plus every process of the cluster, whose CPU time is
added too), sampled every 0.5 s (PSS splits shared pages between processes, so the sum is what the
tree occupies).

Usage::

    python benchmarks/bench_scale.py [--scratch DIR (default: the user cache's bench-scale/)] [--count 300000]
        [--steps source,featurize,train,ray] [--ray-limit N] [--threads N] [--label NAME]

Results go to ``SCRATCH/results.json`` (one entry per step, kept across runs) and a table on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COPIES = 10
_CELL_TAGS = (  # crystalgenome.structures.io.CIF_CELL_TAGS, kept here: --steps load also runs old trees
    "_cell_length_a",
    "_cell_length_b",
    "_cell_length_c",
    "_cell_angle_alpha",
    "_cell_angle_beta",
    "_cell_angle_gamma",
)
_CELL_LINE = re.compile(r"^(_cell_(?:length_[abc]|angle_(?:alpha|beta|gamma)|volume))[ \t]+\S+[ \t]*$", re.M)


def default_data() -> Path:
    root = os.environ.get("CRYSTALGENOME_DATA_DIR")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    return base / "mp_cgcnn_mtcgcnn"


# ----------------------------------------------------------------------------- strained source


def lattice_from_parameters(parameters: np.ndarray) -> np.ndarray:
    """Lattice rows (Å) from (a, b, c, α, β, γ) (lengths Å, angles degrees); c along z."""
    a, b, c = parameters[:3]
    alpha, beta, gamma = np.radians(parameters[3:])
    cos_gamma_star = (np.cos(alpha) * np.cos(beta) - np.cos(gamma)) / (np.sin(alpha) * np.sin(beta))
    gamma_star = np.arccos(np.clip(cos_gamma_star, -1.0, 1.0))
    return np.array(
        [
            [a * np.sin(beta), 0.0, a * np.cos(beta)],
            [
                -b * np.sin(alpha) * np.cos(gamma_star),
                b * np.sin(alpha) * np.sin(gamma_star),
                b * np.cos(alpha),
            ],
            [0.0, 0.0, c],
        ]
    )


def parameters_of(lattices: np.ndarray) -> np.ndarray:
    """(..., 6) cell parameters (a, b, c, α, β, γ) of (..., 3, 3) lattice rows."""
    lengths = np.linalg.norm(lattices, axis=-1)
    a, b, c = (lattices[..., i, :] for i in range(3))

    def angle(u: np.ndarray, v: np.ndarray, nu: np.ndarray, nv: np.ndarray) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1) / (nu * nv), -1.0, 1.0)))

    alpha = angle(b, c, lengths[..., 1], lengths[..., 2])
    beta = angle(a, c, lengths[..., 0], lengths[..., 2])
    gamma = angle(a, b, lengths[..., 0], lengths[..., 1])
    return np.concatenate([lengths, np.stack([alpha, beta, gamma], axis=-1)], axis=-1)


def strained_cifs(text: str, strains: np.ndarray) -> list[str] | None:
    """``text`` (a CIF with cell parameters) once per strain ε of ``strains`` (k, 3, 3), its lattice L
    replaced by L (1 + ε); None when the CIF lacks a cell parameter. Fractional coordinates and all
    else are kept."""
    found = {match.group(1): match.group(0) for match in _CELL_LINE.finditer(text)}
    if not all(tag in found for tag in _CELL_TAGS):
        return None
    try:
        parameters = np.array([float(found[tag].split()[1]) for tag in _CELL_TAGS])
    except ValueError:
        return None
    lattices = lattice_from_parameters(parameters) @ (np.eye(3) + strains)
    table = parameters_of(lattices)
    volumes = np.abs(np.linalg.det(lattices))
    texts = []
    for values, volume in zip(table, volumes, strict=True):
        lookup = dict(zip(_CELL_TAGS, values, strict=True))
        lookup["_cell_volume"] = volume
        texts.append(
            _CELL_LINE.sub(lambda match, v=lookup: f"{match.group(1)}   {v[match.group(1)]:.8f}", text)
        )
    return texts


def random_strains(count: int, amplitude: float, seed: int) -> np.ndarray:
    """(count, 3, 3) symmetric strains with entries uniform in ±amplitude."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(-amplitude, amplitude, size=(count, 3, 3))
    return (raw + raw.transpose(0, 2, 1)) / 2


def build_strained_source(
    data: Path, out: Path, count: int, *, amplitude: float, seed: int
) -> dict[str, Any]:
    """Write ``count`` strained copies (``COPIES`` per structure) of the CGCNN folder ``data`` as a CGCNN
    folder ``out`` (written to a temporary folder, then renamed: ``out`` exists only when complete)."""
    import pandas as pd

    from crystalgenome.data.sources.cgcnn import CgcnnSource

    source = CgcnnSource(data)
    wanted = -(-count // COPIES)
    ids = source.ids()[:wanted]
    labels = source.labels().loc[ids]
    properties = ["formation_energy_per_atom", "band_gap", "efermi", "volume", "total_magnetization"]
    strains = random_strains(wanted * COPIES, amplitude, seed)
    temporary = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    values = labels[properties].to_numpy().tolist()
    rows, hashes, unusable = [], [], 0
    with tarfile.open(temporary / "cifs.tar.gz", "w:gz", compresslevel=1) as archive:
        for position, record in enumerate(source.iter_raw(ids)):
            copies = min(COPIES, count - len(rows))
            text = record.payload if isinstance(record.payload, str) and not record.error else ""
            strained = strained_cifs(text, strains[position * COPIES : position * COPIES + copies])
            if strained is None:  # kept unstrained (an empty text is reported as skipped by featurize)
                unusable += copies
                strained = [text] * copies
            for copy, member_text in enumerate(strained):
                data_bytes = member_text.encode()
                member = tarfile.TarInfo(f"cifs/{len(rows)}.cif")
                member.size = len(data_bytes)
                archive.addfile(member, io.BytesIO(data_bytes))
                hashes.append((len(rows), f"{record.material_id}-s{copy}"))
                rows.append([len(rows), *values[position]])
    written = len(rows)
    pd.DataFrame(rows).to_csv(temporary / "id_prop.csv", header=False, index=False)
    pd.DataFrame(hashes).to_csv(temporary / "material_id_hash.csv", header=False, index=False)
    info = {
        "from": str(data),
        "structures": len(ids),
        "copies": COPIES,
        "count": written,
        "strain_amplitude": amplitude,
        "seed": seed,
        "unstrained_fallbacks": unusable,
    }
    (temporary / "SOURCE.md").write_text(
        "# Strained copies for the scale benchmark (benchmarks/bench_scale.py)\n\n"
        + "".join(f"- {key}: {value}\n" for key, value in info.items())
    )
    shutil.rmtree(out, ignore_errors=True)
    temporary.rename(out)
    return info


# ----------------------------------------------------------------------------- measuring commands


def _tree(root_pids: list[int]) -> list[Any]:
    import psutil

    found: dict[int, Any] = {}
    for pid in root_pids:
        try:
            process = psutil.Process(pid)
            for member in [process, *process.children(recursive=True)]:
                found[member.pid] = member
        except psutil.Error:
            continue
    return list(found.values())


def _cpu_times(processes: list[Any]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process, by process id."""
    import psutil

    found = {}
    for process in processes:
        try:
            times = process.cpu_times()
            found[process.pid] = times.user + times.system
        except psutil.Error:
            continue
    return found


def _pss_sum(processes: list[Any]) -> int:
    import psutil

    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total


def measure(
    command: list[str], *, extra_roots: list[int] | None = None, log: Path | None = None
) -> dict[str, Any]:
    """Run ``command``; wall time, CPU time and peak memory of it and its descendants, plus those of the
    process trees of ``extra_roots`` (CPU: their increase while the command ran, counting processes that
    ended before it, such as Ray's workers of the job, at their last sample; see module doc)."""
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    handle = log.open("w") if log is not None else None
    load_before = os.getloadavg()
    extra_cpu = _cpu_times(_tree(extra_roots or []))
    extra_seen = dict(extra_cpu)  # last CPU time seen of every process, also of those gone by the end
    started_at, start = time.time(), time.perf_counter()
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT if handle else None, env=env)
    peak_pss, status, usage, samples = 0, None, None, []
    while status is None:
        pss = _pss_sum(_tree([process.pid, *(extra_roots or [])]))
        samples.append((round(time.time(), 2), pss))
        peak_pss = max(peak_pss, pss)
        extra_seen |= _cpu_times(_tree(extra_roots or []))
        pid, raw_status, raw_usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status, usage = raw_status, raw_usage
            process.returncode = os.waitstatus_to_exitcode(raw_status)
        else:
            time.sleep(0.5)
    wall = time.perf_counter() - start
    if handle is not None:
        handle.close()
        log.with_suffix(".memory.json").write_text(json.dumps(samples))
    if process.returncode != 0:
        tail = log.read_text()[-3000:] if log is not None else ""
        raise SystemExit(f"command failed ({process.returncode}): {' '.join(command)}\n{tail}")
    return {
        "command": " ".join(command),
        "wall_s": wall,
        "started_at": started_at,
        "cpu_s": usage.ru_utime
        + usage.ru_stime
        + sum(seconds - extra_cpu.get(pid, 0.0) for pid, seconds in extra_seen.items()),
        "max_process_rss_gib": usage.ru_maxrss * 1024 / 2**30,
        "peak_tree_pss_gib": peak_pss / 2**30,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def _cli() -> str:
    return str(Path(sys.executable).with_name("crystalgenome"))


def _store_count(store: Path) -> int:
    return int(json.loads((store / "manifest.json").read_text())["num_featurized"])


def _complete(store: Path) -> bool:
    manifest = store / "manifest.json"
    return manifest.is_file() and json.loads(manifest.read_text()).get("status") == "complete"


def _featurize_command(source: Path, store: Path, extra: list[str]) -> list[str]:
    return [_cli(), "featurize", str(source), "--out", str(store), "--no-progress", *extra]


# ----------------------------------------------------------------------------- steps


def step_source(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if (args.source / "id_prop.csv").is_file():
        print(f"source: {args.source} exists, kept")
        return
    start = time.perf_counter()
    info = build_strained_source(args.data, args.source, args.count, amplitude=args.strain, seed=args.seed)
    results["source"] = info | {"wall_s": time.perf_counter() - start}
    print(f"source: {info['count']} strained structures in {results['source']['wall_s']:.0f} s")


def step_featurize(args: argparse.Namespace, results: dict[str, Any]) -> None:
    store = args.scratch / "store"
    if _complete(store) and "featurize" in results:
        print(f"featurize: {store} complete, kept")
        return
    shutil.rmtree(store, ignore_errors=True)
    figures = measure(
        _featurize_command(args.source, store, ["--workers", "2"]), log=args.scratch / "featurize.log"
    )
    results["featurize"] = figures | {"structures": _store_count(store)}


def _train_phases(run: Path, started_at: float, samples: list[list[float]]) -> dict[str, float]:
    """Seconds and peak summed PSS (GiB) of each phase of a train command, from when its files were
    written: loading the store into arrays (until dataset.json), normalising them into the training
    tensors (until config.json), the epoch (until last.pt), the trainer's validation and test metrics
    (until summary.json) and the workflow's evaluation of the test split (until evaluation/metrics.json)."""
    marks = {
        "load": run / "dataset.json",
        "prepare": run / "config.json",
        "epoch": run / "last.pt",
        "final_metrics": run / "summary.json",
        "evaluation": run / "evaluation" / "metrics.json",
    }
    phases, previous = {}, started_at
    for name, path in marks.items():
        if path.is_file():
            end = path.stat().st_mtime
            inside = [pss for when, pss in samples if previous <= when <= end + 0.5]
            phases[f"{name}_s"] = end - previous
            phases[f"{name}_peak_pss_gib"] = max(inside, default=0) / 2**30
            previous = end
    return phases


def step_train(args: argparse.Namespace, results: dict[str, Any]) -> None:
    key = f"train{args.label}"
    run = args.scratch / f"run{args.label}"
    if (run / "summary.json").is_file() and key in results:
        print(f"train: {run} finished, kept")
        return
    shutil.rmtree(run, ignore_errors=True)
    command = [_cli(), "train", "--data", str(args.scratch / "store"), "--task", "metal", "--epochs", "1"]
    command += ["--out", str(run), "--no-progress"]
    command += [] if args.threads is None else ["--threads", str(args.threads)]
    figures = measure(command, log=args.scratch / f"train{args.label}.log")
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    splits = json.loads((run / "splits.json").read_text())
    config = json.loads((run / "config.json").read_text())
    samples = json.loads((args.scratch / f"train{args.label}.memory.json").read_text())
    phases = _train_phases(run, figures["started_at"], samples)
    results[key] = (
        figures
        | phases
        | {
            "structures": sum(len(ids) for ids in splits.values()),
            "train_structures": len(splits["train"]),
            "epoch_s": metrics[-1]["seconds"],
            "train_samples_per_s": metrics[-1]["train_samples_per_s"],
            "model_in_channels": config["model_config"]["in_channels"],
            "num_threads": config["train_config"]["num_threads"],
        }
    )


def _wait_for_cluster(head: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Wait until ``ray start --block`` reports its cluster up (or fail with its log)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if head.poll() is not None:
            raise SystemExit(f"ray start exited ({head.returncode}):\n{log.read_text()[-3000:]}")
        if "block forever" in log.read_text():
            return
        time.sleep(0.5)
    raise SystemExit(f"ray start did not come up in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _ray_address_file() -> Path:
    """Where ``ray start`` records its cluster (``ray.init()`` without an address connects to it)."""
    from ray._private.utils import get_ray_address_file

    return Path(get_ray_address_file(None))


def _forget_cluster(address_file: Path, ours: str | None) -> None:
    """Remove the record of the stopped cluster, as ``ray stop`` does: left behind, it makes every
    ``ray.init()`` on the machine try to join the dead cluster."""
    if ours is not None and address_file.is_file() and address_file.read_text() == ours:
        address_file.unlink(missing_ok=True)


def step_ray(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """A local Ray cluster as a user starts one (``ray start --head --num-cpus 2``), then featurize on it
    with ``--ray-address auto``. The head runs with ``--block`` as a child of this script and is stopped
    with SIGTERM to its process id: ``ray stop`` would also stop any other Ray on the machine."""
    import signal

    store = args.scratch / "store-ray"
    if _complete(store) and "ray" in results:
        print(f"ray: {store} complete, kept")
        return
    shutil.rmtree(store, ignore_errors=True)
    ray = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    head_log = args.scratch / "ray-head.log"
    command = [ray, "start", "--head", "--num-cpus", "2", "--block"]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    with head_log.open("w") as handle:
        head = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    address_file = _ray_address_file()
    ours = None
    try:
        _wait_for_cluster(head, head_log)
        ours = address_file.read_text() if address_file.is_file() else None
        start_s = time.perf_counter() - started
        limit = [] if args.ray_limit is None else ["--limit", str(args.ray_limit)]
        figures = measure(
            _featurize_command(args.source, store, ["--ray-address", "auto", *limit]),
            extra_roots=[head.pid],
            log=args.scratch / "featurize-ray.log",
        )
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        _forget_cluster(address_file, ours)
    results["ray"] = figures | {"structures": _store_count(store), "ray_start_s": start_s}


def prepare_only(store: Path) -> None:
    """What ``train`` does before its first batch, and nothing else: load the task's arrays from the
    store and build the training tensors (normalised Friedel half-clouds, lattice frames)."""
    import torch

    from crystalgenome.model import resolve_model_config
    from crystalgenome.store.dataset import load_task_dataset
    from crystalgenome.training import TrainConfig
    from crystalgenome.training.trainer import _prepare_data
    from crystalgenome.workflows import default_model

    model_config = resolve_model_config(default_model("metal")).replace(num_classes=2)
    start = time.perf_counter()
    dataset = load_task_dataset([store], "metal", progress=False, with_hkl=model_config.needs_hkl)
    loaded = time.perf_counter()
    names = np.full(len(dataset), "train", dtype=object)
    data = _prepare_data(
        dataset.points, dataset.mask, dataset.labels, names, model_config,
        TrainConfig.default_for(model_config).normalisation_spec(), torch.device("cpu"),
    )  # fmt: skip
    print(f"loaded {dataset.points.shape} in {loaded - start:.1f} s, prepared {tuple(data.inputs.shape)} "
          f"in {time.perf_counter() - loaded:.1f} s")  # fmt: skip


def step_load(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Peak memory of loading the store and preparing the training tensors alone (``--label`` names the
    variant: run it with ``PYTHONPATH=OLD/src`` to measure an older crystalgenome)."""
    key = f"load{args.label}"
    command = [sys.executable, str(Path(__file__).resolve()), "--prepare-only", str(args.scratch / "store")]
    log = args.scratch / f"{key}.log"
    figures = measure(command, log=log)
    loaded = re.search(r"loaded \((\d+),", log.read_text())
    results[key] = figures | {
        "structures": int(loaded.group(1)) if loaded else _store_count(args.scratch / "store")
    }


STEPS = {
    "source": step_source,
    "featurize": step_featurize,
    "train": step_train,
    "ray": step_ray,
    "load": step_load,
}


def table(results: dict[str, Any]) -> str:
    lines = [
        "",
        "| step | structures | wall | per structure | CPU per structure | peak PSS, tree "
        "| largest process RSS |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    trains = sorted(name for name in results if name.startswith("train"))
    loads = sorted(name for name in results if name.startswith("load"))
    for name in ("featurize", *trains, *loads, "ray"):
        if name not in results:
            continue
        entry = results[name]
        count = entry["structures"]
        lines.append(
            f"| {name} | {count:,} | {entry['wall_s']:.0f} s | {entry['wall_s'] / count * 1e3:.2f} ms | "
            f"{entry['cpu_s'] / count * 1e3:.2f} ms | {entry['peak_tree_pss_gib']:.2f} GiB | "
            f"{entry['max_process_rss_gib']:.2f} GiB |"
        )
    for name in trains:
        entry = results[name]
        lines.append(
            f"{name} epoch: {entry['train_structures']:,} training structures in {entry['epoch_s']:.0f} s "
            f"({entry['train_samples_per_s']:.0f} samples/s, {entry['num_threads']} threads, "
            f"{entry['model_in_channels']}-channel inputs)"
        )
        phases = ("load", "prepare", "epoch", "final_metrics", "evaluation")
        if all(f"{name}_s" in entry for name in phases):
            lines.append(
                "  phases (seconds, peak PSS): "
                + "; ".join(
                    f"{name} {entry[name + '_s']:.0f} s, {entry[name + '_peak_pss_gib']:.2f} GiB"
                    for name in phases
                )
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--scratch", type=Path, default=None, help="Work folder (about 4 GB).")
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--strain", type=float, default=0.03, help="largest strain component")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", default="source,featurize,train,ray")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of train (default: its)")
    parser.add_argument("--label", default="", help="suffix of the train step's results key and run folder")
    parser.add_argument("--ray-limit", type=int, default=None, help="featurize only N structures on Ray")
    parser.add_argument("--prepare-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_only is not None:
        prepare_only(args.prepare_only)
        return
    if args.scratch is None:
        from crystalgenome.utils.paths import cache_dir

        args.scratch = cache_dir("bench-scale")
    args.scratch.mkdir(parents=True, exist_ok=True)
    args.source = args.scratch / "strained"
    results_path = args.scratch / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    steps = args.steps.split(",")
    unknown = [name for name in steps if name not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    for name in steps:
        STEPS[name](args, results)
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory:.1f} GiB")
    print(table(results))


if __name__ == "__main__":
    main()
