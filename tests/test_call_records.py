"""Call records and figures (issue 15): the store on SQLite and PostgreSQL, the outcome rules, the
figures and their periods, CSV, `ivr report`, and the purge after the retention period.

Records of real calls (a Runtime session, the Twilio gather webhooks, an audio call) and
``GET /metrics`` are in ``test_call_recording.py``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from analytics.figures import figures_csv, month_range, period_figures, period_for
from analytics.recorder import CallRecorder
from analytics.records import ABANDONED, ANSWERED, FAILED, TICKET, TRANSFERRED, CallRecord, TurnSummary
from analytics.store import CallLog
from escalation import db
from ivr.cli import app
from ivr.config import get_settings
from ivr.dialogue.turns import Action, BotTurn, CallerTurn, Event

JST = ZoneInfo("Asia/Tokyo")


def turn(n: int, at: datetime, text: str = "", intent: str = "", action: str = "answer", item: str = "",
         understood: bool = True, kind: str = "speech", asr_ms: float | None = None,
         reply_ms: float = 20.0) -> TurnSummary:
    return TurnSummary(n=n, at=at, kind=kind, text=text, intent=intent, confidence=0.9, action=action, item=item,
                       asr_ms=asr_ms, reply_ms=reply_ms, understood=understood)


def call(call_id: str, at: datetime, outcome: str = ANSWERED, reason: str = "", seconds: float = 90,
         turns: list[TurnSummary] | None = None, caller: str = "", ticket: str = "") -> CallRecord:
    return CallRecord(call_id=call_id, transport="twilio_gather", started_at=at,
                      ended_at=at + timedelta(seconds=seconds), outcome=outcome, reason=reason,
                      ticket_number=ticket, caller_masked=caller,
                      turns=turns if turns is not None else [turn(1, at, "ペットボトルは何ごみ", "item_category",
                                                                  item="ペットボトル")])


@pytest.fixture
def log(db_url):
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    yield CallLog(engine)
    engine.dispose()


# November 2026 in Nara: the month runs from 2026-10-31 15:00 UTC to 2026-11-30 15:00 UTC.
NOV_1_0030_JST = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)
OCT_31_2330_JST = datetime(2026, 10, 31, 14, 30, tzinfo=UTC)
NOV_30_2330_JST = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
DEC_1_0030_JST = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


def seed_month(log: CallLog) -> None:
    """November: 4 contained calls, 2 transfers, 1 ticket, 1 abandoned, 1 failed; one call either side."""
    t = NOV_1_0030_JST
    for i, item in enumerate(["ペットボトル", "ペットボトル", "冷蔵庫", ""]):
        turns = [turn(1, t, "それは何ごみ", "item_category", item=item, asr_ms=400 + i * 100, reply_ms=30),
                 turn(2, t, "収集日は", "collection_day", reply_ms=50)]
        log.save(call(f"ok{i}", t + timedelta(days=i), seconds=60 + 60 * i, turns=turns))
    log.save(call("tr1", t + timedelta(days=2), TRANSFERRED, "operator", turns=[
        turn(1, t, "人と話したい", "operator", action="transfer")]))
    log.save(call("tr2", t + timedelta(days=2), TRANSFERRED, "oversize_booking", turns=[
        turn(1, t, "ソファを出したい", "oversize_booking", action="transfer", item="ソファ")]))
    log.save(call("tk1", t + timedelta(days=3), TICKET, "collection", ticket="1001", turns=[
        turn(1, t, "ごみが回収されてない", "missed_collection", action="ticket"),
        turn(2, t, "三条町の角です", "missed_collection", action="ticket")]))  # an answer while taking the ticket
    log.save(call("ab1", t + timedelta(days=3), ABANDONED, turns=[
        turn(1, t, "ふにゃふにゃ", "not_understood", action="clarify", understood=False),
        turn(2, t, kind="hangup", intent="hangup", action="end")]))
    log.save(call("fa1", NOV_30_2330_JST, FAILED, "system_error", turns=[
        turn(1, NOV_30_2330_JST, "ふにゃふにゃ", "not_understood", action="clarify", understood=False)]))
    log.save(call("oct", OCT_31_2330_JST))
    log.save(call("dec", DEC_1_0030_JST))


# --- the store ------------------------------------------------------------------------------------


def test_migration_makes_the_tables_and_matches_the_models(db_url):
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        assert {"calls", "call_turns"} <= set(inspect(engine).get_table_names())
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        import analytics.tables  # noqa: F401
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
    finally:
        engine.dispose()


def test_a_record_round_trips_and_a_call_is_kept_once(log):
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    record = call("CA1", at, TICKET, "oogata", ticket="1002", turns=[
        turn(1, at, "ソファ", "oversize_booking", action="ticket", item="ソファ", asr_ms=512.5, reply_ms=41.2),
        turn(2, at + timedelta(seconds=20), kind="dtmf", intent="oversize_booking", action="ticket")])
    log.save(record)
    log.save(call("CA1", at, ANSWERED))  # a second record for the same call is not saved
    got = log.get("CA1")
    assert got is not None and got.outcome == TICKET and got.reason == "oogata" and got.ticket_number == "1002"
    assert got.started_at == at and got.duration_s == 90 and got.items == ["ソファ"]
    assert [(t.n, t.kind, t.asr_ms, t.reply_ms) for t in got.turns] == [(1, "speech", 512.5, 41.2),
                                                                         (2, "dtmf", None, 20.0)]
    assert log.get("nope") is None


def test_caller_numbers_are_never_stored_whole(log):
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    log.save(call("masked", at, caller="090-****-5678"))
    log.save(call("whole", at, caller="09012345678"))  # a caller's bug must not leak the number
    assert log.get("masked").caller_masked == "090-****-5678"
    assert log.get("whole").caller_masked == "090-****-5678"


def test_failed_utterances_are_what_the_bot_could_not_answer(log):
    seed_month(log)
    since = datetime(2026, 10, 1, tzinfo=UTC)
    found = log.failed_utterances(since)
    by_call = {(f.call_id, f.outcome, f.text, f.intent) for f in found}
    assert by_call == {("tr1", TRANSFERRED, "人と話したい", "operator"),
                       ("tr2", TRANSFERRED, "ソファを出したい", "oversize_booking"),
                       ("tk1", TICKET, "ごみが回収されてない", "missed_collection"),
                       ("ab1", "not_understood", "ふにゃふにゃ", "not_understood"),
                       ("fa1", "not_understood", "ふにゃふにゃ", "not_understood")}
    assert "三条町の角です" not in {f.text for f in found}  # the ticket's details are no question
    assert found[0].call_id == "fa1"  # newest first
    assert all(f.at.tzinfo is not None for f in found)
    assert len(log.failed_utterances(since, limit=2)) == 2
    assert [f.call_id for f in log.failed_utterances(NOV_30_2330_JST)] == ["fa1"]


def test_what_callers_said_is_purged_after_the_retention_period(log):
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    log.now = lambda: now
    log.save(call("old", now - timedelta(days=91)))
    log.save(call("new", now - timedelta(days=89)))
    assert log.purge_personal_data(90) == 1
    assert log.purge_personal_data(90) == 0  # done once
    old, new = log.get("old"), log.get("new")
    assert old.turns[0].text == "" and old.turns[0].item == "ペットボトル" and old.outcome == ANSWERED
    assert new.turns[0].text == "ペットボトルは何ごみ"
    with pytest.raises(ValueError):
        log.purge_personal_data(-1)


def test_month_figures_from_the_database(log):
    seed_month(log)
    start, end = month_range("2026-11")
    f = period_figures(log.engine, start, end, tz=JST, minutes_per_call=4.0)
    assert (f.start, f.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert f.calls == 9 and f.contained == 4 and f.abandoned == 1 and f.failed == 1
    assert f.containment == pytest.approx(4 / 9)
    assert f.transferred == {"operator": 1, "oversize_booking": 1} and f.tickets == {"collection": 1}
    assert f.staff_hours_saved == pytest.approx(4 * 4.0 / 60)
    assert f.top_items[0] == ("ペットボトル", 2) and dict(f.top_items) == {"ペットボトル": 2, "冷蔵庫": 1, "ソファ": 1}
    assert dict(f.top_intents)["item_category"] == 4 and dict(f.top_intents)["collection_day"] == 4
    assert "not_understood" not in dict(f.top_intents) and "hangup" not in dict(f.top_intents)
    assert f.not_understood == [("ふにゃふにゃ", 2)]
    assert f.avg_handle_s == pytest.approx((60 + 120 + 180 + 240 + 90 * 5) / 9)
    assert f.asr_ms_p50 == pytest.approx(550) and f.reply_ms_p50 is not None
    assert len(f.days) == 30 and f.days[0].day == date(2026, 11, 1) and f.days[0].calls == 1
    assert f.days[-1].failed == 1  # 23:30 on the 30th in Nara is still November
    assert sum(d.calls for d in f.days) == f.calls
    week = period_figures(log.engine, *period_for("week", date(2026, 11, 4)), tz=JST, minutes_per_call=4.0)
    assert (week.start, week.end) == (date(2026, 11, 2), date(2026, 11, 9)) and week.calls == 7


# --- outcome rules (no database) ------------------------------------------------------------------


def outcome(*replies: tuple[CallerTurn | None, BotTurn]) -> tuple[str, str, str]:
    recorder = CallRecorder("CA", lambda: datetime(2026, 11, 2, 10, 0, tzinfo=JST))
    for caller, reply in replies:
        recorder.turn(caller, reply, 0.0)
    r = recorder.record("test", "+819012345678")
    assert r.caller_masked == "090-****-5678"
    return r.outcome, r.reason, r.ticket_number


ASK = CallerTurn.speech("ペットボトルは")
ANSWER = BotTurn("資源ごみです", Action.answer, intent="item_category", slots={"item": "ペットボトル"})
HANGUP = (CallerTurn.hangup(), BotTurn("", Action.end, intent="hangup"))


def test_outcome_rules():
    assert outcome((ASK, ANSWER), HANGUP) == (ANSWERED, "", "")
    assert outcome(HANGUP) == (ABANDONED, "", "")
    assert outcome((ASK, BotTurn("もう一度", Action.clarify, intent="not_understood")), HANGUP) == (ABANDONED, "", "")
    transfer = BotTurn("おつなぎします", Action.transfer, intent="operator",
                       events=[Event("transfer", {"reason": "general", "topic": "operator"})])
    assert outcome((ASK, ANSWER), (CallerTurn.dtmf("0"), transfer)) == (TRANSFERRED, "operator", "")
    ticket = BotTurn("受付番号は", Action.end, intent="missed_collection",
                     events=[Event("ticket", {"number": "1003", "reason": "collection"})])
    assert outcome((ASK, ticket)) == (TICKET, "collection", "1003")
    error = BotTurn("申し訳ありません", Action.transfer, intent="asr_failed",
                    events=[Event("transfer", {"topic": "asr_failed"}), Event("error", {"reason": "asr_failed"})])
    assert outcome((ASK, ANSWER), (None, error)) == (FAILED, "asr_failed", "")
    handover = BotTurn("おつなぎします", Action.transfer, intent="shutdown",  # the server stopping: no fault
                       events=[Event("transfer", {"topic": "shutdown"}), Event("error", {"reason": "shutdown"})])
    assert outcome((ASK, ANSWER), (None, handover)) == (TRANSFERRED, "shutdown", "")


# --- periods, CSV, the report ---------------------------------------------------------------------


def test_periods():
    assert period_for("day", date(2026, 11, 30)) == (date(2026, 11, 30), date(2026, 12, 1))
    assert period_for("week", date(2026, 11, 1)) == (date(2026, 10, 26), date(2026, 11, 2))  # a Sunday
    assert period_for("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_range("2026-02") == (date(2026, 2, 1), date(2026, 3, 1))
    for bad in ("2026-13", "2026", "11-2026-1", "nov"):
        with pytest.raises(ValueError):
            month_range(bad)
    with pytest.raises(ValueError):
        period_for("year", date(2026, 1, 1))


def test_figures_csv_has_a_row_per_day_and_a_total(log):
    seed_month(log)
    f = period_figures(log.engine, *month_range("2026-11"), tz=JST, minutes_per_call=4.0)
    rows = list(csv.reader(io.StringIO(figures_csv(f))))
    assert rows[0][:2] == ["日付", "通話数"] and len(rows) == 1 + 30 + 1
    assert rows[1][:3] == ["2026-11-01", "1", "1"]
    assert rows[-1] == ["合計", "9", "4", "2", "1", "1", "1"]


@pytest.fixture
def configured(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVR_MINUTES_PER_CALL", "6")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_ivr_report_prints_the_months_figures(configured):
    db.upgrade(configured)
    engine = db.make_engine(configured)
    seed_month(CallLog(engine))
    engine.dispose()
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--month", "2026-11"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2026-11-01 〜 2026-11-30" in out and "通話数" in out
    assert "4  (44%)" in out  # contained
    assert "0.4 時間" in out and "6 分" in out  # 4 contained × 6 minutes (IVR_MINUTES_PER_CALL)
    assert "ペットボトル" in out and "ふにゃふにゃ" in out and "職員への取次" in out and "収集" in out
    assert "2026-11-30" in out
    as_csv = runner.invoke(app, ["report", "--month", "2026-11", "--csv"])
    assert as_csv.exit_code == 0 and as_csv.stdout_bytes.startswith("\ufeff日付".encode())
    week = runner.invoke(app, ["report", "--week", "2026-11-04"])
    assert week.exit_code == 0 and "2026-11-02 〜 2026-11-08" in week.output
    bad = runner.invoke(app, ["report", "--month", "2026-13"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output


def test_metrics_count_a_failed_call_and_its_latencies():
    from prometheus_client.parser import text_string_to_metric_families

    from analytics.metrics import CallMetrics

    metrics = CallMetrics()
    metrics.bind(lambda: 2, lambda: 3)
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    metrics.observe(call("F1", at, FAILED, "asr_failed", turns=[turn(1, at, "え", asr_ms=700, reply_ms=40),
                                                                 turn(2, at, kind="error", action="transfer")]))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics.text().decode()) for s in f.samples}
    assert samples[("ivr_errors_total", (("kind", "error"),))] == 1
    assert samples[("ivr_call_outcomes_total", (("outcome", FAILED),))] == 1
    assert samples[("ivr_asr_latency_seconds_count", ())] == 1 and samples[("ivr_reply_latency_seconds_count", ())] == 2
    assert samples[("ivr_active_calls", ())] == 2 and samples[("ivr_asr_queue_depth", ())] == 3
