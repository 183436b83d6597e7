"""Normalisation.apply works through large inputs in chunks with the same result."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.training import inputs
from crystalgenome.training.inputs import NORMALISATIONS


@pytest.mark.parametrize("preset", ["authors", "preprint"])
@pytest.mark.parametrize("channels", [4, 7])
def test_chunked_equals_whole(monkeypatch: pytest.MonkeyPatch, preset: str, channels: int) -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(11, 9, channels)).astype(np.float32)
    raw[..., 3] = np.abs(raw[..., 3]) * 10.0 ** rng.integers(-8, 2, size=(11, 9))
    mask = rng.random((11, 9)) < 0.8
    whole = NORMALISATIONS[preset].apply(raw, mask)
    monkeypatch.setattr(inputs, "APPLY_CHUNK", 4)
    chunked = NORMALISATIONS[preset].apply(raw, mask)
    np.testing.assert_array_equal(chunked, whole)
    assert chunked.dtype == np.float32 and not chunked[~mask].any()
    np.testing.assert_array_equal(NORMALISATIONS[preset].apply(raw), NORMALISATIONS[preset].apply(raw, None))


def test_single_cloud_and_single_point() -> None:
    norm = NORMALISATIONS["authors"]
    cloud = np.array([[5.0, 0.0, -5.0, 0.0], [1.0, 2.0, 3.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(norm.apply(cloud), norm.apply(cloud[None])[0])
    np.testing.assert_allclose(norm.apply(cloud[1]), norm.apply(cloud)[1])
    np.testing.assert_array_equal(norm.apply(cloud, np.array([True, False]))[1], 0.0)
