"""PointNet: exact invariance to point order and padding, masks, configs."""

from __future__ import annotations

import json

import pytest
import torch

from crystalgenome.model import PACKAGED_CONFIGS, ModelConfig, PointNet, resolve_model_config
from crystalgenome.model.pointnet import build_model

TIGHT = {"rtol": 1e-5, "atol": 1e-6}


def _clouds(batch: int = 6, points: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random clouds with a different number of real points per cloud (padding at the end, zeros)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, points, 4, generator=generator)
    counts = torch.randint(points // 2, points + 1, (batch,), generator=generator)
    mask = torch.arange(points)[None, :] < counts[:, None]
    return x * mask[..., None], mask


def _trained_statistics(model: PointNet) -> PointNet:
    """Give BatchNorm layers non-trivial running statistics (a few training-mode passes), then eval."""
    model.train()
    with torch.no_grad():
        for seed in range(3):
            model(*_clouds(seed=seed + 100))
    return model.eval()


CONFIGS = {
    "default": ModelConfig.packaged("default"),
    "authors": ModelConfig.packaged("authors"),
    "tnet": ModelConfig(point_widths=(16, 32), head_widths=(16,), tnet=True, tnet_widths=(8, 16)),
    "attention": ModelConfig(point_widths=(16, 32), head_widths=(16,), attention_layers=2, attention_heads=4),
}


@pytest.fixture(params=sorted(CONFIGS))
def model(request: pytest.FixtureRequest) -> PointNet:
    torch.manual_seed(0)
    return _trained_statistics(PointNet(CONFIGS[request.param]))


def test_output_shape(model: PointNet) -> None:
    x, mask = _clouds()
    assert model(x, mask).shape == (6, model.config.num_classes)


def test_invariant_to_point_order(model: PointNet) -> None:
    x, mask = _clouds()
    expected = model(x, mask)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        order = torch.stack([torch.randperm(x.shape[1], generator=generator) for _ in range(x.shape[0])])
        shuffled = x.gather(1, order[..., None].expand_as(x))
        assert torch.allclose(model(shuffled, mask.gather(1, order)), expected, **TIGHT)


def test_invariant_to_padding(model: PointNet) -> None:
    x, mask = _clouds()
    expected = model(x, mask)
    padded = torch.cat([x, torch.zeros(6, 25, 4)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(6, 25, dtype=torch.bool)], dim=1)
    assert torch.allclose(model(padded, padded_mask), expected, **TIGHT)
    # Padded points that are not zero must not matter either: they are masked, not just small.
    garbage = padded.clone()
    garbage[~padded_mask] = 1e3
    assert torch.allclose(model(garbage, padded_mask), expected, **TIGHT)


def test_each_cloud_alone_equals_batched(model: PointNet) -> None:
    """Eval mode: a cloud's output does not depend on the other clouds or on its padding length."""
    x, mask = _clouds()
    batched = model(x, mask)
    for i in range(x.shape[0]):
        real = mask[i]
        alone = model(x[i : i + 1, real], None)
        assert torch.allclose(alone, batched[i : i + 1], **TIGHT)


def test_batchnorm_statistics_ignore_padding() -> None:
    """Training mode: the batch statistics (and so the output and running stats) ignore padded points."""
    torch.manual_seed(0)
    config = ModelConfig(point_widths=(8, 16), head_widths=(8,), dropout=0.0)
    first, second = PointNet(config).train(), PointNet(config).train()
    second.load_state_dict(first.state_dict())
    x, mask = _clouds()
    padded = torch.cat([x, torch.full((6, 30, 4), 5.0)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(6, 30, dtype=torch.bool)], dim=1)
    assert torch.allclose(first(x, mask), second(padded, padded_mask), **TIGHT)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        if "running" in name:
            assert torch.allclose(a, b, **TIGHT), name


def test_full_mask_equals_no_mask(model: PointNet) -> None:
    x = torch.randn(4, 30, 4)
    assert torch.allclose(model(x, torch.ones(4, 30, dtype=torch.bool)), model(x), **TIGHT)


def test_padding_changes_nothing_but_real_points_do() -> None:
    """Guard against a model that ignores its input: changing a real point changes the output."""
    torch.manual_seed(0)
    model = _trained_statistics(PointNet(CONFIGS["default"]))
    x, mask = _clouds()
    changed = x.clone()
    changed[:, 0, :3] += 3.0
    assert not torch.allclose(model(changed, mask), model(x, mask), **TIGHT)


def test_gradients_flow_only_to_real_points() -> None:
    torch.manual_seed(0)
    model = PointNet(CONFIGS["default"]).train()
    x, mask = _clouds()
    x.requires_grad_(True)
    model(x, mask).sum().backward()
    assert torch.all(x.grad[~mask] == 0)
    assert x.grad[mask].abs().sum() > 0


@pytest.mark.parametrize("name", PACKAGED_CONFIGS)
def test_packaged_configs_load_and_build(name: str) -> None:
    config = ModelConfig.packaged(name)
    assert resolve_model_config(name) == config
    assert build_model(config)(torch.randn(3, 10, config.in_channels)).shape == (3, config.num_classes)


def test_authors_config_matches_their_code() -> None:
    """deepKNet main.py defaults: conv_dims 4-256-512, fc_dims 512-256-128, ReLU after every conv."""
    config = ModelConfig.packaged("authors")
    assert (config.point_widths, config.head_widths, config.relu_before_pool) == (
        (256, 512),
        (256, 128),
        True,
    )
    assert config.dropout == pytest.approx(0.2)


def test_config_json_round_trip(tmp_path) -> None:
    config = ModelConfig(num_classes=7, point_widths=(8, 16), tnet=True, attention_layers=1)
    path = tmp_path / "model.json"
    config.to_json(path)
    assert ModelConfig.from_json(path) == config
    assert json.loads(path.read_text())["point_widths"] == [8, 16]
    assert resolve_model_config(path) == config


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"point_width": [8]})
    with pytest.raises(ValueError):
        ModelConfig(num_classes=1)
    with pytest.raises(ValueError):
        ModelConfig(point_widths=(10,), attention_layers=1, attention_heads=4)
    with pytest.raises(ValueError):
        ModelConfig.packaged("nonexistent")


def test_tnet_starts_as_identity() -> None:
    torch.manual_seed(0)
    model = PointNet(CONFIGS["tnet"]).eval()
    transform = model.tnet(torch.randn(2, 12, 3))
    assert torch.allclose(transform, torch.eye(3).expand(2, 3, 3))


def test_deterministic_given_seed() -> None:
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = PointNet(CONFIGS["default"]).eval()
        outputs.append(model(torch.ones(2, 5, 4)))
    assert torch.equal(*outputs)
    assert torch.isfinite(outputs[0]).all()


def test_max_pool_gradient_goes_to_every_maximum() -> None:
    """The max pool's backward pass (arithmetic indicator) equals (x == max) · grad, ties included."""
    from crystalgenome.model.pointnet import max_over_points

    torch.manual_seed(0)
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    x[0, 7] = x[0, 3]  # a tie at the maximum of some channels
    x[1, :, 2] = 1.5  # every point tied
    x[2, 4:, 1] = -torch.inf  # padding
    x.requires_grad_(True)
    grad = torch.randn(3, 5, dtype=torch.float64)
    max_over_points(x).backward(grad)
    values = x.detach().amax(dim=1, keepdim=True)
    expected = (x.detach() == values) * grad.unsqueeze(1)
    assert torch.equal(x.grad, expected)


def test_row_linear_matches_linear() -> None:
    """RowLinear (narrow input: xᵀ·grad weight gradient) gives nn.Linear's output and gradients."""
    from crystalgenome.model.pointnet import RowLinear

    torch.manual_seed(0)
    for bias in (False, True):
        for width_in in (4, 64):
            row = RowLinear(width_in, 32, bias=bias).double()
            plain = torch.nn.Linear(width_in, 32, bias=bias).double()
            plain.load_state_dict(row.state_dict())
            x = torch.randn(500, width_in, dtype=torch.float64, requires_grad=True)
            grad = torch.randn(500, 32, dtype=torch.float64)
            out_row = row(x)
            out_row.backward(grad)
            grad_x = x.grad.clone()
            x.grad = None
            out_plain = plain(x)
            out_plain.backward(grad)
            torch.testing.assert_close(out_row, out_plain)
            torch.testing.assert_close(grad_x, x.grad)
            for mine, theirs in zip(row.parameters(), plain.parameters(), strict=True):
                torch.testing.assert_close(mine.grad, theirs.grad)
