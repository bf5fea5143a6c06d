"""One ASR pool shared by every call: fixed worker threads, a bounded waiting line.

A decode takes ~1 s of both cores, so it must never run on the event loop (every other call's
audio would stall), and on a busy line it must not pile up either: a caller who waits 20 s for
an answer is worse served by staff. So the line is bounded and a full line refuses at once with
``AsrBusy`` (the dialogue transfers the call). Workers share one ``Transcriber``, whose model was
loaded with CTranslate2 ``num_workers`` = ``workers``, so that many decodes truly run in parallel.

``max_batch > 1`` lets a worker take everything waiting (up to that many) and decode it in one
batched pass. On 2 cores that saved no CPU per utterance and made every caller in the batch wait
for all of it, so it is off by default; it stays for bigger machines to measure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ivr.speech.asr import AsrResult, Transcriber
from ivr.speech.forced_choice import ForcedChooser
from ivr.speech.lead_in import LeadIn

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1  # batches of 4-8 used no less CPU per utterance on 2 cores, and each waits for all


class AsrBusy(RuntimeError):
    """Too many utterances are already waiting for ASR; hand the call to staff."""


@dataclass
class _Job:
    pcm: np.ndarray
    future: concurrent.futures.Future[AsrResult]
    question: str | None = None  # the yes/no question just asked (see Transcriber.transcribe)
    lead_in: LeadIn | None = None  # that question's audio as the caller heard it
    # the answers the dialogue expects, given the transcript (towns that sound near an unknown
    # town name): the audio is scored against them (``ForcedChooser``) and the best is ``chosen``
    choices: Callable[[str], list[str]] | None = None


_STOP = None  # sentinel that ends one worker


class AsrPool:
    """Shared by all calls of the process; ``transcribe`` is safe to await from any call's task."""

    def __init__(
        self, transcriber: Transcriber, *, workers: int = 1, max_queue: int = 16, max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        if workers < 1 or max_queue < 1 or max_batch < 1:
            raise ValueError("workers, max_queue and max_batch must be at least 1")
        self.transcriber = transcriber
        self.max_queue = max_queue
        self.max_batch = max_batch
        # unbounded on purpose: the bound is checked in submit(), so close() can always post its stops
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()  # orders submit() against close()
        self._chooser: ForcedChooser | None = None  # made on first use, from the transcriber's model
        self._threads = [threading.Thread(target=self._work, name=f"asr-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    @classmethod
    def from_settings(cls, settings: Settings, *, max_batch: int = DEFAULT_MAX_BATCH) -> AsrPool:
        """The process-wide pool: loads (and first time assembles) the model, so call it at start-up."""
        transcriber = Transcriber.from_settings(settings)
        return cls(transcriber, workers=settings.asr_workers, max_queue=settings.asr_queue, max_batch=max_batch)

    @property
    def waiting(self) -> int:
        """Utterances queued and not yet taken by a worker."""
        return self._queue.qsize()

    def submit(
        self, pcm: np.ndarray, *, question: str | None = None, lead_in: LeadIn | None = None,
        choices: Callable[[str], list[str]] | None = None,
    ) -> concurrent.futures.Future[AsrResult]:
        """Queue one 8 kHz int16 utterance; raises ``AsrBusy`` at once when the line is full.
        ``question``, ``lead_in``: the yes/no question the caller is likely answering and its
        audio (``Transcriber.transcribe``); ``choices``: see ``_Job``."""
        job = _Job(pcm, concurrent.futures.Future(), question, lead_in, choices)
        with self._lock:
            if self._closed:
                raise RuntimeError("ASR pool is closed")
            if self._queue.qsize() >= self.max_queue:  # only workers take from the queue meanwhile
                raise AsrBusy(f"{self.max_queue} utterances already waiting for ASR")
            self._queue.put_nowait(job)
        return job.future

    async def transcribe(
        self, pcm: np.ndarray, *, question: str | None = None, lead_in: LeadIn | None = None,
        choices: Callable[[str], list[str]] | None = None,
    ) -> AsrResult:
        """Await the text of one utterance without blocking the loop; cancelling drops a queued job."""
        return await asyncio.wrap_future(self.submit(pcm, question=question, lead_in=lead_in, choices=choices))

    def close(self, *, wait: bool = True) -> None:
        """Refuse new work, cancel what is still queued, stop the workers (after their current job)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        for _ in self._threads:
            self._queue.put_nowait(_STOP)
        if wait:
            for thread in self._threads:
                thread.join()

    def __enter__(self) -> AsrPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self) -> list[_Job] | None:
        """Block for one job, then (when batching) take whatever else is already waiting."""
        first = self._queue.get()
        if first is None:
            return None
        jobs = [first]
        while len(jobs) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put_nowait(_STOP)  # not ours to swallow: another worker must see it
                break
            jobs.append(more)
        return jobs

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            live = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # caller hung up
            if not live:
                continue
            try:
                if len(live) == 1:
                    job = live[0]
                    results = [self.transcriber.transcribe(job.pcm, question=job.question, lead_in=job.lead_in)]
                else:
                    results = self.transcriber.transcribe_batch(
                        [job.pcm for job in live],
                        questions=[job.question for job in live],
                        lead_ins=[job.lead_in for job in live],
                    )
            except Exception as exc:  # one bad utterance must not kill the worker every call shares
                log.exception("ASR failed on %d utterance(s)", len(live))
                for job in live:
                    job.future.set_exception(exc)
                continue
            for job, result in zip(live, results, strict=True):
                job.future.set_result(self._choose(job, result))

    def _choose(self, job: _Job, result: AsrResult) -> AsrResult:
        """``result`` with the expected answer its audio sounds most like, when there are some.
        A failure here only loses the choice, never the transcript."""
        texts: list[str] = []
        try:
            texts = job.choices(result.text) if job.choices is not None and result.text else []
            if not texts:
                return result
            if self._chooser is None:
                self._chooser = ForcedChooser(self.transcriber.model)
            return dataclasses.replace(result, chosen=self._chooser.choose(job.pcm, texts))
        except Exception:
            log.exception("choosing among %d expected answers failed", len(texts))
            return result
