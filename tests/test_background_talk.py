"""Talk behind the caller (a television, an office) must not become caller turns.

On a line with people talking 20 dB under the caller, Silero hears speech every few seconds;
before the background check those bursts became turns that Whisper read as nothing, so the bot
said 「うまく聞き取れませんでした」 twice and offered staff before the caller had said a word.
Real models throughout: Silero, Whisper base, the dialogue, pyopenjtalk for every voice.
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from conftest import line_audio
from ivr.audio.codec import FRAME_SAMPLES, frames, resample, ulaw_decode, ulaw_encode
from ivr.speech.services import SpeechServices
from ivr.speech.voice_call import VoiceCall
from simulator.audio import RecordingTransport, settle_on_line
from simulator.runtime import Simulator

BEHIND_DB = 20.0  # the talk behind the caller, this far under the caller's voice
TALK = ["きのうの試合は最後まで見ましたか", "駅前に新しいパン屋さんができたそうです",
        "来週の会議は午後からに変更になりました", "今日は少し寒いので上着を持っていきます"]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


def babble(seconds: float, caller_rms: float) -> np.ndarray:
    """Four voices at once saying unrelated things, ``BEHIND_DB`` under ``caller_rms``."""
    import pyopenjtalk

    n = int(seconds * 8000)
    out = np.zeros(n)
    for k in range(4):
        parts = []
        for text in TALK[k:] + TALK[:k]:
            wav, sr = pyopenjtalk.tts(text, speed=0.9 + 0.1 * k, half_tone=-3.0 + 2.0 * k)
            parts += [resample(wav.astype(np.float32) / 32768.0, sr, 8000), np.zeros(1200 * (k + 1))]
        voice = np.resize(np.concatenate(parts), n)
        out += np.roll(voice, k * 9000) / max(_rms(voice), 1e-9)
    out *= caller_rms * 10 ** (-BEHIND_DB / 20) / _rms(out)
    return out


def _on_line(x: np.ndarray) -> np.ndarray:
    return ulaw_decode(ulaw_encode(np.clip(np.rint(x), -32768, 32767).astype(np.int16)))


async def _call(sim: Simulator, speech: SpeechServices, question: np.ndarray) -> VoiceCall:
    """The whole call on a line carrying the talk: the greeting, 3 s, the question, 4 s."""
    loop = babble(30.0, _rms(question[np.abs(question) > 300]))
    sent = 0

    def line(n: int) -> np.ndarray:
        nonlocal sent
        pcm = _on_line(np.take(loop, np.arange(sent * FRAME_SAMPLES, (sent + n) * FRAME_SAMPLES), mode="wrap"))
        sent += n
        return pcm

    transport = RecordingTransport(line=True)
    call = VoiceCall(sim.session("09012345678"), speech, transport, pace=False)
    transport.call = call
    await call.start()
    await settle_on_line(call, transport, line=line)
    said = np.concatenate([np.zeros(8000 * 3), question.astype(np.float64), np.zeros(8000 * 4)])
    talk = np.take(loop, np.arange(sent * FRAME_SAMPLES, sent * FRAME_SAMPLES + len(said)), mode="wrap")
    sent += len(said) // FRAME_SAMPLES
    for frame in frames(_on_line(said + talk)):
        await call.audio(frame)
    await settle_on_line(call, transport, line=line)
    await call.close()
    return call


@pytest.fixture
def sim(brain):
    return Simulator.from_brain(brain, "2016-06-01T10:00")


def test_talk_behind_the_caller_makes_no_turns_and_the_question_is_answered(sim, speech):
    call = asyncio.run(_call(sim, speech, line_audio("乾電池は何ごみですか")))
    turns = [r for r in call.records if r.kind == "speech" and not r.superseded]
    assert [r.reply.intent for r in turns] == ["dry_cells"], [(r.transcript, r.dropped, r.reply.intent) for r in turns]


def test_without_the_check_the_same_line_makes_turns_of_the_talk(sim, speech):
    """The same call with ``IVR_BACKGROUND_MARGIN_DB=0``: the talk is taken for the caller."""
    endpoint = dataclasses.replace(speech.endpoint, background_margin_db=0.0)
    deaf_to_level = SpeechServices(asr=speech.asr, tts=speech.tts, endpoint=endpoint, join=speech.join)
    call = asyncio.run(_call(sim, deaf_to_level, line_audio("乾電池は何ごみですか")))
    turns = [r for r in call.records if r.kind == "speech" and not r.superseded]
    assert len(turns) > 1 and any(r.reply.intent == "not_understood" for r in turns), [
        (r.transcript, r.reply.intent) for r in turns]
