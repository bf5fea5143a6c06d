"""A call as audio: frames in, the real endpointer, Whisper, dialogue and TTS, paced frames out."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rapidfuzz import fuzz

from ivr.audio.codec import frames, ulaw_decode, ulaw_encode
from ivr.language.readings import reading
from ivr.speech.asr_pool import AsrPool
from ivr.speech.playback import LATE_FRAME_MS, PLAYOUT_LEAD_MS, Player
from ivr.speech.services import SpeechServices
from ivr.speech.voice_call import VoiceCall
from simulator.audio import RecordingTransport
from simulator.runtime import Simulator

SILENCE = np.zeros(8 * 2500, np.int16)  # 2.5 s: past the end-of-turn silence and a held turn's wait


class FakeClock:
    """A clock the Player's sleeps advance, so pacing is checked exactly, not timed."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class HeldTransport(RecordingTransport):
    """Like Twilio: a prompt counts as heard only when told (its mark comes back)."""

    async def prompt_done(self, prompt: int) -> None:
        self._prompt = prompt + 1


def caller_audio(speech: SpeechServices, text: str) -> np.ndarray:
    """What the caller's phone sends: the bot's own TTS voice through a μ-law line."""
    return ulaw_decode(ulaw_encode(speech.tts.synthesize(text)))


async def feed(call: VoiceCall, pcm: np.ndarray) -> None:
    for frame in frames(np.concatenate([SILENCE[:2400], pcm, SILENCE])):
        await call.audio(frame)


async def settle(call: VoiceCall) -> None:
    await call.settled(60.0)


async def open_call(
    sim: Simulator, speech: SpeechServices, transport: RecordingTransport | None = None, greet: bool = True
) -> tuple[VoiceCall, RecordingTransport]:
    """A call whose greeting has been played (or, with greet=False, is still playing)."""
    transport = transport or RecordingTransport()
    call = VoiceCall(sim.session(), speech, transport, pace=False)
    transport.call = call
    await call.start()
    if greet:
        await settle(call)
    return call, transport


def transcribe(speech: SpeechServices, pcm: np.ndarray) -> str:
    return asyncio.run(speech.asr.transcribe(pcm)).text


@pytest.fixture
def sim(brain):
    return Simulator.from_brain(brain, "2016-06-01T10:00")  # a Wednesday, office hours


async def test_player_paces_frames_on_a_20ms_clock_and_cut_drops_the_rest():
    clock = FakeClock()
    sent: list[float] = []
    transport = RecordingTransport()

    async def send(frame: np.ndarray) -> None:
        sent.append(clock())

    transport.send_audio = send  # type: ignore[method-assign]
    player = Player(transport, pace=True, clock=clock, sleep=clock.sleep)
    player.start()
    player.play(1, np.ones(160 * 30, np.int16))
    player.end_prompt(1)
    for _ in range(100):
        await asyncio.sleep(0)
    lead = int(PLAYOUT_LEAD_MS / 20)
    assert len(sent) == 30
    assert np.allclose(sent[: lead + 1], sent[0])  # the carrier gets a lead at once …
    assert np.allclose(np.diff(sent[lead:]), 0.02)  # … then one frame per 20 ms slot
    assert player.stats.late_frames == 0 and player.stats.max_late_ms < LATE_FRAME_MS
    sent.clear()
    player.play(2, np.ones(160 * 10, np.int16))
    await player.cut(below=3)  # barge-in before the player took it
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(sent) == 0 and {"kind": "clear"} in transport.actions
    await player.stop()


def test_a_spoken_question_is_heard_answered_and_spoken_back(sim, speech):
    async def run():
        call, transport = await open_call(sim, speech)
        await feed(call, caller_audio(speech, "冷蔵庫を捨てたいんですけど"))
        await settle(call)
        await call.close()
        return call, transport

    call, transport = asyncio.run(run())
    greeting, answer = call.records[0], call.records[1]
    assert greeting.reply.intent == "greeting"
    assert fuzz.partial_ratio(reading("冷蔵庫"), reading(answer.transcript)) >= 80, answer.transcript
    assert answer.reply.intent == "kaden_four" and answer.speech_end > 0
    spoken = transcribe(speech, transport.prompt_audio(answer.prompt))  # the bot's own audio, heard back
    assert fuzz.partial_ratio("リサイクル", reading(spoken)) >= 80, spoken


def test_operator_key_transfers_after_the_notice_is_heard(sim, speech):
    async def run():
        call, transport = await open_call(sim, speech)
        await call.dtmf("0")
        await settle(call)
        return call, transport

    call, transport = asyncio.run(run())
    assert call.records[-1].reply.action == "transfer" and call.ended
    assert transport.actions[-1]["kind"] == "transfer"
    assert len(transport.prompt_audio(call.records[-1].prompt)) > 8000  # the notice was played first


def test_caller_speech_over_the_prompt_stops_it(sim, speech):
    async def run():
        call, transport = await open_call(sim, speech, HeldTransport(), greet=False)  # its mark never comes back
        await asyncio.sleep(0.5)
        await feed(call, caller_audio(speech, "乾電池は何ごみですか"))
        await settle(call)
        await call.close()
        return call, transport

    call, transport = asyncio.run(run())
    assert {"kind": "clear"} in transport.actions
    assert call.records[-1].reply.intent in ("item_category", "dry_cells", "hazardous_how"), call.records[-1]


def test_malformed_frames_are_refused_and_the_call_goes_on(sim, speech):
    async def run():
        call, transport = await open_call(sim, speech)
        for bad in (np.zeros(100, np.int16), np.zeros(160, np.float32), b"\x00" * 320):
            with pytest.raises(ValueError):
                await call.audio(bad)  # type: ignore[arg-type]
        await call.dtmf("2")
        await settle(call)
        await call.close()
        return call

    call = asyncio.run(run())
    assert call.records[-1].reply.intent == "collection_day"


def test_a_broken_asr_ends_in_a_transfer_not_silence(sim, speech):
    broken = AsrPool(speech.asr.transcriber, workers=1, max_queue=1)
    broken.close()  # every transcription now fails
    services = SpeechServices(asr=broken, tts=speech.tts, endpoint=speech.endpoint)

    async def run():
        call, transport = await open_call(sim, services)
        await feed(call, caller_audio(speech, "冷蔵庫を捨てたい"))
        await settle(call)
        return call, transport

    call, transport = asyncio.run(run())
    assert call.records[-1].reply.action == "transfer"
    assert transport.actions and transport.actions[-1]["kind"] == "transfer"
