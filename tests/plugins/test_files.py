"""Which files the plugin treats as parameters: fail closed, and never looser than the gate."""

from __future__ import annotations

import pytest
from weight_gate_hf import GateSettingsError
from weight_gate_hf.files import parameter_test, shipped_non_parameter_patterns

from gate.rules.loader import load_default_ruleset

UNKNOWN = [
    "model.sft",
    "model.pte",
    "rust_model.ot",
    "model.safetensors.bak",
    "training_args.bin",
    "weights",
    "flax_model.msgpack",
    "model.safetensors",
    "sub/folder/pytorch_model-00001-of-00002.bin",
    "tf_model.h5",
    "MODEL.SAFETENSORS",
    "config.json.bin",
]
NOT_PARAMETERS = [
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.txt",
    "merges.txt",
    "README.md",
    "LICENSE",
    ".gitattributes",
    "modeling_custom.py",
    "images/diagram.png",
]


@pytest.mark.parametrize("name", UNKNOWN)
def test_unknown_and_weight_names_are_parameters(name: str) -> None:
    assert parameter_test()(name) is True


@pytest.mark.parametrize("name", NOT_PARAMETERS)
def test_named_configuration_tokenizer_docs_code_images_are_not(name: str) -> None:
    assert parameter_test()(name) is False


@pytest.mark.parametrize("name", UNKNOWN + NOT_PARAMETERS)
def test_never_looser_than_the_gate(name: str) -> None:
    # Security direction: whatever the gate's shipped ruleset calls parameters, the plugin does
    # too (so the plugin never lets a parameter file through without a receipt).
    if load_default_ruleset().is_parameters(name):
        assert parameter_test()(name) is True


def test_names_the_plugin_lets_through_are_not_parameters_for_the_gate() -> None:
    # Usability direction: a file the plugin lets through unchecked gets no receipt from the gate.
    gate = load_default_ruleset()
    for name in NOT_PARAMETERS:
        assert not gate.is_parameters(name), name


def test_patterns_replace_the_shipped_list() -> None:
    assert "config.json" in shipped_non_parameter_patterns()
    only_readme = parameter_test(["readme*"])
    assert only_readme("README.md") is False and only_readme("config.json") is True
    assert parameter_test([])("config.json") is True  # an empty list: everything is parameters
    with pytest.raises(GateSettingsError):
        parameter_test(["sub/*.json"])


def test_the_plugin_never_imports_the_gate() -> None:
    # Every module, not only those a download happens to load (the fresh-venv test checks those).
    import ast
    from pathlib import Path

    import weight_gate_hf

    package = Path(weight_gate_hf.__file__).parent
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in ("gate", "plugins"), f"{source.name}: {name}"
