"""The transfer decision: the procedure of RULES.md, step by step, as a pure function.

`decide(request, ruleset)` reads no clock, file or environment; the same request and ruleset give
the same decision, which is what makes the audit chain replayable. Each step returns early with
its verdict, basis and reasons; a missing fact leads to `hold` with the questions to ask, never to
`allow`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gate.core.questions import Question
from gate.core.ruleset import Ruleset
from gate.core.values import (
    GROUP_SEVERITY,
    Basis,
    Decision,
    Group,
    License,
    Reason,
    TransferRequest,
    Verdict,
)

ECCN_WIDE = "4E091"


def _fmt_ops(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"


def _interval_text(request: TransferRequest) -> str:
    tc = request.model.training_compute
    return f"[{_fmt_ops(tc.low)}, {_fmt_ops(tc.high)}] operations ({tc.method})"


class _Context:
    """The facts one decision works from, derived once (groups, destinations) and then reused."""

    __slots__ = ("destinations", "groups", "hq_group", "parent_group", "request", "ruleset")

    def __init__(self, request: TransferRequest, ruleset: Ruleset) -> None:
        self.request = request
        self.ruleset = ruleset
        recipient = request.recipient
        hq = recipient.headquarters
        parent_hq = recipient.parent_headquarters
        self.hq_group = None if hq is None else ruleset.group_of(hq)
        self.parent_group = None if parent_hq is None else ruleset.group_of(parent_hq)
        destinations: list[str | None] = [request.destination]
        inquiry = request.inquiry
        if inquiry is not None and inquiry.completed:
            for declared in inquiry.declared_destinations:
                if declared not in destinations:
                    destinations.append(declared)
        self.destinations = tuple(destinations)
        self.groups = tuple(None if d is None else ruleset.group_of(d) for d in destinations)

    @property
    def destination_group(self) -> Group | None:
        """The most restrictive group among the destinations; None when one is unknown."""
        if None in self.groups:
            return None
        return max(self.groups, key=lambda g: GROUP_SEVERITY[g]) if self.groups else None  # type: ignore[arg-type,return-value]

    def facts(self, controlled: bool | None) -> dict[str, Any]:
        request = self.request
        model = request.model
        recipient = request.recipient
        tc = model.training_compute
        parent = recipient.ultimate_parent
        return {
            "date": request.date.isoformat(),
            "file": request.file,
            "model": {
                "repo_id": model.repo_id,
                "revision": model.revision,
                "commit": model.commit,
                "designated": model.designated,
                "published": model.published,
                "training_compute": {"low": tc.low, "high": tc.high, "method": tc.method},
                "declaration_id": model.declaration_id,
            },
            "controlled": controlled,
            "recipient": {
                "id": recipient.id,
                "name": recipient.name,
                "headquarters": recipient.headquarters,
                "headquarters_group": self.hq_group,
                "ultimate_parent": parent if isinstance(parent, str) or parent is None
                else {"name": parent.name, "headquarters": parent.headquarters},
                "parent_headquarters_group": self.parent_group,
                "security_attestation_until": None
                if recipient.security_attestation is None
                else recipient.security_attestation.valid_until.isoformat(),
            },
            "destinations": list(self.destinations),
            "destination_groups": list(self.groups),
            "trained_on_operator_infrastructure": request.trained_on_operator_infrastructure,
            "inquiry": None
            if request.inquiry is None
            else {"id": request.inquiry.id, "status": request.inquiry.status},
            "threshold": self.ruleset.threshold_operations,
        }


def _decision(
    ctx: _Context,
    verdict: Verdict,
    basis: Basis,
    reasons: Sequence[Reason],
    *,
    controlled: bool | None,
    license_used: str | None = None,
    questions: Sequence[Question] = (),
) -> Decision:
    return Decision(
        verdict=verdict,
        basis=basis,
        reasons=tuple(reasons),
        ruleset_id=ctx.ruleset.id,
        ruleset_sha256=ctx.ruleset.sha256,
        facts=ctx.facts(controlled),
        license_used=license_used,
        questions=tuple(q.value for q in questions),
    )


def _covering_license(ctx: _Context) -> License | None:
    request = ctx.request
    if None in ctx.destinations:
        return None  # a license must name every destination; an unknown one is named by none
    recipient_keys = {request.recipient.name.casefold()}
    if request.recipient.id:
        recipient_keys.add(request.recipient.id.casefold())
    repo = request.model.repo_id.casefold()
    for lic in sorted(request.licenses, key=lambda item: item.number):
        if lic.recipient.casefold() not in recipient_keys:
            continue
        models = {m.casefold() for m in lic.models}
        if repo not in models and ECCN_WIDE.casefold() not in models:
            continue
        if not set(ctx.destinations) <= set(lic.destinations):  # type: ignore[arg-type]
            continue
        if lic.valid_on(request.date):
            return lic
    return None


def decide(request: TransferRequest, ruleset: Ruleset) -> Decision:
    """Decide one transfer under `ruleset`, following RULES.md's procedure step by step."""
    ctx = _Context(request, ruleset)
    cite = ruleset.cite
    model = request.model
    threshold = ruleset.threshold_operations

    # 1. The ruleset is in force from its compliance date (and until a rescission, if set).
    if not ruleset.in_force_on(request.date):
        return _decision(ctx, Verdict.ALLOW, Basis.NOT_IN_FORCE, [Reason(
            "not_in_force",
            f"{ruleset.id} is not in force on {request.date.isoformat()} (compliance from "
            f"{ruleset.compliance.isoformat()})",
            cite("effective_dates"),
        )], controlled=None)

    # 2. Only parameters are controlled; config, tokenizer, code and documentation flow.
    if request.file is not None and not ruleset.is_parameters(request.file):
        return _decision(ctx, Verdict.ALLOW, Basis.NOT_MODEL_WEIGHTS, [Reason(
            "not_model_weights", f"{request.file} does not hold model parameters",
            cite("ear_scope"),
        )], controlled=False)

    # 3. A designated model is controlled whatever its compute or publication.
    designation = ruleset.designation_for(model.repo_id)
    reasons: list[Reason] = []
    if model.designated or designation is not None:
        why = model.designation_reason or (designation.reason if designation else "designated")
        reasons.append(Reason(
            "designated", f"{model.repo_id} is designated as controlled: {why}",
            cite("eccn_4e091"),
        ))
    else:
        compute = model.training_compute
        # 4. Published weights are excluded.
        if model.published is True:
            evidence = f" ({model.publication_evidence})" if model.publication_evidence else ""
            return _decision(ctx, Verdict.ALLOW, Basis.PUBLISHED, [Reason(
                "published", f"{model.repo_id} is published{evidence}", cite("published"),
            )], controlled=False)
        # 5. Below the threshold, or less capable than the most capable published model.
        if compute.wholly_below(threshold):
            return _decision(ctx, Verdict.ALLOW, Basis.BELOW_THRESHOLD, [Reason(
                "below_threshold",
                f"training compute {_interval_text(request)} is wholly below {threshold:.3g}",
                cite("eccn_4e091"),
            )], controlled=False)
        frontier = ruleset.published_frontier_operations
        if model.less_capable_than_published or (
            frontier is not None and compute.wholly_below(frontier)
        ):
            text = (
                f"{model.repo_id} is recorded as less capable than the most capable published model"
                if model.less_capable_than_published
                else f"training compute {_interval_text(request)} is wholly below the most capable "
                f"published model's {_fmt_ops(frontier)}"
            )
            return _decision(ctx, Verdict.ALLOW, Basis.LESS_CAPABLE_THAN_PUBLISHED, [Reason(
                "less_capable_than_published", text, cite("less_capable"),
            )], controlled=False)
        # 6. What is not known must be asked; what is known above the threshold is controlled.
        compute_known_above = compute.wholly_at_or_above(threshold)
        if model.published is None:
            questions = [Question.PUBLICATION_STATUS]
            hold_reasons = [Reason(
                "publication_unknown",
                f"whether {model.repo_id} is published is unknown",
                cite("published"),
            )]
            if not compute_known_above:
                questions.append(Question.TRAINING_COMPUTE)
                hold_reasons.append(Reason(
                    "compute_undetermined",
                    f"training compute {_interval_text(request)} does not settle the "
                    f"{threshold:.3g} threshold",
                    cite("eccn_4e091"),
                ))
            return _decision(ctx, Verdict.HOLD, Basis.PUBLICATION_UNKNOWN, hold_reasons,
                             controlled=None, questions=questions)
        if not compute_known_above:
            return _decision(ctx, Verdict.HOLD, Basis.COMPUTE_UNDETERMINED, [Reason(
                "compute_undetermined",
                f"training compute {_interval_text(request)} reaches the {threshold:.3g} "
                "threshold but is not wholly at or above it; a compute declaration would settle it",
                cite("eccn_4e091"),
            )], controlled=None, questions=[Question.TRAINING_COMPUTE])
        reasons.append(Reason(
            "controlled",
            f"{model.repo_id} is not published and its training compute "
            f"{_interval_text(request)} is at or above {threshold:.3g}",
            cite("eccn_4e091"),
        ))

    return _decide_controlled(ctx, reasons)


def _decide_controlled(ctx: _Context, reasons: list[Reason]) -> Decision:
    """Steps 7 to 13: who may receive controlled weights, where."""
    request = ctx.request
    cite = ctx.ruleset.cite
    recipient = request.recipient

    # 7. A license on record that covers recipient, model, every destination and the date.
    lic = _covering_license(ctx)
    if lic is not None:
        reasons.append(Reason(
            "licensed",
            f"BIS license {lic.number} covers {recipient.name}, {request.model.repo_id} and "
            f"{', '.join(d for d in ctx.destinations if d)} until {lic.valid_until.isoformat()}",
            cite("license_requirement"),
        ))
        return _decision(ctx, Verdict.ALLOW, Basis.LICENSED, reasons, controlled=True,
                         license_used=lic.number)

    # 8. Any known embargoed party or destination: no answer to a question could change it.
    embargoed = []
    if ctx.hq_group is Group.EMBARGOED:
        embargoed.append(f"recipient headquarters {recipient.headquarters}")
    if ctx.parent_group is Group.EMBARGOED:
        embargoed.append(f"ultimate parent headquarters {recipient.parent_headquarters}")
    for dest, group in zip(ctx.destinations, ctx.groups, strict=True):
        if group is Group.EMBARGOED:
            embargoed.append(f"destination {dest}")
    if embargoed:
        reasons.append(Reason(
            "presumption_of_denial",
            f"embargoed ({ctx.ruleset.group_labels[Group.EMBARGOED].tier}): "
            f"{'; '.join(embargoed)}; a license application would be reviewed with a "
            "presumption of denial",
            cite("presumption_of_denial"),
        ))
        return _decision(ctx, Verdict.DENY, Basis.PRESUMPTION_OF_DENIAL, reasons, controlled=True)

    # 9. Unknown parties or destination are asked about, never assumed.
    questions = []
    if recipient.headquarters is None:
        questions.append(Question.RECIPIENT_HEADQUARTERS)
    if recipient.parent_headquarters is None and recipient.ultimate_parent != "self":
        questions.append(Question.ULTIMATE_PARENT)
    if None in ctx.destinations:
        questions.append(Question.DESTINATION)
    if questions:
        reasons.append(Reason(
            "parties_unknown",
            "unknown: " + ", ".join(q.label for q in questions),
            cite("license_requirement"),
        ))
        return _decision(ctx, Verdict.HOLD, Basis.PARTIES_UNKNOWN, reasons, controlled=True,
                         questions=questions)

    # 10. IaaS red flag: trained here for a recipient outside `allied`, and no completed inquiry.
    outside_allied = ctx.hq_group is not Group.ALLIED or ctx.parent_group is not Group.ALLIED
    inquiry = request.inquiry
    if request.trained_on_operator_infrastructure and outside_allied and not (
        inquiry is not None and inquiry.completed
    ):
        status = "no inquiry" if inquiry is None else f"inquiry {inquiry.status}"
        reasons.append(Reason(
            "duty_to_inquire",
            f"the operator trained {request.model.repo_id} for {recipient.name}, whose "
            f"headquarters or ultimate parent is outside the allied group ({status}); ask about "
            "intended export destinations and end use before the transfer",
            cite("red_flag_28"),
        ))
        return _decision(ctx, Verdict.HOLD, Basis.DUTY_TO_INQUIRE, reasons, controlled=True,
                         questions=[Question.EXPORT_DESTINATIONS, Question.END_USE,
                                    Question.LICENSE_OBLIGATION_ACKNOWLEDGED])

    destination_group = ctx.destination_group
    where = ", ".join(d for d in ctx.destinations if d)
    if not outside_allied:
        # 11. Allied headquarters and parent, allied destination(s).
        if destination_group is Group.ALLIED:
            reasons.append(Reason(
                "license_exception_aia",
                f"{recipient.name} and its ultimate parent are headquartered in allied countries "
                f"and the destination ({where}) is allied",
                cite("aia"),
            ))
            return _decision(ctx, Verdict.ALLOW, Basis.LICENSE_EXCEPTION_AIA, reasons,
                             controlled=True)
        # 12. Allied headquarters and parent, `other` destination: security conditions apply.
        attestation = recipient.security_attestation
        if attestation is not None and attestation.current_on(request.date):
            reasons.append(Reason(
                "license_exception_aia_weights",
                f"{recipient.name} and its ultimate parent are headquartered in allied countries, "
                f"the destination ({where}) is not, and a security attestation is current until "
                f"{attestation.valid_until.isoformat()}",
                cite("aia_weights"),
            ))
            return _decision(ctx, Verdict.ALLOW, Basis.LICENSE_EXCEPTION_AIA_WEIGHTS, reasons,
                             controlled=True)
        state = "none on record" if attestation is None else (
            f"on record for {attestation.valid_until.isoformat()}, not current"
        )
        reasons.append(Reason(
            "security_attestation_required",
            f"License Exception AIA for weights to {where} needs a current security attestation "
            f"({state})",
            cite("security_conditions"),
        ))
        return _decision(ctx, Verdict.HOLD, Basis.SECURITY_ATTESTATION_REQUIRED, reasons,
                         controlled=True, questions=[Question.SECURITY_ATTESTATION])

    # 13. Everyone else needs a license.
    reasons.append(Reason(
        "license_required",
        f"{recipient.name} (headquarters {recipient.headquarters}, ultimate parent "
        f"{recipient.parent_headquarters}) to {where}: no license on record covers this transfer",
        cite("license_requirement"),
    ))
    return _decision(ctx, Verdict.LICENSE_REQUIRED, Basis.LICENSE_REQUIRED, reasons,
                     controlled=True)
