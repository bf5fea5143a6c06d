"""The bot's own question, heard again before a short answer, so Whisper reads the answer in context.

Whisper base reads a lone 0.3 s answer badly: on its own, いいえ comes out みな or いいね and うん
comes out おの. People do not hear a bare word either; they hear it as the reply to the question
just asked. So a short turn after a yes/no question is decoded as the end of a dialogue: the
question's last unit, in the bot's own voice exactly as the caller heard it (the synthesiser's
cache), a short beat, then the caller's turn, with the question's text forced as the decode's
prefix. Whisper only has to write what follows.

Measured on the dev short answers of bench/turn_set.py (はい, いいえ, うん, 結構です, お願いします in
six voices, clean / 20 dB / 10 dB, 45 clips): right yes/no 23/45 with the question as the prompt
(the previous method), 38/45 with the lead-in; a fixed lead-in 「よろしいですか。」 gave 35/45. On
longer turns after the question (70 dev questions) reading CER 0.151 vs 0.173, but ~0.35 s more
decode, so only short turns get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ivr.speech.sentences import split_sentences
from ivr.speech.vad import LINE_RATE

if TYPE_CHECKING:
    from ivr.speech.tts import Synthesizer

GAP_MS = 400  # a beat between question and answer, as on a call; the figures above used it
# Turns up to this long get the lead-in: はい、お願いします is ~1.2 s; a longer turn is most likely a
# new question, which reads about as well without it and ~0.35 s sooner.
MAX_TURN_MS = 2000


@dataclass(frozen=True)
class LeadIn:
    """The question's last unit: its text (forced as the decode's prefix) and its 8 kHz audio."""

    text: str
    pcm: np.ndarray

    def before(self, turn: np.ndarray) -> np.ndarray:
        """The audio Whisper hears: the question, the beat, the caller's turn (8 kHz int16)."""
        gap = np.zeros(GAP_MS * LINE_RATE // 1000, dtype=np.int16)
        return np.concatenate([self.pcm.astype(np.int16), gap, turn])

    def answer(self, decoded: str) -> str | None:
        """What the caller said: the decode after the forced prefix, or None when the decode did
        not keep the prefix (then the turn is decoded without the lead-in)."""
        text = decoded.strip()
        if not text.startswith(self.text):
            return None
        return text[len(self.text) :].strip()


def fits(turn: np.ndarray) -> bool:
    """A turn short enough to be an answer rather than a new question."""
    return 0 < len(turn) <= MAX_TURN_MS * LINE_RATE // 1000


def lead_in_for(question: str | None, tts: Synthesizer) -> LeadIn | None:
    """The lead-in for ``question`` from what the synthesiser already holds (the question was
    just played, so its units are cached): a dict lookup, never a synthesis on the call's loop."""
    if not question:
        return None
    units = split_sentences(question)
    if not units:
        return None
    pcm = tts.cached(units[-1])
    if pcm is None or not len(pcm):
        return None
    return LeadIn(units[-1], pcm)
