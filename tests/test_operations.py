"""Operations (issue 15): what the call records and ``GET /metrics`` say about calls outside the
dialogue's view — a Twilio media stream that breaks (the caller goes to staff by the ``<Connect
action>``), and gather calls, which are in progress between webhooks though in no socket.

Real server parts throughout: ``create_app`` under uvicorn (real websockets, test_twilio_stream's
fake Twilio side) or FastAPI's TestClient, webhooks signed with the real ``twilio`` library, call
records in a real SQLite call log. The drain's side of gather calls runs on a real `ivr serve` in
test_shutdown.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import httpx
from fastapi.testclient import TestClient
from test_call_recording import metric, wait_for
from test_call_recording import recording as with_call_log
from test_twilio_stream import STAFF, FakeTwilio, after_stream, answer_call, sign, wait_gone

from analytics.records import ABANDONED, TICKET, TRANSFERRED
from conftest import uvicorn_thread
from escalation.tickets import InMemoryTicketQueue
from ivr.server.app import create_app
from ivr.telephony.twilio_gather_calls import GatherSessions

RECORD_WAIT_S = 10.0  # a record is written in a worker thread right after the call ends


def recording(server_runtime, call_log, **settings):
    """test_call_recording's runtime, whose staff line is the stream tests' number."""
    return with_call_log(server_runtime, call_log, **{"staff_number": STAFF, **settings})


def record_of(call_log, call_sid: str):
    return wait_for(lambda: call_log.get(call_sid), RECORD_WAIT_S)


# --- a media stream that breaks -------------------------------------------------------------------


async def _broken_then_hung_up(base_url: str, broken: str, hung_up: str) -> str:
    token = await answer_call(base_url, broken)
    async with FakeTwilio.open(base_url, broken) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) >= 8000)  # a second of the greeting: the call is up
        twilio.ws.transport.abort()  # the line breaks: no stop, no close frame (the server sees 1006)
    dial = (await after_stream(base_url, broken)).find("Dial")  # Twilio goes on with the <Connect action>
    token = await answer_call(base_url, hung_up)
    async with FakeTwilio.open(base_url, hung_up) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) >= 8000)
        await twilio.stop()  # the caller hung up: Twilio says so, and asks no action URL
        await twilio.until(lambda: twilio.close_code is not None, timeout=10)
    return dial.text if dial is not None else ""


def test_a_broken_stream_put_through_to_staff_is_recorded_as_transferred(server_runtime, call_log):
    runtime = recording(server_runtime, call_log)
    broken, hung_up = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    with uvicorn_thread(create_app(runtime)) as host:
        dialled = asyncio.run(_broken_then_hung_up(host, broken, hung_up))
        asyncio.run(wait_gone(runtime, broken))
        text = httpx.get(f"http://{host}/metrics", timeout=10).text
        records = {sid: record_of(call_log, sid) for sid in (broken, hung_up)}
    assert dialled == STAFF
    assert (records[broken].outcome, records[broken].reason) == (TRANSFERRED, "stream_broken")
    assert records[broken].transport == "twilio_stream"
    assert records[hung_up].outcome == ABANDONED  # a hang-up stays what it was: no staff involved
    assert metric(text, "ivr_call_outcomes_total", outcome=TRANSFERRED) == 1
    assert metric(text, "ivr_call_outcomes_total", outcome=ABANDONED) == 1


# --- gather calls in progress ---------------------------------------------------------------------


def params(sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+819012345678", "To": "+81742000000",
            "CallStatus": "in-progress", **extra}


def post(client: TestClient, path: str, data: dict[str, str]) -> str:
    r = client.post(path, data=data, headers=sign(path, data))
    assert r.status_code in (200, 204), r.text
    return r.text


def test_gather_calls_between_webhooks_count_as_active_until_they_end(server_runtime, call_log):
    runtime = recording(server_runtime, call_log, twilio_mode="gather")
    first, second = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    with TestClient(create_app(runtime)) as client:  # a loopback client: may scrape
        def active() -> float:
            return metric(client.get("/metrics").text, "ivr_active_calls")

        assert active() == 0
        post(client, "/twilio/voice", params(first))
        post(client, "/twilio/voice", params(second))
        assert active() == 2 and sorted(runtime.gather_calls()) == sorted([first, second])
        assert client.get("/health").json()["calls"] == 2  # the load balancer's view agrees
        post(client, "/twilio/gather", params(first, SpeechResult="ペットボトルは何ごみですか"))
        assert active() == 2  # answered, and still on the line
        assert "<Dial" in post(client, "/twilio/gather", params(first, Digits="0"))  # an ending TwiML
        assert active() == 1
        post(client, "/twilio/status", params(second, CallStatus="completed"))  # hung up
        assert active() == 0 and runtime.active_calls() == 0


def test_a_gather_call_silent_past_the_longest_turn_gap_is_no_longer_in_progress():
    """No status callback on the number: a caller who hung up stops counting after ``live_s``."""
    sessions = GatherSessions(live_s=0.2)
    sessions.put("CA1", object())  # type: ignore[arg-type]
    assert sessions.in_progress() == ["CA1"]
    time.sleep(0.3)
    assert sessions.in_progress() == [] and "CA1" in sessions  # the dialogue state is kept for a late webhook
    assert sessions.get("CA1") is not None and sessions.in_progress() == ["CA1"]  # a webhook came: live again


def test_while_draining_a_gather_call_with_staff_out_gets_a_ticket_read_out(server_runtime, call_log):
    """The hand-over's other branch (test_shutdown.py has staff in: <Dial>): with no one in, the
    call so far is kept as a ticket, its number read out, and the call ends."""
    runtime = dataclasses.replace(recording(server_runtime, call_log, twilio_mode="gather", staff_available="never"),
                                  tickets=InMemoryTicketQueue())
    sid = "CA" + uuid.uuid4().hex
    with TestClient(create_app(runtime)) as client:
        post(client, "/twilio/voice", params(sid))
        runtime.draining = True  # SIGTERM came while the caller heard the greeting
        twiml = post(client, "/twilio/gather", params(sid, SpeechResult="ペットボトルは何ごみですか"))
        assert "<Hangup" in twiml and "<Gather" not in twiml and "<Dial" not in twiml, twiml
        assert runtime.active_calls() == 0
        record = record_of(call_log, sid)
    tickets = asyncio.run(runtime.tickets.list_open())
    assert [t.request.call_id for t in tickets] == [sid]
    assert (record.outcome, record.ticket_number) == (TICKET, tickets[0].number)  # "shutdown" is no failure
