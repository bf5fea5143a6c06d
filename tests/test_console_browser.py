"""The staff console in a real headless Chromium, against a real uvicorn server on loopback.

A ticket the bot took in a simulated after-hours call (the real dialogue) is worked the way staff
would: 山田 logs in, finds it in the queue, opens it, claims it and resolves it with a note; 鈴木,
in another browser, tries to claim it while 山田 holds it and is told who has it. Screenshots of
the login, queue, ticket and live-calls pages go to tests/artifacts/ for a person to look at.

Playwright drives Debian's /usr/bin/chromium; nothing downloads a browser. Without that binary
the test skips, except under IVR_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from conftest import CHROMIUM, require_browser, uvicorn_thread
from escalation.accounts import StaffAccounts
from escalation.console import create_console
from escalation.store import TicketStore
from escalation.tickets import Ticket, TicketRequest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}  # the office PCs the console is meant for
PASSWORD = "correct horse battery"
JST = timezone(timedelta(hours=9))
EVENING_AGO = timedelta(hours=3)  # the bot's ticket (due 2 h after it was taken) is overdue by now
STEP_TIMEOUT_MS = 15_000  # one page load or click; generous for a CI machine under load


def _last_evening() -> datetime:
    """The most recent 20:15 in Nara at least ``EVENING_AGO`` back: after office hours, when the bot
    takes tickets, and long enough ago that its ticket is overdue. (Today's 20:15 taken between 20:15
    and 20:35 made it due after the urgent ticket 1003, and the queue order below failed.)"""
    now = datetime.now(JST)
    evening = now.replace(hour=20, minute=15, second=0, microsecond=0)
    return (evening if evening <= now - EVENING_AGO else evening - timedelta(days=1)).astimezone(UTC)


CALLER_SAYS = ("不法投棄を見つけたんですが", "青山三丁目の公園の横の空き地に冷蔵庫が捨てられてるんです",
               "はい", "山本です")


def _after_hours_call(brain: Any, store: TicketStore) -> Ticket:
    """A simulated after-hours call, through the real dialogue (text turns, as ``ivr sim``), with
    the store as its ticket queue: the ticket staff work below is the one the bot took."""
    from escalation.staff import OfficeHoursStaffLine
    from ivr.dialogue.session import CallSession
    from ivr.dialogue.turns import CallerTurn

    at = _last_evening().astimezone(JST)
    session = CallSession(brain, store, OfficeHoursStaffLine(brain.kb.municipality.business_hours), lambda: at,
                          call_id="CA-after-hours-7", caller_number="09087654321")

    async def call() -> list[Any]:
        await session.start()
        return [await session.handle(CallerTurn.speech(said)) for said in CALLER_SAYS]

    replies = asyncio.run(call())
    numbers = [e.data["number"] for r in replies for e in r.events if e.kind == "ticket"]
    assert len(numbers) == 1, [r.text for r in replies]
    record = store.find_by_number(str(numbers[0]))
    assert record is not None
    return record.to_ticket()


def _more_requests() -> list[TicketRequest]:
    """Two more tickets so the queue shows its order and marks: one urgent, one long overdue."""
    now = datetime.now(UTC)
    return [TicketRequest(call_id="CA-2", topic="animal_carcass", reason="animal", summary="県道に犬の死骸があり危ない",
                          area="学園前", caller_number="+81742000002", created_at=now - timedelta(hours=30)),
            TicketRequest(call_id="CA-3", topic="illegal_dumping", reason="illegal_dumping", urgency="urgent",
                          summary="ごみ集積所から煙が出ている", area="西大寺", caller_number="+81742000003",
                          created_at=now - timedelta(minutes=20))]


@pytest.fixture
def site(tmp_path: Path, brain: Any) -> Iterator[dict[str, Any]]:
    """The console mounted at /staff on a real uvicorn server in a thread; http, so cookie_secure=False."""
    require_browser()
    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts = StaffAccounts(store.engine)
    accounts.add("山田", PASSWORD)
    accounts.add("鈴木", PASSWORD)
    ticket = _after_hours_call(brain, store)
    for request in _more_requests():
        asyncio.run(store.create(request))
    started = (datetime.now(UTC) - timedelta(seconds=95)).isoformat()
    calls = [{"call_id": "CA7f3e0a91", "carrier": "twilio", "started_at": started, "caller": "090-****-4321",
              "turns": 4, "last_intent": "oversize_booking"},
             {"call_id": "as-0042", "carrier": "asterisk", "started_at": started, "caller": "0742-**-**56",
              "turns": 1, "last_intent": "collection_day"}]
    app = FastAPI()
    app.mount("/staff", create_console(store, accounts, secret_key="browser-test-secret-" + "x" * 32,
                                       cookie_secure=False, live_calls=lambda: calls,
                                       topic_titles={t.id: t.title for t in brain.kb.topics}))
    try:
        with uvicorn_thread(app, lifespan="off") as host:
            yield {"base": f"http://{host}/staff", "store": store, "ticket": ticket}
    finally:
        store.dispose()


def _expected(message: str) -> bool:
    """Chromium logs every 4xx page as an error; the refusals this test provokes are meant."""
    return message.startswith("Failed to load resource") and any(f"status of {c}" in message for c in (400, 409))


def _login(browser: Any, base: str, name: str, shot: str | None = None) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.errors = []  # CSP violations and script errors would show up here
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" and not _expected(m.text) else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(base + "/")
    assert "/staff/login" in page.url
    page.get_by_label("職員名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    if shot:
        page.screenshot(path=ARTIFACTS / shot)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(base + "/")
    return page


def test_staff_work_a_ticket_in_chromium(site: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    base, store, ticket = site["base"], site["store"], site["ticket"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            a = _login(browser, base, "山田", shot="console-login.png")
            numbers = a.locator("table.tickets td.num a").all_inner_texts()
            # urgent first (dumping is urgent: the bot's ticket, due 2 h after last evening, then 1003),
            # then the soonest due
            assert numbers == [ticket.number, "1003", "1002"]
            expect(a.locator("tr.overdue", has_text="犬の死骸")).to_contain_text("期限超過")
            row = a.locator("table.tickets tbody tr", has_text=ticket.number)
            expect(row).to_contain_text("不法投棄")
            expect(row).to_contain_text("青山")
            a.screenshot(path=ARTIFACTS / "console-queue.png")

            a.get_by_role("link", name=ticket.number).click()
            expect(a.get_by_role("heading", level=1)).to_contain_text(ticket.number)
            expect(a.locator(".transcript")).to_contain_text(CALLER_SAYS[1])  # what the caller said, as said
            expect(a.locator(".facts")).to_contain_text("090-8765-4321")  # the caller ID, confirmed with はい
            expect(a.locator(".facts")).to_contain_text("20:15")
            expect(a.locator(".facts")).to_contain_text("不法投棄")  # the topic's title from the knowledge base
            a.get_by_role("button", name="担当する").click()
            expect(a.locator(".msg.ok")).to_have_text("担当になりました。")
            a.screenshot(path=ARTIFACTS / "console-ticket.png", full_page=True)

            b = _login(browser, base, "鈴木")
            b.goto(f"{base}/tickets/{ticket.id}")
            expect(b.locator(".assignee")).to_contain_text("山田")
            b.get_by_role("button", name="担当する").click()
            expect(b.locator(".msg.err")).to_have_text("この受付は 山田 さんが対応中です。")
            b.screenshot(path=ARTIFACTS / "console-claim-refused.png")
            assert store.get(ticket.id).assignee == "山田"

            a.get_by_role("button", name="解決").click()  # no note yet: refused, nothing stored
            expect(a.locator(".msg.err")).to_contain_text("対応の内容をメモに入力してください")
            assert store.get(ticket.id).status == "claimed"
            a.get_by_label("メモ（折り返しの結果など）").fill("山本様に折り返し。明日午前に現地確認し回収します。")
            a.get_by_role("button", name="解決").click()
            expect(a.locator(".msg.ok")).to_have_text("解決にしました。")
            expect(a.locator(".notes")).to_contain_text("明日午前に現地確認")
            a.screenshot(path=ARTIFACTS / "console-ticket-resolved.png", full_page=True)
            record = store.get(ticket.id)
            assert (record.status, record.assignee) == ("resolved", "山田")

            a.get_by_role("link", name="通話中").click()
            expect(a.locator("#live-updated")).to_contain_text("最終更新")  # live.js ran under the CSP
            expect(a.locator("#live-calls tbody tr")).to_have_count(2)
            expect(a.locator("#live-calls")).to_contain_text("090-****-4321")
            expect(a.locator("#live-calls")).to_contain_text("大型ごみの申し込み")
            a.screenshot(path=ARTIFACTS / "console-live.png")
            assert a.errors == [] and b.errors == []
        finally:
            browser.close()
