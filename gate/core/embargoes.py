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
from gate.core.values import Basis, Decision, Party, Reason, TransferRequest, Verdict

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
    return {
        "published": request.model.published,
        "headquarters": recipient.headquarters,
        "ultimate_parent_headquarters": recipient.parent_headquarters,
        "destinations": places,
        "screening": recipient.screening,
        "ultimate_parent_screening": recipient.parent_screening,
    }


def decide_embargoes(request: TransferRequest, ruleset: EmbargoRuleset) -> Decision:
    """RULES.md "Beyond 4E091", steps 1 to 7; the first step that answers decides."""
    cite = ruleset.citations
    recipient = request.recipient
    model = request.model
    places = destinations(request)

    def gives(
        verdict: Verdict,
        basis: Basis,
        code: str,
        text: str,
        provision: str,
        questions: tuple[Question, ...] = (),
        license_used: str | None = None,
    ) -> Decision:
        return Decision(
            verdict=verdict,
            basis=basis,
            reasons=(Reason(code, text, cite[provision]),),
            ruleset_id=ruleset.id,
            ruleset_sha256=ruleset.sha256,
            facts=_facts(request, places),
            license_used=license_used,
            questions=tuple(q.value for q in questions),
            procedure_version=PROCEDURE_VERSION,
        )

    # 1. Only parameters are in question (the same fail-closed test as ECCN 4E091's).
    if request.file is not None and not ruleset.is_parameters(request.file):
        return gives(
            Verdict.ALLOW,
            Basis.NOT_MODEL_WEIGHTS,
            "not_model_weights",
            f"{request.file} does not hold model parameters",
            "ear_scope",
        )
    # 2. Published weights are not subject to the EAR, unless the operator refuses them too.
    if model.published is True and not ruleset.block_published:
        return gives(
            Verdict.ALLOW,
            Basis.PUBLISHED,
            "published",
            f"{model.repo_id} is published and so not subject to the EAR",
            "published",
        )
    # 3. A confirmed restricted-party match of the recipient or its ultimate parent.
    # A recipient that is its own ultimate parent is screened once; an unknown parent is asked
    # about at step 6.
    parties = [("recipient", recipient.screening)]
    if isinstance(recipient.ultimate_parent, Party):
        parties.append(("ultimate parent", recipient.ultimate_parent.screening))
    matched = [who for who, status in parties if status == "match"]
    if matched:
        return gives(
            Verdict.DENY,
            Basis.RESTRICTED_PARTY,
            "restricted_party",
            f"the {' and the '.join(matched)} of {recipient.name} matched the Consolidated "
            "Screening List (confirmed)",
            "restricted_parties",
        )
    # 4. Comprehensively embargoed places: only a license on record opens them.
    named = [
        (f"recipient headquarters {recipient.headquarters}", recipient.headquarters),
        (
            f"ultimate parent headquarters {recipient.parent_headquarters}",
            recipient.parent_headquarters,
        ),
        *((f"destination {d}", d) for d in places),
    ]
    hits = [label for label, code in named if code is not None and ruleset.embargoed_place(code)]
    if hits:
        lic = covering_license(request, places)
        if lic is not None:
            return gives(
                Verdict.ALLOW,
                Basis.LICENSED,
                "licensed",
                f"license {lic.number} covers {recipient.name}, {model.repo_id} and "
                f"{', '.join(d for d in places if d)} until {lic.valid_until}",
                "license_requirement",
                license_used=lic.number,
            )
        return gives(
            Verdict.DENY,
            Basis.COMPREHENSIVE_EMBARGO,
            "comprehensive_embargo",
            f"comprehensively embargoed: {'; '.join(hits)}",
            "comprehensive_embargo",
        )
    # 5. A possible match not yet reviewed, or a party never screened where screening is required.
    review = [who for who, status in parties if status == "possible_match"]
    if ruleset.require_screening:
        review += [f"{who} (never screened)" for who, status in parties if status is None]
    if review:
        return gives(
            Verdict.HOLD,
            Basis.RESTRICTED_PARTY_REVIEW,
            "restricted_party_review",
            f"restricted-party screening needs an officer's review: {', '.join(review)}",
            "restricted_parties",
            questions=(Question.RESTRICTED_PARTY_REVIEW,),
        )
    # 6. Unknown parties or destinations are asked about, never assumed.
    questions = []
    if recipient.headquarters is None:
        questions.append(Question.RECIPIENT_HEADQUARTERS)
    if recipient.parent_headquarters is None and recipient.ultimate_parent != "self":
        questions.append(Question.ULTIMATE_PARENT)
    if None in places:
        questions.append(Question.DESTINATION)
    if questions:
        return gives(
            Verdict.HOLD,
            Basis.PARTIES_UNKNOWN,
            "parties_unknown",
            "unknown: " + ", ".join(q.label for q in questions),
            "comprehensive_embargo",
            questions=tuple(questions),
        )
    # 7. No embargo and no restricted party applies.
    return gives(
        Verdict.ALLOW,
        Basis.NO_EMBARGO,
        "no_embargo",
        f"no comprehensive embargo covers {recipient.name}, its ultimate parent or "
        f"{', '.join(d for d in places if d)}, and no restricted-party match",
        "comprehensive_embargo",
    )
