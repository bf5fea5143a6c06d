"""Turn-taking on the phone line: when the caller starts, stops, interrupts or says nothing.

A pure state machine over 20 ms frames: time is the frame count, never the wall clock, so the
same audio always gives the same events (and the tests can check them to the millisecond).
Time ``t`` ms means the start of frame ``t / 20`` since the call (or the last ``reset``) began.

Speech starts when the detector's probability reaches ``threshold`` and continues while it stays
at or above ``threshold - hysteresis``. On 8 kHz audio Silero's probability wobbles inside words
(0.25–0.8 within 冷蔵庫を捨てたいです), so a single threshold would chop an utterance into bursts
and restart the barge-in count on every dip; the lower exit level rides over those dips while a
plain click still has to clear the full threshold to start anything.

Speech must also stand out from the line: people talking behind the caller (a television, an
office) are speech to the detector, and on a 20 dB line they opened turns that Whisper dropped
as no speech, so the bot said 「うまく聞き取れませんでした」 twice and offered staff before the
caller had spoken. A burst becomes a turn only if some of its voiced frames are
``background_margin_db`` louder than the line's background: a low percentile of the frame levels
heard in the seconds before it began. The caller's own voice is that much above what surrounds
them; the talk behind them is not. The check is on only while there is talk behind the caller:
for ``TALK_MEMORY_MS`` after a burst too short to be a turn (background talk leaves such blips;
steady hiss, hum or a quiet room leave none), so on a steady or quiet line a caller who speaks
softly still opens a turn however little they rise above the noise.

Speech over the bot's audio is collected like any other: if it lasts ``barge_in_ms`` a
``BargeIn`` comes first (once per prompt); a shorter backchannel (はい) still ends as an
``Utterance``, and whether to act on it is the dialogue's call.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ivr.speech.vad import FRAME_MS, VoiceDetector, check_frame

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

HYSTERESIS = 0.15  # exit level below the start threshold; rides over Silero's mid-word dips on 8 kHz audio
MIN_PREROLL_MS = 300  # the VAD fires ~1-2 windows late; less pre-roll clips the first mora (冷蔵庫 → で状況)
TAIL_MS = 200  # audio kept after the last voiced frame: word-final morae fade out under the threshold
PAUSE_MS = 200  # a pause this long may be the end: ASR starts on it while the end-of-turn silence runs
# Silero's recurrent state dulls over long input (after 20 s of line silence a question peaked at
# 0.38 instead of 0.82 and opened a second late); cleared after this much silence between turns.
# At 1 s probabilities were those of a fresh call; the silence itself is never speech, so the
# clearing can cost nothing.
VAD_REFRESH_MS = 1000
BACKGROUND_MS = 8000  # the line's level is judged over the frames heard in the last 8 s …
BACKGROUND_PERCENTILE = 50  # … at the median: talk with gaps in it has a low 20th percentile and its peaks stood out
LOUD_FRAMES = 3  # voiced frames this far above the background make a burst the caller's (1–2 are talk peaks, clicks)
BACKGROUND_MIN_MS = 1000  # less line heard than this: its level is unknown, so nothing is known to stand out
TALK_MEMORY_MS = 30000  # talk behind the caller (a short burst ignored) was heard this recently: the check is on
SILENT_DBFS = -90.0  # an all-zero frame's level (log of zero)


@dataclass(frozen=True)
class SpeechStarted:
    """The caller is talking: ``min_utterance_ms`` of speech, some of it standing out from the
    line's background as ``Utterance.stands_out`` asks; ``at_ms`` is the speech onset. Noise or
    talk behind the caller that never stands out starts nothing: on a 20 dB line babble after the
    caller stopped took back the bot's answer as if the caller had gone on (2 of 24 phone calls)."""

    at_ms: int


@dataclass(frozen=True)
class Utterance:
    """One caller turn: 8 kHz int16 ``pcm`` covering ``[start_ms, end_ms)``, pre-roll included."""

    pcm: np.ndarray
    start_ms: int
    end_ms: int
    truncated: bool  # cut at max_utterance_ms while the caller was still talking
    speech_end_ms: int  # end of the last voiced frame (``end_ms`` less the tail): when the caller stopped
    stands_out: bool = True  # some voiced frames were ``background_margin_db`` above the line's background


@dataclass(frozen=True)
class Pause:
    """The caller paused for ``pause_ms``: the turn may be over. ``pcm`` is exactly the
    ``Utterance`` that will follow if they stay silent, so ASR can start now (speculatively)."""

    pcm: np.ndarray
    start_ms: int
    end_ms: int
    speech_end_ms: int


@dataclass(frozen=True)
class BargeIn:
    """The caller has talked over the bot for ``barge_in_ms``: stop playback. ``at_ms`` is when we knew."""

    at_ms: int


@dataclass(frozen=True)
class NoInput:
    """The caller said nothing for ``no_input_timeout_ms`` after the bot finished its prompt."""

    at_ms: int


Event = SpeechStarted | Pause | Utterance | BargeIn | NoInput


@dataclass(frozen=True)
class EndpointConfig:
    """The tunables, in ms; their reasons are documented on the settings they come from."""

    threshold: float
    preroll_ms: int
    end_of_turn_silence_ms: int
    min_utterance_ms: int
    max_utterance_ms: int
    no_input_timeout_ms: int
    barge_in_ms: int
    background_margin_db: float = 0.0  # 0: every burst the detector hears may be a turn
    hysteresis: float = HYSTERESIS
    tail_ms: int = TAIL_MS
    pause_ms: int = PAUSE_MS

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0 or not 0.0 <= self.hysteresis < self.threshold:
            raise ValueError(f"need 0 <= hysteresis < threshold <= 1, got {self.hysteresis}, {self.threshold}")
        if self.preroll_ms < MIN_PREROLL_MS:
            raise ValueError(f"preroll_ms={self.preroll_ms}: below {MIN_PREROLL_MS} ms the first mora is clipped")
        if self.max_utterance_ms <= self.preroll_ms + self.min_utterance_ms:
            raise ValueError("max_utterance_ms must leave room for pre-roll plus a minimum utterance")
        for name in ("end_of_turn_silence_ms", "no_input_timeout_ms", "barge_in_ms", "min_utterance_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> EndpointConfig:
        return cls(
            threshold=settings.vad_threshold,
            preroll_ms=settings.preroll_ms,
            end_of_turn_silence_ms=settings.end_of_turn_silence_ms,
            min_utterance_ms=settings.min_utterance_ms,
            max_utterance_ms=settings.max_utterance_ms,
            no_input_timeout_ms=settings.no_input_timeout_ms,
            barge_in_ms=settings.barge_in_ms,
            background_margin_db=settings.background_margin_db,
        )


def _frames(ms: int) -> int:
    """Durations round up to whole frames: a 710 ms silence rule must not fire after 700 ms."""
    return max(1, math.ceil(ms / FRAME_MS))


class Endpointer:
    """Per-call endpointing; feed every received frame, in order, to ``push``."""

    def __init__(self, config: EndpointConfig, vad: VoiceDetector) -> None:
        self.config = config
        self._vad = vad
        self._preroll_n = _frames(config.preroll_ms)
        self._end_n = _frames(config.end_of_turn_silence_ms)
        self._min_n = _frames(config.min_utterance_ms)
        self._max_n = _frames(config.max_utterance_ms)
        self._no_input_n = _frames(config.no_input_timeout_ms)
        self._barge_n = _frames(config.barge_in_ms)
        self._tail_n = config.tail_ms // FRAME_MS
        self._pause_n = max(self._tail_n, _frames(config.pause_ms))  # the utterance's tail is complete by then
        self._refresh_n = _frames(VAD_REFRESH_MS)
        self._levels: deque[float] = deque(maxlen=_frames(BACKGROUND_MS))
        self._talk_memory_n = _frames(TALK_MEMORY_MS)
        self._background_min_n = _frames(BACKGROUND_MIN_MS)
        self.reset()

    def reset(self) -> None:
        """Back to the start of a call: clock at 0, no speech, no-input clock off, detector state cleared."""
        self._frame = 0
        self._ring: deque[np.ndarray] = deque(maxlen=self._preroll_n)
        self._in_speech = False
        self._buf: list[np.ndarray] = []
        self._buf_start = 0  # frame index of _buf[0]
        self._onset = 0  # first frame at or above the threshold
        self._last_voiced = 0
        self._silence_run = 0
        self._started = False  # the current burst is long (and loud) enough to be a turn
        self._announced = False  # SpeechStarted sent for it: it also stood out from the line
        self._barge_run = 0
        self._barge_done = False
        self._bot_was_speaking = False
        self._no_input_armed = False
        self._no_input_frames = 0
        self._quiet = 0  # frames of silence between turns since the detector was last refreshed
        self._levels.clear()  # frame levels (dBFS) of the last ``BACKGROUND_MS``, everything heard
        self._floor = -math.inf  # the background plus the margin while the check is on (else -inf)
        self._loud = 0  # voiced frames of this burst that stand out from the background
        self._talk_at: int | None = None  # frame of the last burst too short or too quiet to be a turn
        self._level_floor = -math.inf  # the background plus the margin, whether or not the check is on
        self._above = 0  # voiced frames of this burst above ``_level_floor``
        reset = getattr(self._vad, "reset", None)
        if callable(reset):
            reset()

    @property
    def in_speech(self) -> bool:
        """Speech (or a burst that may become speech) is being collected."""
        return self._in_speech

    def bot_finished(self) -> None:
        """The caller has heard the whole prompt: the no-input clock starts from zero now."""
        self._no_input_armed = True
        self._no_input_frames = 0
        self._barge_done = False
        self._bot_was_speaking = False

    def push(self, frame: np.ndarray, bot_speaking: bool = False) -> list[Event]:
        """One 20 ms frame (160 int16 samples); ``bot_speaking`` while our prompt is being played."""
        check_frame(frame)
        p = self._vad.probability(frame)
        level = _level_dbfs(frame)
        self._floor, self._level_floor = self._floors()
        self._levels.append(level)
        n = self._frame
        self._frame += 1
        events: list[Event] = []
        if bot_speaking and not self._bot_was_speaking:
            self._barge_done = False  # a new prompt: one barge-in allowed again
        self._bot_was_speaking = bot_speaking

        if not self._in_speech:
            if p >= self.config.threshold:
                self._begin(frame, n)
                self._loud = int(level >= self._floor)
                self._above = int(level >= self._level_floor)
            else:
                self._ring.append(frame)
                self._refresh_when_quiet(p)
                if self._no_input_armed and not bot_speaking:
                    self._no_input_frames += 1
                    if self._no_input_frames >= self._no_input_n:
                        self._no_input_armed = False
                        events.append(NoInput(at_ms=self._frame * FRAME_MS))
                return events
        else:
            self._buf.append(frame)
            if p >= self.config.threshold - self.config.hysteresis:
                self._last_voiced = n
                self._silence_run = 0
                if level >= self._floor and not self._loud:
                    self._onset = n  # the caller's voice starts here, not where the talk behind began
                self._loud += level >= self._floor
                self._above += level >= self._level_floor
            else:
                self._silence_run += 1
            if not self._loud and len(self._buf) > self._preroll_n:
                # Only talk behind the caller so far: it slides by as pre-roll, part of the background.
                self._buf.pop(0)
                self._buf_start += 1
                self._talk_at = n  # the talk goes on: so does the check

        voiced = self._silence_run == 0
        if (not self._started and voiced and self._last_voiced - self._onset + 1 >= self._min_n
                and self._loud >= LOUD_FRAMES):
            self._started = True
            self._no_input_armed = False  # the caller answered
        if self._started and not self._announced and self._above >= LOUD_FRAMES:
            self._announced = True
            events.append(SpeechStarted(at_ms=self._onset * FRAME_MS))
        self._barge_run = self._barge_run + 1 if bot_speaking and voiced else 0
        if self._barge_run >= self._barge_n and not self._barge_done and self._loud >= LOUD_FRAMES:
            self._barge_done = True
            events.append(BargeIn(at_ms=self._frame * FRAME_MS))

        if self._started and self._silence_run == self._pause_n and self._pause_n < self._end_n:
            events.append(self._pause())
        if self._silence_run >= self._end_n:
            events.extend(self._finish())
        elif len(self._buf) >= self._max_n:
            events.extend(self._cut())
        return events

    def _refresh_when_quiet(self, p: float) -> None:
        """Between turns, clear the detector's state after each ``VAD_REFRESH_MS`` of silence."""
        self._quiet = self._quiet + 1 if p < self.config.threshold - self.config.hysteresis else 0
        if self._quiet >= self._refresh_n:
            self._quiet = 0
            refresh = getattr(self._vad, "refresh", None)
            if callable(refresh):
                refresh()

    def background_talk(self) -> None:
        """The last turn was talk behind the caller (unreadable, no louder than the line): from
        now on a burst must stand out to be a turn; the caller's no-input clock runs again."""
        self._talk_at = self._frame
        self._no_input_armed, self._no_input_frames = not self._bot_was_speaking, 0
        if self._in_speech and not self._started:  # the talk is still going on: judged anew from here
            self._loud = self._above = 0

    def _begin(self, frame: np.ndarray, n: int) -> None:
        self._buf = [*self._ring, frame]
        self._buf_start = n - len(self._ring)
        self._ring.clear()
        self._in_speech = True
        self._onset = self._last_voiced = n
        self._silence_run = 0
        self._started = self._announced = False
        self._barge_run = 0

    def _floors(self) -> tuple[float, float]:
        """(the check's floor, the stands-out floor): the line's median level plus the margin, its
        percentile taken once per frame. The check's is -inf (anything passes) unless there has
        been talk behind the caller lately; the stands-out one is +inf (nothing is known to stand
        out) until a second of the line has been heard. Both -inf with the margin at 0."""
        margin = self.config.background_margin_db
        if margin <= 0 or not self._levels:
            return -math.inf, (-math.inf if margin <= 0 else math.inf)
        talk = self._talk_at is not None and self._frame - self._talk_at <= self._talk_memory_n
        enough = len(self._levels) >= self._background_min_n
        if not talk and not enough:
            return -math.inf, math.inf
        line = float(np.percentile(np.fromiter(self._levels, float), BACKGROUND_PERCENTILE)) + margin
        return (line if talk else -math.inf), (line if enough else math.inf)

    def _finish(self) -> list[Event]:
        """End of turn: emit the utterance (or drop a too-short burst) and go back to listening."""
        keep = min(len(self._buf), self._last_voiced - self._buf_start + 1 + self._tail_n)
        events: list[Event] = []
        if self._started:
            events.append(self._utterance(self._buf[:keep], truncated=False))
        else:
            log.debug("burst of %d ms ignored", (self._last_voiced - self._onset + 1) * FRAME_MS)
            self._talk_at = self._frame  # a blip of talk behind the caller, or a click: the check goes on
        self._ring.extend(self._buf[-self._preroll_n :])  # the silence just heard is the next pre-roll
        self._in_speech = False
        self._buf = []
        self._barge_run = 0
        return events

    def _cut(self) -> list[Event]:
        """Max length reached mid-speech: emit what we have, keep listening to the same speech."""
        events: list[Event] = []
        if self._started:
            events.append(self._utterance(self._buf, truncated=True))
        self._buf_start += len(self._buf)
        self._buf = []
        self._onset = self._buf_start
        self._last_voiced = self._buf_start - 1  # nothing voiced yet in the continuation
        self._started = self._announced = False
        self._loud = self._above = 0  # the continuation must stand out on its own
        return events

    def _pause(self) -> Pause:
        keep = min(len(self._buf), self._last_voiced - self._buf_start + 1 + self._tail_n)
        u = self._utterance(self._buf[:keep], truncated=False)
        return Pause(pcm=u.pcm, start_ms=u.start_ms, end_ms=u.end_ms, speech_end_ms=u.speech_end_ms)

    def _utterance(self, frames: list[np.ndarray], *, truncated: bool) -> Utterance:
        start_ms = self._buf_start * FRAME_MS
        return Utterance(
            pcm=np.concatenate(frames),
            start_ms=start_ms,
            end_ms=start_ms + len(frames) * FRAME_MS,
            truncated=truncated,
            speech_end_ms=min(start_ms + len(frames) * FRAME_MS, (self._last_voiced + 1) * FRAME_MS),
            stands_out=self._above >= LOUD_FRAMES,
        )


def _level_dbfs(frame: np.ndarray) -> float:
    """A frame's level in dB below a full-scale square wave."""
    power = float(np.mean(np.square(frame, dtype=np.float64))) / (32768.0 * 32768.0)
    return 10.0 * math.log10(power) if power > 0 else SILENT_DBFS
