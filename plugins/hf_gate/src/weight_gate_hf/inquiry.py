"""The recipient's side of a hold: read an inquiry's questions and answer them.

    python -m weight_gate_hf inquiry show ID [--json]
    python -m weight_gate_hf inquiry answer ID key=value ... | --file answers.json

It talks to the gate's `GET /api/gate/inquiries/{id}` (the questions, each with its id, meaning
and JSON answer shape, and the inquiry's state) and `POST /api/gate/inquiries/{id}/answers`.
The gate is `--endpoint`, else `GATE_PLUGIN_ENDPOINT`, else `HF_ENDPOINT`; the token is `--token`,
else `GATE_PLUGIN_TOKEN`, else the client's own (`HF_TOKEN` or the stored login).

A `key=value` answer's value is read as JSON when it parses (`true`, `["DE", "FR"]`,
`{"valid_until": "2027-01-01"}`) and as a plain string otherwise (`destination=DE`); dotted keys
build an object (`ultimate_parent.name=Acme ultimate_parent.headquarters=DE`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx2

from weight_gate_hf.errors import GateSettingsError

_TIMEOUT = 30.0


class InquiryError(Exception):
    """The gate refused or could not be reached; the message says what it answered."""


def resolve_endpoint(endpoint: str | None, environ: Mapping[str, str]) -> str:
    """The gate's URL, from the argument or the environment (GateSettingsError when none)."""
    chosen = endpoint or environ.get("GATE_PLUGIN_ENDPOINT") or environ.get("HF_ENDPOINT")
    if not chosen:
        raise GateSettingsError(
            "no gate endpoint: pass --endpoint or set GATE_PLUGIN_ENDPOINT (or HF_ENDPOINT)"
        )
    try:
        url = httpx2.URL(chosen)
    except httpx2.InvalidURL as exc:
        raise GateSettingsError(f"endpoint {chosen!r} is not a URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise GateSettingsError(f"endpoint: expected an http(s) URL, got {chosen!r}")
    return chosen.rstrip("/")


def resolve_token(token: str | None, environ: Mapping[str, str]) -> str:
    chosen = token or environ.get("GATE_PLUGIN_TOKEN") or environ.get("HF_TOKEN")
    if not chosen:
        from huggingface_hub import get_token

        chosen = get_token()
    if not chosen:
        raise GateSettingsError(
            "no recipient token: pass --token or set GATE_PLUGIN_TOKEN (or HF_TOKEN)"
        )
    return chosen


def parse_answers(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` arguments as a JSON object of answers (see the module docstring)."""
    answers: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GateSettingsError(f"answer {pair!r}: expected key=value")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        target = answers
        *parents, leaf = key.split(".")
        for part in parents:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise GateSettingsError(f"answer {pair!r}: {part} already has a plain value")
            target = nested
        if leaf in target:
            raise GateSettingsError(f"answer {pair!r}: {key} given twice")
        target[leaf] = value
    return answers


def _url(endpoint: str, inquiry_id: str, suffix: str = "") -> str:
    if not inquiry_id or len(inquiry_id) > 200:
        raise GateSettingsError(f"inquiry id {inquiry_id[:40]!r}: expected a short id")
    return f"{endpoint}/api/gate/inquiries/{quote(inquiry_id, safe='')}{suffix}"


def _call(method: str, url: str, token: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        with httpx2.Client(timeout=_TIMEOUT) as client:
            response = client.request(method, url, headers=headers, json=body)
    except httpx2.HTTPError as exc:
        raise InquiryError(f"cannot reach {url}: {exc}") from exc
    if response.status_code >= 400:
        reason = response.headers.get("X-Error-Message")
        if not reason:
            try:
                document = response.json()
                reason = document.get("error") if isinstance(document, dict) else None
            except ValueError:
                reason = None
        raise InquiryError(
            f"the gate answered {response.status_code}: {reason or response.reason_phrase}"
        )
    try:
        return response.json()
    except ValueError as exc:
        raise InquiryError(f"{url} did not answer JSON") from exc


def fetch(endpoint: str, token: str, inquiry_id: str) -> dict[str, Any]:
    """The inquiry as the gate shows it to its recipient."""
    document = _call("GET", _url(endpoint, inquiry_id), token)
    if not isinstance(document, dict):
        raise InquiryError("the gate's inquiry is not a JSON object")
    return document


def submit(endpoint: str, token: str, inquiry_id: str, answers: Mapping[str, Any]) -> Any:
    """Post the answers; returns what the gate recorded."""
    return _call("POST", _url(endpoint, inquiry_id, "/answers"), token, dict(answers))


def _shape(question: Mapping[str, Any]) -> Any:
    for key in ("answer_shape", "shape", "schema", "answer"):
        if key in question:
            return question[key]
    return None


def render(document: Mapping[str, Any], out: TextIO) -> None:
    """The inquiry for a person: state, each question with its meaning and answer shape."""
    inquiry_id = str(document.get("id", "?"))
    state = document.get("state") or document.get("status") or "unknown"
    print(
        f"inquiry {inquiry_id}  repository {document.get('repo_id', '?')}  state {state}", file=out
    )
    questions = document.get("questions") or []
    if not isinstance(questions, list):
        questions = []
    for question in questions:
        if not isinstance(question, Mapping):
            continue
        meaning = question.get("meaning") or question.get("label") or ""
        print(f"\n  {question.get('id')}: {meaning}", file=out)
        if question.get("text"):
            print(f"    {question['text']}", file=out)
        shape = _shape(question)
        if shape is not None:
            print(f"    answer shape: {json.dumps(shape, sort_keys=True)}", file=out)
    answers = document.get("answers")
    if answers:
        print(f"\n  answers so far: {json.dumps(answers, sort_keys=True)}", file=out)
    if questions:
        keys = " ".join(f"{q.get('id')}=..." for q in questions if isinstance(q, Mapping))
        print(
            f"\nanswer with: python -m weight_gate_hf inquiry answer {inquiry_id} {keys}", file=out
        )


def main(args: Any, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run `inquiry show|answer` from parsed arguments; returns the exit code."""
    env = os.environ if environ is None else environ
    stream = out or sys.stdout
    endpoint = resolve_endpoint(args.endpoint, env)
    token = resolve_token(args.token, env)
    if args.action == "show":
        document = fetch(endpoint, token, args.id)
        if args.json:
            print(json.dumps(document, indent=2, sort_keys=True), file=stream)
        else:
            render(document, stream)
        return 0
    if args.file is not None and args.answers:
        raise GateSettingsError("give answers as key=value or with --file, not both")
    if args.file is not None:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
            answers = json.loads(text)
        except (OSError, ValueError) as exc:
            raise GateSettingsError(
                f"--file {args.file}: not a readable JSON file ({exc})"
            ) from exc
        if not isinstance(answers, dict):
            raise GateSettingsError(f"--file {args.file}: expected a JSON object of answers")
    else:
        answers = parse_answers(args.answers)
    if not answers:
        raise GateSettingsError("no answers given: key=value ... or --file answers.json")
    result = submit(endpoint, token, args.id, answers)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True), file=stream)
    else:
        state = result.get("state") or result.get("status") if isinstance(result, dict) else None
        print(f"answers recorded for inquiry {args.id}; state {state or 'unknown'}", file=stream)
    return 0
