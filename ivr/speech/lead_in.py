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

import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

import numpy as np

from ivr.language.yes_no import bare_fine, yes_no
from ivr.speech.sentences import split_sentences
from ivr.speech.vad import LINE_RATE

if TYPE_CHECKING:
    from ivr.dialogue.state import CallState
    from ivr.speech.tts import Synthesizer

GAP_MS = 400  # a beat between question and answer, as on a call; the figures above used it
# Turns up to this long get the lead-in: はい、お願いします is ~1.2 s; a longer turn is most likely a
# new question, which reads about as well without it and ~0.35 s sooner.
MAX_TURN_MS = 2000
# Slot answers heard after the question too (「青山です」 after 「たとえば、青垣町、のようにお話しください。」).
# Dev slot answers (22 lines, 3 voices; clean / 20 / 10 dB) understood alone → after the question:
# town 13→15, 4→10, 1→6 of 15 (with the echo check below); category 7→14, 7→7, 3→3 of 15. Not
# item names, which read worse after 「捨てたいものの名前を…」 (20→18, 14→7, 7→1 of 30: the
# knowledge base's hotwords are lost with a prefix), nor 丁目: right 0→4 of 6 at 20 dB, but a
# wrong number 0→1 (二丁目 → 一丁目), and a wrong 丁目 answers for the wrong rows unasked.
SLOTS_AFTER_QUESTION = ("area", "category")
ECHO_MIN_CHARS = 3  # an example named in the question (青垣町, 燃やせるごみ); shorter ones are words
CONFIRMATION = re.compile(r"(?:よろしいですか|ですね)[。？?]?$")  # 〜でよろしいですか, a read-back's 〜ですね？


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

    def settle(self, answer: str, alone: Callable[[], str]) -> str:
        """The answer, or the turn decoded ``alone`` when that is a no and the answer a bare いいです
        to a confirmation: after 「〜でよろしいですか」 Whisper base wrote a quick いいえ 「いいです。」
        (0.90–0.94; two voices, 20 and 10 dB, turns.py --after confirm) and alone 「いいね」「みな」, 3
        of 3; a said いいです reads いいです alone too (18 of 18: six voices, clean / 20 / 10 dB). Alone
        a いいえ also reads いいよ, a yes: only a no is taken, so the doubt can end in a no, never a yes."""
        if not (CONFIRMATION.search(self.text) and bare_fine(answer)):
            return answer
        heard = alone()
        return heard if yes_no(heard, confirming=True) is False else answer

    def echo(self, answer: str) -> str | None:
        """A name the question gave as an example (青垣町 in 「たとえば、青垣町、のように」) that the
        answer repeats: at 10 dB a caller's 青野町 came out 「青垣です」, read from the question rather
        than heard, so it is checked against the turn decoded alone before it is believed."""
        for word in re.split(r"[、。？?]", self.text):
            if len(word) < ECHO_MIN_CHARS or re.fullmatch(r"[ぁ-ゖー]+", word):
                continue  # たとえば, のようにお話しください, a read-back in kana: no name
            m = SequenceMatcher(None, word, answer, autojunk=False).find_longest_match()
            if m.size >= max(2, len(word) - 1):
                return word
        return None


def fits(turn: np.ndarray) -> bool:
    """A turn short enough to be an answer rather than a new question."""
    return 0 < len(turn) <= MAX_TURN_MS * LINE_RATE // 1000


def slot_question(state: CallState) -> str | None:
    """What the bot just said to ask for a town or a category (``SLOTS_AFTER_QUESTION``)."""
    from ivr.dialogue.state import AskSlot

    pending = state.pending
    asked = isinstance(pending, AskSlot) and pending.slot in SLOTS_AFTER_QUESTION
    return (state.last_text or None) if asked else None


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
