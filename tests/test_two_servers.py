"""Two `ivr serve` processes on one PostgreSQL database, taking callback tickets at the same time
through real calls: no two callers are told the same ticket number, and every ticket is stored.

This is the issue's setup for a second instance (issue 15): both servers are whole `ivr serve`
subprocesses on one database (upgraded once by `ivr db upgrade`, as the README tells an operator),
each answering Twilio gather calls signed with the real ``twilio`` library. Staff are out
(``IVR_STAFF_AVAILABLE=never``), so each caller reporting dumped rubbish is given a ticket whose
number the bot reads out, then hangs up (the status callback); the calls on both servers run at
once, so the tickets are made within moments of each other. (test_shutdown.py has the bare-store
version, on SQLite and PostgreSQL.)
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from analytics.records import TICKET
from analytics.store import CallLog
from conftest import free_port
from escalation.db import make_engine
from escalation.store import TicketStore

ROOT = Path(__file__).resolve().parent.parent
IVR = str(ROOT / ".venv" / "bin" / "ivr")
TOKEN = "two-servers-token"
START_TIMEOUT_S = 180  # a cold start assembles Whisper and renders prompts once; two at once share 2 cores
CALLS_PER_SERVER = 3  # 6 tickets in all, within a few seconds of each other
CALL_TIMEOUT_S = 60  # one webhook, synthesis of the reply included, on a machine also running the other server
RECORD_WAIT_S = 10.0  # call records are written in a worker thread after the call ends
# The caller's turns (test_ticket_durability's): dumped rubbish, where, yes to the caller-ID read-back,
# the name; extra turns cover a bot that asks once more.
SCRIPT = ["不法投棄を見つけたんですが", "青山の空き地に冷蔵庫が捨てられています", "はい", "山田です", "山田太郎です"]


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen([IVR, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def _until_up(server: subprocess.Popen, port: int, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-3000:]) from None
            time.sleep(0.5)
    raise RuntimeError(f"ivr serve on {port} did not start in {START_TIMEOUT_S} s")


def _post(port: int, path: str, data: dict[str, str]) -> httpx.Response:
    url = f"http://127.0.0.1:{port}{path}"  # IVR_PUBLIC_URL is this address: it is what Twilio signs
    signature = RequestValidator(TOKEN).compute_signature(url, data)
    return httpx.post(url, data=data, headers={"X-Twilio-Signature": signature}, timeout=CALL_TIMEOUT_S)


def _webhook(port: int, path: str, data: dict[str, str]) -> ET.Element:
    r = _post(port, path, data)
    assert r.status_code == 200, r.text
    return ET.fromstring(r.text)


def _call(port: int, call_sid: str, caller: str, store: TicketStore, start: threading.Barrier,
          ticketed: dict[str, bool]) -> None:
    """One caller on one server: the greeting, the script until the bot has taken the ticket (and
    is reading its number out), then the caller hangs up."""
    call = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": "+81742000000",
            "CallStatus": "in-progress"}
    start.wait(timeout=CALL_TIMEOUT_S)  # every call on both servers begins together
    _webhook(port, "/twilio/voice", call)
    for said in SCRIPT:
        reply = _webhook(port, "/twilio/gather", {**call, "SpeechResult": said, "Confidence": "0.9"})
        assert reply.find("Gather") is not None or reply.find("Hangup") is not None, ET.tostring(reply)
        if any(call_sid in t.call_ids for t in store.query(limit=None)):
            ticketed[call_sid] = True
            break
    assert _post(port, "/twilio/status", {**call, "CallStatus": "completed"}).status_code == 204


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # skipped without IVR_TEST_POSTGRES_URL; CI has it
def test_two_servers_on_one_database_give_every_caller_their_own_ticket_number(db_url, tmp_path):
    base = {**os.environ, "IVR_DATABASE_URL": db_url, "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_TWILIO_MODE": "gather",
            "IVR_STAFF_AVAILABLE": "never", "IVR_HOST": "127.0.0.1"}
    subprocess.run([IVR, "db", "upgrade"], env=base, check=True, capture_output=True, timeout=120)  # as an operator
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"serve-{n}.log" for n in (1, 2)]
    servers = [_start({**base, "IVR_STATE_DIR": str(tmp_path / f"state-{n}"), "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                      port, log) for n, (port, log) in enumerate(zip(ports, logs, strict=True), 1)]
    calls: list[tuple[int, str, str]] = [(port, "CA" + uuid.uuid4().hex, f"+8190{n}{i}{n}45678")
                                         for n, port in enumerate(ports, 1) for i in range(CALLS_PER_SERVER)]
    ticketed: dict[str, bool] = {}
    store = TicketStore.from_url(db_url, upgrade=False)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        for server, port, log in zip(servers, ports, logs, strict=True):
            _until_up(server, port, log, deadline)
        start = threading.Barrier(len(calls))
        threads = [threading.Thread(target=_call, args=(port, sid, caller, store, start, ticketed))
                   for port, sid, caller in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CALL_TIMEOUT_S * (len(SCRIPT) + 1))
    finally:
        for server in servers:
            server.terminate()  # SIGTERM: the drain, then exit 0 (no call is left in progress)
        codes = [server.wait(60) for server in servers]
    sids = [sid for _, sid, _ in calls]
    text = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
    assert all(ticketed.get(sid) for sid in sids), (ticketed, text)
    assert codes == [0, 0], text

    engine = make_engine(db_url)
    try:
        tickets = store.query(limit=None)
        records = [CallLog(engine).get(sid) for sid in sids]
    finally:
        store.dispose()
        engine.dispose()
    numbers = [t.number for t in tickets]
    assert len(tickets) == len(calls) and len(set(numbers)) == len(calls), numbers  # all stored, none shared
    by_call = {call_id: t.number for t in tickets for call_id in t.call_ids}
    assert sorted(by_call) == sorted(sids)  # one ticket per call, on whichever server took it
    for sid, record in zip(sids, records, strict=True):  # the number each caller was told is the stored one
        assert record is not None and record.outcome == TICKET and record.ticket_number == by_call[sid], record
