"""Featurize a whole real dataset into a fresh store and time it (issue 3, section 6).

Default: the 32,242 structures of mp_cgcnn_mtcgcnn, default diffraction settings (X-ray, Miller box
N = 3, standardised primitive cell), 2 local worker processes. The clock covers everything a user
waits for: opening the source, streaming the tar.gz, parsing every CIF, validation, symmetry
analysis and standardisation, diffraction, writing the shards, labels and skipped report. Then it
times loading every point cloud back, and with ``--profile N`` it profiles N structures in one
process to show where the per-structure time goes.

Usage::

    python benchmarks/bench_featurize.py [--data DIR] [--workers 2] [--limit N] [--profile 2000]

The last line is ``featurize_seconds: X``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import platform
import pstats
import resource
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    root = os.environ.get("CRYSTALGENOME_DATA_DIR")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    return base / "mp_cgcnn_mtcgcnn"


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system, s) of this process and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def profile_structures(source_path: Path, count: int) -> None:
    """Per-stage time of featurizing ``count`` structures in this process (no pool, no store)."""
    from crystalgenome.data import open_source
    from crystalgenome.diffraction import DiffractionSettings
    from crystalgenome.errors import StructureError
    from crystalgenome.store import featurize_record

    source = open_source(source_path)
    records = list(source.iter_raw(source.ids()[:count]))
    settings = DiffractionSettings()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    parse_time = 0.0
    for record in records:
        parse_start = time.perf_counter()
        with contextlib.suppress(StructureError):
            record.to_cell()
        parse_time += time.perf_counter() - parse_start
    total_start = time.perf_counter()
    profiler.enable()
    for record in records:
        with contextlib.suppress(StructureError):
            featurize_record(record, settings)
    profiler.disable()
    total = time.perf_counter() - total_start
    print(f"profile of {len(records)} structures in one process (streamed in {total_start - start:.2f} s):")
    print(f"  parse (record.to_cell): {parse_time / len(records) * 1e3:.3f} ms/structure")
    print(f"  parse + diffraction + metadata: {total / len(records) * 1e3:.3f} ms/structure")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--profile", type=int, default=0, help="also profile this many structures in-process")
    args = parser.parse_args()

    from crystalgenome.data import open_source
    from crystalgenome.store import DEFAULT_SHARD_SIZE, Backend, FeatureStore, featurize

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores; load average before: {os.getloadavg()}")
    if args.profile:
        profile_structures(args.data, args.profile)
    with tempfile.TemporaryDirectory(prefix="bench_featurize_") as folder:
        store_path = Path(folder) / "store"
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        source = open_source(args.data)
        report = featurize(
            source,
            store_path,
            backend=Backend(workers=args.workers),
            shard_size=args.shard_size or DEFAULT_SHARD_SIZE,
            limit=args.limit,
            progress=False,
        )
        seconds = time.perf_counter() - start
        main_cpu, workers_cpu = (
            after - before for after, before in zip(_cpu_seconds(), cpu_before, strict=True)
        )
        size = sum(path.stat().st_size for path in store_path.rglob("*") if path.is_file())
        load_start = time.perf_counter()
        store = FeatureStore.open(store_path)
        points, _ = store.load_points()
        labels = store.labels()
        load_seconds = time.perf_counter() - load_start
    print(
        f"structures: {report.num_structures} from {args.data}; featurized {report.num_featurized}, "
        f"skipped {len(report.skipped)}; {report.shards_computed} shards; store {size / 1e6:.0f} MB"
    )
    print(f"workers: {args.workers}; load average after: {os.getloadavg()}")
    cores, total_cpu = min(os.cpu_count() or 1, args.workers + 1), main_cpu + workers_cpu
    print(
        f"cpu: main process {main_cpu:.1f} s, workers {workers_cpu:.1f} s "
        f"({workers_cpu / max(report.num_structures, 1) * 1e3:.2f} ms/structure); "
        f"on {cores} idle cores the wall time would be about {max(main_cpu, total_cpu / cores):.0f} s"
    )
    print(f"structures_per_second: {report.num_structures / seconds:.0f}")
    print(f"per_structure_ms_per_worker: {seconds / report.num_structures * args.workers * 1e3:.2f}")
    print(f"load_all_points_seconds: {load_seconds:.2f} ({points.shape}, labels {labels.shape})")
    print(f"featurize_seconds: {seconds:.1f}")


if __name__ == "__main__":
    main()
