"""AudioSocket: the protocol byte for byte, and whole calls through a peer that acts like Asterisk.

The peer speaks the protocol as app_audiosocket does: the UUID frame first, then a 320-byte
slin frame every 20 ms for as long as the call is up (silence when the caller says nothing),
DTMF as one ASCII byte; it reads our frames with its own header parser (not our decoder).
The caller's voice is our TTS through a μ-law line; the bot's reply is transcribed with Whisper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid

import numpy as np
import pytest
from rapidfuzz import fuzz

from conftest import line_audio, simulated_turns
from ivr.audio.codec import FRAME_SAMPLES, ulaw_decode, ulaw_encode
from ivr.language.readings import reading
from ivr.speech.voice_call import TurnRecord, VoiceCall
from ivr.telephony.audiosocket import (
    MAX_AUDIO_PAYLOAD,
    ErrorCode,
    Frame,
    FrameDecoder,
    Kind,
    ProtocolError,
    Reframer,
    encode,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
)
from ivr.telephony.audiosocket_server import AudioSocketServer, AudioSocketTransport

# --- the protocol ------------------------------------------------------------------------

CALL = uuid.UUID("40325ec2-5efd-4bd3-805f-53576e581d13")


def test_every_frame_kind_round_trips_through_any_byte_split():
    pcm = (np.arange(FRAME_SAMPLES, dtype=np.int16) - 80) * 300
    wire = (encode_uuid(CALL) + encode_audio(pcm) + encode_dtmf("#") + encode_error(ErrorCode.FRAME_FORWARDING)
            + encode_hangup())
    assert wire[:3] == b"\x01\x00\x10" and wire[19:22] == b"\x10\x01\x40"  # kind, big-endian length
    assert wire[22:24] == struct.pack("<h", int(pcm[0]))  # samples little-endian
    for step in (1, 2, 3, 7, len(wire)):
        decoder = FrameDecoder()
        got = [f for i in range(0, len(wire), step) for f in decoder.feed(wire[i:i + step])]
        assert [f.kind for f in got] == [Kind.UUID, Kind.AUDIO, Kind.DTMF, Kind.ERROR, Kind.HANGUP]
        assert got[0].uuid == CALL and np.array_equal(got[1].pcm(), pcm)
        assert got[2].digit == "#" and got[3].error_code == ErrorCode.FRAME_FORWARDING
        assert decoder.pending == 0


def test_a_partial_frame_waits_for_the_rest():
    decoder = FrameDecoder()
    assert decoder.feed(encode_uuid(CALL)[:10]) == [] and decoder.pending == 10
    assert decoder.feed(encode_uuid(CALL)[10:] + b"\x10\x01") == [Frame(Kind.UUID, CALL.bytes)]
    assert decoder.pending == 2  # a truncated header: at EOF this is a broken connection


@pytest.mark.parametrize("wire, message", [
    (b"\x42\x00\x00", "unknown frame kind 0x42"),
    (encode(Kind.AUDIO, b"\x00\x00"), "before the UUID"),
    (encode_dtmf("1"), "before the UUID"),
    (b"\x01\x00\x05" + b"x" * 5, "UUID frame of 5 bytes"),
    (encode_uuid(CALL) + encode_uuid(CALL), "second UUID"),
    (encode_uuid(CALL) + b"\x10\xff\xff", "audio frame of 65535 bytes"),  # refused from the header alone
    (encode_uuid(CALL) + b"\x10\x00\x03abc", "audio frame of 3 bytes"),
    (encode_uuid(CALL) + b"\x10\x00\x00", "audio frame of 0 bytes"),
    (encode_uuid(CALL) + b"\x03\x00\x02" + b"12", "DTMF frame of 2 bytes"),
    (encode_uuid(CALL) + b"\x03\x00\x01" + b"x", "not a keypad digit"),
    (encode_uuid(CALL) + b"\x00\x00\x01" + b"x", "hang-up frame with a 1-byte payload"),
    (encode_uuid(CALL) + b"\xff\x00\x02" + b"xx", "error frame of 2 bytes"),
])
def test_bad_frames_are_refused(wire, message):
    with pytest.raises(ProtocolError, match=message):
        FrameDecoder().feed(wire)


def test_encoders_refuse_what_asterisk_would_refuse():
    with pytest.raises(ProtocolError):
        encode_audio(np.zeros(MAX_AUDIO_PAYLOAD, np.int16))
    assert len(encode_audio(np.zeros(FRAME_SAMPLES, np.int16))) == 3 + 320


def test_caller_audio_of_any_size_is_reframed_into_20ms_frames():
    samples = np.arange(1000, dtype=np.int16)
    reframer, out, offset = Reframer(), [], 0
    for size in (80, 240, 160, 320, 200):  # 10, 30, 20, 40, 25 ms packets
        out += reframer.push(samples[offset:offset + size].astype("<i2").tobytes())
        offset += size
    assert all(len(f) == FRAME_SAMPLES for f in out) and len(out) == 1000 // FRAME_SAMPLES
    assert np.array_equal(np.concatenate(out), samples[:len(out) * FRAME_SAMPLES])


# --- a peer that behaves like Asterisk ---------------------------------------------------

SILENT_FRAME = np.zeros(FRAME_SAMPLES, np.int16)


class AudioSocketPeer:
    """Asterisk's end of one AudioSocket() call."""

    def __init__(self, port: int, call_id: uuid.UUID | None = None) -> None:
        self.port = port
        self.call_id = call_id or uuid.uuid4()
        self.received: list[bytes] = []  # audio payloads from the bot, in order
        self.hangup = asyncio.Event()  # the bot sent a hang-up frame
        self.closed = asyncio.Event()  # the bot closed the socket
        self._say: asyncio.Queue[np.ndarray] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, *, stream: bool = True) -> AudioSocketPeer:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(encode_uuid(self.call_id))
        self._tasks.append(asyncio.create_task(self._read()))
        if stream:
            self._tasks.append(asyncio.create_task(self._stream()))
        return self

    @property
    def key(self) -> str:
        return str(self.call_id)

    def say(self, pcm: np.ndarray, trailing_ms: int = 1200) -> None:
        """Queue caller speech (then silence long enough to end the turn)."""
        pcm = np.concatenate([pcm, np.zeros(8 * trailing_ms, np.int16)])
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, np.int16)])
        for frame in pcm.reshape(-1, FRAME_SAMPLES):
            self._say.put_nowait(frame)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def dtmf(self, digit: str) -> None:
        self.writer.write(encode_dtmf(digit))

    def bot_audio(self, start: int = 0) -> np.ndarray:
        return np.frombuffer(b"".join(self.received[start:]), dtype="<i2").astype(np.int16)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()

    async def _stream(self) -> None:
        """A frame every 20 ms, as a live channel does: the caller's words, else silence."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        with contextlib.suppress(ConnectionError):
            while not self.closed.is_set():
                frame = SILENT_FRAME if self._say.empty() else self._say.get_nowait()
                self.writer.write(b"\x10\x01\x40" + frame.astype("<i2").tobytes())
                next_at += 0.02
                await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _read(self) -> None:
        """Like res_audiosocket: a 3-byte header, then the payload; only audio and hang-up are valid."""
        try:
            while True:
                kind, length = struct.unpack(">BH", await self.reader.readexactly(3))
                payload = await self.reader.readexactly(length)
                if kind == Kind.HANGUP:
                    self.hangup.set()
                elif kind == Kind.AUDIO and length:
                    self.received.append(payload)
                else:
                    raise AssertionError(f"Asterisk would reject frame kind 0x{kind:02x} ({length} bytes)")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed.set()


def caller_audio(server_runtime, text: str) -> np.ndarray:
    """The caller's phone: our TTS voice through a μ-law line."""
    return ulaw_decode(ulaw_encode(server_runtime.speech.tts.synthesize(text)))


async def until(condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds * 50)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


async def answered(call: VoiceCall, turns: int) -> None:
    """The bot has answered ``turns`` turns (the greeting counts) and sent all of it."""
    transport = call.transport
    assert isinstance(transport, AudioSocketTransport)
    await until(lambda: len(call.records) >= turns and transport.prompt_sent >= call.records[-1].prompt
                and (call.idle or call.ended))
    await asyncio.sleep(0.2)  # the last frames are in flight on the socket


async def transcript_of(server_runtime, pcm: np.ndarray) -> str:
    return (await server_runtime.speech.asr.transcribe(pcm[: 8000 * 20])).text


def mentions(text: str, word: str) -> bool:
    return fuzz.partial_ratio(reading(word), reading(text)) >= 80


async def ask(server_runtime, peer: AudioSocketPeer, call: VoiceCall, text: str,
              transcribe: bool = True) -> tuple[TurnRecord, str]:
    """Say ``text``: the bot's turn, and what it said back as heard on the wire and transcribed."""
    mark, turns = len(peer.received), len(call.records)
    peer.say(caller_audio(server_runtime, text))
    await answered(call, turns + 1)
    record, audio = call.records[turns], peer.bot_audio(mark)
    assert len(audio) > 8000, "the reply did not come down the socket"
    return record, (await transcript_of(server_runtime, audio)) if transcribe else ""


@pytest.fixture
async def server(server_runtime):
    """The AudioSocket server without AMI; unpaced, so a 15-second greeting arrives at once."""
    async with AudioSocketServer(server_runtime, None, host="127.0.0.1", port=0, pace=False,
                                 linger_s=0.5).running() as running:
        yield running


async def test_a_question_is_answered_and_0_transfers_through_the_dialplan(server, server_runtime):
    peer = await AudioSocketPeer(server.port).connect()
    try:
        await until(lambda: peer.key in server_runtime.calls)
        call = server_runtime.calls[peer.key]
        await answered(call, 1)
        assert len(peer.bot_audio()) > 8000 * 5  # the greeting came down the socket

        record, reply = await ask(server_runtime, peer, call, "冷蔵庫を捨てたい")
        assert record.reply.intent == "kaden_four", record
        assert mentions(reply, "家電") or mentions(reply, "リサイクル"), reply

        transport = server.transports[peer.key]
        peer.dtmf("0")
        await asyncio.wait_for(peer.hangup.wait(), 30)  # after the notice: AudioSocket() returns
        assert call.records[-1].reply.action.value == "transfer"
        assert transport.outcome == "dialplan"  # no AMI: extensions.conf routes the caller to staff
        await asyncio.wait_for(peer.closed.wait(), 5)
        await until(lambda: peer.key not in server_runtime.calls, 5)
    finally:
        await peer.close()


async def test_malformed_frames_close_only_their_own_connection(server, server_runtime, caplog):
    caplog.set_level(logging.WARNING, "ivr.telephony.audiosocket_server")
    good = await AudioSocketPeer(server.port).connect()
    bad_streams = {
        "audio before UUID": b"\x10\x01\x40" + bytes(320),
        "unknown kind": b"\x42\x00\x00",
        "absurd length": b"\x10\xff\xff" + bytes(100),
        "wrong DTMF length": b"\x03\x00\x02" + b"12",
        "truncated header": b"\x10\x01",
        "Asterisk error": encode_error(ErrorCode.FRAME_FORWARDING),
    }
    bad: dict[str, AudioSocketPeer] = {}
    try:
        for name, garbage in bad_streams.items():
            peer = AudioSocketPeer(server.port)
            peer.reader, peer.writer = await asyncio.open_connection("127.0.0.1", server.port)
            peer._tasks.append(asyncio.create_task(peer._read()))
            if name != "audio before UUID":
                peer.writer.write(encode_uuid(peer.call_id))
                await until(lambda p=peer: p.key in server_runtime.calls)  # the call has started
            peer.writer.write(garbage)
            if name == "truncated header":
                peer.writer.write_eof()
            bad[name] = peer
        for name, peer in bad.items():
            await asyncio.wait_for(peer.closed.wait(), 10)
            # a call that had started is handed to staff: the hang-up frame makes AudioSocket() return
            assert peer.hangup.is_set() == (name != "audio before UUID"), name
            assert peer.key not in server_runtime.calls, name

        call = server_runtime.calls[good.key]
        record, reply = await ask(server_runtime, good, call, "冷蔵庫を捨てたい")
        assert record.reply.intent == "kaden_four", record
        assert mentions(reply, "家電") or mentions(reply, "リサイクル"), reply
        assert not good.closed.is_set() and list(server_runtime.calls) == [good.key]
    finally:
        for peer in [good, *bad.values()]:
            await peer.close()
    logged = caplog.text
    for reason in ("unknown frame kind 0x42", "before the UUID", "65535 bytes", "DTMF frame of 2", "truncated",
                   "Asterisk reported error 0x02"):
        assert reason in logged, reason


async def test_the_caller_hanging_up_ends_the_call(server, server_runtime):
    peer = await AudioSocketPeer(server.port).connect()
    await until(lambda: peer.key in server_runtime.calls)
    call = server_runtime.calls[peer.key]
    await peer.close()
    await until(lambda: call.ended and peer.key not in server_runtime.calls, 10)


async def test_without_ami_a_goodbye_leaves_the_line_to_the_caller(server_runtime):
    """No AMI: the dialplan cannot be told "properly ended", so no hang-up frame (that would mean
    staff) until the caller has had time to hang up, which callers do after a goodbye."""
    async with AudioSocketServer(server_runtime, None, host="127.0.0.1", port=0, pace=False,
                                 linger_s=30).running() as server:
        peer = await AudioSocketPeer(server.port).connect()
        try:
            await until(lambda: peer.key in server_runtime.calls)
            call, transport = server_runtime.calls[peer.key], server.transports[peer.key]
            await answered(call, 1)
            record, _ = await ask(server_runtime, peer, call, "ありがとうございました、さようなら", transcribe=False)
            assert record.reply.action.value == "end", record
            await until(lambda: transport.outcome == "linger", 10)
            await asyncio.sleep(0.5)
            assert not peer.hangup.is_set() and not peer.closed.is_set()
            await peer.close()  # the caller hangs up
            await until(lambda: peer.key not in server_runtime.calls, 5)
        finally:
            await peer.close()


async def test_the_audiosocket_path_hears_a_clip_as_the_simulator_does(server_runtime, brain):
    """Paced like a live channel: the caller's line sends silence through the whole greeting,
    then the question. The turn reaching Whisper is the simulator's, first mora included."""
    clip = np.concatenate([np.zeros(4000, np.int16), line_audio("ペットボトルって何ごみですか")])
    async with AudioSocketServer(server_runtime, None, host="127.0.0.1", port=0, pace=True,
                                 linger_s=0.5).running() as server:
        peer = await AudioSocketPeer(server.port).connect()
        try:
            await until(lambda: peer.key in server_runtime.calls)
            call = server_runtime.calls[peer.key]
            transport = server.transports[peer.key]
            await until(lambda: call.records and transport.prompt_sent >= 1, 90)  # the greeting, in real time
            peer.say(clip, trailing_ms=2500)
            await until(lambda: any(r.kind == "speech" for r in call.records), 60)
            phone = [r for r in call.records if r.kind == "speech"]
        finally:
            await peer.close()
    sim = await simulated_turns(brain, server_runtime.speech, clip)
    assert len(phone) == 1 and len(sim) == 1, (phone, sim)
    assert abs(phone[0].audio_ms - sim[0].audio_ms) <= 100, (phone[0], sim[0])
    assert fuzz.ratio(reading(phone[0].transcript), reading(sim[0].transcript)) >= 90, (phone[0], sim[0])
    assert reading(phone[0].transcript).startswith("ペット"), phone[0]
