"""The store fails closed with clear errors: unreachable, read-only, full, bad input."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, make_url

from gate.core.decide import decide
from gate.errors import InputError, StoreError
from gate.rules.loader import load_default_ruleset
from gate.store import audit, recipients
from gate.store.db import Store, open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_decision
from tests.store.test_decision_records import CONTROLLED, DAY


class Forwarder:
    """A TCP relay to the real PostgreSQL that the test can cut, like a network failure."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone would leave it listening.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def forwarded_pg(pg_schema_url: str) -> Iterator[tuple[str, Forwarder]]:
    url = make_url(pg_schema_url)
    relay = Forwarder((url.host or "127.0.0.1", url.port or 5432))
    yield url.set(host="127.0.0.1", port=relay.port).render_as_string(False), relay
    relay.cut()


@pytest.mark.postgres
@pytest.mark.slow
def test_database_gone_mid_run_fails_the_decision_path(
    forwarded_pg: tuple[str, Forwarder],
) -> None:
    url, relay = forwarded_pg
    store = open_store(url)
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    request = build_request(
        store,
        recipient="acme",
        repo_id=CONTROLLED.repo_id,
        commit=CONTROLLED.commit,
        revision=None,
        file="m.safetensors",
        destination=None,
        day=DAY,
        model_facts=CONTROLLED,
    )
    decision = decide(request, load_default_ruleset())
    assert decision.allowed
    relay.cut()
    message = f"cannot reach database at 127.0.0.1:{relay.port}"
    with pytest.raises(StoreError, match=message):
        record_decision(store, request, decision, RequestMeta(recipient_id="acme"))
    with pytest.raises(StoreError, match=message):
        store.ping()
    with pytest.raises(StoreError, match=message):
        build_request(
            store,
            recipient="acme",
            repo_id=CONTROLLED.repo_id,
            commit=None,
            revision=None,
            file=None,
            destination=None,
            day=DAY,
        )
    store.close()


def test_unreachable_postgres_names_host_and_port_but_not_the_password() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(StoreError) as err:
        open_store(f"postgresql+psycopg://gate:s3cret@127.0.0.1:{port}/gate")
    assert str(err.value) == f"cannot reach database at 127.0.0.1:{port}"
    assert "s3cret" not in repr(err.value.__cause__) and err.value.__cause__ is None


def test_bad_database_urls_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="database_url"):
        open_store("not a url")
    with pytest.raises(InputError, match="unsupported database 'mysql'"):
        open_store("mysql://x@localhost/db")


def test_read_only_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    open_store(f"sqlite:///{path}").close()
    store = open_store(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="database is read-only"):
        audit.append_now(store, "test", {"x": 1})
    with pytest.raises(StoreError, match="database is read-only"):
        recipients.add(store, "acme", actor="t", name="Acme")
    assert recipients.list_all(store) == []  # reading still works
    store.close()


def test_full_disk_is_a_clear_error_and_nothing_is_half_written(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gate.db'}")
    audit.append_now(store, "test", {"x": 0})

    # SQLite's page limit behaves exactly like a full disk ("database or disk is full").
    @event.listens_for(store.engine, "connect")
    def _limit(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    store.engine.dispose()
    with pytest.raises(StoreError, match="disk full"):
        for i in range(1000):
            audit.append_now(store, "test", {"x": i, "pad": "y" * 4000})
    event.remove(store.engine, "connect", _limit)
    store.engine.dispose()
    assert audit.verify_chain(store).ok
    store.close()


def test_missing_directory_for_sqlite_is_created(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a' / 'b' / 'gate.db'}")
    store.ping()
    store.close()


def test_store_error_in_the_middle_of_a_write_rolls_back(store: Store) -> None:
    recipients.add(store, "acme", actor="t", name="Acme")
    before = audit.verify_chain(store).entries
    with pytest.raises(InputError):
        recipients.add(store, "acme", actor="t", name="Again")
    with pytest.raises(InputError):
        recipients.update_recipient(store, "acme", actor="t", headquarters="Atlantis")
    assert audit.verify_chain(store).entries == before
    assert recipients.get(store, "acme").name == "Acme"
