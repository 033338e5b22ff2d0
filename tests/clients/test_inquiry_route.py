"""The recipient's side of a hold: read the inquiry's questions, answer them, by HTTP alone.

Against the gate `gate serve` builds (records store, real decisions) with the demo's world:
Lumen AI US Inc (US subsidiary of an Indian parent) asks for the frontier model the operator
trained for it, which RULES.md's duty to inquire holds until Lumen says where the weights go.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from gate.core.questions import Question
from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import build_gate

FRONTIER = "acme/frontier-x"
SHARD = "model-00001-of-00002.safetensors"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[tuple[DemoWorld, str]]:
    world = build_world(tmp_path / "world", database_url)
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    try:
        with BackgroundServer(gate.app) as server:
            yield world, server.url
    finally:
        gate.close()


def _bearer(world: DemoWorld, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[key]}"}


def _held(world: DemoWorld, url: str, tmp_path: Path) -> tuple[str, str]:
    with pytest.raises(GatedRepoError) as caught:
        hf_hub_download(
            FRONTIER, SHARD, endpoint=url, token=world.tokens["lumen"], cache_dir=tmp_path / "c"
        )
    message = str(caught.value)
    found = re.search(r"inquiry (\S+) is open", message)
    assert found is not None, message
    return found.group(1), message


def test_the_refusal_names_the_inquiry_and_how_to_answer(
    world: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    demo, url = world
    inquiry_id, message = _held(demo, url, tmp_path)
    assert "hold (duty_to_inquire)" in message
    assert f"python -m weight_gate_hf inquiry show|answer {inquiry_id}" in message
    assert f"GET, then POST /api/gate/inquiries/{inquiry_id}/answers" in message


def test_the_recipient_reads_its_questions_with_shapes(
    world: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    demo, url = world
    inquiry_id, _ = _held(demo, url, tmp_path)
    response = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}", headers=_bearer(demo, "lumen"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == inquiry_id and body["status"] == "open"
    assert body["repo_id"] == FRONTIER
    ids = [q["id"] for q in body["questions"]]
    assert Question.EXPORT_DESTINATIONS.value in ids
    for question in body["questions"]:
        assert question["text"] and question["label"]
        assert "example" in question["answer_shape"]
    assert body["answer"]["url"] == f"/api/gate/inquiries/{inquiry_id}/answers"
    # The example answers are valid answers: posting them is accepted.
    posted = httpx.post(
        f"{url}{body['answer']['url']}",
        json=body["answer"]["example"],
        headers=_bearer(demo, "lumen"),
    )
    assert posted.status_code == 200, posted.text
    again = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}", headers=_bearer(demo, "lumen"))
    assert again.json()["status"] == "answered"


def test_other_recipients_and_strangers_do_not_see_it(
    world: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    demo, url = world
    inquiry_id, _ = _held(demo, url, tmp_path)
    other = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}", headers=_bearer(demo, "nordic"))
    assert other.status_code == 404
    unknown = httpx.get(f"{url}/api/gate/inquiries/inq_nope", headers=_bearer(demo, "nordic"))
    assert unknown.status_code == 404
    assert other.json() == {"error": unknown.json()["error"].replace("inq_nope", inquiry_id)}
    anonymous = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}")
    assert anonymous.status_code == 401


def test_a_wrong_answer_key_lists_the_valid_ones(
    world: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    demo, url = world
    inquiry_id, _ = _held(demo, url, tmp_path)
    response = httpx.post(
        f"{url}/api/gate/inquiries/{inquiry_id}/answers",
        json={"export_destination": ["US"]},
        headers=_bearer(demo, "lumen"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "export_destination" in error
    assert Question.EXPORT_DESTINATIONS.value in error.split("its questions are", 1)[1]


@pytest.mark.slow
def test_the_recipient_gets_from_hold_to_answered_with_the_plugin_command(
    world: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    """Only what the refusal names: `python -m weight_gate_hf inquiry show|answer ID`."""
    demo, url = world
    inquiry_id, message = _held(demo, url, tmp_path)
    assert f"python -m weight_gate_hf inquiry show|answer {inquiry_id}" in message
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GATE_"))}
    env |= {"GATE_PLUGIN_ENDPOINT": url, "GATE_PLUGIN_TOKEN": demo.tokens["lumen"]}

    def plugin(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "weight_gate_hf", "inquiry", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    shown = plugin("show", inquiry_id)
    assert shown.returncode == 0, shown.stderr
    assert Question.EXPORT_DESTINATIONS.value in shown.stdout and "answer shape" in shown.stdout
    body = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}", headers=_bearer(demo, "lumen"))
    pairs = [f"{k}={json.dumps(v)}" for k, v in body.json()["answer"]["example"].items()]
    answered = plugin("answer", inquiry_id, *pairs)
    assert answered.returncode == 0, answered.stderr
    again = httpx.get(f"{url}/api/gate/inquiries/{inquiry_id}", headers=_bearer(demo, "lumen"))
    assert again.json()["status"] == "answered"
