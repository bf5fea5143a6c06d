"""Endpointing: exact timings with a scripted detector, then the real Silero VAD on TTS speech.

The scripted detector reads the speech probability out of the frame itself (sample 0, in
1/10000) and each frame carries its index (sample 1), so a test can say both *when* an event
fires and *which audio* an utterance holds, to the frame.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import line_audio
from ivr.config import Settings
from ivr.speech.endpoint import BargeIn, EndpointConfig, Endpointer, NoInput, Pause, SpeechStarted, Utterance
from ivr.speech.vad import FRAME_SAMPLES, SileroVad

CONFIG = EndpointConfig(
    threshold=0.5,
    preroll_ms=400,  # 20 frames
    end_of_turn_silence_ms=700,  # 35 frames
    min_utterance_ms=200,  # 10 frames
    max_utterance_ms=2000,  # 100 frames
    no_input_timeout_ms=1000,  # 50 frames
    barge_in_ms=300,  # 15 frames
)


class FrameDetector:
    """Deterministic: the probability is written into the frame by ``frame()``."""

    def probability(self, frame: np.ndarray) -> float:
        return int(frame[0]) / 10000


def frame(p: float, index: int) -> np.ndarray:
    f = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    f[0], f[1] = round(p * 10000), index
    return f


def run(
    ep: Endpointer, probs: list[float], bot: bool | list[bool] = False, first: int = 0, pauses: bool = False
) -> list[tuple[int, object]]:
    """Push frames ``first, first+1, …``; returns (frame index, event) pairs.

    ``Pause`` (the early hint for speculative ASR) is left out unless asked for: it has its own test.
    """
    out = []
    for k, p in enumerate(probs):
        i = first + k
        speaking = bot[k] if isinstance(bot, list) else bot
        out += [(i, ev) for ev in ep.push(frame(p, i), bot_speaking=speaking) if pauses or not isinstance(ev, Pause)]
    return out


def indices(u: Utterance) -> list[int]:
    return u.pcm.reshape(-1, FRAME_SAMPLES)[:, 1].tolist()


def scripted(config: EndpointConfig = CONFIG) -> Endpointer:
    return Endpointer(config, FrameDetector())


def test_end_of_turn_preroll_and_tail_exact() -> None:
    events = run(scripted(), [0.0] * 50 + [0.9] * 30 + [0.0] * 40)
    assert events[0] == (59, SpeechStarted(at_ms=1000))  # 10 frames of speech = min_utterance_ms
    (at, utt) = events[1]
    assert len(events) == 2 and at == 79 + 35  # 35 silent frames = end_of_turn_silence_ms
    assert isinstance(utt, Utterance) and not utt.truncated
    assert (utt.start_ms, utt.end_ms) == (600, 1800)  # 400 ms pre-roll, 200 ms tail
    assert indices(utt) == list(range(30, 90))
    assert utt.pcm.dtype == np.int16 and len(utt.pcm) == (utt.end_ms - utt.start_ms) * 8


def test_pause_hint_holds_the_coming_utterance() -> None:
    events = run(scripted(), [0.0] * 50 + [0.9] * 30 + [0.0] * 40, pauses=True)
    (at, pause), (end, utt) = [(i, e) for i, e in events if isinstance(e, (Pause, Utterance))]
    assert isinstance(pause, Pause) and isinstance(utt, Utterance)
    assert at == 79 + 10 and end == 79 + 35  # after pause_ms of silence, long before the end of turn
    assert (pause.start_ms, pause.end_ms) == (utt.start_ms, utt.end_ms) and np.array_equal(pause.pcm, utt.pcm)


def test_hysteresis_rides_over_dips_but_needs_full_threshold_to_start() -> None:
    ep = scripted(dataclasses.replace(CONFIG, max_utterance_ms=5000))
    assert run(ep, [0.45] * 40) == []  # above the exit level, below the start level: nothing starts
    dips = ([0.9] * 5 + [0.4] * 36) * 2 + [0.9] * 5  # 0.4 >= 0.5 - 0.15: still speech, however long
    events = run(ep, dips + [0.3] * 40, first=40)
    utts = [e for _, e in events if isinstance(e, Utterance)]
    assert len(utts) == 1 and not utts[0].truncated
    assert (utts[0].start_ms, utts[0].end_ms) == (40 * 20 - 400, (40 + 87 + 10) * 20)


def test_short_bursts_are_ignored() -> None:
    ep = scripted()
    assert run(ep, [0.0] * 30 + [0.9] * 9 + [0.0] * 60) == []  # 180 ms < min_utterance_ms
    events = run(ep, [0.9] * 10 + [0.0] * 40, first=99)
    assert [type(e) for _, e in events] == [SpeechStarted, Utterance]


def test_max_length_cuts_and_keeps_listening() -> None:
    events = run(scripted(), [0.0] * 50 + [0.9] * 200 + [0.0] * 40)
    utts = [(i, e) for i, e in events if isinstance(e, Utterance)]
    assert [(i, u.start_ms, u.end_ms, u.truncated) for i, u in utts] == [
        (129, 600, 2600, True),  # 20 pre-roll + 80 speech frames = 2000 ms
        (229, 2600, 4600, True),
        (249 + 35, 4600, 5200, False),  # the last 20 speech frames + 10 tail frames
    ]
    assert indices(utts[1][1]) == list(range(130, 230))
    starts = [(i, e.at_ms) for i, e in events if isinstance(e, SpeechStarted)]
    assert starts == [(59, 1000), (139, 2600), (239, 4600)]


def test_no_input_only_after_bot_finished_and_once() -> None:
    ep = scripted()
    assert run(ep, [0.0] * 200) == []  # the bot never finished a prompt: no clock
    assert run(ep, [0.0] * 100, bot=True, first=200) == []  # bot speaking: no clock either
    ep.bot_finished()
    events = run(ep, [0.0] * 120, first=300)
    assert events == [(349, NoInput(at_ms=350 * 20))]  # exactly no_input_timeout_ms after bot_finished


def test_no_input_clock_restarts_and_pauses() -> None:
    ep = scripted()
    ep.bot_finished()
    assert run(ep, [0.0] * 40) == []
    ep.bot_finished()  # a new prompt ended: count from zero again
    assert run(ep, [0.0] * 40, first=40) == []
    assert run(ep, [0.0] * 30, bot=True, first=80) == []  # the bot talks again: paused
    ep.bot_finished()
    assert run(ep, [0.0] * 50, first=110) == [(159, NoInput(at_ms=3200))]


def test_caller_speech_stops_the_no_input_clock() -> None:
    ep = scripted()
    ep.bot_finished()
    events = run(ep, [0.0] * 20 + [0.9] * 20 + [0.0] * 200)
    assert [type(e) for _, e in events] == [SpeechStarted, Utterance]


def test_barge_in_once_per_prompt_after_barge_in_ms() -> None:
    ep = scripted()
    events = run(ep, [0.0] * 50 + [0.9] * 40 + [0.0] * 40 + [0.9] * 40 + [0.0] * 40, bot=True)
    barges = [(i, e) for i, e in events if isinstance(e, BargeIn)]
    assert barges == [(64, BargeIn(at_ms=1300))]  # onset 1000 ms + 300 ms, and only once this prompt
    utt = next(e for _, e in events if isinstance(e, Utterance))
    assert utt.start_ms == 600  # the interrupting speech is the next utterance, pre-roll included
    ep.bot_finished()
    events = run(ep, [0.0] * 10 + [0.9] * 20, bot=True, first=210)
    assert [e for _, e in events if isinstance(e, BargeIn)] == [BargeIn(at_ms=(220 + 15) * 20)]


def test_no_barge_in_for_short_speech_or_when_bot_is_silent() -> None:
    ep = scripted()
    events = run(ep, [0.0] * 30 + [0.9] * 14 + [0.0] * 40, bot=True)  # 280 ms over the bot
    assert not any(isinstance(e, BargeIn) for _, e in events)
    events = run(ep, [0.9] * 40 + [0.0] * 40, bot=False, first=84)
    assert not any(isinstance(e, BargeIn) for _, e in events)


def test_reset_restarts_the_clock() -> None:
    ep = scripted()
    run(ep, [0.0] * 30 + [0.9] * 5)
    ep.reset()
    events = run(ep, [0.0] * 25 + [0.9] * 10 + [0.0] * 40)
    assert next(e for _, e in events if isinstance(e, Utterance)).start_ms == 100


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(159, dtype=np.int16),
        np.zeros(320, dtype=np.int16),
        np.zeros(FRAME_SAMPLES, dtype=np.float32),
        np.zeros(FRAME_SAMPLES, dtype=np.int32),
        np.zeros((1, FRAME_SAMPLES), dtype=np.int16),
        [0] * FRAME_SAMPLES,
        bytes(320),
    ],
)
def test_malformed_frames_raise(bad: object) -> None:
    with pytest.raises(ValueError, match="frame"):
        scripted().push(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame"):
        SileroVad().probability(bad)  # type: ignore[arg-type]


def test_config_from_settings_and_preroll_floor() -> None:
    config = EndpointConfig.from_settings(Settings(vad_threshold=0.6, preroll_ms=500))
    assert (config.threshold, config.preroll_ms) == (0.6, 500)
    with pytest.raises(ValueError, match="pre"):
        dataclasses.replace(CONFIG, preroll_ms=200)
    with pytest.raises(ValueError):
        dataclasses.replace(CONFIG, threshold=0.1)  # hysteresis would go below zero


# --- the real Silero VAD on synthesized speech ------------------------------------------------


def line_noise(ms: int, seed: int, level: float = 30.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, ms * 8).astype(np.int16)


def speech_extent(pcm: np.ndarray) -> tuple[int, int]:
    """First and last 20 ms frame with clear energy, in ms from the start of ``pcm``."""
    rms = np.sqrt((pcm[: len(pcm) // 160 * 160].reshape(-1, 160).astype(float) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.05 * rms.max())
    return int(loud[0]) * 20, (int(loud[-1]) + 1) * 20


def feed(ep: Endpointer, audio: np.ndarray, bot: bool = False) -> list[object]:
    audio = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES]
    events = [ev for f in audio.reshape(-1, FRAME_SAMPLES) for ev in ep.push(f, bot_speaking=bot)]
    return [ev for ev in events if not isinstance(ev, Pause)]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return line_audio("冷蔵庫を捨てたいです")


def silero_endpointer() -> Endpointer:
    return Endpointer(EndpointConfig.from_settings(Settings()), SileroVad())


def test_silero_one_utterance_brackets_the_speech(speech: np.ndarray) -> None:
    audio = np.concatenate([line_noise(1000, 1), speech, line_noise(1500, 2)])
    on, off = speech_extent(speech)
    on, off = on + 1000, off + 1000
    events = feed(silero_endpointer(), audio)
    assert [type(e) for e in events] == [SpeechStarted, Utterance]
    utt = events[1]
    assert isinstance(utt, Utterance) and not utt.truncated
    assert utt.start_ms <= on - 300, "at least 300 ms of audio before the speech is kept"
    assert utt.end_ms >= off
    assert utt.end_ms - utt.start_ms < (off - on) + 1500  # not the whole recording
    assert np.array_equal(utt.pcm, audio[utt.start_ms * 8 : utt.end_ms * 8])


def test_silero_two_turns_and_barge_in(speech: np.ndarray) -> None:
    audio = np.concatenate([line_noise(600, 3), speech, line_noise(1200, 4), speech, line_noise(1200, 5)])
    events = feed(silero_endpointer(), audio, bot=True)
    assert sum(isinstance(e, Utterance) for e in events) == 2
    assert sum(isinstance(e, BargeIn) for e in events) == 1  # one per prompt


@pytest.mark.parametrize("kind", ["hiss", "hum", "clicks"])
def test_silero_noise_alone_gives_nothing(kind: str) -> None:
    n = 4000 * 8
    t = np.arange(n) / 8000
    noise = {
        "hiss": np.random.default_rng(6).normal(0, 1500, n),
        "hum": 2000 * np.sin(2 * np.pi * 60 * t) + 500 * np.sin(2 * np.pi * 180 * t),
        "clicks": np.where(np.arange(n) % 4000 < 8, 20000.0, 0.0),
    }[kind]
    ep = silero_endpointer()
    ep.bot_finished()
    events = feed(ep, noise.astype(np.int16))
    assert events == []  # and the no-input clock (8 s) has not run out in 4 s


def test_a_100_ms_answer_opens_a_turn_with_the_shipped_settings() -> None:
    """A うん on a 20 dB line reads as voiced for ~100 ms (5 frames); at the old 120 ms minimum
    it never reached the recogniser. A 60 ms click still does not open a turn."""
    ep = Endpointer(EndpointConfig.from_settings(Settings()), FrameDetector())
    assert run(ep, [0.0] * 30 + [0.9] * 3 + [0.0] * 60) == []
    events = run(ep, [0.9] * 5 + [0.0] * 60, first=93)
    assert [type(e) for _, e in events] == [SpeechStarted, Utterance]


# --- talk behind the caller: a turn must stand out from the line's background ------------------


class ListedDetector:
    """The probability of frame ``i`` is ``probs[i]`` (the index rides in sample 1), so the
    frames' level can be set freely by ``level_frame``."""

    def __init__(self, probs: list[float]) -> None:
        self.probs = probs

    def probability(self, frame: np.ndarray) -> float:
        return self.probs[int(frame[1])]


def level_frame(index: int, dbfs: float) -> np.ndarray:
    """A frame at ``dbfs`` (a ±square wave), its index in sample 1."""
    amp = round(32768 * 10 ** (dbfs / 20))
    f = np.where(np.arange(FRAME_SAMPLES) % 2 == 0, amp, -amp).astype(np.int16)
    f[1] = index
    return f


def turns_heard(stretches: list[tuple[int, float, float]], margin: float = 8.0) -> tuple[list[Utterance], Endpointer]:
    """Feed stretches of (frames, probability, level dBFS); return the utterances and the endpointer."""
    probs = [p for n, p, _ in stretches for _ in range(n)]
    levels = [db for n, _, db in stretches for _ in range(n)]
    ep = Endpointer(dataclasses.replace(CONFIG, background_margin_db=margin), ListedDetector(probs))
    out = [e for i, db in enumerate(levels) for e in ep.push(level_frame(i, db)) if isinstance(e, Utterance)]
    return out, ep


BABBLE_DB, CALLER_DB = -44.0, -24.0  # talk behind the caller 20 dB under the caller's voice
BLIP = (3, 0.9, BABBLE_DB)  # a burst of talk too short to be a turn (60 ms)


def test_talk_behind_the_caller_opens_no_turn_once_heard():
    line = (100, 0.1, BABBLE_DB)
    babble_turn = (20, 0.9, BABBLE_DB + 2)  # 400 ms of the talk behind: speech to the detector
    heard, _ = turns_heard([line, BLIP, line, babble_turn, line])
    assert heard == []
    heard, _ = turns_heard([line, BLIP, line, babble_turn, line], margin=0.0)
    assert len(heard) == 1  # the setting at 0: every burst may be a turn, as before


def test_the_caller_is_heard_over_the_talk_behind_them():
    line = (100, 0.1, BABBLE_DB)
    caller = (30, 0.9, CALLER_DB)
    heard, _ = turns_heard([line, BLIP, line, caller, line])
    assert len(heard) == 1 and heard[0].stands_out


def test_on_a_steady_line_a_caller_quieter_than_the_noise_is_still_heard():
    # hiss or hum leaves no blips: the check stays off, as for the quiet callers of issue 17
    hiss = (150, 0.05, -34.0)
    quiet_caller = (30, 0.9, -40.0)
    heard, _ = turns_heard([hiss, quiet_caller, hiss])
    assert len(heard) == 1 and not heard[0].stands_out  # heard; marked as not standing out


def test_only_speech_that_stands_out_is_announced_as_the_caller_starting():
    """Babble after the caller stopped is still collected (Whisper may read words in it) but
    never reported as the caller starting again: that is what would take back the bot's answer."""
    line, caller, babble_turn = (100, 0.1, BABBLE_DB), (30, 0.9, CALLER_DB), (20, 0.9, BABBLE_DB + 2)
    stretches = [line, caller, (50, 0.1, BABBLE_DB), babble_turn, line]
    probs = [p for n, p, _ in stretches for _ in range(n)]
    levels = [db for n, _, db in stretches for _ in range(n)]
    ep = Endpointer(dataclasses.replace(CONFIG, background_margin_db=8.0), ListedDetector(probs))
    events = [(i, e) for i, db in enumerate(levels) for e in ep.push(level_frame(i, db))]
    starts = [(i, e) for i, e in events if isinstance(e, SpeechStarted)]
    heard = [e for _, e in events if isinstance(e, Utterance)]
    assert starts == [(109, SpeechStarted(at_ms=2000))]  # the caller, once their 10th frame is in
    assert [u.stands_out for u in heard] == [True, False]  # the babble: a stretch, not the caller


def test_unreadable_background_turn_turns_the_check_on_and_restarts_the_no_input_clock():
    line = (100, 0.1, BABBLE_DB)
    babble_turn = (20, 0.9, BABBLE_DB + 2)
    heard, ep = turns_heard([line, babble_turn, line])
    assert len(heard) == 1 and not heard[0].stands_out  # no blip yet: the first one is a turn
    ep.bot_finished()
    ep._no_input_armed = False  # as SpeechStarted leaves it
    ep.background_talk()  # what VoiceCall says when Whisper read nothing in it
    assert ep._no_input_armed
    assert ep._floors()[0] > -100  # the check is on
