"""Classify a model: training-compute interval and publication status, from metadata only.

The pure core (`classify_from_parts`) works on pieces already read; the one pipeline that reads
them from a repository, wherever it is, is `gate.compute.pipeline.classify_repository`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate.compute.assemble import TrainingInputs, as_mapping, assess, settle_hint
from gate.compute.combine import position
from gate.compute.estimate import Estimate
from gate.compute.model_card import ModelCard, parse_model_card
from gate.compute.params import ParameterCount, count_from_config, count_from_headers
from gate.compute.publication import PublicationOverride, hub_licenses, publication_status
from gate.compute.safetensors_header import SafetensorsHeader, parse_header
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import MetadataError
from gate.model_codec import compute_to_dict

INDEX_FILE = "model.safetensors.index.json"


@dataclass(frozen=True, slots=True)
class Classification:
    """Compute and publication status of one model revision, with evidence and inputs."""

    compute: ComputeInterval
    parameters_total: int | None
    parameters_active: int | None
    published: bool | None
    publication_evidence: str
    license: str | None
    base_model: str | None
    threshold: float
    warnings: tuple[str, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    estimates: tuple[Estimate, ...] = ()
    settle: str | None = None

    @property
    def position(self) -> str:
        return position(self.compute, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            **compute_to_dict(self.compute),  # low, high, central, method, evidence
            "threshold": self.threshold,
            "position": self.position,
            "parameters": {"total": self.parameters_total, "active": self.parameters_active},
            "inputs": dict(self.inputs),
            "warnings": list(self.warnings),
            "settle": self.settle,
            "published": self.published,
            "publication_evidence": self.publication_evidence,
            "license": self.license,
            "base_model": self.base_model,
        }


def shard_paths(paths: Sequence[str], index: Mapping[str, Any] | None) -> list[str]:
    """The safetensors files that make up the model: the index's shards, else root-level files."""
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise MetadataError(INDEX_FILE, "weight_map missing or empty")
        shards = sorted({str(v) for v in weight_map.values()})
        missing = [s for s in shards if s not in paths]
        if paths and missing:
            raise MetadataError(INDEX_FILE, f"names shards that do not exist: {missing[:3]}")
        for shard in shards:
            if "/" in shard or shard.startswith("."):
                raise MetadataError(INDEX_FILE, f"shard path {shard!r} is not a root-level file")
        return shards
    return sorted(p for p in paths if p.endswith(".safetensors") and "/" not in p)


def uncounted_parameter_files(
    paths: Sequence[str], shards: Sequence[str], ruleset: Ruleset
) -> list[str]:
    """Parameter files (by the ruleset's patterns) whose headers the classification did not read."""
    counted = set(shards)
    return sorted(p for p in paths if ruleset.is_parameters(p) and p not in counted)


def json_object(text: str | None, source: str) -> dict[str, Any] | None:
    """The JSON object in `text` (None stays None); MetadataError naming `source` otherwise."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # the parser recurses: deep nesting
        raise MetadataError(source, f"invalid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MetadataError(source, "expected a JSON object")
    return value


def classify_from_parts(
    ruleset: Ruleset,
    *,
    headers: Sequence[SafetensorsHeader | tuple[str, bytes, int | None]] = (),
    config: Mapping[str, Any] | None = None,
    card_text: str | None = None,
    repo_info: Mapping[str, Any] | None = None,
    inputs: TrainingInputs = TrainingInputs(),
    override: PublicationOverride | None = None,
    source: str = "",
    uncounted: Sequence[str] = (),
) -> Classification:
    """Classify from already-fetched pieces. `headers` holds parsed headers or
    (source, header bytes from the start of the file, file size or None) triples.

    `uncounted` names parameter files whose headers were not read (a `.bin` or `.pth` beside
    the safetensors, weights in a subfolder): then the count is only a lower bound, and no
    estimate (counting, or the upper bound) may be drawn from it, or a closed model shipped
    as pickles next to a tiny safetensors file would pass as small."""
    parsed = [
        h if isinstance(h, SafetensorsHeader) else parse_header(h[1], h[0], h[2]) for h in headers
    ]
    warnings: list[str] = []
    params: ParameterCount | None = None
    if parsed:
        params = count_from_headers(parsed, config)
    elif config is not None:
        try:
            params = count_from_config(config)
        except MetadataError as exc:
            warnings.append(str(exc))
    card: ModelCard | None = parse_model_card(card_text) if card_text is not None else None
    if uncounted and params is not None:
        more = f" and {len(uncounted) - 3} more" if len(uncounted) > 3 else ""
        warnings.append(
            f"parameter files not counted ({', '.join(sorted(uncounted)[:3])}{more}): the "
            "parameter count is a lower bound, so no compute estimate is drawn from it"
        )
    estimate_params = None if uncounted else params
    assessment = assess(ruleset, params=estimate_params, card=card, inputs=inputs)
    info = repo_info or {}
    private = info.get("private")
    publication = publication_status(
        ruleset,
        licenses=card.licenses if card else hub_licenses(info),
        private=private if isinstance(private, bool) else None,
        gated=info.get("gated"),
        card_gated=card.gated if card else None,
        card_gating_fields=card.gating_fields if card else (),
        override=override,
    )
    threshold = ruleset.threshold_operations
    interval = assessment.combined.interval
    record: dict[str, Any] = {"source": source} if source else {}
    record.update(inputs.to_dict())
    if params is not None:
        record["parameter_count"] = params.to_dict()
    record.update(as_mapping(assessment))
    return Classification(
        compute=interval,
        parameters_total=_int(assessment.total_parameters),
        parameters_active=_int(assessment.active_parameters),
        published=publication.published,
        publication_evidence=publication.evidence,
        license=", ".join(card.licenses) if card and card.licenses else None,
        base_model=assessment.base_model,
        threshold=threshold,
        warnings=tuple(warnings) + assessment.warnings,
        inputs=record,
        estimates=assessment.combined.estimates,
        settle=settle_hint(assessment, position(interval, threshold), threshold),
    )


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def to_model_facts(
    classification: Classification, repo_id: str, revision: str | None, commit: str | None
) -> ModelFacts:
    """The core value the decision reads. Designation is the ruleset's business, not ours."""
    declaration = classification.inputs.get("declaration")
    return ModelFacts(
        repo_id=repo_id,
        revision=revision,
        commit=commit,
        published=classification.published,
        publication_evidence=classification.publication_evidence,
        training_compute=classification.compute,
        declaration_id=declaration.get("id") if isinstance(declaration, Mapping) else None,
    )
