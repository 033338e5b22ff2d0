"""The transfer context of a whole-file GET, as the server builds it, for gatekeeper tests."""

from __future__ import annotations

from gate.core.values import ModelFacts
from gate.service.gatekeeper import Caller, TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper

COMMIT = "c" * 40


def whole_file_get(
    gk: StoreGatekeeper, caller: Caller, facts: ModelFacts, path: str
) -> TransferContext:
    return TransferContext(
        caller=caller,
        repo_id=facts.repo_id,
        revision="main",
        commit=COMMIT,
        path=path,
        size=10,
        sha256="0" * 64,
        is_parameters=gk.is_parameters(path),
        destination=None,
        client="127.0.0.1",
        method="GET",
        byte_range=None,
        model_facts=facts,
        counts_transfer=True,  # a whole-file GET: the bytes beyond the header go out
    )
