"""`gate estimate`, `gate classify`, `gate declare` and `gate declare verify`.

Training compute for a model from whatever is at hand (a local file or folder, a repository on a
Hugging Face-compatible server read header-only, flags, a signed declaration), and the tool a
researcher uses to sign a compute declaration.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.markup import escape

from gate.cli.output import print_json, stdout
from gate.cli.progress import PROGRESS_OPTION, entries_progress
from gate.compute.assemble import TrainingInputs
from gate.compute.classify import Classification
from gate.compute.declaration import (
    VerifiedDeclaration,
    load_envelope,
    read_unverified,
    sign_declaration,
    verify_declaration,
)
from gate.compute.declaration_form import build_declaration
from gate.compute.numbers import format_ops, parse_positive, parse_quantity
from gate.core.ruleset import Ruleset
from gate.crypto.keys import load_public_keys
from gate.errors import InputError, SignatureError
from gate.rules.loader import resolve_ruleset
from gate.service.build import classification_ruleset, known_models
from gate.service.classifying import classify_target
from gate.wiring import ruleset_set

PRECISIONS = ("bf16", "fp16", "fp8", "fp32", "tf32", "int8", "fp4")


def _num(value: str | None, flag: str, positive: bool = False) -> float | None:
    if value is None:
        return None
    return parse_positive(value, flag) if positive else parse_quantity(value, flag)


def _declaration(path: Path | None, keys: list[Path]) -> VerifiedDeclaration | None:
    if path is None:
        return None
    envelope = load_envelope(path)
    if keys:
        return verify_declaration(envelope, load_public_keys(keys), str(path))
    return read_unverified(envelope, str(path))


def _inputs(
    params: str | None,
    active_params: str | None,
    tokens: str | None,
    chip: str | None,
    chip_count: str | None,
    days: str | None,
    chip_hours: str | None,
    precision: str,
    utilization: str | None,
    declaration: VerifiedDeclaration | None,
) -> TrainingInputs:
    if precision.lower() not in PRECISIONS:
        raise InputError(
            "--precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    util = _num(utilization, "--utilization", positive=True)
    if util is not None and util > 1:
        raise InputError("--utilization", f"a fraction in (0, 1], got {utilization}")
    if chip is None and (chip_count or days or chip_hours):
        raise InputError("--chip", "the hardware method needs --chip with --chip-count/--days")
    return TrainingInputs(
        parameters=_num(params, "--params", positive=True),
        active_parameters=_num(active_params, "--active-params", positive=True),
        tokens=_num(tokens, "--tokens", positive=True),
        chip=chip,
        chip_count=_num(chip_count, "--chip-count", positive=True),
        days=_num(days, "--days", positive=True),
        chip_hours=_num(chip_hours, "--chip-hours", positive=True),
        precision=precision.lower() if chip else None,
        utilization=util,
        declaration=declaration,
    )


def _trusted_keys(extra: list[Path]) -> dict[str, ec.EllipticCurvePublicKey]:
    """The declarer keys the server trusts (GATE_TRUSTED_DECLARER_KEYS), plus `--key`."""
    from gate.settings import Settings

    return load_public_keys([*Settings().trusted_declarer_keys, *extra])


def _ruleset(path: Path | None) -> Ruleset:
    """`--ruleset`, else the 4E091 ruleset of the server's set (GATE_RULESETS or GATE_RULESET),
    else the shipped one."""
    from gate.settings import Settings

    if path is not None:
        return resolve_ruleset(path)
    return classification_ruleset(ruleset_set(Settings()))


def _classify(
    source: str | None,
    endpoint: str | None,
    revision: str,
    token: str | None,
    rules: Ruleset,
    inputs: TrainingInputs,
    keys: list[Path],
    *,
    quiet: bool,
    progress: bool | None,
) -> Classification:
    """Through the one pipeline, with the settings the server reads (GATE_*): trusted declarer
    keys, the known-models table, the publication sources. Each read of the model's files is a
    step of the progress display (`--progress`)."""
    from gate.settings import Settings

    settings = Settings()
    trusted = _trusted_keys(keys)  # before the display: a bad key file is an error line, alone
    with entries_progress("reading the model", quiet=quiet, force=progress) as step:
        return classify_target(
            source,
            rules,
            trusted,
            endpoint=endpoint,
            revision=revision,
            token=token,
            inputs=inputs,
            known=known_models(settings),
            publication_sources=settings.publication_sources,
            publication_max_age=timedelta(hours=settings.publication_max_age_hours),
            progress=step,
        )


def _render_compute(result: Classification) -> None:
    out = stdout()
    c = result.compute
    colour = {"below": "green", "at_or_above": "red", "undetermined": "magenta"}[result.position]
    out.print(
        f"Training compute: [bold]{format_ops(c.central)}[/] operations "
        f"(interval {format_ops(c.low)} to {format_ops(c.high)})"
    )
    out.print(f"Method: {escape(c.method)}")
    label = {"below": "BELOW", "at_or_above": "AT OR ABOVE", "undetermined": "UNDETERMINED"}
    out.print(f"Threshold {result.threshold:.3g}: [bold {colour}]{label[result.position]}[/]")
    if result.parameters_total is not None:
        out.print(
            f"Parameters: {result.parameters_total:,} total, {result.parameters_active:,} active"
        )
    for line in c.evidence:
        out.print(f"  - {escape(line)}")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    if result.settle:
        out.print(f"To settle it: {escape(result.settle)}")


def _estimate_dict(result: Classification) -> dict[str, Any]:
    data = result.to_dict()
    keys = ("low", "central", "high", "method", "threshold", "position", "parameters", "inputs")
    out = {k: data[k] for k in keys}
    out.update(warnings=data["warnings"], evidence=data["evidence"], settle=data["settle"])
    return out


def estimate_command(
    source: str | None = typer.Argument(
        None, help="Safetensors file, model folder, or a repo id with --endpoint."
    ),
    params: str | None = typer.Option(None, "--params", help="Total parameters (70B, 405e9)."),
    active_params: str | None = typer.Option(None, "--active-params", help="Active per token."),
    tokens: str | None = typer.Option(None, "--tokens", help="Training tokens (15.6T)."),
    chip: str | None = typer.Option(None, "--chip", help="Accelerator (h100, tpu-v4, ...)."),
    chip_count: str | None = typer.Option(None, "--chip-count", help="Number of chips."),
    days: str | None = typer.Option(None, "--days", help="Training days (with --chip-count)."),
    chip_hours: str | None = typer.Option(None, "--chip-hours", help="Total chip-hours."),
    precision: str = typer.Option("bf16", "--precision", help="|".join(PRECISIONS)),
    utilization: str | None = typer.Option(None, "--utilization", help="0.35 if not given."),
    declaration: Path | None = typer.Option(None, "--declaration", help="Signed declaration."),
    key: list[Path] = typer.Option([], "--key", help="Trusted declarer public key (PEM)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hugging Face-compatible URL."),
    revision: str = typer.Option("main", "--revision", help="Branch, tag or commit."),
    token: str | None = typer.Option(None, "--token", help="Bearer token for --endpoint."),
    ruleset: Path | None = typer.Option(None, "--ruleset", help="Ruleset TOML (default: shipped)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    progress: bool | None = PROGRESS_OPTION,
) -> int:
    """Estimate training compute and where it stands against the threshold."""
    rules = _ruleset(ruleset)
    inputs = _inputs(
        params,
        active_params,
        tokens,
        chip,
        chip_count,
        days,
        chip_hours,
        precision,
        utilization,
        _declaration(declaration, key),
    )
    result = _classify(
        source, endpoint, revision, token, rules, inputs, key, quiet=as_json, progress=progress
    )
    if as_json:
        print_json(_estimate_dict(result))
    else:
        _render_compute(result)
    return 0


def classify_command(
    source: str = typer.Argument(..., help="Safetensors file, model folder, or repo id."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hugging Face-compatible URL."),
    revision: str = typer.Option("main", "--revision", help="Branch, tag or commit."),
    token: str | None = typer.Option(None, "--token", help="Bearer token for --endpoint."),
    key: list[Path] = typer.Option(
        [], "--key", help="Trusted declarer public key (PEM), besides GATE_TRUSTED_DECLARER_KEYS."
    ),
    ruleset: Path | None = typer.Option(None, "--ruleset", help="Ruleset TOML (default: shipped)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    progress: bool | None = PROGRESS_OPTION,
) -> int:
    """Training compute and publication status of a model, together."""
    rules = _ruleset(ruleset)
    inputs = TrainingInputs()
    result = _classify(
        source, endpoint, revision, token, rules, inputs, key, quiet=as_json, progress=progress
    )
    if as_json:
        print_json(result.to_dict())
        return 0
    _render_compute(result)
    state = {True: "published", False: "not published", None: "unknown"}[result.published]
    stdout().print(f"Publication: [bold]{state}[/] ({escape(result.publication_evidence)})")
    return 0


# -- gate declare -------------------------------------------------------------------------------

declare_app = typer.Typer(
    help="Build and sign a compute declaration (DSSE, ECDSA P-256), or verify one.",
    invoke_without_command=True,
)


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    from gate.settings import Settings

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError("--key", f"cannot read {path}: {exc.strerror}") from exc
    secret = Settings().key_passphrase
    password = secret.get_secret_value().encode() if secret is not None else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        raise SignatureError(
            f"{path}: {exc} (the passphrase comes from GATE_KEY_PASSPHRASE)"
        ) from exc
    except ValueError as exc:
        raise SignatureError(f"{path}: not a readable PEM private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SignatureError(f"{path}: expected an ECDSA P-256 private key")
    return key


def _ask(
    value: str | None, flag: str, prompt: str, interactive: bool, required: bool
) -> str | None:
    if value is not None or not interactive:
        if value is None and required:
            raise InputError(flag, "required (or run with --interactive to be asked)")
        return value
    answer: str = typer.prompt(prompt, default="" if not required else None, show_default=False)
    return answer.strip() or None


@declare_app.callback()
def declare_command(
    ctx: typer.Context,
    repo: str | None = typer.Option(None, "--repo", help="Model repository id."),
    commit: str | None = typer.Option(None, "--commit", help="Commit (40 hex) of the weights."),
    digest: list[str] = typer.Option([], "--digest", help="PATH=SHA256 of a weight file."),
    total: str | None = typer.Option(None, "--total", help="Total training operations."),
    pre_training: str | None = typer.Option(None, "--pre-training"),
    continued_training: str | None = typer.Option(None, "--continued-training"),
    fine_tuning: str | None = typer.Option(None, "--fine-tuning"),
    rl_post_training: str | None = typer.Option(None, "--rl-post-training"),
    synthetic_data: str | None = typer.Option(None, "--synthetic-data"),
    tokens: str | None = typer.Option(None, "--tokens"),
    params: str | None = typer.Option(None, "--params"),
    active_params: str | None = typer.Option(None, "--active-params"),
    chip: str | None = typer.Option(None, "--chip"),
    chip_count: str | None = typer.Option(None, "--chip-count"),
    days: str | None = typer.Option(None, "--days"),
    chip_hours: str | None = typer.Option(None, "--chip-hours"),
    precision: str | None = typer.Option(None, "--precision"),
    base_model: str | None = typer.Option(None, "--base-model"),
    base_operations: str | None = typer.Option(None, "--base-operations"),
    declarer: str | None = typer.Option(None, "--declarer", help="Your name."),
    organization: str | None = typer.Option(None, "--organization"),
    contact: str | None = typer.Option(None, "--contact"),
    on: str | None = typer.Option(None, "--date", help="Declaration date (default today)."),
    key: Path | None = typer.Option(None, "--key", help="Your ECDSA P-256 private key (PEM)."),
    out: Path | None = typer.Option(None, "--out", help="Write here (default: stdout)."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Prompt for fields."),
) -> None:
    """Build a compute declaration from flags (or prompts) and sign it with --key."""
    if ctx.invoked_subcommand is not None:
        return
    ask = interactive
    fields: dict[str, str | None] = {
        "repo": _ask(repo, "--repo", "Model repository", ask, True),
        "commit": _ask(commit, "--commit", "Commit (blank if giving digests)", ask, False),
        "total": _ask(
            total, "--total", "Total training operations (blank: sum of stages)", ask, False
        ),
        "pre_training": pre_training,
        "continued_training": continued_training,
        "fine_tuning": fine_tuning,
        "rl_post_training": rl_post_training,
        "synthetic_data": synthetic_data,
        "tokens": _ask(tokens, "--tokens", "Training tokens (blank if unknown)", ask, False),
        "params": _ask(params, "--params", "Parameters (blank if unknown)", ask, False),
        "active_params": active_params,
        "chip": chip,
        "chip_count": chip_count,
        "days": days,
        "chip_hours": chip_hours,
        "precision": precision,
        "base_model": _ask(base_model, "--base-model", "Base model (blank if none)", ask, False),
        "base_operations": base_operations,
        "declarer": _ask(declarer, "--declarer", "Declarer name", ask, True),
        "organization": _ask(organization, "--organization", "Organization", ask, False),
        "contact": contact,
        "date": on,
    }
    if key is None:
        raise InputError("--key", "required: the declarer's ECDSA P-256 private key (PEM)")
    declaration = build_declaration(fields, digest)
    envelope = sign_declaration(declaration, _load_private_key(key))
    text = json.dumps(envelope, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, "utf-8")
        stdout().print(f"signed declaration written to {escape(str(out))}")


@declare_app.command("verify")
def verify_command(
    file: Path = typer.Argument(..., help="Declaration envelope (JSON)."),
    key: list[Path] = typer.Option(..., "--key", help="Trusted declarer public key (PEM)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a declaration's signature against trusted keys, and its content."""
    found = verify_declaration(load_envelope(file), load_public_keys(key), str(file))
    decl = found.declaration
    if as_json:
        print_json(
            {
                "valid": True,
                "id": found.id,
                "key_ids": list(found.key_ids),
                "declaration": decl.model_dump(mode="json", exclude_none=True),
            }
        )
        return
    out = stdout()
    out.print(f"[bold green]valid[/] signature by key {', '.join(found.key_ids)}")
    out.print(
        f"{escape(decl.model.repo)}: {format_ops(decl.total_operations)} operations, declared by "
        f"{escape(decl.declarer.name)} on {decl.date.isoformat()}"
    )


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate_command)
    app.command("classify")(classify_command)
    app.add_typer(declare_app, name="declare")
