"""The Asterisk Manager Interface (AMI) link: transfers, the staff queue and hang-ups.

``asterisk-ami`` is synchronous (a socket and a listener thread calling back on every packet);
this module bridges it to asyncio without blocking the loop: connect, login and writes run on one
worker thread (one, so actions never interleave on the socket) and every packet is handed to the
loop with ``call_soon_threadsafe``, where responses are matched by ActionID and list actions
(QueueStatus, QueueSummary, Status) collect their events until ``…Complete``. A drop, or an
unanswered Ping, leads to a reconnect with capped exponential backoff; a refused login says so.

Calls are matched to channels through the dialplan (docker/asterisk/extensions.conf): it sets
``IVR_UUID`` (the UUID it gives AudioSocket()) and emits ``UserEvent(IvrCall)`` with it before
connecting, so the bot knows the channel name and caller ID; a missed event falls back to ``Status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asterisk.ami import Action, AMIClient

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

UUID_VARIABLE = "IVR_UUID"  # set by the dialplan, passed to AudioSocket(), listed in manager.conf channelvars
RESULT_VARIABLE = "IVR_RESULT"  # "end" (set by the bot) = a proper goodbye; anything else → staff
RESULT_END = "end"
CALL_EVENT = "IvrCall"  # the UserEvent the dialplan emits just before AudioSocket()

CONNECT_TIMEOUT_S = 3.0  # Asterisk accepts a TCP connect and answers Login in milliseconds on a LAN
ACTION_TIMEOUT_S = 3.0  # an action unanswered this long means Asterisk is stuck or the link is dead
BACKOFF_BASE_S = 0.5  # first retry soon: a restarted Asterisk accepts AMI again within a second or two
BACKOFF_CAP_S = 30.0  # never wait longer between attempts: transfers need the link back quickly
PING_INTERVAL_S = 10.0  # a link dead without a FIN (host gone, firewall) is noticed within this
CHANNEL_WAIT_S = 1.0  # the UserEvent precedes AudioSocket(); wait this long for one that lags
MAX_TRACKED_CALLS = 1000  # channels remembered for hang-ups; far above a city hotline's concurrent calls


class AmiError(RuntimeError):
    """An action failed, timed out, or there is no link."""


class AmiLoginError(AmiError):
    """Asterisk refused the user/secret: a configuration error, not a network one."""


@dataclass(frozen=True)
class AmiChannel:
    name: str  # e.g. PJSIP/trunk-00000012
    uuid: str
    caller_number: str = ""


def backoff_delay(failures: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    return min(cap, base * 2 ** min(failures, 32))


class _Client(AMIClient):
    """``AMIClient`` with three fixes: its timeout (for connect and responses) no longer applies to
    the listener's ``recv`` (an idle link "disconnected" after 3 s); ``disconnect`` shuts the socket
    down so the blocked listener wakes; a close before the banner is a disconnect, not a dead thread."""

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self._port), timeout=self._timeout)
        sock.settimeout(None)  # the listener blocks in recv; liveness is checked with Ping
        self._socket = sock
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self.listen, daemon=True, name="ami-listener")
        self._thread.start()

    def listen(self) -> None:
        try:
            super().listen()
        except Exception as exc:  # anything here means the link is unusable
            self._fire_on_disconnect(error=exc)

    def disconnect(self) -> None:
        if self.finished is not None:
            self.finished.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._timeout)


@dataclass
class _EventList:
    done: asyncio.Future[list[dict[str, Any]]]
    events: list[dict[str, Any]] = field(default_factory=list)


class AmiBridge:
    """One AMI connection for the whole server; ``running()`` keeps it up while the app runs."""

    def __init__(self, host: str, port: int, user: str, secret: str, *,
                 backoff_base: float = BACKOFF_BASE_S, backoff_cap: float = BACKOFF_CAP_S) -> None:
        self.host, self.port, self.user = host, port, user
        self._secret = secret
        self._backoff = (backoff_base, backoff_cap)
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: _Client | None = None
        self._opening: _Client | None = None  # set from the worker thread while logging in
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._lists: dict[str, _EventList] = {}
        self._channels: OrderedDict[str, AmiChannel] = OrderedDict()  # by UUID
        self._waiters: dict[str, asyncio.Future[AmiChannel]] = {}
        self._hangup_listeners: list[Callable[[str], None]] = []
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None
        self.logins = 0  # successful logins so far (a reconnect makes it 2)

    @classmethod
    def from_settings(cls, settings: Settings) -> AmiBridge:
        return cls(settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._connected.is_set()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ami")
        self._task = asyncio.create_task(self._run(), name="ami")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop_client()
        if self._executor is not None:  # runs after a login still in progress, so its client is closed too
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_opening)
            self._executor.shutdown(wait=False)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AmiBridge]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        return self.connected

    def on_hangup(self, listener: Callable[[str], None]) -> None:
        """``listener(uuid)`` runs in the loop when a tracked call's channel hangs up."""
        self._hangup_listeners.append(listener)

    # --- actions -----------------------------------------------------------------------

    async def action(self, name: str, **keys: str) -> dict[str, Any]:
        """Send one action; its response's keys, or ``AmiError`` (error, timeout, no link)."""
        return await self._send(name, keys, self._next_id())

    async def event_list(self, name: str, **keys: str) -> list[dict[str, Any]]:
        """A list action's events (each with its ``Event`` name), without the closing ``…Complete``."""
        action_id = self._next_id()
        collector = _EventList(asyncio.get_running_loop().create_future())
        self._lists[action_id] = collector
        try:
            await self._send(name, keys, action_id)
            async with asyncio.timeout(ACTION_TIMEOUT_S):
                return await collector.done
        except TimeoutError:
            raise AmiError(f"{name}: the event list did not complete in {ACTION_TIMEOUT_S} s") from None
        finally:
            self._lists.pop(action_id, None)
            if collector.done.done() and not collector.done.cancelled():
                collector.done.exception()  # a lost link failed it while _send raised: mark it seen

    async def redirect(self, channel: str, context: str, exten: str = "s", priority: int = 1) -> None:
        await self.action("Redirect", Channel=channel, Context=context, Exten=exten, Priority=str(priority))

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        await self.action("Setvar", Channel=channel, Variable=variable, Value=value)

    async def find_channel(self, uuid: str, wait: float = CHANNEL_WAIT_S) -> AmiChannel | None:
        """The channel running AudioSocket() with ``uuid``; None without a link or if it is gone."""
        uuid = uuid.lower()
        if uuid in self._channels or not self.connected:
            return self._channels.get(uuid)
        waiter = self._waiters.setdefault(uuid, asyncio.get_running_loop().create_future())
        try:
            async with asyncio.timeout(wait):
                return await asyncio.shield(waiter)
        except TimeoutError:
            pass
        finally:
            if self._waiters.get(uuid) is waiter and not waiter.done():
                del self._waiters[uuid]
        try:  # the UserEvent was missed (e.g. during a reconnect): ask every channel for the variable
            for status in await self.event_list("Status", Variables=UUID_VARIABLE):
                if str(status.get("Variable", "")).lower() == f"{UUID_VARIABLE}={uuid}".lower():
                    self._remember(status.get("Channel", ""), uuid, status.get("CallerIDNum", ""))
        except AmiError as exc:
            log.warning("AMI: no channel for call %s (%s)", uuid, exc)
        return self._channels.get(uuid)

    # --- the connection loop -----------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                client = await loop.run_in_executor(self._executor, self._open)
            except AmiLoginError as exc:
                self.last_error = exc
                log.error("AMI login to %s:%d as %r refused (%s): check IVR_AMI_USER/IVR_AMI_SECRET "
                          "against docker/asterisk/manager.conf", self.host, self.port, self.user, exc)
            except Exception as exc:  # network, protocol or library trouble: keep retrying
                self.last_error = exc
                log.warning("AMI %s:%d unreachable: %s", self.host, self.port, exc or type(exc).__name__)
            else:
                failures, self.last_error = 0, None
                self.logins += 1
                self._client, self._opening = client, None
                self._lost.clear()
                self._connected.set()
                log.info("AMI connected to %s:%d as %r", self.host, self.port, self.user)
                await self._watch()
                log.warning("AMI connection to %s:%d lost", self.host, self.port)
                self._drop_client()
            delay = backoff_delay(failures, *self._backoff)
            failures += 1
            log.info("AMI: next connection attempt in %.2f s", delay)
            await asyncio.sleep(delay)

    def _open(self) -> _Client:
        """Connect and log in (worker thread). The listener is bound to this client, so packets
        from an older connection that are still in flight are told apart and ignored."""
        client = _Client(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        self._opening = client
        client.add_listener(
            on_event=lambda source, event: self._post(self._on_event, client, event),
            on_response=lambda source, response: self._post(self._on_response, client, response),
            on_disconnect=lambda source, error=None: self._post(self._on_disconnect, client),
        )
        response = client.login(self.user, self._secret).response
        if response is None or response.is_error():
            client.disconnect()
            if response is None:
                raise AmiError("no answer to Login (is this an AMI port?)")
            raise AmiLoginError(response.keys.get("Message", "authentication failed"))
        return client

    def _close_opening(self) -> None:
        if self._opening is not None:
            self._opening.disconnect()
            self._opening = None

    async def _watch(self) -> None:
        """Return when the link is gone: the listener saw it close, or a Ping went unanswered."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_INTERVAL_S):
                    await self._lost.wait()
                return
            try:
                await self.action("Ping")
            except AmiError:
                return

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        for future in [*self._pending.values(), *(c.done for c in self._lists.values())]:
            if not future.done():
                future.set_exception(AmiError("AMI connection lost"))
        if client is not None and self._executor is not None:
            self._executor.submit(client.disconnect)

    async def _send(self, name: str, keys: dict[str, str], action_id: str) -> dict[str, Any]:
        client = self._client
        if client is None or self._executor is None:
            raise AmiError(f"{name}: not connected to AMI")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, client.send_action, Action(name, {**keys, "ActionID": action_id}))
            async with asyncio.timeout(ACTION_TIMEOUT_S):
                response = await future
        except OSError as exc:
            raise AmiError(f"{name}: {exc}") from exc
        except TimeoutError:
            raise AmiError(f"{name}: no response in {ACTION_TIMEOUT_S} s") from None
        finally:
            self._pending.pop(action_id, None)
        if response.is_error():
            raise AmiError(f"{name}: {response.keys.get('Message', 'error')}")
        return dict(response.keys)

    def _next_id(self) -> str:
        return f"ivr-{next(self._ids)}"

    # --- packets from the listener thread ------------------------------------------------

    def _post(self, handler: Callable[..., None], *args: Any) -> None:
        """Listener thread → loop. Must never raise: asterisk-ami would tear the link down."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening
                loop.call_soon_threadsafe(handler, *args)

    def _on_disconnect(self, client: _Client) -> None:
        if client is self._client:
            self._lost.set()

    def _on_response(self, client: _Client, response: Any) -> None:
        future = self._pending.get(response.keys.get("ActionID", "")) if client is self._client else None
        if future is not None and not future.done():
            future.set_result(response)

    def _on_event(self, client: _Client, event: Any) -> None:
        if client is not self._client:
            return
        keys: dict[str, Any] = dict(event.keys)
        collector = self._lists.get(str(keys.get("ActionID", "")))
        if collector is not None:
            if keys.get("EventList") == "Complete" or event.name.endswith("Complete"):
                if not collector.done.done():
                    collector.done.set_result(collector.events)
            else:
                collector.events.append({"Event": event.name, **keys})
        elif event.name == "UserEvent" and keys.get("UserEvent") == CALL_EVENT:
            self._remember(keys.get("Channel", ""), str(keys.get("Uuid", "")), keys.get("CallerIDNum", ""))
        elif event.name == "Hangup":
            self._on_hangup(keys)

    def _remember(self, channel: str, uuid: str, caller_number: str) -> None:
        uuid = uuid.strip().lower()
        if not channel or not uuid:
            return
        number = "" if caller_number in ("", "<unknown>") else caller_number
        info = self._channels[uuid] = AmiChannel(channel, uuid, number)
        self._channels.move_to_end(uuid)
        while len(self._channels) > MAX_TRACKED_CALLS:
            self._channels.popitem(last=False)
        waiter = self._waiters.pop(uuid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(info)

    def _on_hangup(self, keys: dict[str, Any]) -> None:
        variables = keys.get("ChanVariable")
        uuid = str(variables.get(UUID_VARIABLE, "")).lower() if isinstance(variables, dict) else ""
        if not uuid:
            channel = keys.get("Channel", "")
            uuid = next((u for u, info in self._channels.items() if info.name == channel), "")
        if not uuid:
            return
        self._channels.pop(uuid, None)
        for listener in self._hangup_listeners:
            try:
                listener(uuid)
            except Exception:
                log.exception("AMI hang-up listener failed for %s", uuid)
