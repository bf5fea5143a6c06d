"""Stopping and sharing: SIGTERM to a real `ivr serve` hands the call in progress to staff before the
process exits 0 (a media stream call, and a gather call between two webhooks); and two processes
writing tickets to one database never give two callers one number (two whole servers taking
tickets through calls: test_two_servers.py).

The server runs as a subprocess, as in production (see test_ticket_durability.py); the calls are
signed with the real ``twilio`` library; the streamed one is spoken by test_twilio_stream's fake
Twilio side (it echoes marks as Twilio does once audio has played).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from test_ticket_durability import _start
from test_twilio_stream import PUBLIC, STAFF, TOKEN, FakeTwilio, after_stream, answer_call, sign

from analytics.records import TRANSFERRED
from analytics.store import CallLog
from conftest import free_port
from escalation.db import make_engine
from escalation.store import TicketStore

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 1.0  # IVR_SHUTDOWN_GRACE_S for the test: the call is handed over a second after SIGTERM
EXIT_WITHIN_S = 45.0  # grace + the apology (~8.5 s, paced) + AFTER_STREAM_S + uvicorn's own stop, with slack
APOLOGY_MIN_BYTES = 6 * 8000  # the hand-over apology is ~8.5 s of μ-law at 8 kHz
PAST_GRACE_S = GRACE_S + 2.0  # a drain that forgot the gather call has exited by now (it had no audio call)
GATHER_EXIT_S = 15.0  # after the hand-over webhook: AFTER_STREAM_S + uvicorn's own stop, with slack


def test_sigterm_hands_the_call_in_progress_to_staff_then_exits_0(tmp_path):
    port = free_port()
    env = {**os.environ, "IVR_STATE_DIR": str(tmp_path / "state"), "IVR_DATABASE_URL": "",
           "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC, "IVR_TWILIO_MODE": "stream",
           "IVR_STAFF_NUMBER": STAFF, "IVR_STAFF_AVAILABLE": "always", "IVR_HOST": "127.0.0.1",
           "IVR_SHUTDOWN_GRACE_S": str(GRACE_S)}
    log = tmp_path / "serve.log"
    server = _start(env, port, log)
    try:
        stopped_at, after = asyncio.run(_call_through_sigterm(server, f"127.0.0.1:{port}"))
        code = server.wait(EXIT_WITHIN_S)
        took = time.monotonic() - stopped_at
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert took < EXIT_WITHIN_S
    dial = after.find("Dial")
    assert dial is not None and dial.text == STAFF, ET.tostring(after)  # Twilio puts the caller through to staff
    assert "handed on (the server is stopping)" in text and "no calls left" in text, text[-3000:]


async def _call_through_sigterm(server: subprocess.Popen, base_url: str) -> tuple[float, ET.Element]:
    sid = "CA" + uuid.uuid4().hex
    token = await answer_call(base_url, sid)
    async with FakeTwilio.open(base_url, sid) as twilio:
        await twilio.start(token)
        await twilio.until(lambda: len(twilio.audio) >= 8000)  # a second of the greeting: the call is up
        server.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        await _new_calls_go_to_staff(base_url)
        await twilio.until(lambda: twilio.close_code is not None, timeout=EXIT_WITHIN_S)
        assert twilio.close_code == 1000  # closed by us, after the notice: not dropped (1006) or 1012
        assert twilio.clears, "the greeting was not cut for the hand-over"
        last = max(twilio.prompts, key=lambda name: int(name.rsplit("-", 1)[1]))
        assert len(twilio.prompts[last]) >= APOLOGY_MIN_BYTES, "the apology was not played (and heard) first"
    after = await after_stream(base_url, sid)  # Twilio asks the <Connect action> at once: the server still answers
    return stopped_at, after


async def _new_calls_go_to_staff(base_url: str) -> None:
    """While the server drains, a new call is answered with <Dial> to staff, not the bot."""
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+819012345679", "To": "+81742000000",
              "AccountSid": "AC" + "0" * 32}
    for _ in range(50):  # the signal is handled within a loop tick
        async with httpx.AsyncClient(base_url=f"http://{base_url}") as client:
            r = await client.post("/twilio/voice", data=params, headers=sign("/twilio/voice", params))
        assert r.status_code == 200, r.text
        if ET.fromstring(r.text).find("Dial") is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"a call during the drain still went to the bot: {r.text}")


WRITER = """
import sys, time
from escalation.store import TicketStore
from escalation.tickets import TicketRequest

url, name, start, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
store = TicketStore.from_url(url, upgrade=False)
while time.time() < start:  # both processes begin together
    time.sleep(0.001)
numbers = []
for i in range(count):
    ticket = store.create_sync(TicketRequest(call_id=f"{name}-{i}", topic="callback", summary="shared store",
                                             caller_number=f"090{name}{i:06d}"))
    numbers.append(ticket.number)
print(" ".join(numbers))
"""


def test_two_processes_on_one_database_never_share_a_ticket_number(db_url):
    """Two servers on one PostgreSQL (or one SQLite file) creating tickets at the same moment: each
    number is the database's (an identity column), so no two callers are told the same one."""
    TicketStore.from_url(db_url).dispose()  # the schema, as `ivr db upgrade` makes it
    count = 60
    start = time.time() + 3.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, name, str(start), str(count)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("1", "2")]
    results = [w.communicate(timeout=120) for w in writers]
    for writer, (_, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err[-2000:]
    numbers = [n for out, _ in results for n in out.split()]
    assert len(numbers) == 2 * count and len(set(numbers)) == 2 * count, sorted(numbers)
    store = TicketStore.from_url(db_url, upgrade=False)
    try:
        stored = store.query(limit=None)
        assert sorted(t.number for t in stored) == sorted(numbers)
    finally:
        store.dispose()


def _webhook(port: int, path: str, data: dict[str, str]) -> ET.Element:
    r = httpx.post(f"http://127.0.0.1:{port}{path}", data=data, headers=sign(path, data), timeout=60)
    assert r.status_code == 200, r.text
    return ET.fromstring(r.text)


def active_calls(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text  # a loopback scrape
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "ivr_active_calls")


def test_sigterm_answers_a_gather_calls_next_webhook_with_the_hand_over_then_exits_0(tmp_path):
    """A gather call is in no socket between webhooks: the drain waits for its next one, answers it
    with the apology and <Dial> (as a failure is answered), serves the clip, then exits 0."""
    port = free_port()
    state = tmp_path / "state"
    env = {**os.environ, "IVR_STATE_DIR": str(state), "IVR_DATABASE_URL": "",
           "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC, "IVR_TWILIO_MODE": "gather",
           "IVR_STAFF_NUMBER": STAFF, "IVR_STAFF_AVAILABLE": "always", "IVR_HOST": "127.0.0.1",
           "IVR_SHUTDOWN_GRACE_S": str(GRACE_S)}
    log = tmp_path / "serve.log"
    server = _start(env, port, log)
    sid = "CA" + uuid.uuid4().hex
    call = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+819012345678", "To": "+81742000000",
            "CallStatus": "in-progress"}
    try:
        assert active_calls(port) == 0
        assert _webhook(port, "/twilio/voice", call).find("Gather") is not None  # the greeting
        assert active_calls(port) == 1  # between webhooks, still a call in progress
        server.send_signal(signal.SIGTERM)
        time.sleep(PAST_GRACE_S)  # the caller is still hearing the greeting
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        handover = _webhook(port, "/twilio/gather", {**call, "SpeechResult": "ペットボトルは何ごみですか",
                                                     "Confidence": "0.9"})
        assert handover.find("Gather") is None and handover.find("Dial").text == STAFF, ET.tostring(handover)
        play = handover.find("Play")  # the apology, in our voice: Twilio fetches it right away
        assert play is not None and play.text.startswith(PUBLIC)
        clip = httpx.get(f"http://127.0.0.1:{port}{play.text.removeprefix(PUBLIC)}", timeout=10)
        assert clip.status_code == 200 and clip.headers["content-type"] == "audio/wav"
        answered_at = time.monotonic()
        code = server.wait(GATHER_EXIT_S)
        took = time.monotonic() - answered_at
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    text = log.read_text(errors="replace")
    assert code == 0 and took < GATHER_EXIT_S, text[-3000:]
    assert "1 Twilio gather" in text and f"call {sid}: handed on (the server is stopping)" in text, text[-3000:]
    engine = make_engine(f"sqlite:///{state / 'ivr.db'}")
    try:
        record = CallLog(engine).get(sid)  # written before the process exited
    finally:
        engine.dispose()
    assert record is not None and (record.outcome, record.reason) == (TRANSFERRED, "shutdown")
