"""Pure methods: numbers, accelerator table, counting, hardware, combining, publication, card."""

from __future__ import annotations

import pytest
import yaml

from gate.compute.accelerators import accelerators, find_accelerator
from gate.compute.combine import combine, position
from gate.compute.counting import counting_estimate, encoder_decoder_estimate, upper_bound
from gate.compute.estimate import Estimate
from gate.compute.hardware import chip_seconds, hardware_estimate
from gate.compute.model_card import parse_model_card
from gate.compute.numbers import parse_quantity
from gate.compute.publication import PublicationOverride, publication_status
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval
from gate.errors import InputError, MetadataError
from gate.rules.loader import load_default_ruleset


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    return load_default_ruleset()


@pytest.mark.parametrize(
    ("text", "value"),
    [("405e9", 405e9), ("15.6T", 15.6e12), ("70B", 70e9), ("1.2e26", 1.2e26), ("3M", 3e6),
     ("500k", 5e5), ("0.5", 0.5), (" 7b ", 7e9), (".5T", 5e11), (12, 12.0)],
)  # fmt: skip
def test_parse_quantity(text: str, value: float) -> None:
    assert parse_quantity(text, "--x") == pytest.approx(value)


@pytest.mark.parametrize("text", ["-5", "-1B", "abc", "5X", "1e400", "", "nan", "1.2.3", "inf"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_quantity(text, "--tokens")
    assert str(err.value).startswith("--tokens: ")


REQUIRED_CHIPS = ["V100", "A100", "A800", "H100 SXM", "H100 PCIe", "H800", "H20", "H200", "B200",
                  "GB200", "TPU v3", "TPU v4", "TPU v5e", "TPU v5p", "TPU v6e", "MI250X",
                  "MI300X", "MI325X", "Gaudi 2", "Gaudi 3", "Trainium2"]  # fmt: skip


def test_accelerator_table_covers_required_chips_with_sources() -> None:
    names = {c.name for c in accelerators()}
    assert set(REQUIRED_CHIPS) <= names
    for chip in accelerators():
        assert chip.source.strip() and "http" in chip.source
        assert chip.peak_tflops, chip.name


def test_dense_peaks_not_sparsity_figures() -> None:
    # Dense figures from the datasheets; the with-sparsity ones are exactly double.
    assert find_accelerator("h100").peak("bf16") == pytest.approx(989.4e12)
    assert find_accelerator("A100").peak("bf16") == pytest.approx(312e12)
    assert find_accelerator("MI300X").peak("fp8") == pytest.approx(2614.9e12)
    assert find_accelerator("B200").peak("fp8") == pytest.approx(4500e12)


@pytest.mark.parametrize(
    ("alias", "name"),
    [("h100", "H100 SXM"), ("H100-SXM", "H100 SXM"), ("NVIDIA H100 80GB HBM3", "H100 SXM"),
     ("h100 pcie", "H100 PCIe"), ("tpu-v4", "TPU v4"), ("TPU v4", "TPU v4"), ("TPUv5p", "TPU v5p"),
     ("gaudi3", "Gaudi 3"), ("trn2", "Trainium2"), ("a100-sxm4-80gb", "A100")],
)  # fmt: skip
def test_accelerator_aliases(alias: str, name: str) -> None:
    assert find_accelerator(alias).name == name


def test_unknown_chip_and_missing_precision() -> None:
    with pytest.raises(InputError, match="unknown accelerator 'k80'"):
        find_accelerator("k80")
    with pytest.raises(InputError, match="V100 has no dense bf16 peak"):
        find_accelerator("v100").peak("bf16")


def test_counting_and_bounds() -> None:
    e = counting_estimate(405e9, 15.6e12)
    assert e.central == pytest.approx(3.79e25, rel=0.01)
    assert e.low is not None and e.high is not None and e.low < e.central < e.high
    ub = upper_bound(7e9, 1e14)
    assert ub.low is None and ub.high == pytest.approx(4.2e24)
    ed = encoder_decoder_estimate(11e9, 1e12)
    assert ed.central == pytest.approx(0.5 * 6 * 11e9 * 1e12)
    split = encoder_decoder_estimate(
        10e9, encoder_parameters=4e9, decoder_parameters=6e9, encoder_tokens=1e12,
        decoder_tokens=2e11,
    )  # fmt: skip
    assert split.central == pytest.approx(6 * (4e9 * 1e12 + 6e9 * 2e11))
    with pytest.raises(InputError, match="tokens"):
        counting_estimate(1e9, -1)


def test_hardware_method() -> None:
    # Llama 3.1 405B: 30.84M H100 GPU-hours (model card); reported 3.8e25.
    seconds = chip_seconds(chip_hours=30.84e6)
    e = hardware_estimate(find_accelerator("h100"), "bf16", seconds)
    assert e.low is not None and e.high is not None
    assert e.low < 3.8e25 < e.high
    assert e.central == pytest.approx(30.84e6 * 3600 * 989.4e12 * 0.35)
    assert chip_seconds(chip_count=16384, days=54) == 16384 * 54 * 86400
    with pytest.raises(InputError):
        chip_seconds(chip_count=8)
    measured = hardware_estimate(find_accelerator("h100"), "bf16", seconds, utilization=0.7)
    assert measured.high == measured.central  # the interval widens to include a given value


def _e(method: str, central: float, spread: float = 1.5) -> Estimate:
    return Estimate(method, central / spread, central, central * spread, method)


def test_combine_precedence_and_disagreement() -> None:
    c = combine([_e("hardware", 1e24), _e("counting", 1.2e24)], disagreement_factor=3,
                implausibly_low_factor=0.25)  # fmt: skip
    assert c.interval.method == "counting" and c.interval.central == 1.2e24 and not c.warnings
    d = combine([_e("hardware", 1e25), _e("counting", 1e24)], disagreement_factor=3,
                implausibly_low_factor=0.25)  # fmt: skip
    assert d.interval.central == 1e24
    assert d.interval.high == pytest.approx(1.5e25)  # union: a disputed figure does not narrow
    assert "disagrees" in d.warnings[0]


def test_declaration_wins_but_implausibly_low_is_flagged() -> None:
    decl = Estimate("declaration", 1e23, 1e23, 1e23, "declared", {"includes_base": True})
    ok = combine([decl, _e("counting", 1.5e23)], disagreement_factor=3,
                 implausibly_low_factor=0.25)  # fmt: skip
    assert ok.interval.central == 1e23 and ok.interval.high == 1e23 and not ok.warnings
    low = combine([decl, _e("counting", 1e24)], disagreement_factor=3,
                  implausibly_low_factor=0.25)  # fmt: skip
    assert "implausibly low" in low.warnings[0]
    assert low.interval.high == pytest.approx(1.5e24)
    assert "contested" in low.interval.method


def test_upper_bound_caps_and_lineage_adds() -> None:
    ub = upper_bound(1e9, 1e14)
    alone = combine([ub], disagreement_factor=3, implausibly_low_factor=0.25)
    assert alone.interval.low is None and alone.interval.high == 6e23
    assert position(alone.interval, 1e26) == "below"
    base = Estimate("lineage", 1e24, 2e24, 3e24, "base")
    lin = combine([_e("counting", 1e22)], disagreement_factor=3, implausibly_low_factor=0.25,
                  bases=[("org/base", base)])  # fmt: skip
    assert lin.interval.central == pytest.approx(2e24 + 1e22)
    unknown = combine([_e("counting", 1e22), ub], disagreement_factor=3,
                      implausibly_low_factor=0.25, bases=[("org/base", None)])  # fmt: skip
    assert unknown.interval.high is None  # the child's own size says nothing about its base
    assert any("org/base" in w for w in unknown.warnings)


def test_position() -> None:
    assert position(ComputeInterval(1e25, 5e25, 2e25), 1e26) == "below"
    assert position(ComputeInterval(1e26, 2e26, 1.5e26), 1e26) == "at_or_above"
    assert position(ComputeInterval(5e25, 2e26, 1e26), 1e26) == "undetermined"
    assert position(ComputeInterval(), 1e26) == "undetermined"


def test_publication_rules(rules: Ruleset) -> None:
    # A card's license is the uploader's claim: alone it never makes the weights published.
    claimed = publication_status(rules, licenses=["apache-2.0"])
    assert claimed.published is None and "apache-2.0" in claimed.evidence
    assert publication_status(rules, licenses=["Apache-2.0", "mit"]).published is None
    assert publication_status(rules, licenses=["apache-2.0"], private=True).published is False
    gated = publication_status(rules, licenses=["llama3.1"], gated="manual")
    assert gated.published is False and "manual" in gated.evidence
    assert publication_status(rules, licenses=["mit"], gated="auto").published is False
    card_gated = publication_status(
        rules, licenses=["mit"], card_gating_fields=["extra_gated_prompt"]
    )
    assert card_gated.published is False
    assert publication_status(rules, licenses=["cc-by-nc-4.0"]).published is None
    assert publication_status(rules).published is None
    override = PublicationOverride(True, "alice", "counsel reviewed terms")
    ruled = publication_status(rules, private=True, override=override)
    assert ruled.published is True and "alice" in ruled.evidence and "counsel" in ruled.evidence


CARD = """---
license: other
license_name: deepseek
base_model:
  - org/base-7b
datasets: [c4]
extra_gated_prompt: Agree to the terms
training_compute_operations: 3.1e23
training_tokens: 1.4T
training_hardware:
  chip: H100
  count: 1024
  days: 20
  precision: bf16
---
# Model
"""


def test_model_card_fields() -> None:
    card = parse_model_card(CARD)
    assert card.licenses == ("deepseek",)
    assert card.base_models == ("org/base-7b",)
    assert card.datasets == ("c4",)
    assert card.gating_fields == ("extra_gated_prompt",)
    assert card.training_compute_operations == 3.1e23
    assert card.training_tokens == 1.4e12
    assert card.training_hardware is not None and card.training_hardware.count == 1024
    assert parse_model_card("# no front matter").licenses == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [("---\nlicense: [\n---\n", "invalid YAML"), ("---\nlicense: mit\n", "never closed"),
     ("---\n- a\n---\n", "mapping"), ("---\ntraining_tokens: -5\n---\n", "training_tokens")],
)  # fmt: skip
def test_model_card_errors(text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_model_card(text)


@pytest.mark.parametrize(
    ("value", "bases"),
    [
        ("org/a", ("org/a",)),
        (["org/a", "org/b"], ("org/a", "org/b")),
        ("", ()),
        ([], ()),
        ({"repo": "acme/closed"}, ("(unreadable base_model)",)),
        (["org/a", {"repo": "acme/closed"}], ("org/a", "(unreadable base_model)")),
        (12, ("(unreadable base_model)",)),
    ],
)
def test_card_base_model_unreadable_names_an_unknown_base(
    value: object, bases: tuple[str, ...]
) -> None:
    text = "---\n" + yaml.safe_dump({"base_model": value}) + "---\n"
    assert parse_model_card(text).base_models == bases
