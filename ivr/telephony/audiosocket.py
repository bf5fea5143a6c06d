"""Asterisk's AudioSocket protocol: frames to bytes and back, with no I/O.

A frame is a 1-byte kind, a 2-byte big-endian payload length and the payload
(https://docs.asterisk.org/Configuration/Channel-Drivers/AudioSocket/). Written here because
no maintained Python library speaks it (the reference implementation is Go) and the format is
three bytes of header; keeping it pure lets the tests feed it any byte split and any garbage.

Asterisk sends the call's UUID first, then 8 kHz 16-bit little-endian audio (usually 320 bytes,
20 ms, but the size follows the channel's packetisation, so audio is re-framed here), keypad
digits and, when its side breaks, an error frame. It accepts only audio and hang-up from us.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ivr.audio.codec import FRAME_SAMPLES

HEADER = struct.Struct(">BH")  # kind, payload length (network byte order)
UUID_BYTES = 16
SAMPLE_BYTES = 2  # 16-bit linear PCM
AUDIO_FRAME_BYTES = FRAME_SAMPLES * SAMPLE_BYTES  # 320: one 20 ms frame, what Asterisk sends by default
MAX_AUDIO_PAYLOAD = 4000  # 250 ms: above the longest RTP packetisation in use (150 ms); more is not a phone frame
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class Kind(IntEnum):
    HANGUP = 0x00  # terminate the connection (closing the socket means the same)
    UUID = 0x01  # 16-byte binary UUID of the call; always the first frame
    DTMF = 0x03  # one ASCII keypad digit
    AUDIO = 0x10  # signed linear 16-bit, 8 kHz, mono, little-endian
    ERROR = 0xFF  # something broke; optional 1-byte code


class ErrorCode(IntEnum):
    """The error codes Asterisk itself sends in an ``ERROR`` frame."""

    NONE = 0x00
    CALLER_HUNG_UP = 0x01
    FRAME_FORWARDING = 0x02
    MEMORY = 0x04


class ProtocolError(ValueError):
    """The peer broke the protocol: the connection cannot be trusted any more."""


@dataclass(frozen=True)
class Frame:
    kind: Kind
    payload: bytes = b""

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.payload)

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii")

    @property
    def error_code(self) -> int:
        return self.payload[0] if self.payload else ErrorCode.NONE

    def pcm(self) -> np.ndarray:
        """Audio payload as int16 samples (little-endian on the wire, native here)."""
        return np.frombuffer(self.payload, dtype="<i2").astype(np.int16)


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    check_length(kind, len(payload))
    return HEADER.pack(kind, len(payload)) + payload


def encode_uuid(call_id: uuid.UUID) -> bytes:
    return encode(Kind.UUID, call_id.bytes)


def encode_audio(pcm: np.ndarray | bytes) -> bytes:
    data = pcm if isinstance(pcm, bytes) else np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes()
    return encode(Kind.AUDIO, data)


def encode_dtmf(digit: str) -> bytes:
    return encode(Kind.DTMF, digit.encode("ascii"))


def encode_hangup() -> bytes:
    return encode(Kind.HANGUP)


def encode_error(code: int = ErrorCode.NONE) -> bytes:
    return encode(Kind.ERROR, bytes([code]))


def check_length(kind: int, length: int) -> Kind:
    """The kind as a ``Kind``; raises ``ProtocolError`` for an unknown kind or a length it cannot have.

    Checked from the header alone, before any payload is read, so an absurd length never makes us
    wait for (or buffer) 64 KiB of garbage."""
    try:
        known = Kind(kind)
    except ValueError:
        raise ProtocolError(f"unknown frame kind 0x{kind:02x}") from None
    if known is Kind.HANGUP and length != 0:
        raise ProtocolError(f"hang-up frame with a {length}-byte payload")
    if known is Kind.UUID and length != UUID_BYTES:
        raise ProtocolError(f"UUID frame of {length} bytes (expected {UUID_BYTES})")
    if known is Kind.DTMF and length != 1:
        raise ProtocolError(f"DTMF frame of {length} bytes (expected 1)")
    if known is Kind.ERROR and length > 1:
        raise ProtocolError(f"error frame of {length} bytes (expected 0 or 1)")
    if known is Kind.AUDIO and not (0 < length <= MAX_AUDIO_PAYLOAD and length % SAMPLE_BYTES == 0):
        raise ProtocolError(f"audio frame of {length} bytes (expected an even size up to {MAX_AUDIO_PAYLOAD})")
    return known


class FrameDecoder:
    """Bytes in (any split: TCP has no message boundaries), whole checked frames out.

    Also enforces the order Asterisk follows: the UUID frame first and only once. The buffer
    never holds more than one header plus one maximal payload beyond what was just fed."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.started = False  # the UUID frame has been seen

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back (non-zero at EOF means a truncated frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            known = check_length(kind, length)
            if len(self._buffer) < HEADER.size + length:
                break
            payload = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            frames.append(self._checked(Frame(known, payload)))
        return frames

    def _checked(self, frame: Frame) -> Frame:
        if frame.kind is Kind.UUID:
            if self.started:
                raise ProtocolError("a second UUID frame")
            self.started = True
        elif not self.started and frame.kind is not Kind.HANGUP:
            raise ProtocolError(f"{frame.kind.name} frame before the UUID frame")
        if frame.kind is Kind.DTMF and frame.payload.decode("latin-1") not in DTMF_DIGITS:
            raise ProtocolError(f"DTMF frame with {frame.payload!r}, not a keypad digit")
        return frame


class Reframer:
    """Caller audio of any even size in, exact 20 ms frames (160 int16 samples) out.

    The remainder waits for the next payload, so no sample is dropped or duplicated."""

    def __init__(self) -> None:
        self._rest = b""

    def push(self, payload: bytes) -> list[np.ndarray]:
        data = self._rest + payload
        whole = len(data) - len(data) % AUDIO_FRAME_BYTES
        self._rest = data[whole:]
        return [
            np.frombuffer(data, dtype="<i2", count=FRAME_SAMPLES, offset=start).astype(np.int16)
            for start in range(0, whole, AUDIO_FRAME_BYTES)
        ]
