"""``ivr sim --audio``: WAV files as caller turns, through the same audio path as a phone call.

Each file is cut into 20 ms telephone frames (8 kHz, int16) and fed to a ``VoiceCall`` —
endpointer, Silero VAD, Whisper, the dialogue, TTS — exactly as Twilio or AudioSocket would,
only without waiting 20 ms between frames. The line is fed as a phone line feeds it: while the
bot speaks, the caller's side sends silence for as long as the prompt plays, and the prompt
counts as heard only at its end (Twilio's mark); so the detector, the no-input clock and the
turn logic see the same frames as on the phone. Silence is appended after each turn so the
endpointer hears the caller finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivr.audio.codec import FRAME_SAMPLES, frames, read_wav, write_wav
from ivr.speech.services import SpeechServices
from ivr.speech.voice_call import TurnRecord, VoiceCall
from simulator.runtime import Simulator

# > end-of-turn silence (700 ms) plus the longest hold after a clause left open (1500 ms), with
# margin: the turn must end in the file
TRAILING_SILENCE_MS = 2500
TURN_TIMEOUT_S = 60.0  # ASR + TTS of one turn take ~1–2 s here; a minute means something hung
SETTLE_POLL_S = 0.01


@dataclass
class RecordingTransport:
    """A carrier that keeps the bot's audio per prompt and notes transfers and hang-ups."""

    call: VoiceCall | None = None
    audio: dict[int, list[np.ndarray]] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # turns that never settled: reported, not raised
    line: bool = False  # a caller on a line hears each prompt for as long as it plays (see settle_on_line)
    unheard: list[tuple[int, int]] = field(default_factory=list)  # (prompt, frames) still playing to the caller
    _prompt: int = 1  # prompts are numbered from 1 (the greeting)

    async def send_audio(self, frame: np.ndarray) -> None:
        self.audio.setdefault(self._prompt, []).append(frame)

    async def prompt_done(self, prompt: int) -> None:
        if self.line:
            self.unheard.append((prompt, len(self.audio.get(prompt, []))))
        elif self.call is not None:
            self.call.heard(prompt)  # no network between us and the "caller": heard at once
        self._prompt = prompt + 1

    async def clear(self) -> None:
        self.actions.append({"kind": "clear"})

    async def transfer(self, data: dict[str, Any]) -> None:
        self.actions.append({"kind": "transfer", **data})

    async def hangup(self, reason: str) -> None:
        self.actions.append({"kind": "hangup", "reason": reason})

    def prompt_audio(self, prompt: int) -> np.ndarray:
        return np.concatenate(self.audio.get(prompt, [np.zeros(0, np.int16)]))


def _silent_line(n: int) -> np.ndarray:
    return np.zeros(n * FRAME_SAMPLES, np.int16)


async def settle_on_line(
    call: VoiceCall,
    transport: RecordingTransport,
    timeout_s: float = TURN_TIMEOUT_S,
    line: Callable[[int], np.ndarray] = _silent_line,
) -> None:
    """Wait until the call has answered everything, feeding ``line(n)`` (n frames of what the
    caller's line carries: silence, or noise) while each prompt plays, then marking it heard.
    Raises TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if transport.unheard:
                prompt, n = transport.unheard.pop(0)
                for frame in frames(line(n)):
                    await call.audio(frame)
                call.heard(prompt)
                continue
            if call.idle and call.player.idle:
                await asyncio.sleep(SETTLE_POLL_S * 5)
                if call.idle and call.player.idle and not transport.unheard:
                    return
            await asyncio.sleep(SETTLE_POLL_S)


async def _settle(call: VoiceCall, transport: RecordingTransport, what: str) -> bool:
    """Wait for the call to answer ``what``; a turn that hangs is noted as an error, not raised."""
    try:
        await settle_on_line(call, transport, TURN_TIMEOUT_S)
        return True
    except TimeoutError:
        transport.errors.append(f"{what}: no answer within {TURN_TIMEOUT_S:g} s")
        return False


def turn_json(record: TurnRecord) -> dict[str, Any]:
    out = record.reply.to_json(record.transcript)
    out["transcript"] = out.pop("text")
    if record.dropped:
        out["dropped"] = record.dropped
    out["asr_ms"] = round(record.asr_ms)
    if record.parts > 1:
        out["parts"] = record.parts
    if record.superseded:
        out["superseded"] = True  # the caller went on after a pause: joined into the next turn
    return out


async def run_audio_call(
    simulator: Simulator,
    speech: SpeechServices,
    files: list[Path],
    caller_number: str = "",
    save_audio: Path | None = None,
) -> tuple[list[TurnRecord], RecordingTransport]:
    """Play ``files`` as the caller's turns; returns every bot turn (greeting first)."""
    transport = RecordingTransport(line=True)
    call = VoiceCall(simulator.session(caller_number), speech, transport, pace=False)
    transport.call = call
    silence = np.zeros(TRAILING_SILENCE_MS * 8, np.int16)
    await call.start()
    settled = await _settle(call, transport, "the greeting")
    for path in files:
        if call.ended or not settled:
            break
        for frame in frames(np.concatenate([read_wav(path), silence])):
            await call.audio(frame)
        settled = await _settle(call, transport, path.name)
    if not call.ended:
        await call.hangup()
    await call.close()
    if save_audio is not None:
        save_audio.mkdir(parents=True, exist_ok=True)
        for record in call.records:
            pcm = transport.prompt_audio(record.prompt)
            if len(pcm):
                write_wav(save_audio / f"bot-{record.prompt:02d}.wav", pcm)
    return call.records, transport

