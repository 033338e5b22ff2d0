"""Progress of `gate replay`, `gate estimate` and `gate audit verify` goes to stderr only.

Forced with --progress it shows even with --json and off a terminal (as plain lines), and the
JSON on stdout is byte for byte what --no-progress prints. Unforced it shows on a terminal only
and never with --json. Progress counts real work: the decisions replayed, the reads of the
model's files (each read is one request the hub served).
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.rules.loader import default_ruleset_path, load_default_ruleset
from gate.store import replay, verify
from gate.store.db import open_store
from tests.compute.fake_hub import FakeHub, FakeRepo, serve
from tests.compute.helpers import save_tensors
from tests.store.test_decision_records import _decide_and_record


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert run(list(argv)) == 0
    return capsys.readouterr()


def _record_decisions(database_url: str, count: int) -> None:
    args = ["recipients", "add", "acme", "--name", "Acme", "--hq", "US", "--no-parent"]
    assert run([*args, "--destination", "US", "--db", database_url]) == 0
    store = open_store(database_url)
    for _ in range(count):
        _decide_and_record(store, load_default_ruleset(), "acme")
    store.close()


def _steps(err: str, label: str) -> list[tuple[int, str]]:
    """The (done, total) of every plain progress line; every stderr line must be one."""
    found = []
    for line in err.splitlines():
        match = re.fullmatch(re.escape(label) + r": (\d+)/(\d+|\?)", line)
        assert match is not None, f"not a progress line: {line!r}"
        found.append((int(match[1]), match[2]))
    return found


def test_replay_progress_forced_keeps_json_clean(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions = 5
    _record_decisions(database_url, decisions)
    capsys.readouterr()
    monkeypatch.setattr(replay, "PROGRESS_EVERY", 2)
    argv = ["replay", "--ruleset", str(default_ruleset_path()), "--json", "--db", database_url]

    quiet_out, quiet_err = _run(capsys, *argv, "--no-progress")
    assert quiet_err == "" and json.loads(quiet_out)["decisions"] == decisions
    out, err = _run(capsys, *argv, "--progress")
    assert out == quiet_out  # stdout untouched by the progress on stderr
    expected = [*range(2, decisions + 1, 2), decisions]
    assert _steps(err, "re-deciding") == [(n, str(decisions)) for n in expected]


def test_replay_progress_on_a_terminal_only_by_default(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record_decisions(database_url, 2)
    capsys.readouterr()
    argv = ["replay", "--ruleset", str(default_ruleset_path()), "--db", database_url]
    out, err = _run(capsys, *argv)  # captured stderr: not a terminal
    assert "2 decisions re-decided" in out and err == ""

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out, _ = _run(capsys, *argv)
    assert "2 decisions re-decided" in out and "re-deciding" in terminal.getvalue()
    for quiet in (["--json"], ["--no-progress"]):
        terminal.seek(0)
        terminal.truncate()
        _run(capsys, *argv, *quiet)
        assert terminal.getvalue() == "", quiet


def _model_folder(root: Path, shards: int) -> Path:
    root.mkdir()
    for n in range(shards):
        save_tensors(root / f"model-{n}.safetensors", {f"w{n}": (8, 8)})
    (root / "config.json").write_text('{"model_type": "llama"}', "utf-8")
    (root / "README.md").write_text("---\nlicense: mit\n---\n", "utf-8")
    return root


def test_estimate_folder_progress_counts_reads_and_keeps_json_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shards = 3
    folder = _model_folder(tmp_path / "model", shards)
    argv = ["estimate", str(folder), "--tokens", "1e9", "--json"]
    quiet_out, quiet_err = _run(capsys, *argv, "--no-progress")
    assert quiet_err == "" and json.loads(quiet_out)["parameters"]["total"] == shards * 64
    out, err = _run(capsys, *argv, "--progress")
    assert out == quiet_out
    steps = _steps(err, "reading the model")
    # One step per read, counted up from one; at least every shard's header and the two files.
    assert [done for done, _ in steps] == list(range(1, len(steps) + 1))
    assert len(steps) >= shards + 2 and {total for _, total in steps} == {"?"}


def test_estimate_hub_progress_is_one_step_per_request_served(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _model_folder(tmp_path / "model", 2)
    repo = FakeRepo({p.name: p.read_bytes() for p in folder.iterdir()})
    hub = FakeHub({"org/m": repo})
    with serve(hub) as endpoint:
        argv = ["classify", "org/m", "--endpoint", endpoint, "--json"]
        quiet_out, _ = _run(capsys, *argv, "--no-progress")
        del hub.requests[:]
        out, err = _run(capsys, *argv, "--progress")
    assert out == quiet_out and json.loads(out)["parameters"]["total"] == 128
    fetched = [r for r in hub.requests if "/resolve/" in r]
    assert len(_steps(err, "reading the model")) == len(fetched) > 0


def test_estimate_flags_only_reads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _run(capsys, "estimate", "--params", "7B", "--tokens", "2T", "--json", "--progress")
    assert json.loads(out)["method"] == "counting" and err == ""


def test_audit_verify_progress(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record_decisions(database_url, 2)
    capsys.readouterr()
    store = open_store(database_url)
    entries = verify.verify_chain(store).entries
    monkeypatch.setattr(verify, "PROGRESS_EVERY", 2)
    calls: list[tuple[int, int]] = []
    result = verify.verify_chain(store, progress=lambda done, total: calls.append((done, total)))
    store.close()
    assert result.ok and calls == [(n, entries) for n in [*range(2, entries + 1, 2), entries]]
    argv = ["audit", "verify", "--db", database_url]

    # Not a terminal (captured): one result line on stdout, nothing on stderr.
    out, err = _run(capsys, *argv)
    assert out.startswith(f"intact: {entries} entries") and out.count("\n") == 1 and err == ""
    out, err = _run(capsys, *argv, "--json")
    assert json.loads(out)["entries"] == entries and err == ""
    # Forced: plain lines on stderr, the JSON unchanged.
    forced, err = _run(capsys, *argv, "--json", "--progress")
    assert forced == out and _steps(err, "verifying the chain")[-1] == (entries, str(entries))

    # A terminal on stderr: the bar goes there, stdout is the same line; --json and
    # --no-progress keep it quiet.
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out, _ = _run(capsys, *argv)
    assert out.startswith(f"intact: {entries} entries") and out.count("\n") == 1
    assert "verifying the chain" in terminal.getvalue()
    for quiet in (["--json"], ["--no-progress"]):
        terminal.seek(0)
        terminal.truncate()
        _run(capsys, *argv, *quiet)
        assert terminal.getvalue() == "", quiet
