"""What a decision reads from the records, kept in memory with exact invalidation.

Every request used to read its token, its recipient, the recipient's licenses, its inquiry, the
trained-for mark and the operator's word on the model: six reads, most of the gate's time per
request. This cache keeps them, and checks once per call that the records have not changed:

- Every change to the records is appended to the audit chain in the change's own transaction
  (tokens, recipients, licenses, designations, overrides, trained-for marks as `admin` entries,
  inquiry answers and reviews as `inquiry` entries). The chain is shared by every worker and
  every replica. So each call reads the head of the chain (the largest `seq`, one primary-key
  lookup); when it has moved, it asks whether any entry since the last look is not a decision,
  an outcome or a snapshot (a range scan of the entries appended meanwhile, which stops at the
  first one). If one is, everything cached is dropped. A revocation, a designation, a new
  license or an answered inquiry therefore reaches the very next request, in every process.
- Whatever the chain does not show (a database edited by hand) is read again at most `ttl`
  seconds later (2 s by default): nothing is kept longer.
- A request that names a usable license is never cached: licenses are read for every such
  decision, so the count of transfers against a cap stays exact.
- A token is answered from memory no longer than the earliest expiry among its recipient's
  credentials.
- The inquiry a hold opens (in the decision's own transaction, so no admin entry) may be seen up
  to `ttl` later; an open inquiry without answers changes no step of the decision, and its
  answers, being `inquiry` entries, drop the cache at once.

The event loop decides from memory alone (`recall`, no database read) and leaves the check to
the store's writer thread: in the transaction that appends the decision, with the audit head
locked, `confirm` reads the head and looks at what was appended since the cache last looked.
If a record changed, the decision is not appended (the cache is dropped and the request is
decided again from the records); so a decision from memory is never recorded after a change it
did not see, in any worker or replica. Nothing learnt inside a transaction is trusted after it
unless it committed.

Failures are not cached: an unknown, revoked or expired token and a removed recipient are asked
of the database every time. Any StoreError propagates (fail closed).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from gate.core.values import ModelFacts, TransferRequest
from gate.store import credentials
from gate.store.chain import locked_head
from gate.store.db import Store
from gate.store.facts import build_transfer
from gate.store.recipients import RecipientRecord
from gate.store.schema import audit_entries as audit_t

_NOT_RECORDS = ("decision", "outcome", "snapshot")
"""Audit kinds that the decided path itself appends: they change nothing a decision reads."""
_MAX_ENTRIES = 100_000

_HEAD = select(func.max(audit_t.c.seq))

Key = tuple[str, str, str | None, str | None, str | None, str | None, date, ModelFacts | None]


class RecordsCache:
    """The records a decision reads, for one store, shared by the threads of one process."""

    def __init__(
        self, store: Store, *, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._head: int | None = None
        self._epoch = 0
        """Bumped whenever the cache is dropped; a value read under an older epoch is not kept
        (it may predate the change that dropped the cache)."""
        self._since = clock()
        self._tokens: dict[str, tuple[datetime | None, RecipientRecord]] = {}
        self._requests: dict[Key, tuple[TransferRequest, str | None]] = {}
        self.reads = 0
        """Requests built from the records (cache misses), for tests and benchmarks."""
        self._provisional: tuple[int, int] | None = None
        """(transaction number, head) checked inside a write transaction not yet committed."""
        self.stale = 0
        """Decisions from memory that `confirm` turned back (records changed meanwhile)."""

    def _fresh(self) -> int:
        """Drop everything when the records changed since the last call (or `ttl` passed)."""
        with self.store.read() as conn:
            head = int(conn.execute(_HEAD).scalar() or 0)
            last = self._head
            changed = False
            if last is not None and head > last:
                since = (
                    select(audit_t.c.seq)
                    .where(audit_t.c.seq > last, audit_t.c.seq <= head)
                    .where(audit_t.c.kind.not_in(_NOT_RECORDS))
                    .limit(1)
                )
                changed = conn.execute(since).first() is not None
        now = self._clock()
        with self._lock:
            stale = last is None or head < last or now - self._since > self.ttl
            if changed or stale:
                self._drop()
                self._since = now
            if self._head is None or head > self._head or stale:
                self._head = head
            return self._epoch

    def _drop(self) -> None:
        """Forget everything (under `_lock`)."""
        self._tokens.clear()
        self._requests.clear()
        self._since = self._clock()
        self._epoch += 1

    def recall(
        self, token: str, key: Key
    ) -> tuple[RecipientRecord, TransferRequest, str | None, int] | None:
        """The token's recipient and the request for `key` from memory only, with the epoch
        they belong to (for `confirm`), or None when either is not known or `ttl` has passed.
        """
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            if self._head is None or now - self._since > self.ttl:
                return None
            known = self._tokens.get(digest)
            built = self._requests.get(key)
            epoch = self._epoch
        if known is None or built is None:
            return None
        until, record = known
        if until is not None and until <= self.store.now():
            return None
        return record, built[0], built[1], epoch

    def confirm(self, conn: Connection, epoch: int) -> int | None:
        """Inside the write transaction that will append a decision made from memory under
        `epoch`: the audit head (locked) when no record changed since, else None (and the
        cache is dropped). Give the decision's own entry to `appended` afterwards."""
        head = locked_head(conn, self.store)
        number = self.store.transactions
        with self._lock:
            if epoch != self._epoch or self._head is None:
                return None
            seen = self._head
            if self._provisional is not None and self._provisional[0] == number:
                seen = max(seen, self._provisional[1])
        if head < seen:
            changed = True  # the chain went back: not the chain the cache saw
        elif head > seen:
            since = (
                select(audit_t.c.seq)
                .where(audit_t.c.seq > seen, audit_t.c.seq <= head)
                .where(audit_t.c.kind.not_in(_NOT_RECORDS))
                .limit(1)
            )
            changed = conn.execute(since).first() is not None
        else:
            changed = False
        with self._lock:
            if changed or epoch != self._epoch:
                self.stale += 1
                self._drop()
                return None
            self._note(number, head)
        return head

    def appended(self, head: int, seq: int) -> None:
        """The decision confirmed at `head` was appended as `seq`: when nothing else was
        appended in between (a hold may open an inquiry first), the cache has seen `seq` too."""
        if seq == head + 1:
            with self._lock:
                self._note(self.store.transactions, seq)

    def _note(self, number: int, head: int) -> None:
        """Remember `head` as seen within transaction `number`; it counts once that commits."""
        first = self._provisional is None or self._provisional[0] != number
        self._provisional = (number, head)
        if first:
            self.store.after_commit(lambda: self._promote(number))

    def _promote(self, number: int) -> None:
        with self._lock:
            provisional = self._provisional
            if provisional is not None and provisional[0] == number:
                if self._head is not None and provisional[1] > self._head:
                    self._head = provisional[1]
                self._provisional = None

    def remembered(self, token: str | None) -> RecipientRecord | None:
        """The token's recipient from memory only (no database, no freshness check), or None.

        For the event loop: whoever uses this must `authenticate` the token again before acting
        on it (the decision does, in its own call), so a revocation still stops the request.
        """
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            known = self._tokens.get(key)
        if known is None:
            return None
        until, record = known
        if until is not None and until <= self.store.now():
            return None
        return record

    def authenticate(self, token: str | None) -> RecipientRecord:
        """`gate.store.credentials.authenticate`, from memory while the records are unchanged."""
        epoch = self._fresh()
        key = hashlib.sha256(token.encode()).hexdigest() if token else None
        if key is not None:
            with self._lock:
                known = self._tokens.get(key)
            if known is not None:
                until, record = known
                if until is None or until > self.store.now():
                    return record
        record = credentials.authenticate(self.store, token)  # raises AuthError: not cached
        # Kept no longer than the earliest expiry among the recipient's credentials (this
        # token's included), so an expired token is never answered from memory.
        dated = [c.expires_at for c in credentials.list_for(self.store, record.id)]
        expiries = [e for e in dated if e is not None]
        until = min(expiries) if expiries else None
        if key is not None:
            with self._lock:
                if epoch != self._epoch:
                    return record
                if len(self._tokens) >= _MAX_ENTRIES:
                    self._tokens.clear()
                self._tokens[key] = (until, record)
        return record

    def transfer(
        self,
        *,
        recipient_id: str,
        repo_id: str,
        commit: str | None,
        revision: str | None,
        file: str | None,
        destination: str | None,
        day: date,
        model_facts: ModelFacts | None,
        fresh: bool = True,
    ) -> tuple[TransferRequest, str | None]:
        """`gate.store.facts.build_transfer`, from memory while the records are unchanged.

        `fresh=False`: the caller has just checked freshness (`authenticate` in the same call).
        """
        if fresh:
            epoch = self._fresh()
        else:
            with self._lock:
                epoch = self._epoch
        key: Key = (recipient_id, repo_id, commit, revision, file, destination, day, model_facts)
        with self._lock:
            known = self._requests.get(key)
        if known is not None:
            return known
        self.reads += 1
        built = build_transfer(
            self.store,
            recipient=recipient_id,
            repo_id=repo_id,
            commit=commit,
            revision=revision,
            file=file,
            destination=destination,
            day=day,
            model_facts=model_facts,
        )
        # A license's transfer count may move with every transfer (caps): a request that
        # names licenses is built from the records every time.
        if not built[0].licenses:
            with self._lock:
                if epoch != self._epoch:
                    return built
                if len(self._requests) >= _MAX_ENTRIES:
                    self._requests.clear()
                self._requests[key] = built
        return built
