"""Gather every applicable method for one model and combine them (pure: no I/O).

Sources, in the order they are considered: a recorded classification, a compute declaration, the
caller's inputs (flags), the model card's compute fields, the parameter count from headers or
config, the base model's interval (lineage) and the ruleset's largest plausible token count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gate.compute.accelerators import find_accelerator
from gate.compute.combine import Combined, combine
from gate.compute.counting import counting_estimate, encoder_decoder_estimate, upper_bound
from gate.compute.declaration import VerifiedDeclaration, declaration_estimate
from gate.compute.estimate import Estimate
from gate.compute.hardware import chip_seconds, hardware_estimate
from gate.compute.lineage import named_bases
from gate.compute.model_card import HardwareClaim, ModelCard
from gate.compute.params import ParameterCount
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval


@dataclass(frozen=True, slots=True)
class TrainingInputs:
    """What the caller knows beyond the repository (CLI flags, records, the base's facts)."""

    parameters: float | None = None
    active_parameters: float | None = None
    tokens: float | None = None
    encoder_tokens: float | None = None
    decoder_tokens: float | None = None
    chip: str | None = None
    chip_count: float | None = None
    days: float | None = None
    chip_hours: float | None = None
    precision: str | None = None
    utilization: float | None = None
    declaration: VerifiedDeclaration | None = None
    recorded: ComputeInterval | None = None
    bases: Mapping[str, ComputeInterval | None] = field(default_factory=dict)
    """What the gate learned of named bases' compute (`gate.compute.lineage.resolve_bases`):
    name -> interval, None when unknown. A named base missing here is unknown too."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is None or name in ("declaration", "recorded", "bases"):
                continue
            out[name] = value
        if self.bases:
            out["bases"] = {
                name: None if found is None else {"low": found.low, "high": found.high}
                for name, found in self.bases.items()
            }
        if self.declaration is not None:
            out["declaration"] = {
                "repo": self.declaration.declaration.model.repo,
                "verified": self.declaration.verified,
                "id": self.declaration.id,
                "key_ids": list(self.declaration.key_ids),
            }
        return out


@dataclass(frozen=True, slots=True)
class Assessment:
    combined: Combined
    total_parameters: float | None
    active_parameters: float | None
    base_model: str | None
    warnings: tuple[str, ...]


def _interval_estimate(interval: ComputeInterval, method: str, evidence: str) -> Estimate:
    return Estimate(
        method, interval.low, interval.central, interval.high, evidence, {"from": interval.method}
    )


def _hardware(
    claim: HardwareClaim | TrainingInputs, utilization: float | None, origin: str
) -> Estimate:
    assert claim.chip is not None
    chip = find_accelerator(claim.chip)
    seconds = chip_seconds(
        claim.count if isinstance(claim, HardwareClaim) else claim.chip_count,
        claim.days,
        claim.chip_hours,
    )
    estimate = hardware_estimate(chip, claim.precision or "bf16", seconds, utilization)
    return Estimate(
        estimate.method,
        estimate.low,
        estimate.central,
        estimate.high,
        f"{estimate.evidence}{origin}",
        {**estimate.inputs, "origin": origin.strip(" ()") or "inputs"},
    )


def assess(
    ruleset: Ruleset,
    *,
    params: ParameterCount | None = None,
    card: ModelCard | None = None,
    inputs: TrainingInputs = TrainingInputs(),
) -> Assessment:
    """Every applicable estimate for one model, combined by `gate.compute.combine`."""
    warnings: list[str] = list(params.warnings) if params else []
    estimates: list[Estimate] = []
    decl = inputs.declaration.declaration if inputs.declaration else None

    total: float | None = params.total if params else None
    active: float | None = params.active if params else None
    if inputs.parameters is not None or inputs.active_parameters is not None:
        given_total = (
            inputs.parameters if inputs.parameters is not None else inputs.active_parameters
        )
        given_active = (
            inputs.active_parameters if inputs.active_parameters is not None else given_total
        )
        if (
            total is not None
            and given_total
            and max(total / given_total, given_total / total) > 1.5
        ):
            warnings.append(
                f"--params {given_total:.3g} differs from the {params.source if params else ''} "
                f"count {total:.3g}; using the given value"
            )
        total, active = given_total, given_active
    elif total is None and decl is not None and decl.parameters is not None:
        total = decl.parameters.total
        active = decl.parameters.active if decl.parameters.active is not None else total
    elif (
        inputs.declaration is not None
        and inputs.declaration.verified
        and decl is not None
        and decl.parameters is not None
        and decl.parameters.active is not None
        and total is not None
    ):
        # Experts are counted all active unless a trusted declaration says how many are: a
        # signed statement for these weights, unlike the config's experts-per-token.
        active = min(decl.parameters.active, total)

    if inputs.recorded is not None:
        estimates.append(_interval_estimate(inputs.recorded, "recorded", "recorded classification"))
    if inputs.declaration is not None:
        estimates.append(declaration_estimate(inputs.declaration))

    tokens = inputs.tokens
    token_origin = ""
    # Operator-given numbers (CLI flags) and a trusted declaration's are signed; a card's, or an
    # untrusted declaration's, are claims (see combine.py).
    tokens_unsigned = False
    decl_unsigned = inputs.declaration is not None and not inputs.declaration.verified
    if tokens is None and decl is not None and decl.tokens is not None:
        tokens, token_origin, tokens_unsigned = decl.tokens, " (declared tokens)", decl_unsigned
    if tokens is None and card is not None and card.training_tokens is not None:
        tokens, token_origin = card.training_tokens, " (model card training_tokens)"
        tokens_unsigned = True
    encoder_decoder = params is not None and params.encoder is not None
    if active is not None and (tokens is not None or inputs.encoder_tokens is not None):
        if encoder_decoder and params is not None:
            estimates.append(
                encoder_decoder_estimate(
                    total or active,
                    tokens,
                    encoder_parameters=params.encoder,
                    decoder_parameters=params.decoder,
                    encoder_tokens=inputs.encoder_tokens,
                    decoder_tokens=inputs.decoder_tokens,
                )
            )
        elif tokens is not None:
            estimates.append(counting_estimate(active, tokens, source=token_origin))
        if tokens_unsigned:
            estimates[-1] = replace(estimates[-1], unsigned=True)

    if inputs.chip is not None:
        estimates.append(_hardware(inputs, inputs.utilization, ""))
    elif card is not None and card.training_hardware is not None:
        card_hardware = _hardware(card.training_hardware, None, " (model card training_hardware)")
        estimates.append(replace(card_hardware, unsigned=True))
    if card is not None and card.training_compute_operations is not None:
        value = card.training_compute_operations
        estimates.append(
            Estimate(
                "reported",
                value,
                value,
                value,
                "model card training_compute_operations",
                {"operations": value},
                unsigned=True,
            )
        )
    if active is not None:
        estimates.append(
            upper_bound(
                active,
                ruleset.compute.max_plausible_tokens,
                ruleset.compute.max_plausible_tokens_note,
            )
        )

    names = named_bases(
        decl.base_model.repo if decl is not None and decl.base_model is not None else None,
        card.base_models if card is not None else (),
    )
    known = {name.casefold(): found for name, found in inputs.bases.items()}
    bases: list[tuple[str, Estimate | None]] = []
    for name in names:
        found = known.get(name.casefold())
        bases.append(
            (
                name,
                None
                if found is None
                else _interval_estimate(found, "lineage", _base_evidence(name, found)),
            )
        )
    combined = combine(
        estimates,
        disagreement_factor=ruleset.compute.disagreement_factor,
        implausibly_low_factor=ruleset.compute.implausibly_low_factor,
        bases=bases,
    )
    base_name = ", ".join(names) if names else None
    return Assessment(combined, total, active, base_name, tuple(warnings) + combined.warnings)


def _base_evidence(name: str, found: ComputeInterval) -> str:
    """Where a base's operations came from, for the record (the table row and its source...)."""
    where = "; ".join(found.evidence) or found.method
    return f"base {name}: {where}"


def settle_hint(assessment: Assessment, position: str, threshold: float) -> str | None:
    """What would settle an undetermined case, for people."""
    if position != "undetermined":
        return None
    interval = assessment.combined.interval
    if assessment.active_parameters is None:
        return (
            "the parameter count (a safetensors file, config.json or --params) and the training "
            "tokens, or a compute declaration signed by a trusted key"
        )
    if interval.low is None:
        reach = "an unknown number of" if interval.high is None else f"{interval.high:.3g}"
        return (
            "the training token count (--tokens), the training hardware, or a signed compute "
            f"declaration: what is known allows {reach} operations, which reaches {threshold:.3g}"
        )
    return "a compute declaration signed by a trusted key: the estimates straddle the threshold"


def as_mapping(assessment: Assessment) -> Mapping[str, Any]:
    return {
        "parameters": {
            "total": assessment.total_parameters,
            "active": assessment.active_parameters,
        },
        "estimates": [e.to_dict() for e in assessment.combined.estimates],
    }
