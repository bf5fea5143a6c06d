"""Twilio Media Streams messages as plain data: parse what Twilio sends, build what we send.

Pure functions and one small buffer, no I/O, so the protocol can be tested without sockets and
the websocket handler stays about call control. Field names follow Twilio's "Media Streams -
WebSocket Messages" page exactly: inbound ``connected``, ``start``, ``media``, ``dtmf``, ``mark``,
``stop``; outbound ``media``, ``mark`` and ``clear``, each carrying the ``streamSid``.

Anything that is not a well-formed message raises ``ProtocolError`` (a ``ValueError``): the
handler counts it and carries on, because one bad message must not end a caller's call.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ivr.audio.codec import FRAME_SAMPLES, ulaw_decode, ulaw_encode

MAX_MESSAGE_CHARS = 65536  # Twilio sends 20 ms (≈300 chars) per message; anything this big is not Twilio
MAX_PAYLOAD_BYTES = 16000  # 2 s of μ-law in one message: far more than Twilio batches, small enough to bound memory
MARK_PREFIX = "prompt-"  # our marks are named after the VoiceCall's prompt number
EXPECTED_ENCODING = "audio/x-mulaw"
EXPECTED_RATE = 8000
EXPECTED_CHANNELS = 1
DTMF_KEYS = frozenset("0123456789*#ABCD")


class ProtocolError(ValueError):
    """A message that is not valid Media Streams protocol."""


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = EXPECTED_ENCODING
    sample_rate: int = EXPECTED_RATE
    channels: int = EXPECTED_CHANNELS


@dataclass(frozen=True)
class Media:
    payload: bytes  # μ-law bytes, any length (Twilio sends 160; re-framed by ``Reframer``)
    track: str = "inbound"


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Stop:
    call_sid: str


Message = Connected | Start | Media | Dtmf | Mark | Stop


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not an object")
    return value


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{what}.{key} is missing or not a string")
    return value


def parse_message(text: str | bytes) -> Message:
    """One websocket text frame from Twilio → a message. Raises ProtocolError on anything else."""
    if isinstance(text, bytes):
        raise ProtocolError("binary frame (Twilio sends JSON text)")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"message of {len(text)} characters")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from None
    msg = _obj(data, "message")
    event = msg.get("event")
    if event == "media":
        media = _obj(msg.get("media"), "media")
        return Media(decode_payload(_str(media, "payload", "media")), str(media.get("track", "inbound")))
    if event == "mark":
        return Mark(_str(_obj(msg.get("mark"), "mark"), "name", "mark"))
    if event == "dtmf":
        digit = _str(_obj(msg.get("dtmf"), "dtmf"), "digit", "dtmf")
        if digit not in DTMF_KEYS:
            raise ProtocolError(f"dtmf.digit {digit!r}")
        return Dtmf(digit)
    if event == "start":
        return _start(_obj(msg.get("start"), "start"), msg)
    if event == "stop":
        stop = msg.get("stop")
        return Stop(str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    if event == "connected":
        return Connected(str(msg.get("protocol", "")), str(msg.get("version", "")))
    raise ProtocolError(f"unknown event {event!r}")


def _start(start: dict[str, Any], msg: dict[str, Any]) -> Start:
    stream_sid = start.get("streamSid") or msg.get("streamSid")
    if not isinstance(stream_sid, str) or not stream_sid:
        raise ProtocolError("start.streamSid is missing")
    call_sid = _str(start, "callSid", "start")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("start.customParameters is not an object")
    fmt = start.get("mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise ProtocolError("start.mediaFormat is not an object")
    try:
        rate, channels = int(fmt.get("sampleRate", EXPECTED_RATE)), int(fmt.get("channels", EXPECTED_CHANNELS))
    except (TypeError, ValueError):
        raise ProtocolError("start.mediaFormat has a non-numeric rate or channel count") from None
    return Start(
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid=str(start.get("accountSid", "")),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        encoding=str(fmt.get("encoding", EXPECTED_ENCODING)),
        sample_rate=rate,
        channels=channels,
    )


def supported_format(start: Start) -> bool:
    """Only 8 kHz mono μ-law is what <Stream> sends by default and what our models expect."""
    return (start.encoding, start.sample_rate, start.channels) == (EXPECTED_ENCODING, EXPECTED_RATE,
                                                                    EXPECTED_CHANNELS)


def decode_payload(payload: str) -> bytes:
    """Base64 (strict: a corrupt payload is an error, not noise) → μ-law bytes."""
    if len(payload) > MAX_PAYLOAD_BYTES * 4 // 3 + 4:
        raise ProtocolError(f"media payload of {len(payload)} base64 characters")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProtocolError(f"bad base64 payload: {e}") from None


def mark_name(prompt: int) -> str:
    return f"{MARK_PREFIX}{prompt}"


def prompt_of_mark(name: str) -> int | None:
    """Our prompt number from an echoed mark name; None for a name we did not send."""
    digits = name.removeprefix(MARK_PREFIX)
    if digits == name or not digits.isdigit():
        return None
    return int(digits)


# --- what we send ------------------------------------------------------------------------


def media_message(stream_sid: str, frame: np.ndarray) -> str:
    payload = base64.b64encode(ulaw_encode(frame)).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


# --- re-framing ------------------------------------------------------------------------


class Reframer:
    """μ-law bytes of any chunk size in → 20 ms int16 frames (160 samples) out.

    Twilio sends 160-byte payloads, but the protocol does not promise it and other Media Streams
    clients batch; the endpointer's clock counts frames, so frames must be exactly 20 ms."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, data: bytes) -> list[np.ndarray]:
        self._pending += data
        count = len(self._pending) // FRAME_SAMPLES
        if not count:
            return []
        cut = count * FRAME_SAMPLES
        pcm = ulaw_decode(bytes(self._pending[:cut]))
        del self._pending[:cut]
        return [pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES] for i in range(count)]
