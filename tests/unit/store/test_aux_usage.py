"""Side-task usage is accounted per session and per task, apart from the main totals."""

from __future__ import annotations

import pytest

from talaria.store.base import NewSession, SessionNotFound
from talaria.store.sqlite import SqliteStore
from talaria.types import Usage


def test_aux_usage_accumulates_per_task_and_stays_apart(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="cli"))
    store.add_usage(s.id, Usage(100, 10, cost_usd=0.01), api_calls=1)
    store.add_aux_usage(s.id, "title", Usage(20, 5, cost_usd=0.0001))
    store.add_aux_usage(s.id, "title", Usage(22, 6))
    store.add_aux_usage(s.id, "compression", Usage(900, 120, cost_usd=0.002))
    aux = store.aux_usage(s.id)
    assert set(aux) == {"title", "compression"}
    assert aux["title"].calls == 2
    assert (aux["title"].usage.input_tokens, aux["title"].usage.output_tokens) == (42, 11)
    assert aux["title"].usage.cost_usd == pytest.approx(0.0001)
    assert aux["compression"].to_json_dict() == {
        "calls": 1,
        "input_tokens": 900,
        "output_tokens": 120,
        "cost_usd": 0.002,
    }
    rec = store.get_session(s.id)
    assert (rec.input_tokens, rec.output_tokens) == (100, 10)  # main totals untouched


def test_aux_usage_for_unknown_session_fails_alone(store: SqliteStore) -> None:
    with pytest.raises(SessionNotFound):
        store.add_aux_usage("nope", "title", Usage(1, 1))


def test_aux_usage_goes_with_its_session(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="cli"))
    store.add_aux_usage(s.id, "title", Usage(1, 1))
    assert store.delete(s.id) == 1
    other = store.create_session(NewSession(source="cli"))
    assert store.aux_usage(other.id) == {}


def test_previews_show_the_first_user_message(store: SqliteStore) -> None:
    from talaria.types import Message

    a = store.create_session(NewSession(source="cli"))
    store.append_message(a.id, Message.system("sys"))
    store.append_message(a.id, Message.user("  first   question\nabout zebras  "))
    store.append_message(a.id, Message.user("second"))
    b = store.create_session(NewSession(source="cli"))
    assert store.previews([a.id, b.id], 12) == {a.id: "first ques"}
    assert store.previews([]) == {}
