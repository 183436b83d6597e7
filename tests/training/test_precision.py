"""Mixed precision: which dtype a training step computes in, bfloat16 steps on float32 weights, the
max pool's gradient in bfloat16, and the fused Adam update."""

from __future__ import annotations

import pytest
import torch

from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.model.pointnet import RowLinear, max_over_points
from crystalgenome.training import TrainConfig
from crystalgenome.training.devices import native_bfloat16, resolve_precision
from crystalgenome.training.trainer import _make_optimizer, train_one_epoch

CPU = torch.device("cpu")


def test_precision_names_resolve() -> None:
    assert resolve_precision("float32", CPU) == torch.float32
    assert resolve_precision("bfloat16", CPU) == torch.bfloat16
    expected = torch.bfloat16 if native_bfloat16(CPU) else torch.float32
    assert resolve_precision("auto", CPU) == expected
    assert resolve_precision("auto", torch.device("cuda")) == torch.float32  # GPUs: not measured
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        resolve_precision("half", CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="float16")
    assert TrainConfig.from_dict({}).precision == "auto"  # configs saved before the setting


def _one_epoch(precision: str) -> tuple[list[torch.dtype], PointNet]:
    """One epoch of a small PointNet on random clouds; returns the dtypes of the first per-point
    layer's outputs and the model."""
    torch.manual_seed(0)
    model = PointNet(ModelConfig(point_widths=(8, 16), head_widths=(8,), num_classes=3))
    seen: list[torch.dtype] = []
    first = next(module for module in model.modules() if isinstance(module, RowLinear))
    first.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    config = TrainConfig(batch_size=8, precision=precision, augment=())
    optimizer = _make_optimizer(model, config)
    train_one_epoch(
        model, optimizer, torch.randn(32, 10, 4), torch.ones(32, 10, dtype=torch.bool),
        torch.randint(0, 3, (32,)), torch.arange(32), config=config,
        generator=torch.Generator().manual_seed(0), loss_weights=None,
    )  # fmt: skip
    return seen, model


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_steps_compute_in_the_configured_precision(precision: str) -> None:
    """bfloat16 steps multiply in bfloat16 but keep float32 weights, gradients and BatchNorm statistics."""
    seen, model = _one_epoch(precision)
    assert seen and set(seen) == {getattr(torch, precision)}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float32, name
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_max_pool_gradient_in_bfloat16() -> None:
    """The bfloat16 backward (computed in float32) is (x == max) · grad, ties included, in bfloat16."""
    torch.manual_seed(0)
    x = torch.randn(3, 20, 5).bfloat16()
    x[0, 7] = x[0, 3]
    x[1, :, 2] = 1.5
    x.requires_grad_(True)
    grad = torch.randn(3, 5).bfloat16()
    max_over_points(x).backward(grad)
    expected = (x.detach() == x.detach().amax(dim=1, keepdim=True)) * grad.unsqueeze(1)
    assert x.grad.dtype == torch.bfloat16
    assert torch.equal(x.grad, expected)


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_fused_optimizer_makes_the_per_tensor_update(kind: str) -> None:
    """The trainer's fused Adam(W) moves the weights as torch's per-tensor loop does."""
    config = TrainConfig(optimizer=kind, weight_decay=0.01, lr=3e-3)
    models = []
    for fused in (True, False):
        torch.manual_seed(0)
        model = PointNet(ModelConfig(point_widths=(8, 16), head_widths=(8,)))
        if fused:
            optimizer = _make_optimizer(model, config)
            assert optimizer.defaults["fused"]
        else:
            optimizer_class = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
            optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=0.01, foreach=False)
        generator = torch.Generator().manual_seed(1)
        for _ in range(5):
            for parameter in model.parameters():
                parameter.grad = torch.randn(parameter.shape, generator=generator)
            optimizer.step()
        models.append(model)
    for (name, fused), (_, looped) in zip(*(model.named_parameters() for model in models), strict=True):
        torch.testing.assert_close(fused, looped, rtol=1e-6, atol=1e-7, msg=name)
