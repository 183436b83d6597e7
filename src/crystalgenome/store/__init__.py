"""Stage 4: the feature store — diffraction point clouds of a whole source, computed once, read fast.

``featurize(source, out, settings=..., backend=...)`` writes a store; ``FeatureStore.open(out)``
reads it back for training; ``load_task_dataset(paths, task)`` turns stores (or sources, featurized
once into a cached store) into the in-memory arrays, labels and split a training run takes.

Format: a directory of HDF5 shards plus a JSON manifest and CSV tables (see
:mod:`crystalgenome.store.layout` and :mod:`crystalgenome.store.shard`). Why HDF5 shards:

- one shard = one file, written whole to a temporary name, fsynced and renamed: a shard file
  exists only when it is complete, so a run killed at any moment (SIGKILL included) resumes by
  recomputing just the shards whose file is missing — no journal, no locking, no repair pass;
  an appendable single file (one HDF5 or zarr array grown in place) can be left half-written;
- within a shard, points are one contiguous uncompressed float32 array (n, P, 4), read straight
  into the caller's buffer (``read_direct``): loading 32k × 343 points takes well under a second;
- h5py is already a dependency (zarr is not), and HDF5 files open in any language;
- the shard plan is a pure function of the source's id order and the shard size, and each shard
  records the fingerprint of its settings and of its ids, so stores (and shards) made with other
  diffraction settings can never be mixed in.

Points are stored raw (g in Å⁻¹, I = |F|²/V²); normalisation belongs to the model's data pipeline.
"""

from __future__ import annotations

from crystalgenome.store.dataset import TaskDataset, ensure_store, load_task_dataset
from crystalgenome.store.executors import Backend
from crystalgenome.store.layout import StoreError, is_store
from crystalgenome.store.reader import FeatureStore
from crystalgenome.store.shard import featurize_record, featurize_records
from crystalgenome.store.writer import DEFAULT_SHARD_SIZE, FeaturizeReport, featurize

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "Backend",
    "FeatureStore",
    "FeaturizeReport",
    "StoreError",
    "TaskDataset",
    "ensure_store",
    "featurize",
    "featurize_record",
    "featurize_records",
    "is_store",
    "load_task_dataset",
]
