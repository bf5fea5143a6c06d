"""The FAQ improvement loop end to end, in a real headless Chromium against a real ``ivr serve``
app (uvicorn on loopback), on a copy of Nara's data.

A caller says something the bot does not understand (a real call through the Twilio gather
webhooks, signed as Twilio signs them); the call log records it; 山田 logs in, sees it on the
改善 page and, in two clicks (a topic, 「例文に追加」), adds it as an example; the server rebuilds
its models from the edited knowledge base without a restart, and the next call saying the same
words is understood (its record names the topic). Screenshots go to tests/artifacts/.

Playwright drives Debian's /usr/bin/chromium; nothing downloads a browser. Without that binary
the test skips, except under IVR_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from test_console_browser import ARTIFACTS, CHROMIUM_ARGS, PASSWORD, STEP_TIMEOUT_MS, VIEWPORT
from test_improve import NEW_PHRASING, cache_of
from twilio.request_validator import RequestValidator

from analytics.store import CallLog
from conftest import CHROMIUM, require_browser, uvicorn_thread
from escalation.accounts import StaffAccounts
from escalation.staff import OfficeHoursStaffLine
from escalation.store import TicketStore
from ivr.config import Settings
from ivr.dialogue.state import Brain
from ivr.server.app import create_app
from ivr.server.runtime import Runtime

TOKEN = "test-auth-token"
RELOAD_TIMEOUT_MS = 180_000  # the click that rebuilds the models: seconds alone, a minute on a loaded CI machine
RECORD_WAIT_S = 20  # a call's record is saved in a worker thread just after it ends


@pytest.fixture
def server(tmp_path: Path, nara_copy: Path, brain: Brain, speech: Any) -> Iterator[dict[str, Any]]:
    """``ivr serve``'s app on a runtime over a copy of Nara's data (Twilio in gather mode)."""
    require_browser()
    tz = ZoneInfo("Asia/Tokyo")
    settings = Settings(data_dir=nara_copy, state_dir=tmp_path / "state", cache_dir=cache_of(brain),
                        twilio_auth_token=TOKEN, twilio_mode="gather", staff_number="+81742340000",
                        cookie_secure=False)
    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts = StaffAccounts(store.engine)
    accounts.add("山田", PASSWORD)
    accounts.add("管理者", PASSWORD, admin=True)
    kb_brain = Brain.load(nara_copy, "", settings.cache_dir)
    runtime = Runtime(settings=settings, brain=kb_brain, speech=speech, tickets=store,
                      staff=OfficeHoursStaffLine(kb_brain.kb.municipality.business_hours),
                      clock=lambda: datetime.now(tz), store=store, accounts=accounts, call_log=CallLog(store.engine))
    try:
        with uvicorn_thread(create_app(runtime)) as host:
            yield {"host": host, "runtime": runtime, "call_log": runtime.call_log}
    finally:
        store.dispose()


def twilio(host: str, path: str, data: dict[str, str]) -> httpx.Response:
    """A webhook as Twilio sends it (no public URL set: the request's own URL is signed)."""
    url = f"http://{host}{path}"
    signature = RequestValidator(TOKEN).compute_signature(url, data)
    r = httpx.post(url, data=data, headers={"X-Twilio-Signature": signature}, timeout=60)
    assert r.status_code in (200, 204), r.text
    return r


def phone_call(server: dict[str, Any], call_sid: str, says: str) -> str:
    """Call, say ``says``, hang up; returns the TwiML answering the words."""
    params = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": "+819012345678", "To": "+81742000000",
              "CallStatus": "in-progress"}
    twilio(server["host"], "/twilio/voice", params)
    answer = twilio(server["host"], "/twilio/gather", {**params, "SpeechResult": says, "Confidence": "0.9"}).text
    twilio(server["host"], "/twilio/status", {**params, "CallStatus": "completed"})
    deadline = time.monotonic() + RECORD_WAIT_S
    while server["call_log"].get(call_sid) is None:
        assert time.monotonic() < deadline, f"no record of {call_sid}"
        time.sleep(0.2)
    return answer


def caller_intents(server: dict[str, Any], call_sid: str) -> list[str]:
    record = server["call_log"].get(call_sid)
    return [t.intent for t in record.turns if t.kind == "speech"]


def _login(browser: Any, base: str, name: str, errors: list[str]) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    page.get_by_label("職員名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(base + "/")
    return page


def test_a_failed_utterance_becomes_an_example_and_the_next_call_understands_it(server: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    before = "CA" + "a" * 32
    phone_call(server, before, NEW_PHRASING)
    assert "illegal_dumping" not in caller_intents(server, before)
    old_brain = server["runtime"].brain

    base = f"http://{server['host']}/staff"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            errors: list[str] = []
            page = _login(browser, base, "山田", errors)

            page.get_by_role("link", name="改善").click()
            row = page.locator("tr.group", has_text=NEW_PHRASING)
            expect(row).to_have_count(1)
            expect(row).to_contain_text("聞き取れず・理解できず")
            page.screenshot(path=ARTIFACTS / "console-improve.png", full_page=True)

            row.get_by_label("話題").select_option(label="不法投棄")  # click 1
            with page.expect_navigation(timeout=RELOAD_TIMEOUT_MS):
                # click 2: saved, validated, live
                row.get_by_role("button", name="例文に追加").click(timeout=RELOAD_TIMEOUT_MS)
            expect(page.locator(".msg.ok")).to_contain_text("「不法投棄」の例文に追加しました")
            # live at once on an idle server; on a loaded one the page says 反映中 and improve.js follows
            expect(page.locator("#kb-status")).to_contain_text("反映済み", timeout=RELOAD_TIMEOUT_MS)
            expect(page.locator("tr.group", has_text=NEW_PHRASING)).to_have_count(0)
            expect(page.locator(".history")).to_contain_text("山田")
            page.screenshot(path=ARTIFACTS / "console-improve-added.png", full_page=True)

            admin = _login(browser, base, "管理者", errors)  # the admin's page: an answer to edit, the history
            admin.goto(base + "/improve/knowledge?topic=bag_rules")
            expect(admin.get_by_label("「ごみ袋の種類と数」の回答文", exact=False)).to_contain_text("指定のごみ袋")
            expect(admin.locator(".history")).to_contain_text(NEW_PHRASING)
            admin.screenshot(path=ARTIFACTS / "console-knowledge.png", full_page=True)
            assert errors == []
        finally:
            browser.close()

    assert server["runtime"].brain is not old_brain  # rebuilt in place: the same server, no restart
    added = (server["runtime"].settings.data_dir / "phrasings_added.csv").read_text(encoding="utf-8")
    assert f"{NEW_PHRASING},illegal_dumping" in added
    after = "CA" + "b" * 32
    phone_call(server, after, NEW_PHRASING)
    assert caller_intents(server, after)[0] == "illegal_dumping"
    assert httpx.get(f"http://{server['host']}/health").json()["status"] == "ok"
