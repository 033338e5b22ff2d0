"""The `ear-embargoes` ruleset and its procedure (RULES.md "Beyond 4E091"), as pure code.

A platform that answers only the 4E091 question would hand closed weights below the threshold
to a recipient in Iran; this ruleset refuses them: comprehensive embargoes (Part 746) and
restricted parties (the Consolidated Screening List, as the recipient's screening status).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from gate.core.context import covering_license, destinations
from gate.core.files import FileCheck, FileRules
from gate.core.procedure import PROCEDURE_VERSION
from gate.core.questions import Question
from gate.core.ruleset import Provision, Source, country_of
from gate.core.values import (
    SELF,
    Basis,
    Decision,
    Party,
    Reason,
    Recipient,
    Screening,
    TransferRequest,
    Verdict,
)

_ALLOW = Verdict.ALLOW
_HOLD = Verdict.HOLD

EMBARGO_PROVISIONS = (
    "ear_scope",
    "published",
    "restricted_parties",
    "comprehensive_embargo",
    "license_requirement",
)


@dataclass(frozen=True)
class EmbargoRuleset:
    """Comprehensively embargoed places and the screening policy; built by gate.rules.loader."""

    id: str
    title: str
    sha256: str
    status_note: str
    sources: tuple[Source, ...]
    effective: date
    embargoed: frozenset[str]
    """Country codes (`IR`) and region codes (`UA-43`); a region of a listed country is covered."""
    provisions: Mapping[str, Provision]
    files: FileRules
    block_published: bool = False
    require_screening: bool = False

    @cached_property
    def citations(self) -> dict[str, str]:
        return {key: provision.citation for key, provision in self.provisions.items()}

    def embargoed_place(self, code: str) -> bool:
        return code in self.embargoed or country_of(code) in self.embargoed

    def is_parameters(self, path: str, head: bytes | None = None, size: int | None = None) -> bool:
        return self.files.is_parameters(path, head, size)

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck:
        return self.files.check(path, head, size)


def _facts(request: TransferRequest, places: tuple[str | None, ...]) -> dict[str, object]:
    recipient = request.recipient
    parent = recipient.ultimate_parent
    return {
        "published": request.model.published,
        "headquarters": recipient.headquarters,
        "ultimate_parent_headquarters": parent.headquarters
        if isinstance(parent, Party)
        else recipient.parent_headquarters,
        "destinations": places,
        "screening": recipient.screening,
        "ultimate_parent_screening": recipient.parent_screening,
    }


def _gives(
    request: TransferRequest,
    ruleset: EmbargoRuleset,
    places: tuple[str | None, ...],
    verdict: Verdict,
    basis: Basis,
    text: str,
    provision: str,
    questions: tuple[Question, ...] = (),
    license_used: str | None = None,
) -> Decision:
    return Decision(
        verdict=verdict,
        basis=basis,
        reasons=(Reason(basis.value, text, ruleset.citations[provision]),),
        ruleset_id=ruleset.id,
        ruleset_sha256=ruleset.sha256,
        facts=_facts(request, places),
        license_used=license_used,
        questions=tuple(q.value for q in questions),
        procedure_version=PROCEDURE_VERSION,
    )


def _parties(recipient: Recipient) -> list[tuple[str, Screening | None]]:
    """The parties screened: the recipient, and its ultimate parent when it is another party
    (a recipient that is its own parent is screened once; an unknown parent is asked at step 6)."""
    parties: list[tuple[str, Screening | None]] = [("recipient", recipient.screening)]
    if isinstance(recipient.ultimate_parent, Party):
        parties.append(("ultimate parent", recipient.ultimate_parent.screening))
    return parties


def decide_embargoes(request: TransferRequest, ruleset: EmbargoRuleset) -> Decision:
    """RULES.md "Beyond 4E091", steps 1 to 7; the first step that answers decides."""
    recipient = request.recipient
    model = request.model
    places = destinations(request)

    # 1. Only parameters are in question (the same fail-closed test as ECCN 4E091's).
    if request.file is not None and not ruleset.is_parameters(request.file):
        return _gives(
            request,
            ruleset,
            places,
            _ALLOW,
            Basis.NOT_MODEL_WEIGHTS,
            f"{request.file} does not hold model parameters",
            "ear_scope",
        )
    # 2. Published weights are not subject to the EAR, unless the operator refuses them too.
    if model.published is True and not ruleset.block_published:
        return _gives(
            request,
            ruleset,
            places,
            _ALLOW,
            Basis.PUBLISHED,
            f"{model.repo_id} is published and so not subject to the EAR",
            "published",
        )
    # 3. A confirmed restricted-party match of the recipient or its ultimate parent.
    parties = _parties(recipient)
    matched = [who for who, status in parties if status == "match"]
    if matched:
        return _gives(
            request,
            ruleset,
            places,
            Verdict.DENY,
            Basis.RESTRICTED_PARTY,
            f"the {' and the '.join(matched)} of {recipient.name} matched the Consolidated "
            "Screening List (confirmed)",
            "restricted_parties",
        )
    # 4. Comprehensively embargoed places: only a license on record opens them.
    hq, parent_hq = recipient.headquarters, recipient.parent_headquarters
    embargoed = ruleset.embargoed_place
    if any(code is not None and embargoed(code) for code in (hq, parent_hq, *places)):
        lic = covering_license(request, places)
        where = ", ".join(d for d in places if d)
        if lic is not None:
            return _gives(
                request,
                ruleset,
                places,
                _ALLOW,
                Basis.LICENSED,
                f"license {lic.number} covers {recipient.name}, {model.repo_id} and {where} "
                f"until {lic.valid_until}",
                "license_requirement",
                license_used=lic.number,
            )
        named = [
            (f"recipient headquarters {hq}", hq),
            (f"ultimate parent headquarters {parent_hq}", parent_hq),
            *((f"destination {d}", d) for d in places),
        ]
        hits = [label for label, code in named if code is not None and embargoed(code)]
        return _gives(
            request,
            ruleset,
            places,
            Verdict.DENY,
            Basis.COMPREHENSIVE_EMBARGO,
            f"comprehensively embargoed: {'; '.join(hits)}",
            "comprehensive_embargo",
        )
    # 5. A possible match not yet reviewed, or a party never screened where screening is required.
    review = [who for who, status in parties if status == "possible_match"]
    if ruleset.require_screening:
        review += [f"{who} (never screened)" for who, status in parties if status is None]
    if review:
        return _gives(
            request,
            ruleset,
            places,
            _HOLD,
            Basis.RESTRICTED_PARTY_REVIEW,
            f"restricted-party screening needs an officer's review: {', '.join(review)}",
            "restricted_parties",
            questions=(Question.RESTRICTED_PARTY_REVIEW,),
        )
    # 6. Unknown parties or destinations are asked about, never assumed.
    questions = []
    if hq is None:
        questions.append(Question.RECIPIENT_HEADQUARTERS)
    if parent_hq is None and recipient.ultimate_parent != SELF:
        questions.append(Question.ULTIMATE_PARENT)
    if None in places:
        questions.append(Question.DESTINATION)
    if questions:
        return _gives(
            request,
            ruleset,
            places,
            _HOLD,
            Basis.PARTIES_UNKNOWN,
            "unknown: " + ", ".join(q.label for q in questions),
            "comprehensive_embargo",
            questions=tuple(questions),
        )
    # 7. No embargo and no restricted party applies.
    return _gives(
        request,
        ruleset,
        places,
        _ALLOW,
        Basis.NO_EMBARGO,
        f"no comprehensive embargo covers {recipient.name}, its ultimate parent or "
        f"{', '.join(d for d in places if d)}, and no restricted-party match",
        "comprehensive_embargo",
    )
