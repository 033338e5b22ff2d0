"""A derived model carries its base's compute (RULES.md, "What is controlled").

The child's high end is the base's high end plus its own; a named base whose compute the gate
does not know leaves the high end unknown, whatever the child's own size. The known-models table
is ruleset data: every row has a source, names match case-insensitively.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.compute.combine import combine, position
from gate.compute.counting import upper_bound
from gate.compute.estimate import Estimate
from gate.errors import RulesetError
from gate.rules.known_models import (
    load_default_known_models,
    load_known_models,
    parse_known_models,
)

REQUIRED = [
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.1-405B",
    "meta-llama/Meta-Llama-3-8B",
    "meta-llama/Meta-Llama-3-70B",
    "deepseek-ai/DeepSeek-V3",
    "deepseek-ai/DeepSeek-R1",
    "Qwen/Qwen2.5-7B",
    "Qwen/Qwen2.5-72B",
    "google/gemma-2-9b",
    "google/gemma-2-27b",
    "mistralai/Mistral-7B-v0.1",
    "mistralai/Mixtral-8x7B-v0.1",
    "tiiuae/falcon-180B",
    "openai/gpt-3",
    "bigscience/bloom",
    "allenai/OLMo-7B",
    "microsoft/Phi-3-mini-4k-instruct",
]
THRESHOLD = 1e26


def _combine(*estimates: Estimate, bases: list[tuple[str, Estimate | None]]) -> object:
    return combine(list(estimates), disagreement_factor=3, implausibly_low_factor=0.25, bases=bases)


def _base(high: float, low: float | None = None) -> Estimate:
    return Estimate("known_model", low, None, high, "table")


def test_table_has_the_named_models_with_sources() -> None:
    table = load_default_known_models()
    assert len(table.models) >= 20
    for name in REQUIRED:
        row = table.lookup(name)
        assert row is not None, name
        assert row.source.startswith("https://")
        assert row.high > 0 and (row.low is None or row.low <= row.high)
    assert table.lookup("META-LLAMA/llama-3.1-405b") is table.lookup("meta-llama/Llama-3.1-405B")
    row = table.lookup("meta-llama/Llama-3.1-405B")
    assert row is not None and row.low == 3.8e25 and row.kind == "reported"
    gpt3 = table.lookup("openai/gpt-3")
    assert gpt3 is not None and gpt3.published is False
    assert table.lookup("acme/unknown") is None
    assert table.lookup("meta-llama/Llama-3.1-8B-Instruct") is not None  # an alias
    interval = table.lookup("deepseek-ai/DeepSeek-V3").interval()  # type: ignore[union-attr]
    assert interval.high is not None and interval.high < THRESHOLD
    assert "arxiv.org" in interval.evidence[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[models]]\nid="a/b"\nkind="estimate"\nlow=2e24\nhigh=1e24\nbasis="x"\n'
         'source="https://x"\npublished=true', "above high"),
        ('[[models]]\nid="a/b"\nkind="estimate"\nlow=1e24\nhigh=2e24\nbasis="x"\n'
         'published=true', "missing"),
        ('[[models]]\nid="a/b"\nkind="estimate"\nhigh=2e24\nbasis="x"\n'
         'source="https://x"\npublished=true', "low end"),
        ('[[models]]\nid="a/b"\nkind="bound"\nhigh=2e24\nbasis="x"\nsource="https://x"\n'
         'published=true\nextra=1', "unknown key"),
        ('[[models]]\nid="a/b"\nkind="bound"\nhigh=2e24\nbasis="x"\nsource="https://x"\n'
         'published=true\n[[models]]\nid="A/B"\nkind="bound"\nhigh=1e24\nbasis="x"\n'
         'source="https://y"\npublished=true', "listed twice"),
    ],
)  # fmt: skip
def test_table_is_read_strictly(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "known.toml"
    path.write_text('id = "t"\nversion = "1"\n' + text)
    with pytest.raises(RulesetError, match=problem):
        load_known_models(path)
    with pytest.raises(RulesetError):
        parse_known_models({"id": "t", "version": "1", "models": []})


def test_child_of_a_known_base_carries_its_compute() -> None:
    own = upper_bound(1e9, 1e14)  # a small child: 6e23 on its own
    result = _combine(own, bases=[("org/base", _base(9e25, 8e25))])
    assert result.interval.high == pytest.approx(9e25 + 6e23)  # type: ignore[attr-defined]
    assert result.interval.low == 8e25  # type: ignore[attr-defined]
    over = _combine(own, bases=[("org/big", _base(2e26, 1.5e26))])
    assert position(over.interval, THRESHOLD) == "at_or_above"  # type: ignore[attr-defined]


def test_named_base_with_unknown_compute_leaves_high_unknown() -> None:
    # A 105B child of a closed 2T base: its own bound (6.3e25) is below the threshold, but it
    # says nothing about what its base cost.
    own = upper_bound(105e9, 1e14)
    result = _combine(own, bases=[("acme/closed-2t", None)])
    assert result.interval.high is None  # type: ignore[attr-defined]
    assert position(result.interval, THRESHOLD) == "undetermined"  # type: ignore[attr-defined]
    # One known base does not make up for an unknown one.
    both = _combine(own, bases=[("org/known", _base(1e24, 1e24)), ("acme/x", None)])
    assert both.interval.high is None  # type: ignore[attr-defined]
    # Names compare case-insensitively: a known spelling of the same base counts once.
    same = _combine(own, bases=[("Org/Known", _base(1e24, 1e24)), ("org/known", None)])
    assert same.interval.high == pytest.approx(1e24 + 6.3e25)  # type: ignore[attr-defined]


def test_unsigned_figures_cannot_take_the_base_away() -> None:
    own = upper_bound(1e9, 1e14)
    claim = Estimate(
        "reported", 1e22, 1e22, 1e22, "card", {"includes_base": True, "base_repo": "acme/x"},
        unsigned=True,
    )  # fmt: skip
    result = _combine(claim, own, bases=[("acme/x", None)])
    assert result.interval.high is None  # type: ignore[attr-defined]


def test_trusted_declaration_covers_the_base_it_names() -> None:
    declared = Estimate(
        "declaration", 5e25, 5e25, 5e25, "signed",
        {"includes_base": True, "base_repo": "acme/base"},
    )  # fmt: skip
    own = upper_bound(1e9, 1e14)
    covered = _combine(declared, own, bases=[("ACME/base", None)])
    assert covered.interval.high == 5e25  # type: ignore[attr-defined]  # not capped by 6e23
    other = _combine(declared, own, bases=[("acme/base", None), ("acme/other", None)])
    assert other.interval.high is None  # type: ignore[attr-defined]
    recorded = Estimate("recorded", 1e24, 1e24, 1e24, "operator")
    assert _combine(recorded, bases=[("acme/x", None)]).interval.high == 1e24  # type: ignore[attr-defined]


def test_bases_are_looked_up_in_order_and_cycles_stay_unknown() -> None:
    import asyncio

    from gate.compute.lineage import BaseLookups, named_bases, resolve_bases
    from gate.core.values import ComputeInterval

    assert named_bases(["A/x", "a/X", " b/y "], "c/z", None) == ("A/x", "b/y", "c/z")
    table = load_default_known_models()
    recorded = {"acme/base": ComputeInterval.exactly(2e24, "recorded")}
    asked: list[tuple[str, int]] = []

    async def classify(name: str, depth: int) -> ComputeInterval | None:
        asked.append((name, depth))
        return ComputeInterval(low=1e23, high=2e23) if name == "lab/reachable" else None

    def known(name: str) -> ComputeInterval | None:
        row = table.lookup(name)
        return row.interval() if row else None

    lookups = BaseLookups(recorded=recorded.get, known=known, classify=classify)
    names = [
        "acme/base",
        "Meta-Llama/Llama-3.1-8B",
        "lab/reachable",
        "lab/gone",
        "me/child",
        "../x",
    ]
    found = asyncio.run(resolve_bases(names, lookups, child="ME/child"))
    assert found["acme/base"] == recorded["acme/base"]
    assert found["Meta-Llama/Llama-3.1-8B"] is not None
    assert found["Meta-Llama/Llama-3.1-8B"].method == "known_model"  # type: ignore[union-attr]
    assert found["lab/reachable"] is not None and found["lab/gone"] is None
    assert found["me/child"] is None and found["../x"] is None
    assert asked == [("lab/reachable", 1), ("lab/gone", 1)]  # table and records first
    deep = asyncio.run(resolve_bases(["lab/reachable"], lookups, depth=4))
    assert deep["lab/reachable"] is None  # too deep a chain: unknown


def test_an_unreadable_base_model_is_an_unknown_base(tmp_path: Path) -> None:
    from gate.compute.classify import classify_from_parts
    from gate.rules.loader import load_default_ruleset
    from tests.compute.helpers import tensors_bytes

    data = tensors_bytes({"w": (10, 10)})
    card = "---\nbase_model:\n  repo: acme/closed-2t\n---\n"
    result = classify_from_parts(
        load_default_ruleset(), headers=[("m", data, len(data))], card_text=card
    )
    assert result.compute.high is None and result.position == "undetermined"
