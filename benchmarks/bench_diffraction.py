"""Speed of the diffraction engine against pymatgen's XRDCalculator, on real structures.

Both sides compute every reflection of the full Cu Kα limiting sphere (|g| ≤ 2/λ) of the same
structures in the cell as given, single process, and produce a powder pattern; parsing is
excluded on both sides (structures are parsed before the clocks start). crystalgenome is timed
two ways: one structure at a time (``DiffractionCalculator.compute`` + ``powder_pattern``) and
batched (``compute_batch`` + ``powder_batch``). Also prints the Miller-box (N = 3, primitive cell)
time per structure and how time grows with atoms per cell.

The structures are timed in blocks, each block by every contender in turn, so that a change of
load on a shared machine affects all of them alike; wall-clock and CPU times are both reported.

Usage::

    python benchmarks/bench_diffraction.py [--data DIR] [--limit 2000] [--block 250]

``--data`` defaults to ``$CRYSTALGENOME_DATA_DIR/mp_cgcnn_mtcgcnn`` or ``../shared/data/mp_cgcnn_mtcgcnn``.
The last line is ``speedup_vs_pymatgen: X``, for the faster crystalgenome path (named on the line
before).
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZE_BINS = [(1, 4), (5, 8), (9, 16), (17, 32), (33, 64), (65, 10_000)]


def default_data() -> Path:
    root = os.environ.get("CRYSTALGENOME_DATA_DIR")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    return base / "mp_cgcnn_mtcgcnn"


def load_structures(folder: Path, limit: int) -> list:
    """The first ``limit`` structures of the CGCNN archive, parsed with pymatgen."""
    from pymatgen.core import Structure

    structures = []
    with tarfile.open(folder / "cifs.tar.gz") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".cif"):
                continue
            text = archive.extractfile(member).read().decode()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structures.append(Structure.from_str(text, fmt="cif"))
            if len(structures) >= limit:
                break
    return structures


class Clock:
    """Accumulated wall-clock and CPU seconds of one contender."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def time(self, function: Callable[[], object]) -> float:
        """Run ``function``, add its times, return its wall time (s)."""
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        elapsed = time.perf_counter() - wall
        self.wall += elapsed
        self.cpu += time.process_time() - cpu
        return elapsed


def time_each(clock: Clock, function: Callable, items: list) -> np.ndarray:
    """Wall time of ``function(item)`` for every item, seconds (also added to ``clock``)."""
    return np.array([clock.time(lambda item=item: function(item)) for item in items])


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--block", type=int, default=250, help="structures per interleaved block")
    args = parser.parse_args()

    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # single process, single thread on both sides

    from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings, powder_pattern
    from crystalgenome.diffraction.batch import compute_batch, powder_batch

    structures = load_structures(args.data, args.limit)
    sizes = np.array([len(s) for s in structures])
    print(f"structures: {len(structures)} from {args.data}")
    print(f"atoms per cell: mean {sizes.mean():.1f}, max {sizes.max()}")
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores; single process, one thread")
    print(f"load average (1, 5, 15 min) at start: {load_average()}")

    reference = XRDCalculator(wavelength="CuKa")
    sphere = DiffractionCalculator(DiffractionSettings(wavelength="CuKa", cell="input"))
    box = DiffractionCalculator(DiffractionSettings())  # N = 3, standardised primitive cell
    sphere.compute(structures[0])  # warm the table caches
    powder_batch(compute_batch(sphere, [("warm", structures[0])]))

    clocks = {name: Clock() for name in ("pymatgen", "engine", "one", "batch3d", "batch", "box", "boxbatch")}
    pymatgen_times, one_times = np.zeros(len(structures)), np.zeros(len(structures))
    bin_of = np.searchsorted([high for _, high in SIZE_BINS], sizes)
    bin_clocks = [Clock() for _ in SIZE_BINS]
    for start in range(0, len(structures), args.block):
        block = structures[start : start + args.block]
        chosen = slice(start, start + len(block))
        items = [(str(start + i), s) for i, s in enumerate(block)]
        pymatgen_times[chosen] = time_each(
            clocks["pymatgen"], lambda s: reference.get_pattern(s, two_theta_range=None), block
        )
        time_each(clocks["engine"], sphere.compute, block)
        one_times[chosen] = time_each(clocks["one"], lambda s: powder_pattern(sphere.compute(s)), block)
        clocks["batch3d"].time(lambda items=items: compute_batch(sphere, items))
        clocks["batch"].time(lambda items=items: powder_batch(compute_batch(sphere, items)))
        for size_bin, clock in enumerate(bin_clocks):  # for the table: the block's cells of each size
            part = [item for item, b in zip(items, bin_of[chosen], strict=True) if b == size_bin]
            if part:
                clock.time(lambda part=part: powder_batch(compute_batch(sphere, part)))
        time_each(clocks["box"], box.compute, block)
        clocks["boxbatch"].time(lambda items=items: compute_batch(box, items))

    def per_structure(name: str) -> str:
        return f"{clocks[name].wall / len(structures) * 1e3:.3f} ms/structure"

    print(f"pymatgen XRDCalculator, full Cu Ka sphere: {per_structure('pymatgen')}")
    print(f"crystalgenome one by one, 3D pattern, full Cu Ka sphere: {per_structure('engine')}")
    print(f"crystalgenome one by one, 3D pattern + powder projection: {per_structure('one')}")
    print(f"crystalgenome batched, 3D pattern, full Cu Ka sphere: {per_structure('batch3d')}")
    print(f"crystalgenome batched, 3D pattern + powder projection: {per_structure('batch')}")
    print(
        "crystalgenome Miller box N=3, primitive cell (incl. standardisation): "
        f"one by one {per_structure('box')}, batched {per_structure('boxbatch')}"
    )
    print("time per structure by atoms per cell (ms), 3D + powder (batched: one call per size and block):")
    print("  atoms     |     n | pymatgen | one by one | batched | pymatgen / batched")
    for size_bin, ((low, high), clock) in enumerate(zip(SIZE_BINS, bin_clocks, strict=True)):
        chosen = bin_of == size_bin
        if chosen.any():
            p, o, b = pymatgen_times[chosen].mean(), one_times[chosen].mean(), clock.wall / chosen.sum()
            row = f"{p * 1e3:8.3f} | {o * 1e3:10.3f} | {b * 1e3:7.3f} | {p / b:6.1f}"
            print(f"  {low:>3}-{high:<5} | {chosen.sum():>5} | {row}")

    print(f"load average at end: {load_average()}")
    for name, label in (("one", "one by one"), ("batch", "batched")):
        cpu = clocks["pymatgen"].cpu / clocks[name].cpu
        print(f"speedup_cpu_time_vs_pymatgen ({label}, 3D + powder): {cpu:.1f}")
    print(f"speedup_3d_only_vs_pymatgen (one by one): {clocks['pymatgen'].wall / clocks['engine'].wall:.1f}")
    print(f"speedup_3d_only_vs_pymatgen (batched): {clocks['pymatgen'].wall / clocks['batch3d'].wall:.1f}")
    speedups = {
        label: clocks["pymatgen"].wall / clocks[name].wall
        for name, label in (("one", "one by one"), ("batch", "batched"))
    }
    for label, value in speedups.items():
        print(f"speedup_vs_pymatgen ({label}, 3D + powder): {value:.1f}")
    fastest = max(speedups, key=speedups.get)
    print(f"faster crystalgenome path: {fastest}")
    print(f"speedup_vs_pymatgen: {speedups[fastest]:.1f}")


if __name__ == "__main__":
    main()
