"""Forward operations on the meta device, and a training meter on real (small) training steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from gate.compute.declaration import load_envelope, verify_declaration  # noqa: E402
from gate.compute.torch_meter import TrainingMeter, count_parameters, forward_flops  # noqa: E402
from gate.crypto.dsse import key_id  # noqa: E402
from gate.errors import InputError  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

VOCAB, WIDTH, HEADS, FF, SEQ = 1000, 64, 4, 256, 128


class TinyLM(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, WIDTH)
        self.block = torch.nn.TransformerEncoderLayer(WIDTH, HEADS, FF, batch_first=True)
        self.head = torch.nn.Linear(WIDTH, VOCAB)

    def forward(self, tokens: Any) -> Any:
        return self.head(self.block(self.embed(tokens)))


def test_forward_flops_include_attention() -> None:
    report = forward_flops(TinyLM, lambda: (torch.zeros(2, SEQ, dtype=torch.long),), 2 * SEQ)
    projections = 2 * (4 * WIDTH * WIDTH + 2 * WIDTH * FF + WIDTH * VOCAB)
    attention = 2 * 2 * SEQ * WIDTH  # scores and weighted sum, per token
    assert report.forward_per_token == projections + attention
    assert report.training_per_token == 3 * report.forward_per_token
    assert report.parameters == count_parameters(TinyLM())
    assert report.training_operations(1e9) == pytest.approx(3 * (projections + attention) * 1e9)


def test_meta_device_builds_large_models_without_memory() -> None:
    def big() -> Any:
        return torch.nn.Sequential(torch.nn.Linear(50_000, 50_000), torch.nn.Linear(50_000, 10))

    report = forward_flops(big, lambda: (torch.zeros(1, 50_000),), 1)
    assert report.parameters > 2.5e9
    assert report.forward_per_token == 2 * (50_000 * 50_000 + 50_000 * 10)


def test_training_meter_counts_real_steps_and_signs(
    tmp_path: Path, declarer_key: tuple[Any, Path, Path]
) -> None:
    key = declarer_key[0]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    weights = tmp_path / "model.pt"
    out = tmp_path / "decl.json"
    batch, steps = 16, 5
    with TrainingMeter(
        repo="lab/tiny", declarer="Ada", private_key=key, out=out, weight_files=[weights],
        model=model,
    ) as meter:  # fmt: skip
        for _ in range(steps):
            x, y = torch.randn(batch, 32), torch.randint(0, 10, (batch,))
            with meter.step(tokens=batch):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        torch.save(model.state_dict(), weights)
    forward = 2 * batch * (32 * 64 + 64 * 10)
    # Backward: weight gradients of both layers, input gradient of the second only.
    backward = 2 * batch * (32 * 64 + 64 * 10) + 2 * batch * 64 * 10
    assert meter.operations == steps * (forward + backward)
    assert meter.tokens == steps * batch
    found = verify_declaration(load_envelope(out), {key_id(key.public_key()): key.public_key()})
    decl = found.declaration
    assert decl.total_operations == meter.operations
    assert decl.breakdown.pre_training == meter.operations
    assert decl.model.weight_digests is not None and "model.pt" in decl.model.weight_digests
    assert decl.parameters is not None and decl.parameters.total == count_parameters(model)


def test_meter_writes_nothing_when_training_fails(
    tmp_path: Path, declarer_key: tuple[Any, Path, Path]
) -> None:
    out = tmp_path / "decl.json"
    meter = TrainingMeter(repo="x", declarer="y", out=out, private_key=declarer_key[0])
    with pytest.raises(RuntimeError), meter:
        raise RuntimeError("crash")
    assert not out.exists()
    with pytest.raises(InputError, match="private key"):
        TrainingMeter(repo="x", declarer="y", out=out)
