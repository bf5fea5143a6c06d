"""An optional log of caller turns, one JSON line each: what the recogniser heard on a real line.

For tuning and the turn-integrity bench (``bench/turns.py``), which plays clips into a running
``ivr serve`` and needs to see what reached Whisper. Off by default: the lines hold what callers
said (``IVR_TURN_LOG`` names the file). A turn later joined with the caller's next words is
written again with ``superseded`` set; readers keep the last line per ``(call, seq)``.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.speech.voice_call import TurnRecord

log = logging.getLogger(__name__)

_FIELDS = ("seq", "kind", "transcript", "dropped", "audio_ms", "start_ms", "end_ms", "parts", "held_ms",
           "speculated", "superseded", "asr_ms", "confidence")


class TurnLog:
    """Appends to ``path``; one per process, shared by every call (writes are whole lines)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, call_id: str, record: TurnRecord) -> None:
        data = {"call": call_id, **{k: v for k, v in asdict(record).items() if k in _FIELDS}}
        data["asr_ms"], data["confidence"] = round(float(data["asr_ms"])), round(float(data["confidence"]), 3)
        data.update(intent=record.reply.intent, action=str(record.reply.action), reply=record.reply.text)
        line = json.dumps(data, ensure_ascii=False) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line)
        except OSError:  # a full or read-only disk must not touch the call
            log.warning("turn log %s not writable", self.path, exc_info=True)
