"""The one codec for model facts and compute intervals: core values <-> plain JSON dicts.

The request JSON (`gate.schema.request_to_dict`), the records store's model classifications
(`gate.store.models`) and the audit chain's recorded requests all write these shapes with these
functions, so a fact reads back as it was written (`parse_request(request_to_dict(r)) == r`,
evidence included). Reading back is lenient about absent keys (older records); the request's
own strict validation lives in `gate.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import InputError


def compute_to_dict(tc: ComputeInterval) -> dict[str, Any]:
    """`{low, high, central, method, evidence}`."""
    return {
        "low": tc.low,
        "high": tc.high,
        "central": tc.central,
        "method": tc.method,
        "evidence": list(tc.evidence),
    }


def compute_from_dict(data: Mapping[str, Any]) -> ComputeInterval:
    return ComputeInterval(
        low=data.get("low"),
        high=data.get("high"),
        central=data.get("central"),
        method="unknown" if data.get("method") is None else str(data["method"]),
        evidence=tuple(str(e) for e in data.get("evidence") or ()),
    )


def model_facts_to_dict(facts: ModelFacts) -> dict[str, Any]:
    """Every field of the facts, the compute interval as `compute_to_dict` writes it."""
    return {
        "repo_id": facts.repo_id,
        "revision": facts.revision,
        "commit": facts.commit,
        "designated": facts.designated,
        "designation_reason": facts.designation_reason,
        "published": facts.published,
        "publication_evidence": facts.publication_evidence,
        "training_compute": compute_to_dict(facts.training_compute),
        "less_capable_than_published": facts.less_capable_than_published,
        "declaration_id": facts.declaration_id,
    }


def model_facts_from_dict(data: Mapping[str, Any]) -> ModelFacts:
    try:
        return ModelFacts(
            repo_id=str(data["repo_id"]),
            revision=data.get("revision"),
            commit=data.get("commit"),
            designated=bool(data.get("designated", False)),
            designation_reason=data.get("designation_reason"),
            published=data.get("published"),
            publication_evidence=data.get("publication_evidence"),
            training_compute=compute_from_dict(data.get("training_compute") or {}),
            less_capable_than_published=bool(data.get("less_capable_than_published", False)),
            declaration_id=data.get("declaration_id"),
        )
    except KeyError as exc:
        raise InputError("model", f"missing {exc.args[0]}") from None
