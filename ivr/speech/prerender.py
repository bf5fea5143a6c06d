"""Item answers rendered into the voice cache in the background, after start-up, at the lowest CPU priority.

``ivr voices build`` (which ``ivr serve`` runs before it answers) renders what never varies:
prompts and FAQ answers. An item's answer (「小型家電は、燃やせないごみです。電池は外してください。…」)
does not vary either, but a city has ~1,200 items: ~1,500 units, about three CPU-minutes, too
long to hold start-up for. Uncached, they were most of the synthesis under load: in
bench/text_load.py's 1,000 turns, 314 of the 534 distinct units that had to be synthesised were
item answers' (1,464 of 2,092 uses), and the stale-data note every schedule answer ends with
was three more, used 154 times each.

So once the server is up, one extra process at nice 19 renders what the voice cache lacks of
them, most-asked items first, into the voice cache (memory now, disk for the next start). It
takes only CPU nothing else wants: the calls' synthesis workers and Whisper come first, and it
exits when done. A later start finds them all and starts no process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ivr.dialogue import answers, prompts
from ivr.speech import tts_workers
from ivr.speech.sentences import split_sentences, spoken_length
from ivr.speech.tts import render_unit
from ivr.speech.vocabulary import most_asked

if TYPE_CHECKING:
    from ivr.knowledge.base import KnowledgeBase
    from ivr.speech.tts import Synthesizer

log = logging.getLogger(__name__)

PRERENDER_NICE = 19  # the lowest priority: only CPU that calls leave idle
CHUNK_UNITS = 8  # units per trip to the process: fewer round trips, and a stop waits for ≤ 8 units


def answer_texts(kb: KnowledgeBase, today: datetime | None = None) -> list[str]:
    """Every item's answer as the dialogue says it (alone and with ほかに、ご質問は…), most-asked
    items first, then the stale-data note if the schedule is stale today."""
    template = next((t.answer for t in kb.topics if str(t.handler or "") == "item_category"), None)
    texts: list[str] = []
    if template is not None:
        rank = {name: i for i, name in enumerate(most_asked(kb, len(kb.items), 0))}
        for item in sorted(kb.items, key=lambda i: rank.get(i.name, len(rank))):
            text = answers.item_answer(kb, item, template)
            texts += [text, text + prompts.ANYTHING_ELSE]
    day = (today or datetime.now(ZoneInfo(kb.municipality.timezone))).date()
    if note := answers.stale_note(kb, day):
        texts.append(note)
    return texts


def missing_units(tts: Synthesizer, texts: list[str]) -> list[str]:
    """Units of ``texts`` the voice cache lacks (spoken ones, each once, in order)."""
    assert tts.cache is not None
    units = dict.fromkeys(u for text in texts for u in split_sentences(text) if spoken_length(u))
    return [u for u in units if u not in tts.cache]


def _lowest_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, 0, PRERENDER_NICE)


class Prerenderer:
    """The background rendering: ``start`` returns at once; ``stop`` at shutdown."""

    def __init__(self, tts: Synthesizer) -> None:
        self.tts = tts
        self.rendered = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # stop() sees the pool and its worker, or _run sees the stop
        self._pool: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self, texts: list[str]) -> None:
        if self.tts.cache is None:
            return  # nowhere to keep them (tests' synthesizers)
        self._thread = threading.Thread(target=self._run, args=(texts,), daemon=True, name="tts-prerender")
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            pool = self._pool
        if pool is not None:
            tts_workers.stop_pool(pool)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, texts: list[str]) -> None:
        cache = self.tts.cache
        assert cache is not None
        units = missing_units(self.tts, texts)
        todo = []
        for unit in units:  # made by a call already: keep that, no synthesis
            hit = self.tts.cached(unit)
            if hit is None:
                todo.append(unit)
            else:
                cache.put(unit, hit)
        if not todo:
            return
        started = time.monotonic()
        # Nice is per thread on Linux and a spawned child inherits its parent thread's: lowering this
        # (otherwise idle) thread's puts the whole child, its interpreter's start included, at nice 19.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PRERENDER_NICE)
        with self._lock:
            if self._stop.is_set():
                return  # the server stopped while the units were being counted
            self._pool = tts_workers.new_pool(1, _lowest_priority)
            results = self._pool.map(render_unit, todo, repeat(self.tts.speed), chunksize=CHUNK_UNITS)  # spawns it
        log.info("voice cache: rendering %d item-answer units in the background (nice %d)", len(todo), PRERENDER_NICE)
        try:
            for unit, pcm in zip(todo, results, strict=True):
                if self._stop.is_set():
                    break
                cache.put(unit, pcm)
                self.rendered += 1
        except Exception as e:  # stopped at shutdown (cancelled), or the process died: the rest stays uncached
            if not self._stop.is_set():
                log.warning("voice cache: background rendering stopped after %d units: %r", self.rendered, e)
        finally:  # done: wait for the process to exit; stopped: the server is exiting, do not hold it
            self._pool.shutdown(wait=not self._stop.is_set(), cancel_futures=True)
        if not self._stop.is_set():
            log.info("voice cache: %d item-answer units rendered in the background in %.0f s",
                     self.rendered, time.monotonic() - started)
