"""AMI: the asyncio bridge over asterisk-ami, the staff line, and transfers of AudioSocket calls.

``AmiPeer`` is a small asyncio TCP server speaking the AMI text protocol the way Asterisk does:
the banner, ``Key: Value`` packets ending in a blank line, ActionID echoed, list actions as a
``Response`` then events then ``…Complete``, the connection closed after a refused login.
It records every action it receives and can emit events or drop every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from escalation.asterisk_staff import AsteriskStaffLine, queue_has_staff
from ivr.telephony.ami import RESULT_VARIABLE, AmiBridge, AmiLoginError, backoff_delay
from ivr.telephony.audiosocket_server import AudioSocketServer

USER, SECRET, QUEUE = "ivr-bot", "test-secret", "gomi-staff"
TZ = ZoneInfo("Asia/Tokyo")
WEDNESDAY_10 = datetime(2016, 6, 1, 10, 0, tzinfo=TZ)
SUNDAY_10 = datetime(2016, 6, 5, 10, 0, tzinfo=TZ)

pytestmark = pytest.mark.filterwarnings("ignore:notifyAll:DeprecationWarning")  # inside asterisk-ami


class AmiPeer:
    """Asterisk's manager port, as far as the bot uses it."""

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        self.members: list[dict[str, str]] = []  # QueueMember fields of the staff queue
        self.channels: dict[str, dict[str, str]] = {}  # name → {"uuid", "caller"}
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.StreamWriter, bool] = {}  # writer → logged in

    async def start(self) -> AmiPeer:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop(self) -> None:
        for writer in list(self._sessions):
            writer.close()
        self._sessions.clear()

    def named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a["Action"].lower() == name.lower()]

    def add_member(self, name: str, status: str = "1", paused: str = "0") -> None:
        self.members.append({"Name": name, "Location": f"PJSIP/{name}", "StateInterface": f"PJSIP/{name}",
                             "Membership": "static", "Penalty": "0", "CallsTaken": "0", "LastCall": "0",
                             "InCall": "0", "Status": status, "Paused": paused, "PausedReason": ""})

    def add_channel(self, name: str, call_id: str, caller: str) -> None:
        self.channels[name] = {"uuid": call_id, "caller": caller}

    def emit(self, event: str, **fields: str) -> None:
        for writer, logged_in in self._sessions.items():
            if logged_in:
                writer.write(packet({"Event": event, "Privilege": "call,all", **fields}))

    def user_event(self, channel: str) -> None:
        """What ``UserEvent(IvrCall,Uuid: …)`` in the dialplan produces."""
        info = self.channels[channel]
        self.emit("UserEvent", Channel=channel, ChannelState="6", ChannelStateDesc="Up",
                  CallerIDNum=info["caller"], CallerIDName="<unknown>", Uniqueid="1717203600.42",
                  UserEvent="IvrCall", Uuid=info["uuid"])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._sessions[writer] = False
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while writer in self._sessions:
                raw = (await reader.readuntil(b"\r\n\r\n")).decode()
                action = dict(line.split(": ", 1) for line in raw.strip().split("\r\n") if ": " in line)
                self.actions.append(action)
                for reply in self._answer(writer, action):
                    writer.write(packet(reply))
                await writer.drain()
        self._sessions.pop(writer, None)
        writer.close()

    def _answer(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> list[dict[str, str]]:
        name, aid = action.get("Action", "").lower(), {"ActionID": action.get("ActionID", "")}
        if name == "login":
            if action.get("Username") == USER and action.get("Secret") == SECRET:
                self._sessions[writer] = True
                return [{"Response": "Success", **aid, "Message": "Authentication accepted"},
                        {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}]
            self._sessions.pop(writer, None)  # Asterisk closes the session after a failed login
            return [{"Response": "Error", **aid, "Message": "Authentication failed"}]
        if not self._sessions.get(writer):
            return [{"Response": "Error", **aid, "Message": "Permission denied"}]
        if name == "ping":
            return [{"Response": "Success", **aid, "Ping": "Pong", "Timestamp": "1464742800.000000"}]
        if name == "queuesummary":
            reachable = [m for m in self.members if m["Status"] not in ("4", "5")]
            free = [m for m in reachable if m["Status"] in ("0", "1") and m["Paused"] == "0"]
            rows = [{"Event": "QueueSummary", "Queue": QUEUE, "LoggedIn": str(len(reachable)),
                     "Available": str(len(free)), "Callers": "0", "HoldTime": "0", "TalkTime": "0",
                     "LongestHoldTime": "0", **aid}]
            return event_list(aid, "Queue summary will follow", rows, "QueueSummaryComplete")
        if name == "queuestatus":
            rows = [{"Event": "QueueParams", "Queue": QUEUE, "Max": "0", "Strategy": "ringall", "Calls": "0",
                     "Holdtime": "0", "TalkTime": "0", "Completed": "0", "Abandoned": "0", **aid}]
            rows += [{"Event": "QueueMember", "Queue": QUEUE, **m, **aid} for m in self.members]
            return event_list(aid, "Queue status will follow", rows, "QueueStatusComplete")
        if name == "status":
            var = action.get("Variables", "")
            rows = [{"Event": "Status", "Privilege": "Call", "Channel": ch, "CallerIDNum": info["caller"],
                     "Context": "gomi-incoming", "Exten": "s", "Application": "AudioSocket", **aid,
                     **({"Variable": f"{var}={info['uuid']}"} if var == "IVR_UUID" else {})}
                    for ch, info in self.channels.items()]
            return event_list(aid, "Channel status will follow", rows, "StatusComplete")
        if name in ("redirect", "setvar"):
            if action.get("Channel") not in self.channels:
                return [{"Response": "Error", **aid, "Message": f"Channel does not exist: {action.get('Channel')}"}]
            message = "Redirect successful" if name == "redirect" else "Variable Set"
            return [{"Response": "Success", **aid, "Message": message}]
        return [{"Response": "Error", **aid, "Message": "Invalid/unknown command"}]


def packet(fields: dict[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()


def event_list(aid: dict[str, str], message: str, rows: list[dict[str, str]], done: str) -> list[dict[str, str]]:
    return [{"Response": "Success", **aid, "EventList": "start", "Message": message}, *rows,
            {"Event": done, **aid, "EventList": "Complete", "ListItems": str(len(rows))}]


async def until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 50)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


@pytest.fixture
async def peer():
    running = await AmiPeer().start()
    yield running
    await running.stop()


@pytest.fixture
async def ami(peer):
    bridge = AmiBridge("127.0.0.1", peer.port, USER, SECRET, backoff_base=0.05, backoff_cap=0.2)
    async with bridge.running():
        assert await bridge.wait_connected(5)
        yield bridge


# --- the link ----------------------------------------------------------------------------

async def test_login_success_and_a_refused_login_reported_as_such(peer, ami, caplog):
    assert ami.connected and ami.logins == 1
    assert peer.named("Login")[0]["Username"] == USER
    assert await ami.action("Ping") == {"ActionID": peer.actions[-1]["ActionID"], "Ping": "Pong",
                                        "Timestamp": "1464742800.000000"}

    caplog.set_level(logging.ERROR, "ivr.telephony.ami")
    wrong = AmiBridge("127.0.0.1", peer.port, USER, "wrong", backoff_base=0.05, backoff_cap=0.1)
    async with wrong.running():
        assert not await wrong.wait_connected(1.0)
        assert isinstance(wrong.last_error, AmiLoginError)
    assert "login to 127.0.0.1" in caplog.text and "refused (Authentication failed)" in caplog.text


async def test_a_dropped_link_is_reconnected_with_capped_exponential_backoff(peer, ami, caplog):
    assert [backoff_delay(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    peer.drop()  # Asterisk restarted
    await until(lambda: ami.logins == 2 and ami.connected)

    caplog.set_level(logging.INFO, "ivr.telephony.ami")
    port = peer.port
    await peer.stop()  # Asterisk down for a while: every attempt is refused
    await asyncio.sleep(1.0)
    delays = [float(r.getMessage().split(" in ")[1].split()[0])
              for r in caplog.records if "next connection" in r.getMessage()]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2], delays  # doubling, then capped
    assert not ami.connected

    peer.port = port
    await peer.start()  # back up on the same port
    await until(lambda: ami.connected, 5)
    assert ami.logins == 3


async def test_channels_are_learned_from_the_user_event_or_found_by_status(peer, ami):
    call_a, call_b = str(uuid.uuid4()), str(uuid.uuid4())
    peer.add_channel("PJSIP/trunk-00000001", call_a, "0742345678")
    peer.user_event("PJSIP/trunk-00000001")
    found = await ami.find_channel(call_a)
    assert found is not None and (found.name, found.caller_number) == ("PJSIP/trunk-00000001", "0742345678")
    assert not peer.named("Status")

    peer.add_channel("PJSIP/trunk-00000002", call_b, "<unknown>")  # its UserEvent was missed
    found = await ami.find_channel(call_b.upper(), wait=0.1)
    assert found is not None and (found.name, found.caller_number) == ("PJSIP/trunk-00000002", "")
    assert peer.named("Status")[0]["Variables"] == "IVR_UUID"
    assert await ami.find_channel(str(uuid.uuid4()), wait=0.1) is None

    hung_up: list[str] = []
    ami.on_hangup(hung_up.append)
    peer.emit("Hangup", Channel="PJSIP/trunk-00000001", Uniqueid="1717203600.42", Cause="16",
              **{"Cause-txt": "Normal Clearing"})
    peer.emit("Hangup", Channel="PJSIP/other-00000009", Cause="16")  # not one of ours
    await until(lambda: hung_up == [call_a])


# --- staff availability --------------------------------------------------------------------

@pytest.mark.parametrize("members, staffed, detail", [
    ([], False, False),  # nobody logged in: QueueSummary says so
    ([("staff1", "1", "0")], True, False),  # logged in and free: QueueSummary says so
    ([("staff1", "1", "1")], False, True),  # paused (away from the desk): QueueStatus tells
    ([("staff1", "2", "0"), ("staff2", "1", "1")], True, True),  # one on a call (will answer), one paused
    ([("staff1", "5", "0")], False, False),  # phone not registered: not logged in
])
async def test_staff_availability_from_the_queue(peer, ami, members, staffed, detail):
    for name, status, paused in members:
        peer.add_member(name, status, paused)
    assert await queue_has_staff(ami, QUEUE) is staffed
    assert bool(peer.named("QueueStatus")) == detail
    assert await queue_has_staff(ami, "no-such-queue") is False


async def test_the_staff_line_is_office_hours_and_the_queue_cached_and_hours_alone_without_ami(peer, ami, brain):
    hours = brain.kb.municipality.business_hours
    now = [0.0]
    line = AsteriskStaffLine(hours, ami, QUEUE, clock=lambda: now[0], cache_s=5.0)
    assert await line.available(WEDNESDAY_10) is False  # office hours, but nobody in the queue
    peer.add_member("staff1")
    assert await line.available(WEDNESDAY_10) is False  # cached for a few seconds
    now[0] = 6.0
    assert await line.available(WEDNESDAY_10) is True
    assert await line.available(SUNDAY_10) is False  # closed: the queue is not even asked
    assert len(peer.named("QueueSummary")) == 2

    down = AsteriskStaffLine(hours, AmiBridge("127.0.0.1", 1, USER, SECRET), QUEUE)  # never started
    assert await down.available(WEDNESDAY_10) is True and await down.available(SUNDAY_10) is False


# --- AudioSocket calls with AMI ------------------------------------------------------------

async def test_transfer_redirects_the_channel_a_goodbye_marks_the_end_and_a_hangup_ends_the_call(
        peer, ami, server_runtime):
    from test_audiosocket import AudioSocketPeer, answered, ask

    async with AudioSocketServer(server_runtime, ami, host="127.0.0.1", port=0, pace=False).running() as server:
        calls = {}
        for n in (1, 2, 3):
            channel = f"PJSIP/trunk-0000000{n}"
            caller = AudioSocketPeer(server.port)
            peer.add_channel(channel, caller.key, f"07423456{n:02d}")
            peer.user_event(channel)  # the dialplan's UserEvent comes just before AudioSocket()
            await caller.connect()
            await until(lambda c=caller: c.key in server_runtime.calls)
            calls[channel] = (caller, server_runtime.calls[caller.key])
        try:
            caller, call = calls["PJSIP/trunk-00000001"]
            await answered(call, 1)
            assert call.session.state.caller_number == "0742345601"  # from AMI: AudioSocket has no caller ID
            caller.dtmf("0")
            await asyncio.wait_for(caller.hangup.wait(), 30)
            assert peer.named("Redirect") == [{"Action": "Redirect", "Channel": "PJSIP/trunk-00000001",
                                              "Context": "gomi-staff", "Exten": "s", "Priority": "1",
                                              "ActionID": peer.named("Redirect")[0]["ActionID"]}]
            assert not peer.named("Setvar")  # a transfer must not look like a proper end

            caller, call = calls["PJSIP/trunk-00000002"]
            await answered(call, 1)
            record, _ = await ask(server_runtime, caller, call, "ありがとうございました、さようなら", transcribe=False)
            assert record.reply.action.value == "end", record
            await asyncio.wait_for(caller.hangup.wait(), 30)
            setvar = peer.named("Setvar")
            assert [(a["Channel"], a["Variable"], a["Value"]) for a in setvar] == [
                ("PJSIP/trunk-00000002", RESULT_VARIABLE, "end")]

            caller, call = calls["PJSIP/trunk-00000003"]
            peer.emit("Hangup", Channel="PJSIP/trunk-00000003", Cause="16", **{"Cause-txt": "Normal Clearing"})
            await until(lambda: call.ended and caller.key not in server_runtime.calls)
            await asyncio.wait_for(caller.closed.wait(), 5)
            assert len(peer.named("Redirect")) == 1  # a caller who hung up is not transferred
        finally:
            for caller, _ in calls.values():
                await caller.close()


async def test_an_oogata_call_is_redirected_to_the_oogata_desk_context_and_extension(peer, ami, server_runtime,
                                                                                     tmp_path):
    """routing.yaml gives 大型ごみ its own context/extension: the transfer Redirects there."""
    from test_audiosocket import AudioSocketPeer, answered
    from test_twilio import routed_runtime

    runtime = routed_runtime(server_runtime, tmp_path / "nara")
    async with AudioSocketServer(runtime, ami, host="127.0.0.1", port=0, pace=False).running() as server:
        caller = AudioSocketPeer(server.port)
        peer.add_channel("PJSIP/trunk-00000011", caller.key, "09012345678")
        peer.user_event("PJSIP/trunk-00000011")
        await caller.connect()
        try:
            await until(lambda: caller.key in runtime.calls)
            call = runtime.calls[caller.key]
            await answered(call, 1)
            caller.dtmf("3")  # 大型ごみ, in office hours (the runtime's clock: a Wednesday 10:00)
            await asyncio.wait_for(caller.hangup.wait(), 30)
            (redirect,) = peer.named("Redirect")
            assert (redirect["Channel"], redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
                "PJSIP/trunk-00000011", "gomi-desks", "oogata", "1")
            transfer = next(e for r in call.records for e in r.reply.events if e.kind == "transfer")
            assert transfer.data["reason"] == "oogata" and transfer.data["target"]["label"] == "大型ごみ受付"
        finally:
            await caller.close()


async def test_the_app_starts_and_stops_ami_and_audiosocket_with_one_shared_link(peer, brain, speech):
    import socket

    from escalation.tickets import InMemoryTicketQueue
    from ivr.config import Settings
    from ivr.server.app import create_app
    from ivr.server.runtime import Runtime

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings = Settings(host="127.0.0.1", audiosocket_port=free_port, ami_host="127.0.0.1", ami_port=peer.port,
                        ami_user=USER, ami_secret=SECRET)
    staff = AsteriskStaffLine.from_settings(settings, brain.kb.municipality.business_hours)  # as Runtime.load does
    runtime = Runtime(settings=settings, brain=brain, speech=speech, tickets=InMemoryTicketQueue(), staff=staff,
                      clock=lambda: WEDNESDAY_10)
    from test_audiosocket import AudioSocketPeer

    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        assert await staff.ami.wait_connected(5)
        peer.add_member("staff1")
        assert await staff.available(WEDNESDAY_10) is True
        caller = await AudioSocketPeer(free_port).connect()  # AudioSocket is listening
        peer.add_channel("PJSIP/trunk-00000007", caller.key, "0742000007")
        peer.user_event("PJSIP/trunk-00000007")
        await until(lambda: caller.key in runtime.calls)
    # shutting down mid-call hands the caller to staff rather than dropping them
    assert caller.hangup.is_set() and runtime.calls == {}
    assert [a["Channel"] for a in peer.named("Redirect")] == ["PJSIP/trunk-00000007"]
    await caller.close()
    assert len(peer.named("Login")) == 1 and not staff.ami.connected  # one link, shared, and closed
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", free_port)
