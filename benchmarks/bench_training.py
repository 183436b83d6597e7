"""Training throughput of the packaged PointNets at 343 points (Miller box N = 3), against a baseline.

Runs the real training loop (``crystalgenome.training.trainer.train_one_epoch``: in-memory batches,
Adam, and for input-frame models uniform random rotations and permutations) on synthetic
diffraction-like clouds: random reciprocal lattices, all 343 points real, log-uniform intensities
(throughput does not depend on the values). Lattice-frame models get the Miller indices as channels
and train without rotations, as ``crystalgenome train`` does (``TrainConfig.default_for``).

Each code path runs in its own worker process, prepared as ``train`` prepares its data: this tree
(Friedel half-clouds where the config asks for them, lattice frames computed once, the allocator
setting, OpenMP threads that spin only briefly before sleeping, fused Adam, and bfloat16 mixed
precision where ``TrainConfig.precision`` resolves to it) and the tree of a baseline git
revision (``--baseline``, default the commit before this work: full clouds, a least-squares frame per
batch), extracted to a temporary folder. The two alternate, ``--rounds`` times each, so that both
see the same load. Figures are samples per second of wall time and per CPU-second (the steadier one
on a shared machine), best and median over the timed epochs, and their ratio new / baseline. The
benchmark also counts the floating-point operations of one training step (``torch.utils.flop_counter``)
and times a large ``torch.mm`` with the same threads and in the precision the tree trains in, for
the fraction of this machine's matrix-multiply peak that training reaches.

    .venv/bin/python benchmarks/bench_training.py                      # default, lattice, lattice_symmetry
    .venv/bin/python benchmarks/bench_training.py --config lattice --threads 1 --rounds 3
    .venv/bin/python benchmarks/bench_training.py --precision float32   # as on a CPU without bfloat16
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE = "d1c843a"
"""The revision before Friedel half-clouds, precomputed frames and the allocator setting."""

REPO = Path(__file__).resolve().parents[1]


def synthetic_clouds(count: int, max_miller: int = 3, seed: int = 0, *, with_hkl: bool = False) -> np.ndarray:
    """(count, (2N+1)³, 4) clouds: g = hkl · B for random reciprocal bases B (Å⁻¹), random intensities;
    (count, (2N+1)³, 7) with the Miller indices appended when ``with_hkl``. Friedel-symmetric: the
    intensity of −h is that of h."""
    rng = np.random.default_rng(seed)
    axis = np.arange(-max_miller, max_miller + 1)
    hkl = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    bases = rng.uniform(0.05, 0.35, size=(count, 3, 1)) * (np.eye(3) + rng.normal(0, 0.2, size=(count, 3, 3)))
    g = np.einsum("pk,nkj->npj", hkl, bases)
    intensity = 10 ** rng.uniform(-8, 0, size=(count, hkl.shape[0], 1))
    intensity = (intensity + intensity[:, ::-1]) / 2  # the box is ordered so that row −i is row i's mate
    channels = [g, intensity] + ([np.broadcast_to(hkl, g.shape)] if with_hkl else [])
    return np.concatenate(channels, axis=-1).astype(np.float32)


# ----------------------------------------------------------------------------- worker (either tree)


def _prepared(args: argparse.Namespace, device: object) -> tuple[object, ...]:
    """Model, optimizer, inputs, mask, labels, cell and train config, prepared as ``train`` does in
    the imported tree."""
    import torch

    from crystalgenome.model import PointNet, resolve_model_config
    from crystalgenome.training import trainer
    from crystalgenome.training.config import TrainConfig
    from crystalgenome.training.inputs import NORMALISATIONS

    model_config = resolve_model_config(args.config).replace(num_classes=7)
    config = TrainConfig.default_for(model_config).replace(batch_size=args.batch_size, device=str(device))
    if args.precision and hasattr(config, "precision"):  # the baseline tree trains in float32
        config = config.replace(precision=args.precision)
    points = synthetic_clouds(args.samples, args.max_miller, with_hkl=model_config.needs_hkl)
    labels = np.random.default_rng(0).integers(0, 7, args.samples)
    cell = None
    if hasattr(trainer, "precompute_frames"):  # this tree: train()'s own preparation
        trainer.keep_freed_memory()
        data = trainer._prepare_data(  # exactly what train() feeds the loop
            points,
            None,
            labels,
            {"train": range(args.samples)},
            model_config,
            NORMALISATIONS["authors"],
            device,
        )
        inputs = data.inputs if data.framed is None else data.framed
        mask, cell = data.mask, data.cell
    else:  # the baseline tree: what its train() did
        inputs = torch.from_numpy(NORMALISATIONS["authors"].apply(points)).to(device)
        mask = torch.ones(inputs.shape[:2], dtype=torch.bool, device=device)
    torch.manual_seed(0)
    model = PointNet(model_config).to(device)
    optimizer = trainer._make_optimizer(model, config)  # each tree's own (fused Adam in this one)
    return model, optimizer, inputs, mask, torch.from_numpy(labels).to(device), cell, config


def _step_flops(
    model: object, inputs: object, mask: object, labels: object, cell: object, batch: int
) -> float:
    """Floating-point operations of one forward + backward pass over ``batch`` samples (matrix
    products; elementwise work is not counted), per sample."""
    from torch.nn.functional import cross_entropy
    from torch.utils.flop_counter import FlopCounterMode

    kwargs = {} if cell is None else {"cell": cell[:batch]}
    with FlopCounterMode(display=False) as counter:
        cross_entropy(model(inputs[:batch], mask[:batch], **kwargs), labels[:batch]).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def worker(args: argparse.Namespace) -> None:
    """Train ``args.epochs`` timed epochs (after one warm-up) and print one JSON line of results."""
    package = importlib.import_module("crystalgenome")  # before torch, as in `crystalgenome train`
    import torch

    from crystalgenome.training import trainer
    from crystalgenome.training.trainer import train_one_epoch

    try:
        from crystalgenome.training.devices import resolve_device
    except ModuleNotFoundError:  # the baseline tree, before trainer.py was split
        resolve_device = trainer.resolve_device

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model, optimizer, inputs, mask, labels, cell, config = _prepared(args, device)
    precision = _precision(config, device)
    peak = matmul_peak(args.threads, dtype=precision)
    flops = _step_flops(model, inputs, mask, labels, cell, args.batch_size)
    generator = torch.Generator().manual_seed(0)
    index = torch.arange(args.samples)
    kwargs = {} if cell is None else {"cell": cell}
    wall, cpu = [], []
    for epoch in range(args.epochs + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        stats = train_one_epoch(
            model, optimizer, inputs, mask, labels, index, config=config, generator=generator,
            loss_weights=None, **kwargs,
        )  # fmt: skip
        if epoch:  # the first epoch warms up allocators and kernels
            seen = stats["train_samples_per_s"] * (time.perf_counter() - started)
            wall.append(stats["train_samples_per_s"])
            cpu.append(seen / (time.process_time() - cpu_started))
    spin, policy = (os.environ.get(name, "unset") for name in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"))
    threading = f"{package.__file__}, GOMP_SPINCOUNT={spin}, OMP_WAIT_POLICY={policy}"
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "flops": flops,
                "points": int(inputs.shape[1]),
                "omp": threading,
                "peak": peak,
                "precision": str(precision).removeprefix("torch."),
            }
        )
    )


# ----------------------------------------------------------------------------- driver


def _precision(config: object, device: object) -> object:
    """The dtype the training steps of ``config`` compute in (float32 in trees without the setting)."""
    import torch

    try:
        from crystalgenome.training.devices import resolve_precision
    except ImportError:  # the baseline tree: float32 throughout
        return torch.float32
    return resolve_precision(config.precision, device)


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5, dtype: object = None) -> float:
    """Best FLOP/s of a (size × size) @ (size × size) ``torch.mm`` (float32 unless ``dtype``) with
    ``threads`` threads."""
    import torch

    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def _baseline_tree(revision: str, folder: Path) -> Path:
    """Extract ``src/`` of ``revision`` into ``folder``; returns the folder to put on PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def _run_worker(source: Path, args: argparse.Namespace, config: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--config", config]
    for name in ("samples", "batch_size", "epochs", "threads", "device", "max_miller"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.precision:
        command += ["--precision", args.precision]
    env = dict(os.environ, PYTHONPATH=str(source))
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def _summary(values: list[float]) -> str:
    return f"{max(values):7.0f} (median {statistics.median(values):6.0f})"


def compare(args: argparse.Namespace) -> None:
    """Alternate baseline and current workers for each config; print rates, ratios, FLOPs, peak."""
    import torch

    setup = f"{args.threads} CPU threads; batch {args.batch_size}; {args.samples} samples"
    print(f"torch {torch.__version__}; {setup}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        trees = {"baseline": _baseline_tree(args.baseline, Path(folder)), "new": REPO / "src"}
        for config in args.config:
            results: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in trees}
            info = {}
            for _ in range(args.rounds):
                for name, source in trees.items():
                    outcome = _run_worker(source, args, config)
                    results[name]["wall"] += outcome["wall"]
                    results[name]["cpu"] += outcome["cpu"]
                    info[name] = outcome
            print(f"\n{config} ({args.rounds} rounds × {args.epochs} epochs; samples/s best, median):")
            for name in trees:
                flops, rate, peak = (
                    info[name]["flops"],
                    statistics.median(results[name]["wall"]),
                    info[name]["peak"],
                )
                precision = info[name].get("precision", "float32")
                print(f"  {name:8s} {info[name]['omp']}; training in {precision}")
                print(
                    f"  {name:8s} {info[name]['points']:3d} points: wall {_summary(results[name]['wall'])}, "
                    f"CPU {_summary(results[name]['cpu'])}; {flops / 1e6:.1f} MFLOP/sample"
                )
                achieved = flops * rate
                print(
                    f"  {name:8s} training {achieved / 1e9:.1f} GFLOP/s = {achieved / peak:.0%} of the matmul"
                    f" peak in the same process ({peak / 1e9:.1f} GFLOP/s, 2048²"
                    f" {precision} torch.mm)"
                )
            for measure in ("wall", "cpu"):
                new, old = results["new"][measure], results["baseline"][measure]
                ratio = statistics.median(new) / statistics.median(old)
                print(f"  speedup_{measure} {config}: {ratio:.2f}x (best {max(new) / max(old):.2f}x)")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        nargs="+",
        default=["default", "lattice", "lattice_symmetry"],
        help="packaged config names",
    )
    parser.add_argument("--samples", type=int, default=2048, help="clouds per timed epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per worker (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of baseline and new workers")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--max-miller", type=int, default=3, help="N of the Miller box: (2N+1)³ points")
    parser.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default=None,
        help="the new tree's TrainConfig.precision (default: its packaged default, auto)",
    )
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline code path")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.config = args.config[0]
        worker(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
