"""`gate estimate`, `gate classify`, `gate declare` and `gate declare verify` end to end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.cli.main import run
from tests.compute.fake_hub import FakeHub, FakeRepo, serve
from tests.compute.helpers import save_tensors


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_estimate_flags_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["estimate", "--params", "405B", "--tokens", "15.6T", "--json"])
    assert out["method"] == "counting"
    assert out["central"] == pytest.approx(6 * 405e9 * 15.6e12)
    assert out["position"] == "below" and out["threshold"] == 1e26
    assert out["parameters"] == {"total": 405_000_000_000, "active": 405_000_000_000}
    assert set(out) >= {"low", "central", "high", "method", "threshold", "position",
                        "parameters", "inputs", "warnings"}  # fmt: skip


def test_estimate_hardware_and_undetermined(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(
        capsys,
        ["estimate", "--chip", "H100-SXM", "--chip-count", "100000", "--days", "100", "--json"],
    )
    assert out["method"] == "hardware" and out["position"] == "at_or_above"
    assert run(["estimate", "--params", "2T"]) == 0
    text = capsys.readouterr().out
    assert "UNDETERMINED" in text and "To settle it" in text


def test_estimate_local_file_human(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.safetensors"
    save_tensors(path, {"w": (64, 64)})
    assert run(["estimate", str(path), "--tokens", "1e9"]) == 0
    text = capsys.readouterr().out
    assert "BELOW" in text and "4,096 total" in text and "counting" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "--tokens", "-5T"], "--tokens: must not be negative"),
        (["estimate", "--params", "lots"], "--params: expected a number"),
        (["estimate", "--chip", "k80", "--chip-hours", "5"], "unknown accelerator 'k80'"),
        (["estimate", "--precision", "fp7"], "--precision"),
        (["estimate", "/no/such/path"], "no such file or folder"),
        (["estimate", "--utilization", "1.5"], "--utilization"),
    ],
)
def test_estimate_bad_input(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_estimate_bad_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 8 + b"{}")
    assert run(["estimate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "exceeds" in err


def test_classify_remote(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_tensors(path, {"w": (10, 10)})
    repo = FakeRepo(
        {"model.safetensors": path.read_bytes(), "README.md": b"---\nlicense: mit\n---\n"}
    )
    with serve(FakeHub({"org/m": repo})) as endpoint:
        out = _json(capsys, ["classify", "org/m", "--endpoint", endpoint, "--json"])
        assert run(["classify", "org/m", "--endpoint", endpoint]) == 0
    assert out["published"] is None and out["parameters"]["total"] == 100  # card: a claim
    assert "Publication: unknown" in capsys.readouterr().out


def test_classify_reads_the_servers_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GATE_PUBLICATION_SOURCES and the known-models table apply to the CLI as to the server."""
    path = tmp_path / "m.safetensors"
    save_tensors(path, {"w": (10, 10)})
    card = b"---\nlicense: mit\nbase_model: meta-llama/Llama-3.1-8B\n---\n"
    hub = FakeHub(
        {
            "org/m": FakeRepo(
                {"model.safetensors": path.read_bytes(), "README.md": card},
                card_data={"license": "mit"},
            ),
            "org/orphan": FakeRepo(
                {"model.safetensors": path.read_bytes(),
                 "README.md": b"---\nbase_model: acme/closed\n---\n"}
            ),
        }
    )  # fmt: skip
    with serve(hub) as endpoint:
        monkeypatch.setenv("GATE_PUBLICATION_SOURCES", json.dumps([endpoint]))
        out = _json(capsys, ["classify", "org/m", "--endpoint", endpoint, "--json"])
        orphan = _json(capsys, ["classify", "org/orphan", "--endpoint", endpoint, "--json"])
    assert out["published"] is True and endpoint in out["publication_evidence"]
    # The known base's operations are added: at least Llama 3.1 8B's 7.5e23.
    assert out["low"] >= 7.5e23 and out["high"] < 1e26 and out["position"] == "below"
    assert orphan["high"] is None and orphan["position"] == "undetermined"


def _declare(private: Path, out: Path, *extra: str) -> int:
    return run(
        ["declare", "--repo", "lab/m", "--commit", "b" * 40, "--pre-training", "3e23",
         "--fine-tuning", "1e21", "--tokens", "300B", "--params", "175B", "--declarer", "Ada",
         "--key", str(private), "--out", str(out), *extra]
    )  # fmt: skip


def test_declare_verify_and_estimate(
    tmp_path: Path, declarer_key: tuple[Any, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, private, public = declarer_key
    decl = tmp_path / "decl.json"
    assert _declare(private, decl) == 0
    assert "signed declaration written" in capsys.readouterr().out
    assert json.loads(decl.read_text())["payloadType"].endswith("compute-declaration+json")
    verified = _json(capsys, ["declare", "verify", str(decl), "--key", str(public), "--json"])
    assert verified["valid"] is True
    assert verified["declaration"]["total_operations"] == pytest.approx(3.01e23)
    out = _json(capsys, ["estimate", "--declaration", str(decl), "--key", str(public), "--json"])
    assert out["method"] == "declaration" and out["low"] == out["high"] == pytest.approx(3.01e23)
    unverified = _json(capsys, ["estimate", "--declaration", str(decl), "--json"])
    # Unsigned figures rank below counting, and counting from unsigned (declared) tokens sets
    # no high end of its own: the upper bound does.
    assert unverified["method"] == "counting, capped by upper_bound"


def test_declare_verify_rejects_tampering_and_wrong_key(
    tmp_path: Path, declarer_key: tuple[Any, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, private, public = declarer_key
    decl = tmp_path / "decl.json"
    assert _declare(private, decl) == 0
    envelope = json.loads(decl.read_text())
    envelope["signatures"][0]["sig"] = envelope["signatures"][0]["sig"][::-1]
    decl.write_text(json.dumps(envelope))
    capsys.readouterr()
    assert run(["declare", "verify", str(decl), "--key", str(public)]) == 2
    err = capsys.readouterr().err
    assert str(decl) in err and "signature" in err


def test_declare_bad_numbers_and_missing_fields(
    tmp_path: Path, declarer_key: tuple[Any, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, private, _ = declarer_key
    assert _declare(private, tmp_path / "d.json", "--total", "-1") == 2
    assert "--total: must not be negative" in capsys.readouterr().err
    assert run(["declare", "--repo", "x", "--key", str(private)]) == 2
    assert "--declarer" in capsys.readouterr().err


def test_declare_interactive(
    tmp_path: Path,
    declarer_key: tuple[Any, Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, private, public = declarer_key
    answers = ["lab/m", "c" * 40, "2e24", "1T", "70B", "", "Ada", "Lab"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
    out = tmp_path / "d.json"
    assert run(["declare", "-i", "--key", str(private), "--out", str(out)]) == 0
    capsys.readouterr()
    verified = _json(capsys, ["declare", "verify", str(out), "--key", str(public), "--json"])
    assert verified["declaration"]["total_operations"] == 2e24
    assert verified["declaration"]["declarer"] == {"name": "Ada", "organization": "Lab"}


@pytest.mark.slow
def test_gate_estimate_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from gate.cli.main import main; main()", "estimate",
         "--params", "8B", "--json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["position"] == "below"
