"""The compiled schemas answer exactly as the marshmallow schemas they are built from.

They are an execution strategy, not a second definition: on every valid document of the
demo ledger (every event kind) they give the same values, dumps and normal-form verdicts,
and on mutated documents they either agree with the schema or hand the document back to
it, so a rule can never be weaker on the fast path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowError

from ledger.demo import build_demo
from ledger.domain.events import EventKind
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.wire import compiled
from ledger.wire import entries as wire_entries
from ledger.wire import events as wire_events
from ledger.wire.entries import check_entry_bytes, load_entry, load_entry_document


@pytest.fixture(scope="module")
def demo_bodies(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}")
    build_demo(ledger)
    bodies = [stored.body for stored in ledger.store.iter_entries()]
    ledger.close()
    return bodies


def _documents(bodies: list[bytes]) -> Iterator[tuple[Schema, Any]]:
    """Every (schema, document) pair the entries of the demo hold."""
    for body in bodies:
        entry = orjson.loads(body)
        signed = entry["signed_event"]
        event = signed["event"]
        yield wire_entries._ENTRY, entry
        yield wire_events._SIGNED, signed
        yield wire_events._ENVELOPE, event
        yield wire_events._body_schema(EventKind(event["kind"])), event["body"]
        for signature in signed["signatures"]:
            yield wire_events._SIGNATURE, signature


def test_the_demo_covers_every_event_kind(demo_bodies: list[bytes]) -> None:
    kinds = {orjson.loads(b)["signed_event"]["event"]["kind"] for b in demo_bodies}
    assert kinds >= {kind.value for kind in EventKind} - {"lot.refused", "key.revoked"}


def test_every_wire_schema_but_the_product_one_compiles() -> None:
    for kind in EventKind:
        schema = wire_events._body_schema(kind)
        # The product schema has schema-level validators: it always runs as marshmallow.
        assert (compiled.loader(schema) is None) == (kind is EventKind.PRODUCT_REGISTERED)
        assert compiled.dumper(schema) is not None
    for schema in (wire_entries._ENTRY, wire_events._SIGNED, wire_events._ENVELOPE,
                   wire_events._SIGNATURE):
        assert compiled.loader(schema) is not None


def test_compiled_loads_equal_the_schemas_on_every_demo_document(
        demo_bodies: list[bytes]) -> None:
    checked = 0
    for schema, document in _documents(demo_bodies):
        fast = compiled.loader(schema)
        if fast is None:
            continue
        expected = schema.load(document)
        assert fast(document) == expected  # the compiled path answered by itself
        checked += 1
    assert checked > 300


def test_compiled_dumps_equal_the_schemas(demo_bodies: list[bytes]) -> None:
    for body in demo_bodies:
        entry = load_entry(body)
        event = entry.signed.event
        schema = wire_events._body_schema(event.kind)
        value = wire_events._body_for_dump(event.body)
        dumper = compiled.dumper(schema)
        assert dumper is not None and dumper(value) == schema.dump(value)
        for signature in entry.signed.signatures:
            assert compiled.dump(wire_events._SIGNATURE, signature) == \
                wire_events._SIGNATURE.dump(signature)


def test_the_byte_and_schema_halves_give_load_entrys_entry(demo_bodies: list[bytes]) -> None:
    for body in demo_bodies:
        entry = load_entry(body)
        document, digest = check_entry_bytes(body)
        assert digest == entry.signed.digest
        assert load_entry_document(document, body, entry.hash, digest) == entry


def _outcome(load: Any, document: Any) -> tuple[str, Any]:
    try:
        return "ok", load(document)
    except MarshmallowError as exc:
        return "refused", exc.messages
    except LedgerError as exc:
        return "refused", exc.message


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


REPLACEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.sampled_from(
        ["", " ", "x", "A" * 300, "2025-13-01", "2025-01-31T14:05:00Z", "BRL", "KGM",
         "0.5", "-1", "1e3", "hv-1", "Zm9v", "\x00", "ab" * 32]),
    st.text(max_size=8), st.floats(allow_nan=False), st.just([]), st.just({}),
    st.just({"unexpected": 1}), st.lists(st.integers(), max_size=2))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_document_gets_the_schemas_answer(demo_bodies: list[bytes],
                                                    data: st.DataObject) -> None:
    pairs = list(_documents(demo_bodies[:60]))
    schema, document = data.draw(st.sampled_from(pairs))
    mutated = copy.deepcopy(document)
    path = data.draw(st.sampled_from(list(_paths(mutated))[1:] or [()]))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if path and action == "delete":
        del parent[path[-1]]
    elif path and action == "replace":
        parent[path[-1]] = data.draw(REPLACEMENTS)
    elif isinstance(parent, dict):
        parent[data.draw(st.sampled_from(["extra", "seq", "note", "plot"]))] = \
            data.draw(REPLACEMENTS)
    assert _outcome(lambda d: compiled.load(schema, d), mutated) == \
        _outcome(schema.load, mutated)
    fast = compiled.loader(schema)
    if fast is not None:
        try:
            answered = fast(mutated)
        except Exception:  # declined: the schema answers, as checked above
            return
        assert _outcome(schema.load, mutated) == ("ok", answered)


def test_tampered_entry_bytes_are_refused_as_before(demo_bodies: list[bytes],
                                                    tmp_path: Path) -> None:
    body = demo_bodies[5]
    for bad in (body.replace(b'"seq":5', b'"seq":"5"'), body + b" ",
                body.replace(b'{"event"', b'{"event"', 1).replace(b'"kind"', b'"kind" ', 1)):
        with pytest.raises(LedgerError):
            load_entry(bad)
    duplicated = b'{"seq":1,' + body[1:]
    with pytest.raises(LedgerError, match="duplicate key"):
        load_entry(duplicated)
