"""The paths a caller's turn can take to the recogniser, for bench/turns.py.

``sim`` is in process, as ``ivr sim --audio`` runs a call (simulator/audio.py: audio pushed as
fast as it is taken); ``twilio``, ``audiosocket`` and ``web`` (the browser test call) are a real
``ivr serve`` spoken to over its sockets in real time, as a live line is: a frame every 20 ms for
the whole call (the line's noise when the caller is quiet, during the bot's prompts too), marks
echoed as Twilio does (and as the test-call page does) once audio has played. Every path gives
the same thing back: for each clip played, where it fell on the call's caller-audio clock (the
endpointer's clock), and the call's caller turns as the recogniser saw them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from turn_set import CONDITIONS, Clip, line_noise

from ivr.audio.codec import FRAME_MS, FRAME_SAMPLES, frames, ulaw_decode, ulaw_encode
from ivr.dialogue import prompts

TRAILING_MS = 3000  # after a clip: the end-of-turn silence plus up to ~1.5 s of hold after a continuation form
GAP_MS = 1000  # sim: line noise heard before each clip, as the caller waits after the bot's reply
IDLE_S = 2.0  # server paths: no bot audio for this long after the trailing silence: the bot is done (a caller's gap)
LATE_S = 8.0  # … but first wait this long for any answer at all (a reply, or the 8 s no-input prompt)
REPLY_TIMEOUT_S = 90.0  # waiting for the bot to finish one reply; longer means something hung
STAGGER_S = 6.0  # concurrent calls start this far apart, so their turns do not all reach ASR at once
KEY_GAP_S = 0.15  # server paths: between two key presses, as a caller's thumb
NOISE_LOOP_S = 7.3  # the line's noise between clips is a loop this long (not a multiple of a frame pattern)
ENDING_ACTIONS = ("end", "transfer")  # after these the bot leaves the call
ANYTHING_ELSE = prompts.ANYTHING_ELSE.rstrip("。")
CONFIRMATION = "でよろしいですか"  # the end of every confirmation (a topic, the callback number)
PRELUDE_TRIES = 3  # the confirm prelude said at most this often before a short answer (decodes differ by context)
SELF_HAUL_KEY = "4"  # the menu key whose answer ends in 「ほかに、ご質問はありますか」 on any line
# What a short answer follows (``run_script``'s ``after``): the open question the bot must have
# just asked, and how the caller gets it asked when it has not.
AFTER = {
    "anything_else": ANYTHING_ELSE,  # 「ほかに、ご質問はありますか」: the menu key gets it asked on any line
    "confirm": CONFIRMATION,  # 「〇〇についてのご質問でよろしいですか」: asked after the confirm prelude, said clean
}


@dataclass
class Turn:
    """One caller turn as the recogniser saw it: a ``TurnRecord`` (sim) or a turn-log line (server)."""

    kind: str  # speech | dtmf | silence | hangup
    transcript: str
    dropped: str  # why ASR's text was dropped ('' if kept)
    audio_ms: int  # audio sent to ASR
    start_ms: int  # the endpointer's clock: ms of caller audio since the call began
    end_ms: int
    parts: int  # stretches of speech joined into this turn (1: heard whole in one go)
    held_ms: int  # extra wait after a clause left open
    speculated: bool
    superseded: bool  # the caller went on: this half was joined into a later turn
    seq: int
    asr_ms: int
    intent: str
    action: str
    reply: str
    confidence: float = 0.0  # the recogniser's trust in the transcript

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Turn:
        """From a line of the server's ``IVR_TURN_LOG``."""
        return cls(d.get("kind", "speech"), d.get("transcript", ""), d.get("dropped", "") or "",
                   int(d.get("audio_ms", 0)), int(d.get("start_ms", 0)), int(d.get("end_ms", 0)),
                   int(d.get("parts", 1)), int(d.get("held_ms", 0)), bool(d.get("speculated", False)),
                   bool(d.get("superseded", False)), int(d.get("seq", 0)), int(d.get("asr_ms", 0)),
                   d.get("intent", ""), str(d.get("action", "")), d.get("reply", ""), float(d.get("confidence", 0)))

    @classmethod
    def from_record(cls, r: Any) -> Turn:
        """From ``ivr.speech.voice_call.TurnRecord`` (the sim path's ``call.records``)."""
        return cls(r.kind, r.transcript, r.dropped, int(r.audio_ms), int(r.start_ms), int(r.end_ms), int(r.parts),
                   int(r.held_ms), bool(r.speculated), bool(r.superseded), int(r.seq), round(r.asr_ms),
                   r.reply.intent, str(r.reply.action), r.reply.text, float(r.confidence))


class TurnLog:
    """The server's turn log, read per call (the file is small: one line per caller turn)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
        return out

    def turns(self, call_id: str) -> list[Turn]:
        """The call's turns in order; a turn written again (superseded when joined) counts as its last line."""
        last = {int(d.get("seq", i)): d for i, d in enumerate(self.all()) if str(d.get("call")) == call_id}
        return [Turn.from_json(last[seq]) for seq in sorted(last)]


@dataclass
class Played:
    """One clip as played into a call."""

    clip: Clip
    path: str
    call: str
    t0_ms: int  # caller clock when the clip's first sample went out
    stop_ms: int = 0  # … and when its trailing silence ended
    asked: bool | None = None  # short answers: the bot had just asked the question ``after`` names
    after: str = "anything_else"  # short answers: which question they answer (a key of ``AFTER``)
    prelude: bool = False  # said only to make the bot ask; not scored
    reply_wait_ms: float | None = None  # end of speech → first bot audio (server paths)
    bot_during: bool = False  # bot audio came while the caller was still speaking
    seqs: tuple[int, int] = (0, 0)  # the call's last turn number before the clip and after its reply
    turns: list[Turn] = field(default_factory=list)  # the call's turns, filled after the call

    @property
    def speech_ms(self) -> tuple[int, int]:
        return self.t0_ms + self.clip.speech_start // 8, self.t0_ms + -(-self.clip.speech_end // 8)


def noise_loop(condition: str, seed: int) -> np.ndarray:
    """The line's noise when the caller is quiet (int16 after μ-law), for a whole call."""
    noise = line_noise(int(NOISE_LOOP_S * 8000), CONDITIONS[condition], np.random.default_rng(seed))
    pcm = np.clip(np.rint(noise * 32767.0), -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(pcm))


class CallDriver:
    """One call on one path; subclasses connect it and say clips into it."""

    path = ""

    def __init__(self, call_id: str, condition: str, seed: int) -> None:
        self.call_id, self.condition = call_id, condition
        self.noise = noise_loop(condition, seed)

    async def start(self) -> None:
        raise NotImplementedError

    async def say(self, clip: Clip, prelude: bool = False) -> Played:
        raise NotImplementedError

    def turns(self) -> list[Turn]:
        raise NotImplementedError

    async def hangup(self) -> None:
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    async def press(self, keys: str) -> None:
        """Keys on the caller's keypad, then the bot's reply heard out."""
        raise NotImplementedError

    def asked(self, after: str = "anything_else") -> bool:
        """The bot's last words were the question ``after`` names (``AFTER``): a yes/no question is open."""
        turns = self.turns()
        if not turns or not turns[-1].reply.rstrip("。").endswith(AFTER[after]):
            return False
        return turns[-1].action == ("answer" if after == "anything_else" else "clarify")

    def last_seq(self) -> int:
        return max((t.seq for t in self.turns()), default=0)

    def left(self) -> bool:
        turns = self.turns()
        return self.ended or bool(turns and turns[-1].action in ENDING_ACTIONS)


async def _ask(driver: CallDriver, after: str, prelude: Clip) -> list[Played]:
    """Get the bot to ask the question ``after`` names: the self-haul menu key for 「ほかに、ご質問は
    ありますか」 (a key is heard on any line, so the figure is the short answer's, not the prelude's),
    the ``prelude`` clip for a confirmation."""
    if after == "anything_else":
        await driver.press(SELF_HAUL_KEY)
        return []
    played = []
    for _ in range(PRELUDE_TRIES):  # said again, as a caller would, when the bot did not take it
        played.append(await driver.say(prelude, prelude=True))
        if driver.asked(after) or driver.left():
            break
    return played


async def run_script(driver: CallDriver, script: list[Clip], prelude: Clip,
                     after: str = "anything_else") -> tuple[list[Played], list[Clip]]:
    """Say ``script``'s clips in order into one call: a short answer only after the bot has asked
    the yes/no question ``after`` names (asked for first if it has not). Returns the clips played
    and those left unsaid because the bot left the call."""
    played: list[Played] = []
    rest: list[Clip] = []
    await driver.start()
    for i, clip in enumerate(script):
        if driver.left():
            rest = script[i:]
            break
        asked = None
        if clip.kind == "short":
            if not driver.asked(after):
                played.extend(await _ask(driver, after, prelude))
                if driver.left():
                    rest = script[i:]
                    break
            asked = driver.asked(after)
        p = await driver.say(clip)
        p.asked, p.after = asked, after
        played.append(p)
    turns = driver.turns()
    for p in played:
        p.turns = turns
    await driver.hangup()
    return played, rest


# --- sim: in process ---------------------------------------------------------------------------


class SimCall(CallDriver):
    """``VoiceCall`` driven as simulator/audio.py does: frames pushed unpaced, the line's noise
    fed for as long as each prompt plays (``settle_on_line``), as on the live paths."""

    path = "sim"

    def __init__(self, call_id: str, condition: str, seed: int, sim: Any, speech: Any) -> None:
        from ivr.speech.voice_call import VoiceCall
        from simulator.audio import RecordingTransport

        super().__init__(call_id, condition, seed)
        self.transport = RecordingTransport(line=True)  # the line carries noise while each prompt plays
        self.call = VoiceCall(sim.session(), speech, self.transport, pace=False)
        self.transport.call = self.call
        self.call_id = self.call.session.call_id
        self._sent = 0

    async def start(self) -> None:
        await self.call.start()
        await self._settle()

    async def _settle(self) -> None:
        from simulator.audio import settle_on_line

        await settle_on_line(self.call, self.transport, REPLY_TIMEOUT_S, self._line)

    def _line(self, n: int) -> np.ndarray:
        """``n`` frames of the line's noise while the bot speaks (the caller's clock runs on)."""
        pcm = self._gap(n * FRAME_MS)
        self._sent += n
        return pcm

    async def _push(self, pcm: np.ndarray) -> None:
        for frame in frames(pcm):
            await self.call.audio(frame)
            self._sent += 1

    def _gap(self, ms: int) -> np.ndarray:
        return np.resize(np.roll(self.noise, -self._sent * FRAME_SAMPLES), ms * 8)

    async def say(self, clip: Clip, prelude: bool = False) -> Played:
        await self._push(self._gap(GAP_MS))
        played = Played(clip, self.path, self.call_id, self._sent * FRAME_MS, prelude=prelude)
        before = self.last_seq()
        await self._push(np.concatenate([clip.pcm, self._gap(TRAILING_MS)]))
        played.stop_ms = self._sent * FRAME_MS
        await self._settle()
        played.seqs = (before, self.last_seq())
        return played

    async def press(self, keys: str) -> None:
        for key in keys:
            await self.call.dtmf(key)
        await self._settle()

    def turns(self) -> list[Turn]:
        return [Turn.from_record(r) for r in self.call.records if r.kind != "greeting"]

    async def hangup(self) -> None:
        await self.call.hangup()
        await self.call.close()

    @property
    def ended(self) -> bool:
        return self.call.ended


# --- the server paths: a live line -------------------------------------------------------------


class LineCall(CallDriver):
    """A live line to ``ivr serve``: the caller's side sends a frame every 20 ms for as long as
    the call is up (a clip's frames when one is being said, else the line's noise) and notes
    when the bot's audio arrives. Subclasses supply the carrier's framing, and may send the
    caller's side at another rate than the line's 8 kHz (``frame_samples``, ``line_pcm``)."""

    frame_samples = FRAME_SAMPLES  # the caller's side: samples per 20 ms frame sent

    def __init__(self, call_id: str, condition: str, seed: int, read_log: Callable[[str], list[Turn]]) -> None:
        super().__init__(call_id, condition, seed)
        self._read_log = read_log
        self.sent = 0  # frames sent: the server's caller clock is sent × 20 ms
        self.closed = asyncio.Event()
        self._queue: deque[tuple[np.ndarray, Played, int, asyncio.Future[None]]] = deque()
        self._bot_last = 0.0  # monotonic time of the bot's last frame
        self._speech_end_at: float | None = None  # monotonic time the clip's last audible frame went out
        self._playing: Played | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._line_noise = self.line_pcm(self.noise)  # the noise loop as this carrier sends it

    def line_pcm(self, pcm: np.ndarray) -> np.ndarray:
        """8 kHz audio (a whole number of frames) as the caller's side sends it: ``frame_samples``
        per 20 ms, frame for frame. The line's own rate: as it is."""
        return pcm

    async def connect(self) -> None:
        raise NotImplementedError

    async def send_frame(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    async def send_key(self, key: str) -> None:
        """One keypad digit as the carrier sends it."""
        raise NotImplementedError

    async def press(self, keys: str) -> None:
        since = time.monotonic()
        for key in keys:
            await self.send_key(key)
            await asyncio.sleep(KEY_GAP_S)
        await self._idle(since, answered=lambda: self._bot_last > since)

    async def listen(self) -> None:
        """Read the carrier's messages until the call ends, calling ``bot_frame`` for each frame of audio."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        await self.connect()
        self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._listen())]
        started = time.monotonic()
        while not self.closed.is_set() and self._bot_last == 0.0 and time.monotonic() - started < REPLY_TIMEOUT_S:
            await asyncio.sleep(0.05)  # the greeting's first frame
        await self._idle(time.monotonic())  # … and its end

    def bot_frame(self) -> None:
        """The listener got one frame of the bot's audio."""
        now = time.monotonic()
        self._bot_last = now
        p = self._playing
        if p is not None:
            if self._speech_end_at is None:
                p.bot_during = True
            elif p.reply_wait_ms is None:
                p.reply_wait_ms = (now - self._speech_end_at) * 1000

    async def _listen(self) -> None:
        try:
            await self.listen()
        except Exception:  # a closed socket: the call is over
            pass
        finally:
            self.closed.set()

    async def _send_loop(self) -> None:
        next_at = time.monotonic()
        current: tuple[np.ndarray, Played, int, asyncio.Future[None]] | None = None
        i = 0
        n = self.frame_samples
        try:
            while not self.closed.is_set():
                if current is None and self._queue:
                    current, i = self._queue.popleft(), 0
                    current[1].t0_ms = self.sent * FRAME_MS
                    self._playing, self._speech_end_at = current[1], None
                if current is not None:
                    pcm, played, end_frame, done = current
                    frame = pcm[i * n : (i + 1) * n]
                    i += 1
                else:
                    frame = np.take(self._line_noise, np.arange(self.sent * n, (self.sent + 1) * n), mode="wrap")
                await self.send_frame(frame)
                self.sent += 1
                if current is not None:
                    if i - 1 == end_frame:
                        self._speech_end_at = time.monotonic()
                    if i * n >= len(current[0]):
                        current[1].stop_ms = self.sent * FRAME_MS
                        current[3].set_result(None)
                        current = None
                next_at += FRAME_MS / 1000
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        except Exception:
            self.closed.set()
        finally:
            if current is not None and not current[3].done():
                current[3].set_result(None)
            for item in self._queue:
                if not item[3].done():
                    item[3].set_result(None)

    async def say(self, clip: Clip, prelude: bool = False) -> Played:
        played = Played(clip, self.path, self.call_id, self.sent * FRAME_MS, prelude=prelude)
        trailing = np.resize(self.noise, TRAILING_MS * 8)
        pcm = np.concatenate([clip.pcm, trailing])
        pcm = self.line_pcm(np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, np.int16)]))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        before = self.last_seq()
        self._queue.append((pcm, played, clip.speech_end // FRAME_SAMPLES, done))
        await done
        await self._idle(time.monotonic(), answered=lambda: self._bot_last >= (self._speech_end_at or 0.0) > 0.0)
        self._playing = None
        played.seqs = (before, self.last_seq())
        return played

    async def _idle(self, since: float, answered: Callable[[], bool] = lambda: True) -> None:
        """Until the bot has sent nothing for ``IDLE_S`` (since ``since`` and its last frame) and,
        for up to ``LATE_S``, until it has ``answered`` (a slow ASR must not answer into the next clip)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while not self.closed.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            if now - max(since, self._bot_last) >= IDLE_S and (answered() or now - since >= LATE_S):
                return
            await asyncio.sleep(0.05)

    def turns(self) -> list[Turn]:
        return self._read_log(self.call_id)

    @property
    def ended(self) -> bool:
        return self.closed.is_set()

    async def hangup(self) -> None:
        await self.close()
        self.closed.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def gather_calls(scripts: list[list[Clip]], make: Callable[[int, str], CallDriver],
                 preludes: dict[str, Clip], concurrency: int,
                 report: Callable[[str], None], after: str = "anything_else") -> Awaitable[list[Played]]:
    """Run the scripts as calls, ``concurrency`` at a time; clips a call could not say (the bot
    left it) go to a new call, once."""

    async def run() -> list[Played]:
        todo: deque[tuple[list[Clip], int]] = deque((s, 0) for s in scripts)
        out: list[Played] = []
        counter = 0

        async def worker(k: int) -> None:
            nonlocal counter
            await asyncio.sleep(k * STAGGER_S)
            while todo:
                script, retried = todo.popleft()
                counter += 1
                driver = make(counter, script[0].condition)
                try:
                    played, rest = await run_script(driver, script, preludes[script[0].condition], after)
                except Exception as exc:  # one broken call must not end the bench
                    report(f"call {driver.call_id} failed: {exc!r}")
                    with contextlib.suppress(Exception):
                        await driver.hangup()
                    continue
                out.extend(played)
                report(f"call {driver.call_id} ({driver.path}, {script[0].condition}): {len(played)} clips"
                       + (f", bot left with {len(rest)} unsaid" if rest else ""))
                if rest and (retried < 1 or len(rest) < len(script)):
                    todo.append((rest, retried + (len(rest) == len(script))))

        await asyncio.gather(*(worker(k) for k in range(max(1, concurrency))))
        return out

    return run()
