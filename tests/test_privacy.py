"""Privacy: nothing leaves the machine, callers' numbers stay masked in logs, secrets stay out.

Whole calls run with every outbound connection attempt of this process recorded: a text call
through the simulator (an after-hours dumping report that becomes an urgent callback ticket, the
callback number keyed in, the urgent notice posted to a webhook on loopback), and an audio call
over Twilio Media Streams through a real in-process ``ivr serve`` on loopback (signed webhook,
signed websocket, a spoken question answered by Whisper and our TTS, a transfer), plus the staff
console and its REST API on the same server. Any connection, DNS lookup or datagram to anything but
loopback fails the test (and is refused, so nothing leaves even when it does).

What is watched: ``socket.socket.connect``/``connect_ex``, ``socket.create_connection``,
``socket.getaddrinfo``, asyncio's ``create_connection``/``sock_connect`` (patched), and, as a second
net for code holding its own references, the interpreter's audit events ``socket.connect``,
``socket.getaddrinfo``, ``socket.gethostbyname`` and ``socket.sendto``. The server runs on
asyncio's own loop here, not uvloop (whose C code raises no audit events and bypasses the patches);
the loop changes nothing in what our code connects to. The TTS worker process is not watched: it
gets text over a pipe and returns audio.

Logs are captured as ``ivr serve`` logs (INFO; DEBUG for our own loggers): the caller's full
number must never appear, in any spelling; its masked form (``escalation.privacy.mask_number``)
may. The Twilio auth token, a staff password (right or wrong), and an API token never appear in
logs or in a page or error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_twilio_stream import FakeTwilio, after_stream, answer_call, sign, wait_gone

from conftest import free_port, uvicorn_thread
from escalation.accounts import StaffAccounts
from escalation.notify import Notifier, NotifyingQueue
from escalation.privacy import mask_number
from escalation.store import TicketStore
from ivr.dialogue.turns import CallerTurn
from ivr.server.app import create_app
from simulator.runtime import Simulator

TOKEN = "test-auth-token"  # server_runtime's Twilio auth token
PASSWORD = "kami-hikouki 2026 secret"
WRONG_PASSWORD = "not-her-password-7731"
STAFF = "+81742340000"
CALLER = "+819012345678"  # what test_twilio_stream's fake Twilio sends as From
SIM_CALLER = "09087654321"
KEYED = "09011112222"  # a callback number keyed in during the call
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def spellings(number: str) -> set[str]:
    """The full number as it might be written: +81 form, national form, digits with separators."""
    digits = re.sub(r"\D", "", number)
    national = "0" + digits[2:] if number.startswith("+81") else digits
    forms = {number, digits, national, "+81" + national[1:], "81" + national[1:]}
    if len(national) == 11:
        forms |= {f"{national[:3]}-{national[3:7]}-{national[7:]}", f"{national[:3]} {national[3:7]} {national[7:]}"}
    return forms


# --- the recorder ---------------------------------------------------------------------------


def is_local(host: object) -> bool:
    if host is None or host in ("", b""):
        return True  # getaddrinfo(None, port): a passive (bind) lookup
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name other than localhost: a DNS lookup would leave the machine


class Outbound:
    """Every connection attempt, lookup and datagram of the process while active."""

    def __init__(self) -> None:
        self.active = False
        self.local: list[tuple[str, object]] = []
        self.remote: list[tuple[str, object, str]] = []
        self._lock = threading.Lock()

    def check(self, what: str, address: object, *, block: bool = True) -> None:
        if not self.active:
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if isinstance(address, (str, bytes)) and what.endswith("connect"):
            host = "localhost"  # an AF_UNIX path
        with self._lock:
            if is_local(host):
                self.local.append((what, address))
                return
            self.remote.append((what, address, threading.current_thread().name))
        if block:
            raise OSError(f"privacy test: {what} to {address!r} refused (not loopback)")

    def audit(self, event: str, args: tuple) -> None:
        """sys.addaudithook: the C-level events, whoever calls them (never raises)."""
        if not self.active:
            return
        if event in ("socket.connect", "socket.sendto"):
            self.check(event, args[1], block=False)
        elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
            self.check(event, args[0], block=False)


RECORDER = Outbound()
_hook_installed = False


@pytest.fixture
def outbound(monkeypatch) -> Iterator[Outbound]:
    global _hook_installed
    if not _hook_installed:  # audit hooks cannot be removed: one for the process, idle unless active
        sys.addaudithook(RECORDER.audit)
        _hook_installed = True
    rec = RECORDER
    rec.local.clear()
    rec.remote.clear()

    def wrap_method(cls, name: str, arg: int) -> None:
        original = getattr(cls, name)

        def patched(self, *args, **kwargs):
            rec.check(f"{cls.__name__}.{name}", args[arg] if len(args) > arg else kwargs.get("address"))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, patched)

    wrap_method(socket.socket, "connect", 0)
    wrap_method(socket.socket, "connect_ex", 0)
    original_create, original_gai = socket.create_connection, socket.getaddrinfo

    def create_connection(address, *args, **kwargs):
        rec.check("socket.create_connection", address)
        return original_create(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        rec.check("socket.getaddrinfo", host)
        return original_gai(host, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    original_loop_create = asyncio.base_events.BaseEventLoop.create_connection

    async def loop_create_connection(self, protocol_factory, host=None, port=None, *args, **kwargs):
        if host is not None:
            rec.check("loop.create_connection", host)
        return await original_loop_create(self, protocol_factory, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", loop_create_connection)
    original_sock_connect = asyncio.selector_events.BaseSelectorEventLoop.sock_connect

    async def sock_connect(self, sock, address):
        rec.check("loop.sock_connect", address)
        return await original_sock_connect(self, sock, address)

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", sock_connect)
    rec.active = True
    try:
        yield rec
    finally:
        rec.active = False


@pytest.fixture
def logs(caplog) -> pytest.LogCaptureFixture:
    """Logs as ``ivr serve`` writes them (INFO), our own loggers down to DEBUG."""
    caplog.set_level(logging.INFO)
    for name in ("ivr", "escalation", "simulator"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as written, with its arguments and any traceback."""
    parts = []
    for r in caplog.records:
        parts += [r.getMessage(), repr(r.args), r.exc_text or ""]
        if r.exc_info and r.exc_info[1] is not None:
            parts.append(repr(r.exc_info[1]))
    return "\n".join(parts)


def test_the_recorder_sees_and_refuses_a_remote_connection(outbound):
    """The net works: a connection, a lookup and an asyncio connection to the outside are caught."""
    with pytest.raises(OSError, match="privacy test"):
        socket.create_connection(("192.0.2.1", 9), timeout=0.2)  # TEST-NET-1: never routed anyway
    with pytest.raises(OSError, match="privacy test"):
        socket.getaddrinfo("example.invalid", 80)

    async def reach_out() -> None:
        with pytest.raises(OSError, match="privacy test"):
            await asyncio.open_connection("198.51.100.7", 443)

    asyncio.run(reach_out())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, contextlib.suppress(OSError):
        udp.sendto(b"x", ("203.0.113.9", 53))  # a datagram: only the audit hook sees it
    seen = {address[0] if isinstance(address, tuple) else address for _, address, _ in outbound.remote}
    assert {"192.0.2.1", "example.invalid", "198.51.100.7", "203.0.113.9"} <= seen, outbound.remote
    outbound.remote.clear()


# --- a text call through the simulator, with an urgent ticket -----------------------------------


async def text_call(brain, tmp_path: Path, closed_port: int) -> tuple[list, Notifier, TicketStore]:
    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    notifier = Notifier(f"http://127.0.0.1:{closed_port}/urgent", attempts=2, backoff_s=0.01)
    sim = Simulator.from_brain(brain, "2016-06-27T20:00")  # a Monday evening: staff have gone home
    sim.tickets = NotifyingQueue(store, notifier)
    session = sim.session(caller_number=SIM_CALLER)
    replies = [await session.start()]
    for turn in (
        CallerTurn.speech("不法投棄を見つけたんですが"),
        CallerTurn.speech("青山の空き地に冷蔵庫が捨てられています"),
        CallerTurn.speech("いいえ"),  # not the number I am calling from …
        CallerTurn.dtmf(KEYED),  # … this one
        CallerTurn.speech("山田です"),
        CallerTurn.speech("いいえ"),
    ):
        replies.append(await session.handle(turn))
    await notifier.drain()  # the urgent notice: posted (to a closed loopback port), retried, given up
    return replies, notifier, store


def test_a_text_call_with_a_ticket_stays_on_the_machine(brain, outbound, logs, tmp_path):
    replies, _, store = asyncio.run(text_call(brain, tmp_path, free_port()))
    events = [e for r in replies for e in r.events]
    assert any(e.kind == "ticket" for e in events), [r.text for r in replies]
    [record] = store.query()
    assert record.callback_number == KEYED and record.caller_number == SIM_CALLER and record.urgency == "urgent"
    assert replies[-1].action.value == "end"
    assert not outbound.remote, outbound.remote
    assert any(what.endswith("connect") for what, _ in outbound.local), "the webhook attempt was not seen"
    text = logged_text(logs)
    assert "webhook" in text and mask_number(SIM_CALLER) in text  # the notice failed; its log masks the caller
    for number in (SIM_CALLER, KEYED):
        leaked = [form for form in spellings(number) if form in text]
        assert not leaked, f"{leaked} in the logs"


# --- an audio call, the console and the API on a real server ---------------------------------


@contextlib.contextmanager
def asyncio_server(app: object) -> Iterator[str]:
    """conftest's ``uvicorn_thread`` on asyncio's loop (see the module docstring), logging at INFO as
    ``ivr serve`` does: the access log (paths and queries) is part of what must not leak."""
    with uvicorn_thread(app, log_level="info", loop="asyncio") as host:
        yield host


@pytest.fixture
def served(server_runtime, tmp_path):
    """The shared models with this test's own ticket store, staff account and state folder."""
    settings = server_runtime.settings.model_copy(
        update={"staff_number": STAFF, "state_dir": tmp_path, "cookie_secure": False}
    )
    store = TicketStore.from_url(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts = StaffAccounts(store.engine)
    accounts.add("山田", PASSWORD)
    runtime = dataclasses.replace(
        server_runtime,
        settings=settings,
        calls={},
        store=store,
        accounts=accounts,
        tickets=NotifyingQueue(store, Notifier()),
    )
    return runtime


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_an_audio_call_and_the_console_stay_on_the_machine(served, outbound, logs):
    runtime = served
    app = create_app(runtime)
    api_token = runtime.accounts.create_token("山田")
    bodies: list[str] = []
    with asyncio_server(app) as host:
        for name in ("uvicorn", "uvicorn.access"):  # uvicorn's loggers do not propagate to caplog's
            logging.getLogger(name).addHandler(logs.handler)
        # the call: signed webhook, signed websocket with its one-time token, a question, then 0 → staff
        sid = "CA" + "privacy".ljust(32, "0")
        token = await answer_call(host, sid)
        speech = await asyncio.to_thread(runtime.speech.tts.synthesize, "スプレー缶の捨て方")
        async with FakeTwilio.open(host, sid) as twilio:
            await twilio.start(token)
            await twilio.until(lambda: len(twilio.audio) > 0)
            await twilio.say(speech)
            await twilio.until(lambda: "prompt-2" in twilio.prompts)
            await twilio.dtmf("0")
            await twilio.until(lambda: twilio.close_code is not None)
        assert twilio.close_code == 1000
        await wait_gone(runtime, sid)
        dial = (await after_stream(host, sid)).find("Dial")
        assert dial is not None and dial.text == STAFF

        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            # webhooks refused: no signature, the auth token itself as the "signature", a forged one
            params = {"CallSid": sid, "From": CALLER}
            for headers in ({}, {"X-Twilio-Signature": TOKEN}, sign("/elsewhere", params)):
                r = await client.post("/twilio/voice", data=params, headers=headers)
                assert r.status_code == 403
                bodies.append(r.text)
            # the console: a wrong password, then the right one
            page = await client.get("/staff/login")
            r = await client.post(
                "/staff/login", data={"csrf": csrf_of(page.text), "name": "山田", "password": WRONG_PASSWORD}
            )
            assert r.status_code == 401, r.text
            bodies.append(r.text)
            page = await client.get("/staff/login")
            r = await client.post(
                "/staff/login", data={"csrf": csrf_of(page.text), "name": "山田", "password": PASSWORD}
            )
            assert r.status_code == 303, r.text
            for path in (
                "/staff/",
                "/staff/live",
                "/staff/live.json",
                "/staff/search?q=5678",
                "/staff/tickets/999999",
                "/staff/nowhere",
            ):
                bodies.append((await client.get(path)).text)
        async with httpx.AsyncClient(base_url=f"http://{host}/staff/api/v1") as api:
            good = {"Authorization": f"Bearer {api_token}"}
            assert (await api.get("/tickets", headers=good)).status_code == 200
            for headers, path in (
                (good, "/tickets/999999"),
                ({"Authorization": f"Bearer {api_token}x"}, "/tickets"),
                ({"Authorization": f"Bearer {PASSWORD}"}, "/tickets"),
            ):
                r = await api.get(path, headers=headers)
                assert r.status_code in (401, 404), r.text
                bodies.append(r.text)
            r = await api.patch("/tickets/1", headers=good, content=b"{not json")
            assert 400 <= r.status_code < 500
            bodies.append(r.text)

    assert not outbound.remote, outbound.remote
    assert any(what.endswith("connect") for what, _ in outbound.local), "the test's own connections were not seen"
    text = logged_text(logs)
    for name in ("uvicorn", "uvicorn.access"):
        logging.getLogger(name).removeHandler(logs.handler)
    assert f"call {sid}" in text and "/twilio/media" in text  # the call's and the access log were captured
    leaked = [form for form in spellings(CALLER) if form in text]
    assert not leaked, f"{leaked} in the logs"
    for secret in (TOKEN, PASSWORD, WRONG_PASSWORD, api_token):
        assert secret not in text, "a secret in the logs"
        assert not [b for b in bodies if secret in b], "a secret in a page or error body"
