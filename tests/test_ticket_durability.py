"""Crash safety: a ticket taken on a real `ivr serve` survives SIGKILL, on SQLite and PostgreSQL.

The server runs as a subprocess, as in production; the call comes over the Twilio webhook
protocol (gather mode: the caller's speech arrives as text, signed by the real ``twilio``
library), staff are away (``IVR_STAFF_AVAILABLE=never``), so the bot takes a callback ticket. The
moment the ticket is in the database the bot is telling the caller its number; the server is then
killed with SIGKILL (no shutdown hooks), started again, and the ticket must be there, whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from conftest import free_port
from escalation.store import TicketStore

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "durability-token"
START_TIMEOUT_S = 180  # a cold start assembles Whisper and renders prompts once
CALLER = "+819012345678"
# What the caller says, turn by turn: the request, the details, yes to the caller-ID read-back,
# the name. Extra turns cover a bot that asks once more.
SCRIPT = ["不法投棄を見つけたんですが", "青山の空き地に冷蔵庫が捨てられています", "はい", "山田です", "山田太郎です"]


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "ivr"), "serve", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-3000:]) from None
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"ivr serve did not start in {START_TIMEOUT_S} s")


def _webhook(port: int, path: str, data: dict[str, str]) -> str:
    url = f"http://127.0.0.1:{port}{path}"
    signature = RequestValidator(TOKEN).compute_signature(url, data)
    r = httpx.post(url, data=data, headers={"X-Twilio-Signature": signature}, timeout=60)
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture
def database_url(db_url: str) -> str:
    """'' on the SQLite run: the default, a file under IVR_STATE_DIR that `ivr serve` upgrades itself;
    on the PostgreSQL run, conftest's fresh schema on the server .ci/run started."""
    return "" if db_url.startswith("sqlite") else db_url


def test_a_ticket_survives_sigkill_of_the_server(database_url, tmp_path):
    state = tmp_path / "state"
    port = free_port()
    env = {**os.environ, "IVR_STATE_DIR": str(state), "IVR_DATABASE_URL": database_url,
           "IVR_TWILIO_AUTH_TOKEN": TOKEN, "IVR_TWILIO_MODE": "gather", "IVR_STAFF_AVAILABLE": "never",
           "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}", "IVR_HOST": "127.0.0.1"}
    if database_url:  # PostgreSQL is upgraded by the operator, as the README says
        subprocess.run([str(ROOT / ".venv" / "bin" / "ivr"), "db", "upgrade"], env=env, check=True,
                       capture_output=True, timeout=120)
    url = database_url or f"sqlite:///{state / 'ivr.db'}"
    log = tmp_path / "serve.log"
    server = _start(env, port, log)
    call = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": CALLER,
            "To": "+81742000000", "CallStatus": "in-progress"}
    try:
        _webhook(port, "/twilio/voice", call)
        store = TicketStore.from_url(url, upgrade=False)
        for said in SCRIPT:
            _webhook(port, "/twilio/gather", {**call, "SpeechResult": said, "Confidence": "0.9"})
            if store.query():
                break
        tickets = store.query()
        assert len(tickets) == 1, log.read_text(errors="replace")[-3000:]
    finally:
        server.send_signal(signal.SIGKILL)  # no lifespan shutdown, no flush: as a power cut
        server.wait(30)

    server = _start(env, port, log)
    try:
        after = TicketStore.from_url(url, upgrade=False).query()
        assert [t.number for t in after] == [tickets[0].number]
        ticket = after[0]
        assert ticket.reason == "illegal_dumping" and ticket.status == "open"
        assert ticket.caller_number and ticket.caller_number[-4:] == "5678"
        assert ticket.callback_number.endswith("12345678")
        said = [line.text for line in ticket.transcript if line.speaker == "caller"]
        assert said[:2] == SCRIPT[:2], ticket.transcript  # the caller's own words, in order
        assert all(line.at is not None for line in ticket.transcript)
        assert "冷蔵庫" in ticket.summary
        assert [a.action for a in ticket.audit][:1] == ["created"]
    finally:
        server.terminate()
        server.wait(30)
