"""The durable ticket store, run against real SQLite and PostgreSQL databases (fixture ``db_url``)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text

from escalation import db
from escalation.retention import purge_daily
from escalation.store import (
    ClaimConflict,
    InvalidTransition,
    TicketNotFound,
    TicketStore,
)
from escalation.tickets import JOIN_WINDOW_HOURS, TicketRequest, TranscriptLine
from ivr.config import Settings

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 10:00 in Nara
JST = ZoneInfo("Asia/Tokyo")
TABLES = {"tickets", "ticket_transcript", "ticket_notes", "ticket_audit", "ticket_calls", "staff", "staff_tokens"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(db_url, clock):
    s = TicketStore.from_url(db_url, clock=clock)
    yield s
    s.dispose()


def req(call_id: str = "CA1", *, number: str = "09011112222", reason: str = "collection", at: datetime = T0,
        **kw) -> TicketRequest:
    fields = {"topic": "missed_collection", "summary": f"{call_id}: 燃やすごみが回収されていない",
              "callback_number": number, "caller_name": "奈良太郎", "area": "三条町",
              "transcript": [TranscriptLine("caller", f"{call_id} ごみが残っています", at),
                             TranscriptLine("bot", "お電話番号をどうぞ", at)]}
    fields.update(kw)
    return TicketRequest(call_id=call_id, created_at=at, reason=reason, **fields)


def make(store: TicketStore, request: TicketRequest):
    return asyncio.run(store.create(request))


# --- creating and joining -------------------------------------------------------------------------


async def test_create_commits_numbers_and_records_everything(store, db_url):
    first = await store.create(req("CA1", at=T0.astimezone(JST), caller_number="+81742000000", item="冷蔵庫"))
    second = await store.create(req("CA2", number="0742111111"))
    assert (first.number, second.number) == ("1001", "1002")
    assert not first.joined and first.status == "open"

    other = TicketStore.from_url(db_url, upgrade=False)  # a second process sees it: it was committed
    try:
        r = other.get(first.id)
    finally:
        other.dispose()
    assert r is not None and r.number == "1001"
    assert r.created_at == T0 and r.created_at.tzinfo is not None and r.created_at.utcoffset() == timedelta(0)
    assert r.due_at == T0 + timedelta(hours=48)
    assert (r.reason, r.urgency, r.topic, r.area, r.item) == ("collection", "normal", "missed_collection", "三条町",
                                                              "冷蔵庫")
    assert (r.caller_number, r.callback_number, r.caller_name) == ("+81742000000", "09011112222", "奈良太郎")
    assert [(t.speaker, t.text) for t in r.transcript] == [("caller", "CA1 ごみが残っています"),
                                                          ("bot", "お電話番号をどうぞ")]
    assert r.transcript[0].at == T0
    assert r.call_ids == ["CA1"] and r.status == "open" and r.assignee is None and r.complete
    assert [(a.actor, a.action) for a in r.audit] == [("bot", "created")]
    assert store.find_by_number("１００２").id == second.id  # as staff type it, full-width too
    assert store.find_by_number("9999") is None and store.get(999) is None


async def test_second_call_within_a_day_joins_the_open_ticket(store):
    first = await store.create(req("CA1"))
    # the caller rings again 23 h later from the phone they gave as callback number (now the caller ID)
    later = req("CA2", at=T0 + timedelta(hours=JOIN_WINDOW_HOURS - 1), number="", caller_number="09011112222")
    joined = await store.create(later)
    assert joined.joined and joined.number == first.number and joined.id == first.id
    r = store.get(first.id)
    assert r.call_ids == ["CA1", "CA2"]
    callers = [t.text for t in r.transcript if t.speaker == "caller"]
    assert callers == ["CA1 ごみが残っています", "CA2 ごみが残っています"]
    assert [(a.actor, a.action, a.detail) for a in r.audit] == [("bot", "created", "call CA1"),
                                                                ("bot", "joined", "call CA2")]
    assert len(store.query()) == 1


async def test_claimed_tickets_join_too_and_urgency_rises(store):
    first = await store.create(req("CA1"))
    store.claim(first.id, "sato")
    joined = await store.create(req("CA2", at=T0 + timedelta(hours=3), urgency="urgent"))
    assert joined.joined
    r = store.get(first.id)
    assert r.urgency == "urgent" and r.due_at == T0 + timedelta(hours=5) and r.status == "claimed"


@pytest.mark.parametrize("change", ["after_window", "other_reason", "other_number", "resolved", "no_number"])
async def test_when_a_call_makes_a_new_ticket(store, change):
    first = await store.create(req("CA1"))
    second = {
        "after_window": req("CA2", at=T0 + timedelta(hours=JOIN_WINDOW_HOURS, minutes=1)),
        "other_reason": req("CA2", at=T0 + timedelta(hours=1), reason="oogata"),
        "other_number": req("CA2", at=T0 + timedelta(hours=1), number="08033334444"),
        "resolved": req("CA2", at=T0 + timedelta(hours=1)),
        "no_number": req("CA2", at=T0 + timedelta(hours=1), number=""),
    }[change]
    if change == "resolved":
        store.resolve(first.id, "sato", "回収済み")
    if change == "no_number":
        await store.create(req("CA0", number=""))
    ticket = await store.create(second)
    assert not ticket.joined and ticket.number != first.number


async def test_due_times_follow_the_sla(store):
    cases = {("general", "normal"): 48, ("oogata", "normal"): 48, ("illegal_dumping", "normal"): 24,
             ("animal", "normal"): 4, ("collection", "urgent"): 2}
    for i, ((reason, urgency), hours) in enumerate(cases.items()):
        ticket = await store.create(req(f"CA{i}", number=f"07000000{i:03d}", reason=reason, urgency=urgency))
        assert store.get(ticket.id).due_at == T0 + timedelta(hours=hours), (reason, urgency)


async def test_bad_requests_are_refused(store):
    with pytest.raises(ValueError):
        await store.create(req(reason="parking"))
    with pytest.raises(ValueError):
        await store.create(req(urgency="asap"))
    assert store.query() == []


async def test_list_open_is_the_ticket_queue_protocol(store, clock):
    a = await store.create(req("CA1"))
    b = await store.create(req("CA2", number="0742000001"))
    store.claim(b.id, "sato")
    clock.advance(hours=1)
    tickets = await store.list_open()
    assert [t.number for t in tickets] == [a.number]
    t = tickets[0]
    assert t.request.call_id == "CA1" and t.request.callback_number == "09011112222"
    assert t.request.created_at == T0 and len(t.request.transcript) == 2


# --- the staff workflow --------------------------------------------------------------------------


def test_status_flow_with_audit_trail_and_notes(store, clock):
    t = make(store, req())
    clock.advance(minutes=5)
    assert store.claim(t.id, "sato").status == "claimed"
    assert store.claim(t.id, "sato").assignee == "sato"  # claiming one's own ticket again is harmless
    clock.advance(minutes=5)
    r = store.mark_called_back(t.id, "sato", "留守電に残した")
    assert r.status == "called_back"
    r = store.add_note(t.id, "suzuki", "明日もう一度")
    r = store.resolve(t.id, "sato", "翌日回収で合意")
    assert r.status == "resolved" and r.assignee == "sato"
    r = store.reopen(t.id, "suzuki", "再度の連絡あり")
    assert r.status == "open" and r.assignee is None
    r = store.close(t.id, "suzuki")
    assert r.status == "closed" and r.assignee == "suzuki"
    assert [(a.actor, a.action) for a in r.audit] == [
        ("bot", "created"), ("sato", "claimed"), ("sato", "called_back"), ("sato", "noted"), ("suzuki", "noted"),
        ("sato", "resolved"), ("sato", "noted"), ("suzuki", "reopened"), ("suzuki", "noted"), ("suzuki", "closed"),
    ]
    assert [a.detail for a in r.audit if a.action == "resolved"] == ["called_back → resolved"]
    assert [(n.author, n.text) for n in r.notes] == [("sato", "留守電に残した"), ("suzuki", "明日もう一度"),
                                                     ("sato", "翌日回収で合意"), ("suzuki", "再度の連絡あり")]
    assert r.audit[1].at == T0 + timedelta(minutes=5) and r.notes[0].at == T0 + timedelta(minutes=10)


def test_illegal_moves_are_refused_and_leave_no_trace(store):
    t = make(store, req())
    with pytest.raises(InvalidTransition):
        store.reopen(t.id, "sato")  # already open
    store.close(t.id, "sato", "重複")
    for move in (lambda: store.resolve(t.id, "sato", "済"), lambda: store.mark_called_back(t.id, "sato"),
                 lambda: store.close(t.id, "sato"), lambda: store.claim(t.id, "sato")):
        with pytest.raises(InvalidTransition):
            move()
    with pytest.raises(ValueError):
        store.resolve(t.id, "sato", "  ")  # what was done must be written down
    with pytest.raises(ValueError):
        store.add_note(t.id, "sato", "")
    with pytest.raises(ValueError):
        store.claim(t.id, " ")
    with pytest.raises(TicketNotFound):
        store.claim(9999, "sato")
    with pytest.raises(TicketNotFound):
        store.resolve(9999, "sato", "済")
    assert [a.action for a in store.get(t.id).audit] == ["created", "closed", "noted"]


def test_claim_by_someone_else_conflicts(store):
    t = make(store, req())
    store.claim(t.id, "sato")
    with pytest.raises(ClaimConflict) as err:
        store.claim(t.id, "suzuki")
    assert err.value.holder == "sato"
    store.mark_called_back(t.id, "sato")
    with pytest.raises(ClaimConflict):
        store.claim(t.id, "suzuki")
    assert store.get(t.id).assignee == "sato"


def test_concurrent_claims_exactly_one_wins(store, db_url, clock):
    """Two console workers (two engines, as two processes) claim the same tickets at the same moment."""
    ids = [make(store, req(f"CA{i}", number=f"0900000{i:04d}")).id for i in range(8)]
    second = TicketStore.from_url(db_url, upgrade=False, clock=clock)
    results: dict[str, list[str]] = {"sato": [], "suzuki": []}
    try:
        for ticket_id in ids:
            barrier = threading.Barrier(2)

            def claim(s: TicketStore, who: str, ticket_id: int = ticket_id, barrier: threading.Barrier = barrier):
                barrier.wait()
                try:
                    s.claim(ticket_id, who)
                    results[who].append("won")
                except ClaimConflict as e:
                    results[who].append(f"lost to {e.holder}")

            threads = [threading.Thread(target=claim, args=(store, "sato")),
                       threading.Thread(target=claim, args=(second, "suzuki"))]
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=30)
    finally:
        second.dispose()
    for i, ticket_id in enumerate(ids):
        outcome = {results["sato"][i], results["suzuki"][i]}
        winner = store.get(ticket_id).assignee
        assert outcome == {"won", f"lost to {winner}"}
        assert [a.action for a in store.get(ticket_id).audit].count("claimed") == 1


# --- the staff list -------------------------------------------------------------------------------


def test_query_sorts_filters_and_searches(store, clock):
    general = make(store, req("CA1", number="090-1111-2222", reason="general"))  # due +48 h
    animal = make(store, req("CA2", number="0742-33-4444", reason="animal", area="西大寺",
                             summary="道路に猫の死骸"))  # due +4 h
    dumping = make(store, req("CA3", number="08055556666", reason="illegal_dumping"))  # due +24 h
    clock.advance(hours=1)
    urgent_late = make(store, req("CA4", number="07077778888", reason="oogata", urgency="urgent",
                                  at=T0 + timedelta(hours=10)))  # due +12 h, but urgent comes first
    numbers = lambda records: [r.number for r in records]  # noqa: E731
    assert numbers(store.query()) == [urgent_late.number, animal.number, dumping.number, general.number]
    assert numbers(store.query(limit=2)) == [urgent_late.number, animal.number]
    assert numbers(store.query(limit=None)) == numbers(store.query())

    store.claim(dumping.id, "sato")
    assert numbers(store.query(status="claimed")) == [dumping.number]
    assert numbers(store.query(status="open", reason="general")) == [general.number]
    assert numbers(store.query(area="西大寺")) == [animal.number]
    with pytest.raises(ValueError):
        store.query(status="done")

    assert numbers(store.query(text="猫の死骸")) == [animal.number]  # summary
    assert numbers(store.query(text="CA3 ごみ")) == [dumping.number]  # transcript
    assert numbers(store.query(text=dumping.number)) == [dumping.number]  # ticket number
    assert numbers(store.query(text="09011112222")) == [general.number]  # digits vs stored hyphens
    assert numbers(store.query(text="0742-33-4444")) == [animal.number]
    assert numbers(store.query(text="０８０５５５５")) == [dumping.number]  # full-width prefix
    store.add_note(general.id, "sato", "自治会長さんに確認済み")
    assert numbers(store.query(text="自治会長")) == [general.number]  # notes
    assert numbers(store.query(text="100%")) == []  # LIKE wildcards are taken literally
    assert numbers(store.query(text="存在しない言葉")) == []


def test_overdue_follows_the_clock_and_ends_with_the_callback(store, clock):
    t = make(store, req(reason="animal"))
    assert not store.get(t.id).overdue
    clock.advance(hours=4, minutes=1)
    assert store.get(t.id).overdue and store.query()[0].overdue
    assert store.mark_called_back(t.id, "sato").overdue is False


def test_to_json_is_plain_json_with_iso_times(store):
    t = make(store, req())
    store.add_note(t.id, "sato", "メモ")
    data = json.loads(json.dumps(store.get(t.id).to_json(), ensure_ascii=False))
    assert data["number"] == "1001" and data["created_at"] == "2026-06-01T01:00:00+00:00"
    assert data["notes"][0]["text"] == "メモ" and data["audit"][0]["action"] == "created"
    assert data["transcript"][0]["speaker"] == "caller" and data["overdue"] is False and data["call_ids"] == ["CA1"]


# --- retention ------------------------------------------------------------------------------------


def test_purge_blanks_personal_data_and_keeps_the_facts(store, clock):
    old = make(store, req("CA1", caller_number="0742999999", item="冷蔵庫", at=T0 - timedelta(days=100)))
    store.claim(old.id, "sato")
    store.add_note(old.id, "sato", "奈良太郎さん宅、090-1111-2222")
    store.resolve(old.id, "sato", "回収済み")
    recent = make(store, req("CA2", number="0742000001", at=T0 - timedelta(days=10)))

    assert store.purge_personal_data(90) == 1
    r = store.get(old.id)
    assert (r.caller_number, r.callback_number, r.caller_name, r.summary) == ("", "", "", "")
    assert r.transcript == [] and all(n.text == "" for n in r.notes) and len(r.notes) == 2
    assert (r.reason, r.urgency, r.area, r.item, r.status, r.assignee, r.topic) == (
        "collection", "normal", "三条町", "冷蔵庫", "resolved", "sato", "missed_collection")
    assert r.created_at == T0 - timedelta(days=100) and r.purged_at == T0
    assert (r.audit[-1].actor, r.audit[-1].action) == ("retention", "purged")
    assert store.query(text="奈良太郎") == [store.get(recent.id)]  # the recent one keeps its data

    assert store.purge_personal_data(90) == 0  # done once
    clock.advance(days=81)
    assert store.purge_personal_data(90) == 1
    with pytest.raises(ValueError):
        store.purge_personal_data(-1)


async def test_purge_daily_runs_at_once_and_survives_errors(store):
    await store.create(req(at=T0 - timedelta(days=100)))

    class Flaky:
        calls = 0

        def purge_personal_data(self, days: int) -> int:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("database restarting")
            return store.purge_personal_data(days)

    task = asyncio.create_task(purge_daily(Flaky(), 90, interval_s=0.01))
    for _ in range(500):
        await asyncio.sleep(0.01)
        if store.get(1).purged_at is not None:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert Flaky.calls >= 2 and store.get(1).purged_at == T0


# --- schema and engines ---------------------------------------------------------------------------


def test_migrations_build_the_schema_from_empty(db_url):
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        with pytest.raises(db.SchemaNotReady, match="ivr db upgrade"):
            db.check_schema(engine)
        assert db.upgrade(engine) == (None, db.head_revision())
        assert TABLES <= set(inspect(engine).get_table_names())
        assert db.upgrade(engine) == (db.head_revision(), db.head_revision())  # again: nothing to do
        db.check_schema(engine)

        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        import escalation.accounts  # noqa: F401  (the staff tables)

        with engine.connect() as conn:  # the migrations create exactly what the models describe
            assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
    finally:
        engine.dispose()


def test_from_url_without_upgrade_needs_the_schema(db_url):
    with pytest.raises(db.SchemaNotReady, match="ivr db upgrade"):
        TicketStore.from_url(db_url, upgrade=False)


def test_from_settings_on_postgres_wants_ivr_db_upgrade(db_url):
    settings = Settings(database_url=db_url)
    if db.is_sqlite(db_url):  # the embedded default migrates itself: the README's first command needs no step
        TicketStore.from_settings(settings).dispose()
        assert db.current_revision(db.make_engine(db_url)) == db.head_revision()
        return
    with pytest.raises(db.SchemaNotReady, match="ivr db upgrade") as err:
        TicketStore.from_settings(settings)
    assert "no ticket tables" in str(err.value)
    db.upgrade(db_url)
    store = TicketStore.from_settings(settings)
    store.dispose()


def test_from_settings_defaults_to_sqlite_in_wal_mode(tmp_path):
    state = tmp_path / "state" / "ivr"  # not there yet
    store = TicketStore.from_settings(Settings(state_dir=state, database_url=""))
    try:
        make(store, req())
        assert (state / "ivr.db").is_file()
        assert db.current_revision(store.engine) == db.head_revision()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == db.BUSY_TIMEOUT_MS
    finally:
        store.dispose()
    raw = sqlite3.connect(state / "ivr.db")  # WAL is a property of the file: any other reader sees it
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT number FROM tickets").fetchall() == [("1001",)]
    finally:
        raw.close()


def test_the_migrations_ship_in_the_package():
    import tomllib

    pyproject = tomllib.loads((db.MIGRATIONS_DIR.parent.parent / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["escalation"]
    assert "migrations/*.mako" in package_data and (db.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (db.MIGRATIONS_DIR / "env.py").is_file() and (db.MIGRATIONS_DIR / "versions" / "__init__.py").is_file()
