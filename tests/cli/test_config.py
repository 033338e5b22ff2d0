"""One configuration for every command: sources, precedence, masking, and the same records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli.main import COMMANDS, run
from gate.server.settings import load_serve_settings
from gate.settings import ServeSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GATE_") and name != "GATE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


def show(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = (
        run([*args[:2], "config", "show", "--json", *args[2:]])
        if args[:1] == ("--config",)
        else run(["config", "show", "--json", *args])
    )
    out = capsys.readouterr().out
    assert code == 0, out
    report: dict[str, object] = json.loads(out)
    return report


def test_records_commands_and_serve_open_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gate.toml"
    config.write_text(f'data_dir = "{tmp_path / "records"}"\n\n[serve]\nport = 9100\n')
    assert (
        run(
            [
                "--config",
                str(config),
                "recipients",
                "add",
                "r-acme",
                "--name",
                "Acme",
                "--hq",
                "DE",
                "--no-parent",
            ]
        )
        == 0
    )
    assert (tmp_path / "records" / "gate.db").is_file()
    # The same file through GATE_CONFIG: the record is there.
    monkeypatch.setenv("GATE_CONFIG", str(config))
    capsys.readouterr()
    assert run(["recipients", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["r-acme"]
    # ... and the server's settings name the same database.
    serve = load_serve_settings(None, {"store": tmp_path})
    assert serve.effective_database_url == Settings().effective_database_url
    assert serve.effective_database_url.endswith(str(tmp_path / "records" / "gate.db"))
    assert serve.port == 9100


def test_precedence_and_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('mode = "shadow"\nport = 9001\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("GATE_CONFIG", str(config))
    monkeypatch.setenv("GATE_PORT", "9002")
    report = show(capsys, "--host", "127.0.0.2")
    rows = report["settings"]
    assert isinstance(rows, dict)
    assert (rows["mode"]["value"], rows["mode"]["source"]) == ("shadow", "file")
    assert (rows["port"]["value"], rows["port"]["source"]) == (9002, "env")
    assert (rows["host"]["value"], rows["host"]["source"]) == ("127.0.0.2", "flag")
    assert (rows["workers"]["value"], rows["workers"]["source"]) == (1, "default")
    assert report["config_file"] == str(config) and report["config_file_named_by"] == "env"
    # gate --config wins over GATE_CONFIG.
    other = tmp_path / "other.toml"
    other.write_text('mode = "enforce"\n')
    report = show(capsys, "--config", str(other))
    assert report["settings"]["mode"]["value"] == "enforce"  # type: ignore[index]
    assert report["config_file_named_by"] == "flag"
    # ... for this command only: the next one is back to GATE_CONFIG.
    assert show(capsys)["settings"]["mode"]["value"] == "shadow"  # type: ignore[index]
    assert load_settings(ServeSettings, flags={"port": None}).port == 9002


def test_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATE_KEY_PASSPHRASE", "hunter2-secret")
    monkeypatch.setenv("GATE_UPSTREAM_TOKEN", "hf_upstream_secret")
    monkeypatch.setenv("GATE_DATABASE_URL", "postgresql+psycopg://gate:pw-secret@db:5432/gate")
    for args in (["config", "show"], ["config", "show", "--json"]):
        assert run(args) == 0
        out = capsys.readouterr().out
        for secret in ("hunter2-secret", "hf_upstream_secret", "pw-secret"):
            assert secret not in out
        assert "********" in out and "gate:" in out


def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('databse_url = "sqlite:///elsewhere.db"\n')
    assert run(["--config", str(config), "recipients", "list"]) == 2
    assert "databse_url" in capsys.readouterr().err
    config.write_text("not toml = = \n")
    assert run(["--config", str(config), "config", "show"]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert run(["--config", str(tmp_path / "missing.toml"), "config", "show"]) == 2
    assert "cannot read" in capsys.readouterr().err
    monkeypatch.setenv("GATE_PORT", "eighty")
    assert run(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "port" in err and "Traceback" not in err
    monkeypatch.delenv("GATE_PORT")
    monkeypatch.setenv("GATE_DATABSE_URL", "x")
    assert run(["config", "show"]) == 0
    assert "GATE_DATABSE_URL names no setting" in capsys.readouterr().out


def test_help_lines_match_the_commands() -> None:
    # The lazy listing's one-line help must say what each command's own help says.
    import typer

    from gate.cli.main import LazyGroup, app

    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    modules = {module for module, _ in COMMANDS.values()}
    for module in sorted(modules):
        group.load(module)
    for name, (_, line) in COMMANDS.items():
        command = group.commands[name]
        assert (command.help or "").strip().split("\n")[0] == line, name


@pytest.mark.slow
def test_help_and_decide_load_only_what_they_use() -> None:
    heavy = [
        "sqlalchemy",
        "fastapi",
        "uvicorn",
        "starlette",
        "cryptography",
        "torch",
        "httpx",
        "httpx2",
        "huggingface_hub",
        "alembic",
        "psycopg",
        "numpy",
        "safetensors",
    ]
    code = (
        "import sys\n"
        "from gate.cli.main import run\n"
        "code = run(sys.argv[1:])\n"
        f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))\n"
    )
    example = sorted((ROOT / "examples").glob("*.json"))[0]
    for argv in (["--help"], ["decide", str(example)]):
        result = subprocess.run(
            [sys.executable, "-c", code, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert "LOADED []" in result.stdout, (argv, result.stdout, result.stderr)
