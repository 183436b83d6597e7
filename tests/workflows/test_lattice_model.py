"""A lattice-frame model end to end: Miller indices loaded with the points, exact rotation invariance in
evaluation, and the same predictions for a structure file whatever its Cartesian orientation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation

from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.store import FeatureStore
from crystalgenome.store.dataset import load_task_dataset
from crystalgenome.training import TrainConfig
from crystalgenome.workflows.predict import predict_files
from crystalgenome.workflows.tasks import train_task

LIMIT = 300
SETTINGS = DiffractionSettings(cell="conventional")


@pytest.fixture(scope="module")
def lattice_run(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crystal-system run with the packaged lattice model on 300 mp_cgcnn structures (2 epochs)."""
    out = tmp_path_factory.mktemp("runs") / "crystal_system_lattice"
    config = TrainConfig(epochs=2, seed=1, augment=(), test_time_rotations=0, val_rotations=0, num_threads=1)
    train_task(
        [cgcnn_dir], "crystal_system", out, train_config=config, model_config="lattice",
        settings=SETTINGS, limit=LIMIT, progress=False,
    )  # fmt: skip
    return out


def test_points_carry_the_stores_miller_indices(cgcnn_dir: Path) -> None:
    dataset = load_task_dataset([cgcnn_dir], "crystal_system", settings=SETTINGS, limit=LIMIT, with_hkl=True)
    plain = load_task_dataset([cgcnn_dir], "crystal_system", settings=SETTINGS, limit=LIMIT)
    assert dataset.points.shape == (*plain.points.shape[:2], 7)
    np.testing.assert_array_equal(dataset.points[..., :4], plain.points)
    hkl, mask = FeatureStore.open(dataset.stores[0]).load_hkl(dataset.ids)
    np.testing.assert_array_equal(dataset.points[..., 4:], hkl)
    np.testing.assert_array_equal(dataset.mask, mask)


def test_evaluation_finds_exact_rotation_invariance(lattice_run: Path) -> None:
    metrics = json.loads((lattice_run / "evaluation" / "metrics.json").read_text())
    assert metrics["rotation_invariance"]["value"] == 1.0
    assert json.loads((lattice_run / "config.json").read_text())["model_config"]["frame"] == "lattice"


def _rotated(structure: Structure, seed: int) -> Structure:
    rotation = Rotation.random(random_state=seed).as_matrix()
    lattice = Lattice(structure.lattice.matrix @ rotation.T)
    return Structure(lattice, structure.species, structure.frac_coords)


def test_predictions_do_not_depend_on_the_files_orientation(
    lattice_run: Path, real_structures: dict[str, Structure], tmp_path: Path
) -> None:
    original, turned = tmp_path / "original", tmp_path / "turned"
    original.mkdir()
    turned.mkdir()
    ordered = [structure for structure in real_structures.values() if structure.is_ordered][:12]
    for index, structure in enumerate(ordered):
        structure.to(filename=str(original / f"s{index:02d}.json"))
        _rotated(structure, index).to(filename=str(turned / f"s{index:02d}.json"))
    expected = predict_files(lattice_run, [original], rotations=0).predictions
    observed = predict_files(lattice_run, [turned], rotations=0).predictions
    assert len(expected) == len(observed) == 12
    for before, after in zip(expected, observed, strict=True):
        assert after["label"] == before["label"]
        for name, probability in before["probabilities"].items():
            assert after["probabilities"][name] == pytest.approx(probability, abs=1e-4)
