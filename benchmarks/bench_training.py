"""Training and prediction throughput of a PointNet at 343 points (Miller box N = 3).

Runs the real training loop (``crystalgenome.training.trainer.train_one_epoch``: in-memory batches,
Adam, and for input-frame models uniform random rotations and permutations) on synthetic
diffraction-like clouds: random reciprocal lattices, all 343 points real, log-uniform intensities
(throughput does not depend on the values). Lattice-frame models get the Miller indices as channels
and train without rotations, as ``crystalgenome train`` does (``TrainConfig.default_for``).

    .venv/bin/python benchmarks/bench_training.py                 # 2 CPU threads (or cuda when available)
    .venv/bin/python benchmarks/bench_training.py --device cpu --threads 2 --config lattice

The machine may be shared: each figure is the best of ``--repeats`` epochs (the least disturbed one);
the median is printed too, with the load average. The last line is ``train_samples_per_s: X``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from crystalgenome.model import PointNet, count_parameters, resolve_model_config
from crystalgenome.training.config import TrainConfig
from crystalgenome.training.inputs import NORMALISATIONS
from crystalgenome.training.predict import model_probabilities
from crystalgenome.training.trainer import resolve_device, train_one_epoch


def synthetic_clouds(count: int, max_miller: int = 3, seed: int = 0, *, with_hkl: bool = False) -> np.ndarray:
    """(count, (2N+1)³, 4) clouds: g = hkl · B for random reciprocal bases B (Å⁻¹), random intensities;
    (count, (2N+1)³, 7) with the Miller indices appended when ``with_hkl``."""
    rng = np.random.default_rng(seed)
    axis = np.arange(-max_miller, max_miller + 1)
    hkl = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    bases = rng.uniform(0.05, 0.35, size=(count, 3, 1)) * (np.eye(3) + rng.normal(0, 0.2, size=(count, 3, 3)))
    g = np.einsum("pk,nkj->npj", hkl, bases)
    intensity = 10 ** rng.uniform(-8, 0, size=(count, hkl.shape[0], 1))
    channels = [g, intensity] + ([np.broadcast_to(hkl, g.shape)] if with_hkl else [])
    return np.concatenate(channels, axis=-1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="packaged model config name or JSON path")
    parser.add_argument("--samples", type=int, default=4096, help="clouds per timed epoch")
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--max-miller", type=int, default=3, help="N of the Miller box: (2N+1)³ points")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model_config = resolve_model_config(args.config).replace(num_classes=7)
    config = TrainConfig.default_for(model_config).replace(batch_size=args.batch_size, device=str(device))
    points = synthetic_clouds(args.samples, args.max_miller, with_hkl=model_config.needs_hkl)
    inputs = torch.from_numpy(NORMALISATIONS["authors"].apply(points)).to(device)
    mask = torch.ones(inputs.shape[:2], dtype=torch.bool, device=device)
    labels = torch.randint(0, 7, (args.samples,), generator=torch.Generator().manual_seed(0)).to(device)
    torch.manual_seed(0)
    model = PointNet(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(0)
    index = torch.arange(args.samples)

    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} CPU threads"
    print(f"device: {device} ({hardware})")
    print(
        f"torch {torch.__version__}; model {args.config}: {model_config.point_widths} → "
        f"{model_config.head_widths}, {count_parameters(model):,} parameters; {inputs.shape[1]} points; "
        f"batch {args.batch_size}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    train_rates = []
    for repeat in range(args.repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        stats = train_one_epoch(
            model,
            optimizer,
            inputs,
            mask,
            labels,
            index,
            config=config,
            generator=generator,
            loss_weights=None,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = stats["train_samples_per_s"]
        if repeat:  # the first epoch warms up allocators and kernels
            train_rates.append(rate)
        print(f"  train epoch {repeat}: {rate:8.0f} samples/s ({time.perf_counter() - started:.2f} s)")

    predict_rates = []
    for repeat in range(args.repeats + 1):
        started = time.perf_counter()
        model_probabilities(model, inputs, mask, rotations=0, batch_size=1024)
        if repeat:
            predict_rates.append(args.samples / (time.perf_counter() - started))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"predict_samples_per_s: {max(predict_rates):.0f} (median {statistics.median(predict_rates):.0f})")
    print(f"train_samples_per_s_median: {statistics.median(train_rates):.0f}")
    print(f"train_samples_per_s: {max(train_rates):.0f}")


if __name__ == "__main__":
    main()
