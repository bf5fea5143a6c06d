"""The dashboard in a real headless Chromium, showing the figures of real simulated calls.

The whole phone server (``create_app``: the Twilio webhooks and the console at /staff) runs on a
real uvicorn server on loopback, with a SQLite ticket database. Four calls come in through the
Twilio gather webhooks (signed with the real ``twilio`` library), through the real dialogue, and
leave their records as in service: one answered by the bot, one the caller asks to pass to staff,
one after-hours dumping report that becomes a callback ticket, and one the bot cannot understand
before the caller hangs up. A staff member (not an administrator) then opens 集計, picks the day
and the month, checks every figure against those four calls, and downloads the CSV. Screenshots
go to tests/artifacts/ for a person to look at.

Playwright drives Debian's /usr/bin/chromium; nothing downloads a browser. Without that binary
the test skips, except under IVR_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from test_console_browser import ARTIFACTS, CHROMIUM_ARGS, PASSWORD, STEP_TIMEOUT_MS, VIEWPORT
from twilio.request_validator import RequestValidator

from analytics.metrics import CallMetrics
from analytics.store import CallLog
from conftest import CHROMIUM, require_browser, uvicorn_thread
from escalation.accounts import StaffAccounts
from escalation.store import TicketStore
from ivr.server.app import create_app

TOKEN = "test-auth-token"  # server_runtime's Twilio auth token and public URL: the webhooks are signed
PUBLIC = "https://ivr.example.test"
NARA = ZoneInfo("Asia/Tokyo")
DAY = "2026-11-25"  # a Wednesday: staff answer at 10:00, the bot takes tickets at 20:15
OFFICE_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=NARA)
EVENING = datetime(2026, 11, 25, 20, 15, tzinfo=NARA)
DUMPING = ("不法投棄を見つけたんですが", "青山三丁目の公園の横の空き地に冷蔵庫が捨てられてるんです", "はい", "山本です",
           "いいえ、ありません")


class Clock:
    """The server's clock: office hours for the first calls, evening for the ticket."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server(tmp_path: Path, server_runtime: Any) -> Iterator[dict[str, Any]]:
    """``ivr serve``'s app on its own database; http on loopback, so cookie_secure is off."""
    require_browser()
    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts = StaffAccounts(store.engine)
    accounts.add("山田", PASSWORD)
    clock = Clock(OFFICE_HOURS)
    settings = server_runtime.settings.model_copy(update={
        "twilio_mode": "gather", "staff_number": "+81742340000", "state_dir": tmp_path, "cookie_secure": False,
        "minutes_per_call": 4.0})
    runtime = dataclasses.replace(server_runtime, settings=settings, tickets=store, store=store, accounts=accounts,
                                  call_log=CallLog(store.engine), clock=clock, calls={}, metrics=CallMetrics(),
                                  saving=set())
    try:
        # lifespan off: no daily purge task blanking the callers' words of a date long past
        with uvicorn_thread(create_app(runtime), lifespan="off") as host:
            yield {"host": host, "clock": clock, "log": runtime.call_log}
    finally:
        store.dispose()


class Line:
    """Twilio's side of the gather webhooks, signed as Twilio signs them."""

    def __init__(self, host: str) -> None:
        self.http = httpx.Client(base_url=f"http://{host}", timeout=60)

    def post(self, path: str, sid: str, **fields: str) -> str:
        data = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+819087654321", "To": "+81742000000",
                "CallStatus": "in-progress", **fields}
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, data)
        r = self.http.post(path, data=data, headers={"X-Twilio-Signature": signature})
        assert r.status_code in (200, 204), r.text
        return r.text

    def call(self, sid: str, *said: str, digits: str = "", hang_up: bool = False) -> str:
        self.post("/twilio/voice", sid)
        twiml = ""
        for words in said:
            twiml = self.post("/twilio/gather", sid, SpeechResult=words)
        if digits:
            twiml = self.post("/twilio/gather", sid, Digits=digits)
        if hang_up:
            self.post("/twilio/status", sid, CallStatus="completed")
        return twiml


def _simulated_calls(server: dict[str, Any]) -> None:
    line = Line(server["host"])
    assert "<Hangup" in line.call("CA-answered", "ペットボトルは何ごみですか", "ありがとう、さようなら")
    assert "<Dial>+81742340000</Dial>" in line.call("CA-staff", digits="0")  # 0: to a person
    line.call("CA-unclear", "ふにゃらかぽん", hang_up=True)
    server["clock"].now = EVENING
    assert "<Hangup" in line.call("CA-dumping", *DUMPING)
    deadline = time.monotonic() + 10  # records are written in a worker thread after each call
    while any(server["log"].get(sid) is None for sid in ("CA-answered", "CA-staff", "CA-unclear", "CA-dumping")):
        assert time.monotonic() < deadline, "the calls left no records"
        time.sleep(0.05)


def _login(browser: Any, base: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo", accept_downloads=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.errors = []  # CSP violations and script errors would show up here
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(base + "/")
    page.get_by_label("職員名").fill("山田")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(base + "/")
    return page


def test_dashboard_shows_the_simulated_calls_in_chromium(server: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    _simulated_calls(server)
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://{server['host']}/staff"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = _login(browser, base)
            page.get_by_role("link", name="集計").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("通話の集計")
            page.get_by_label("期間", exact=True).select_option("day")
            page.get_by_label("日付", exact=True).fill(DAY)
            page.get_by_role("button", name="表示").click()
            page.wait_for_url(f"{base}/dashboard?period=day&date={DAY}")
            expect(page.get_by_role("heading", level=1)).to_contain_text("2026年11月25日(水)")

            tile = page.locator(".tile")
            expect(tile.filter(has_text="通話数")).to_contain_text("4件")
            expect(tile.filter(has_text="自動応答で完結")).to_contain_text("25.0%")
            expect(tile.filter(has_text="自動応答で完結")).to_contain_text("1 件を職員なしで回答")
            expect(tile.filter(has_text="職員へ転送")).to_contain_text("1件")
            expect(tile.filter(has_text="折り返し受付")).to_contain_text("1件")
            expect(tile.filter(has_text="途中で切断")).to_contain_text("1件")
            expect(tile.filter(has_text="平均通話時間")).to_contain_text("秒")  # webhook calls take a moment
            expect(tile.filter(has_text="削減できた職員の時間")).to_contain_text("0.1時間")  # 1 × 4 min
            expect(page.locator("#transfers")).to_contain_text("職員と話したい")  # the topic's title, not its id
            expect(page.locator("#tickets")).to_contain_text("不法投棄")
            expect(page.locator("#intents")).to_contain_text("缶・びん・ペットボトルの出し方")
            expect(page.locator("#items")).to_contain_text("ペットボトル")
            expect(page.locator("#not-understood")).to_contain_text("ふにゃらかぽん1 件")
            chart = page.locator("svg.chart-days")
            expect(chart).to_have_attribute("role", "img")
            titles = chart.locator("rect title").all_text_contents()
            assert titles == ["11月25日(水) 自動で完結 1件", "11月25日(水) 職員へ転送 1件",  # stacking order
                              "11月25日(水) 折り返し受付 1件", "11月25日(水) 途中で切断 1件"]
            expect(chart.locator("text.total")).to_have_text(["4"])  # one bar in the week: the 25th's
            page.screenshot(path=ARTIFACTS / "console-dashboard-day.png")
            page.screenshot(path=ARTIFACTS / "console-dashboard-day-full.png", full_page=True)

            page.get_by_label("期間", exact=True).select_option("month")
            page.get_by_role("button", name="表示").click()
            page.wait_for_url(f"{base}/dashboard?period=month&date={DAY}")  # the month holding that day
            expect(page.get_by_role("heading", level=1)).to_contain_text("2026年11月")
            expect(tile.filter(has_text="通話数")).to_contain_text("4件")
            expect(page.locator("svg.chart-days text.axis", has_text="25")).to_have_count(1)
            page.get_by_text("表で見る").click()
            expect(page.locator("#day-table tbody tr")).to_have_count(1)  # only the day with calls
            expect(page.locator("#day-table tbody td")).to_have_text(["11月25日(水)", "4", "1", "1", "1", "1", "0"])
            page.screenshot(path=ARTIFACTS / "console-dashboard.png", full_page=True)

            with page.expect_download() as download:
                page.get_by_role("link", name="CSV をダウンロード").click()
            saved = download.value
            assert saved.suggested_filename == "gomi-calls-month-2026-11-01.csv"
            raw = Path(saved.path()).read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
            assert rows[0][0] == "日付" and len(rows) == 1 + 30 + 1
            assert [r for r in rows if r[0] == DAY] == [[DAY, "4", "1", "1", "1", "1", "0"]]
            assert rows[-1] == ["合計", "4", "1", "1", "1", "1", "0"]
            assert page.errors == []
        finally:
            browser.close()
