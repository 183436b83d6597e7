"""Speed of the diffraction engine against pymatgen's XRDCalculator, on real structures.

Both sides compute every reflection of the full Cu Kα limiting sphere (|g| ≤ 2/λ) of the same
structures in the cell as given, single process, and produce a powder pattern; parsing is
excluded on both sides (structures are parsed before the clocks start). Also prints the
Miller-box (N = 3, primitive cell) time per structure and how time grows with atoms per cell.

Usage::

    python benchmarks/bench_diffraction.py [--data DIR] [--limit 2000]

``--data`` defaults to ``$CRYSTALGENOME_DATA_DIR/mp_cgcnn_mtcgcnn`` or ``../shared/data/mp_cgcnn_mtcgcnn``.
The last line is ``speedup_vs_pymatgen: X``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


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


def time_each(function, items) -> np.ndarray:
    """Wall time of ``function(item)`` for every item, seconds."""
    times = np.empty(len(items))
    for i, item in enumerate(items):
        start = time.perf_counter()
        function(item)
        times[i] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()

    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # single process, single thread on both sides

    from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings, powder_pattern

    structures = load_structures(args.data, args.limit)
    sizes = np.array([len(s) for s in structures])
    print(f"structures: {len(structures)} from {args.data}")
    print(f"atoms per cell: mean {sizes.mean():.1f}, max {sizes.max()}")
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores; single process, one thread")

    reference = XRDCalculator(wavelength="CuKa")
    sphere = DiffractionCalculator(DiffractionSettings(wavelength="CuKa", cell="input"))
    box = DiffractionCalculator(DiffractionSettings())  # N = 3, standardised primitive cell

    sphere.compute(structures[0])  # warm the table caches
    pymatgen_times = time_each(lambda s: reference.get_pattern(s, two_theta_range=None), structures)
    engine_times = time_each(sphere.compute, structures)
    powder_times = time_each(lambda s: powder_pattern(sphere.compute(s)), structures)
    box_times = time_each(box.compute, structures)

    print(f"pymatgen XRDCalculator, full Cu Ka sphere: {pymatgen_times.mean() * 1e3:.3f} ms/structure")
    print(f"crystalgenome 3D pattern, full Cu Ka sphere: {engine_times.mean() * 1e3:.3f} ms/structure")
    print(f"crystalgenome 3D pattern + powder projection: {powder_times.mean() * 1e3:.3f} ms/structure")
    box_ms = box_times.mean() * 1e3
    print(f"crystalgenome Miller box N=3, primitive cell (incl. standardisation): {box_ms:.3f} ms/structure")
    print("time per structure by atoms per cell (ms): atoms | n | pymatgen | crystalgenome+powder | ratio")
    for low, high in [(1, 4), (5, 8), (9, 16), (17, 32), (33, 64), (65, 10_000)]:
        chosen = (sizes >= low) & (sizes <= high)
        if chosen.any():
            p, c = pymatgen_times[chosen].mean() * 1e3, powder_times[chosen].mean() * 1e3
            print(f"  {low:>3}-{high:<5} | {chosen.sum():>5} | {p:8.3f} | {c:8.3f} | {p / c:6.1f}")
    print(f"speedup_3d_only_vs_pymatgen: {pymatgen_times.sum() / engine_times.sum():.1f}")
    print(f"speedup_vs_pymatgen: {pymatgen_times.sum() / powder_times.sum():.1f}")


if __name__ == "__main__":
    main()
