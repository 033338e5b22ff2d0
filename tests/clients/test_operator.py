"""The operator's first hour: `gate models import|list`, `gate serve`'s start-up checks, and
README's operator block run as written on a fresh folder."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download

from gate.cli.main import run
from gate.demo.tiny_models import llama_files
from gate.hub.local import LocalStore

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent


def _model(folder: Path, seed: int = 4) -> dict[str, bytes]:
    files = llama_files(seed, shards=2)
    folder.mkdir(parents=True)
    for path, data in files.items():
        (folder / path).write_bytes(data)
    return files


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_import_serves_the_folder_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _model(tmp_path / "model")
    (tmp_path / "model" / ".cache").mkdir()
    (tmp_path / "model" / ".cache" / "junk").write_bytes(b"tool state")
    store = tmp_path / "hub"
    assert (
        run(
            [
                "models",
                "import",
                str(tmp_path / "model"),
                "--repo",
                "acme/m1",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    commit = re.findall(r"\b[0-9a-f]{40}\b", capsys.readouterr().out)
    assert len(commit) == 1
    source = LocalStore(store)
    import anyio

    async def listing() -> dict[str, bytes]:
        resolved = await source.resolve("acme/m1", "main")
        assert resolved.commit == commit[0]
        out = {}
        for entry in await source.list_files("acme/m1", resolved.commit):
            chunks = [
                c async for c in source.open("acme/m1", resolved.commit, entry, 0, entry.size)
            ]
            out[entry.path] = b"".join(chunks)
        return out

    assert anyio.run(listing) == files  # hidden tool folders are not part of the model


def test_import_is_content_addressed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _model(tmp_path / "model")
    store = str(tmp_path / "hub")

    def commit(*extra: str) -> str:
        args = ["models", "import", str(tmp_path / "model"), "--repo", "acme/m1", "--store", store]
        assert run([*args, "--json", *extra]) == 0
        found = re.search(r'"commit": "([0-9a-f]{40})"', capsys.readouterr().out)
        assert found is not None
        return found.group(1)

    first = commit()
    assert commit() == first  # the same bytes again: the same commit
    shard = tmp_path / "model" / "model-00001-of-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    second = commit("--revision", "v2")
    assert second != first
    refs = tmp_path / "hub" / "models--acme--m1" / "refs"
    assert (refs / "main").read_text() == first and (refs / "v2").read_text() == second


@pytest.mark.parametrize(
    "args",
    [
        ["--repo", "../escape"],
        ["--repo", "a/b/c"],
        ["--repo", "acme/ok", "--revision", "../main"],
    ],
)
def test_import_refuses_bad_names(tmp_path: Path, args: list[str]) -> None:
    _model(tmp_path / "model")
    code = run(
        ["models", "import", str(tmp_path / "model"), "--store", str(tmp_path / "hub"), *args]
    )
    assert code == 2
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").rglob("refs"))


def test_import_of_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        ["models", "import", str(tmp_path / "nope"), "--repo", "a/b", "--store", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a folder" in err


def test_list_shows_repositories_commits_and_classification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    store = str(tmp_path / "hub")
    for name in ("acme/one", "acme/two"):
        _model(tmp_path / name.replace("/", "-"), seed=len(name))
        assert (
            run(
                [
                    "models",
                    "import",
                    str(tmp_path / name.replace("/", "-")),
                    "--repo",
                    name,
                    "--store",
                    store,
                    "--json",
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert run(["models", "list", "--store", store, "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["repo_id"] for r in rows] == ["acme/one", "acme/two"]
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]) and row["revision"] == "main"
        # Counted from the safetensors headers: a tiny model's high end is known and tiny.
        _, high = row["training_compute"]
        assert high is not None and high < 1e26
    assert run(["models", "list", "--store", str(tmp_path / "missing")]) == 2


def test_serve_refuses_a_missing_store_and_a_taken_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    assert run(["serve", "--store", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "hub").mkdir()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["serve", "--store", str(tmp_path / "hub"), "--port", str(port)]) == 7
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot listen on 127.0.0.1:") and "--port" in err[-1]
    assert "no repository" in "\n".join(err)  # the empty store was warned about first


def _block(name: str) -> str:
    """The fenced block after `<!-- ci:NAME -->` in README, as .ci/run extracts it."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- ci:{name} -->")
    assert lines[start + 1].startswith("```")
    end = next(i for i in range(start + 2, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start + 2 : end]) + "\n"


@pytest.mark.slow
def test_readme_operator_block_runs_as_written(tmp_path: Path) -> None:
    files = _model(tmp_path / "frontier-1")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "HF_"))}
    env |= {"PATH": f"{BIN}:{env.get('PATH', '')}", "GATE_PORT": str(port)}
    (tmp_path / "operator.sh").write_text("set -eu\n" + _block("operator"))
    log = (tmp_path / "out.log").open("w")
    shell = subprocess.Popen(
        ["bash", str(tmp_path / "operator.sh")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert shell.poll() is None, (tmp_path / "out.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "out.log").read_text()[-3000:]
            time.sleep(0.2)
        out = (tmp_path / "out.log").read_text()
        assert "gate serve: http://127.0.0.1:" in out and "(1 repositories)" in out
        token = re.search(r"\bwg_[A-Za-z0-9_-]+", out)
        assert token is not None, out
        got = hf_hub_download(
            "acme/frontier-1",
            "config.json",
            endpoint=f"http://127.0.0.1:{port}",
            token=token.group(0),
            cache_dir=tmp_path / "client",
        )
        assert Path(got).read_bytes() == files["config.json"]
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.wait(timeout=30)
        log.close()
