"""``ivr db``, ``ivr tickets`` and ``ivr staff`` through Typer's runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from escalation import db
from escalation.accounts import StaffAccounts
from escalation.store import TicketStore
from escalation.tickets import TicketRequest, TranscriptLine
from ivr.cli import app
from ivr.config import get_settings

runner = CliRunner()
NOW = datetime.now(UTC)


@pytest.fixture
def configured(db_url, tmp_path, monkeypatch):
    """The `ivr` command pointed at the test database through the environment, as an operator would."""
    monkeypatch.setenv("IVR_DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVR_RETENTION_DAYS", "90")
    monkeypatch.delenv("IVR_STAFF_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def ivr(*args: str, **kw) -> object:
    return runner.invoke(app, list(args), **kw)


def seed(url: str) -> TicketStore:
    db.upgrade(url)
    store = TicketStore.from_url(url)

    def create(call_id: str, number: str, reason: str, at: datetime, **kw):
        return asyncio.run(store.create(TicketRequest(
            call_id=call_id, topic="missed_collection", summary=kw.pop("summary", "回収されていない"),
            callback_number=number, caller_name="奈良太郎", area="三条町", created_at=at, reason=reason,
            transcript=[TranscriptLine("caller", "燃えるごみが残っています", at)], **kw)))

    create("CA1", "09011112222", "collection", NOW)
    create("CA2", "0742000001", "animal", NOW, urgency="urgent", summary="猫の死骸, 道の真ん中")
    create("CA3", "0742000002", "general", NOW - timedelta(days=100))
    return store


def test_db_upgrade_reports_what_it_did(configured):
    first = ivr("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"upgraded from an empty database to revision {db.head_revision()}" in first.output
    again = ivr("db", "upgrade")
    assert again.exit_code == 0 and "already at revision" in again.output


def test_list_and_show(configured):
    store = seed(configured)
    try:
        store.claim(1, "sato")
    finally:
        store.dispose()
    listing = ivr("tickets", "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert [line.split()[0] for line in lines] == ["1002", "1003", "1001"]  # urgent, then the old overdue, then due
    assert "sato" in lines[2] and "!" in lines[1]
    claimed = ivr("tickets", "list", "--status", "claimed", "--json")
    assert [t["number"] for t in json.loads(claimed.output)] == ["1001"]
    assert ivr("tickets", "list", "--status", "done").exit_code == 2

    shown = ivr("tickets", "show", "1002")
    assert shown.exit_code == 0, shown.output
    assert "ticket 1002" in shown.output and "猫の死骸" in shown.output and "caller: 燃えるごみ" in shown.output
    assert "created" in shown.output.split("audit:")[1]
    by_id = json.loads(ivr("tickets", "show", "1", "--json").output)
    assert by_id["number"] == "1001" and by_id["assignee"] == "sato" and by_id["audit"][-1]["action"] == "claimed"
    missing = ivr("tickets", "show", "4242")
    assert missing.exit_code == 1 and "no ticket 4242" in missing.output


def test_export_csv_opens_in_japanese_excel(configured):
    seed(configured).dispose()
    result = ivr("tickets", "export", "--csv")
    assert result.exit_code == 0, result.output
    data = result.stdout_bytes
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r["number"] for r in rows] == ["1001", "1002", "1003"]
    assert rows[1]["summary"] == "猫の死骸, 道の真ん中" and rows[1]["urgency"] == "urgent"
    assert rows[0]["callback_number"] == "09011112222" and rows[0]["created_at"][:4] == str(NOW.astimezone().year)
    assert ivr("tickets", "export").exit_code == 2  # a format must be chosen


def test_purge_uses_the_retention_setting(configured):
    seed(configured).dispose()
    result = ivr("tickets", "purge")
    assert result.exit_code == 0, result.output
    assert "purged personal data of 1 ticket(s) older than 90 days" in result.output
    old = json.loads(ivr("tickets", "show", "1003", "--json").output)
    assert old["callback_number"] == "" and old["transcript"] == [] and old["reason"] == "general"
    assert "of 0 ticket(s)" in ivr("tickets", "purge").output


def test_staff_add_and_token(configured, monkeypatch):
    assert ivr("db", "upgrade").exit_code == 0
    added = ivr("staff", "add", "sato", "--admin", input="a long password\na long password\n")
    assert added.exit_code == 0, added.output
    assert "added sato (admin)" in added.output and "a long password" not in added.output  # hidden input
    mismatch = ivr("staff", "add", "suzuki", input="a long password\nanother one!!\n")
    assert "added" not in mismatch.output
    assert ivr("staff", "add", "suzuki", input="short\nshort\n").exit_code == 1
    monkeypatch.setenv("IVR_STAFF_PASSWORD", "scripted password")
    assert ivr("staff", "add", "suzuki").exit_code == 0
    assert ivr("staff", "add", "suzuki").exit_code == 1  # exists already
    assert ivr("staff", "list").output.splitlines() == ["sato (admin)", "suzuki"]

    token = ivr("staff", "token", "sato")
    assert token.exit_code == 0, token.output
    engine = db.make_engine(configured)
    try:
        accounts = StaffAccounts(engine)
        assert accounts.staff_for_token(token.output.strip()).name == "sato"
        assert accounts.verify("sato", "a long password").admin
        assert accounts.verify("suzuki", "scripted password").name == "suzuki"
    finally:
        engine.dispose()
    assert ivr("staff", "token", "nobody").exit_code == 1


def test_commands_on_a_server_database_not_yet_upgraded(configured):
    if db.is_sqlite(configured):  # SQLite is migrated on first use: the commands just work
        assert ivr("tickets", "list").exit_code == 0 and ivr("staff", "list").exit_code == 0
        return
    for args in (("tickets", "list"), ("staff", "list")):
        result = ivr(*args)
        assert result.exit_code == 1 and "ivr db upgrade" in result.output
