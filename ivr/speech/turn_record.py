"""What happened in one caller turn, as `ivr sim --audio`, the logs, the turn log and the bench see it."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.dialogue.turns import BotTurn


@dataclass
class TurnRecord:
    """What happened in one caller turn: for `ivr sim --audio`, logs, the turn log and the bench."""

    transcript: str
    reply: BotTurn
    kind: str = "speech"  # speech | typed | dtmf | silence | greeting | error
    speech_end: float = 0.0  # monotonic time the caller stopped speaking (0 for DTMF/silence)
    asr_ms: float = 0.0
    prompt: int = 0
    dropped: str = ""  # why the ASR text was dropped (hallucination, prompt echo)
    confidence: float = 0.0  # the recogniser's trust in the transcript (AsrResult.confidence)
    speculated: bool = False  # the text came from ASR started at a pause, before the turn ended
    start_ms: int = 0  # the caller's audio clock: where the turn's audio starts and ends
    end_ms: int = 0
    audio_ms: int = 0  # audio sent to ASR
    parts: int = 1  # stretches of speech joined into this turn (1: heard whole in one go)
    held_ms: int = 0  # extra silence waited for after a clause left open (〜けど, 〜って …)
    superseded: bool = False  # the caller went on: this half was joined into the next turn
    seq: int = 0  # number of the turn in its call (the turn log's key)
