"""Where shards are computed: in this process, in a local process pool, or as Ray tasks.

Every backend consumes a lazy iterator of :class:`ShardTask` (the source is streamed while
workers compute) and keeps at most ``2 × workers`` shards in flight, so memory stays bounded
whatever the size of the source. Results come back in completion order.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice

from crystalgenome.store.layout import StoreError
from crystalgenome.store.shard import ShardResult, ShardTask, compute_shard


@dataclass(frozen=True)
class Backend:
    """How to run shards.

    Attributes:
        workers: local worker processes (1 = compute in this process); for a local Ray, its CPUs.
        use_ray: run shards as Ray tasks.
        ray_address: address of a running Ray cluster (``"auto"``, ``"ray://host:10001"``...);
            None with ``use_ray`` starts a local Ray with ``workers`` CPUs.
    """

    workers: int = 1
    use_ray: bool = False
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")

    @property
    def in_flight(self) -> int:
        """Most shards submitted but not yet collected."""
        return 2 * self.workers

    def describe(self) -> str:
        if self.use_ray:
            return f"ray ({self.ray_address or f'local, {self.workers} CPUs'})"
        return "this process" if self.workers == 1 else f"{self.workers} local processes"


def run_shards(tasks: Iterator[ShardTask], backend: Backend) -> Iterator[ShardResult]:
    """Compute every task with ``backend``, yielding results as they finish."""
    if backend.use_ray:
        yield from _run_ray(tasks, backend)
    elif backend.workers == 1:
        yield from map(compute_shard, tasks)
    else:
        yield from _run_processes(tasks, backend)


def _run_processes(tasks: Iterator[ShardTask], backend: Backend) -> Iterator[ShardResult]:
    with ProcessPoolExecutor(max_workers=backend.workers) as pool:
        pending: dict[Future[ShardResult], int] = {}
        for task in islice(tasks, backend.in_flight):
            pending[pool.submit(compute_shard, task)] = task.index
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise StoreError(
                        f"a worker process died (crash in native code, or out of memory) while computing "
                        f"shard {index}; finished shards are kept: run again to resume, with --workers 1 "
                        "to see which structure fails"
                    ) from None
            for task in islice(tasks, len(done)):
                pending[pool.submit(compute_shard, task)] = task.index


def _run_ray(tasks: Iterator[ShardTask], backend: Backend) -> Iterator[ShardResult]:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if backend.ray_address:
            ray.init(address=backend.ray_address, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=backend.workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(compute_shard)
        pending = [remote.remote(task) for task in islice(tasks, backend.in_flight)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as error:
                first_line = str(error).splitlines()[0] if str(error) else ""
                raise StoreError(
                    f"a Ray task failed ({type(error).__name__}: {first_line}); finished shards are kept: "
                    "run again to resume"
                ) from None
            yield result
            pending += [remote.remote(task) for task in islice(tasks, 1)]
    finally:
        if started_here:
            ray.shutdown()
