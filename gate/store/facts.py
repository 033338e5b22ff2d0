"""Assembling a decision's inputs from the records: recipient, screening, licenses, inquiry,
model facts.

The proxy knows the file, the commit and the classifiers' facts; everything about the recipient
(its restricted-party screening status and its parent's included) and the operator's word on the
model comes from here. Nothing is filled in by guess: an unknown headquarters or parent stays
unknown and the decision asks; a party never screened (or screened under another name or
country) has no screening status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from gate.core.values import ModelFacts, Party, Recipient, TransferRequest
from gate.screening.status import Status
from gate.store import inquiries, licenses, models, recipients, screening
from gate.store.db import Store
from gate.store.recipients import RecipientRecord


def choose_destination(asked: str | None, record: RecipientRecord) -> tuple[str | None, str | None]:
    """The one rule for a transfer's destination, and a note when the asked one is refused.

    Not asked (no `X-Gate-Destination`): the recipient's default destination (None when it has
    none, which the decision treats as unknown). Asked: used only when it is one the recipient
    registered; any other is not a fact the gate may accept from the client, so the decision
    sees an unknown destination and holds.
    """
    if asked is None:
        return record.default_destination, None
    if asked == record.default_destination or asked in record.destinations:
        return asked, None
    return None, f"X-Gate-Destination {asked} is not a registered destination of {record.name}"


def screened(recipient: Recipient, own: Status | None, parent: Status | None) -> Recipient:
    """The recipient with its own and its ultimate parent's screening status (None: none).

    A recipient that is its own parent carries one status (the core reads it for both); an
    unknown parent has none to carry.
    """
    parent_party = recipient.ultimate_parent
    if isinstance(parent_party, Party):
        parent_party = replace(parent_party, screening=parent)
    return replace(recipient, screening=own, ultimate_parent=parent_party)


def build_request(
    store: Store,
    *,
    recipient: RecipientRecord | str,
    repo_id: str,
    commit: str | None,
    revision: str | None,
    file: str | None,
    destination: str | None,
    day: date,
    model_facts: ModelFacts | None = None,
) -> TransferRequest:
    """The TransferRequest for one transfer, from the records (one read transaction).

    `destination` is the one asked for (None: not asked), chosen by `choose_destination`.
    `model_facts` are the classifiers' facts for the commit; designations and operator overrides
    are folded in here. Raises NotFoundError for an unknown recipient and StoreError when the
    database fails.
    """
    return build_transfer(
        store,
        recipient=recipient,
        repo_id=repo_id,
        commit=commit,
        revision=revision,
        file=file,
        destination=destination,
        day=day,
        model_facts=model_facts,
    )[0]


def build_transfer(
    store: Store,
    *,
    recipient: RecipientRecord | str,
    repo_id: str,
    commit: str | None,
    revision: str | None,
    file: str | None,
    destination: str | None,
    day: date,
    model_facts: ModelFacts | None = None,
) -> tuple[TransferRequest, str | None]:
    """`build_request`, and the note `choose_destination` made on the asked destination."""
    recipient_id = recipient if isinstance(recipient, str) else recipient.id
    base = model_facts or ModelFacts(repo_id=repo_id)
    base = replace(
        base,
        repo_id=repo_id,
        revision=revision if revision is not None else base.revision,
        commit=commit if commit is not None else base.commit,
    )
    with store.read() as conn:
        record = recipients.get_in(conn, recipient_id)
        usable = licenses.usable_for(conn, record.id, day)
        inquiry = inquiries.latest_for(conn, record.id, repo_id)
        trained = models.trained_for_in(conn, repo_id, record.id)
        facts = models.fold_in(conn, base)
        own_status, parent_status = screening.statuses_in(conn, record)
    chosen, note = choose_destination(destination, record)
    request = TransferRequest(
        date=day,
        model=facts,
        recipient=screened(record.to_core(), own_status, parent_status),
        destination=chosen,
        file=file,
        trained_on_operator_infrastructure=trained,
        licenses=tuple(lic.to_core() for lic in usable),
        inquiry=None if inquiry is None else inquiry.to_core(),
    )
    return request, note
