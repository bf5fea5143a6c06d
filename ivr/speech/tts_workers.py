"""The synthesis worker processes every call shares (see ``ivr.speech.tts`` for why processes).

How many: IVR_TTS_WORKERS, or by default (0) one per core when this server decodes no phone
speech itself (Twilio gather mode without AudioSocket: Twilio recognises the callers, so no core
is Whisper's), else one (the other core is Whisper's; two would only contend with it). Measured
with bench/text_load.py (50 gather callers who never pause): see README, "Text load".

If a worker dies (killed, out of memory), ``ProcessPoolExecutor`` breaks as a whole: every unit
in flight fails with ``BrokenProcessPool``, the caller makes it in a thread instead (a stutter,
not silence), and ``replace_broken`` starts a new pool of the same size; until one of its workers
is ready (``worker_ready``), units are made in threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from ivr.language import user_dictionary

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

ORPHAN_CHECK_S = 2.0  # how often a worker checks that the server that started it is still there
SYNTH_PROCESSES = 1  # with Whisper in this process: one core's worth; the other core is Whisper's

_executor: ProcessPoolExecutor | None = None
_executor_lock = threading.Lock()
_processes = SYNTH_PROCESSES  # the size of the next pool (``configure``)
worker_ready = threading.Event()  # a worker of the current pool has started and rendered its first unit


def workers_for(settings: Settings) -> int:
    """IVR_TTS_WORKERS, or (0) the default: every core when no call here is decoded by Whisper."""
    if settings.tts_workers > 0:
        return settings.tts_workers
    decodes_speech = settings.twilio_mode != "gather" or bool(settings.audiosocket_port)
    return SYNTH_PROCESSES if decodes_speech else max(len(os.sched_getaffinity(0)), 1)


def configure(processes: int) -> None:
    """Pools started from now on have ``processes`` workers; a running pool of another size is
    stopped (at start-up, before any call: the next unit starts the new pool)."""
    global _processes
    if processes < 1:
        raise ValueError("at least one synthesis worker")
    with _executor_lock:
        _processes = processes
        running = _executor
    if running is not None and running._max_workers != processes:  # type: ignore[attr-defined]
        shutdown()


def _start_worker(dictionary: tuple[str, str] | None, warm: Callable[[], object], server: int) -> None:
    """In a synthesis process: the parent's reading dictionary, and the engine warmed up.

    ``server`` is the pid of the process that started the pool, passed in rather than read here:
    a worker spawned just before the server died (SIGTERM during start-up) starts seconds later, at
    nice 19 even more, and would read its new parent (init) as its server and never leave."""
    from pathlib import Path

    def orphaned() -> None:  # a killed server (SIGKILL, OOM) must not leave its TTS worker behind
        while os.getppid() == server:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(0)

    if os.getppid() != server:
        os._exit(0)
    threading.Thread(target=orphaned, daemon=True, name="tts-parent-watch").start()
    if dictionary is not None:
        user_dictionary.install(Path(dictionary[0]), Path(dictionary[1]))
    warm()


def _warm() -> np.ndarray:
    from ivr.speech.tts import render_unit

    return render_unit("あ", 1.0)


def shutdown() -> None:
    """Stop the worker processes (at server shutdown)."""
    global _executor
    with _executor_lock:
        if _executor is not None:
            stop_pool(_executor)
            _executor = None
            worker_ready.clear()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Shut ``pool`` down without waiting for its work, and end its worker processes.

    ``shutdown(wait=False)`` alone can leave a worker that was still starting (a spawn takes
    seconds, at nice 19 more) running queued work after the server has stopped, and once (CI)
    the interpreter's exit then joined it forever: `ivr serve` stopped 3 s after it started never
    exited. Python 3.14 has ``terminate_workers()`` for this; 3.11 only the pool's process map."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def new_pool(workers: int, warm: Callable[[], object]) -> ProcessPoolExecutor:
    """A pool of spawned synthesis workers that load this process's reading dictionary, run
    ``warm`` and leave when this process dies. Spawned (not forked): the parent runs threads (ASR,
    onnxruntime) that fork would break. The workers start on the first submits, not here."""
    where = user_dictionary.installed_from
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=((str(where[0]), str(where[1])) if where else None, warm, os.getpid()),
    )


def executor() -> ProcessPoolExecutor:
    """The pool shared by every call, so calls interleave unit by unit instead of piling up. All
    its workers start now (one warm-up unit each), not on the first busy moment of a call."""
    global _executor
    with _executor_lock:
        if _executor is None:
            user_dictionary.ensure_installed()
            _executor = new_pool(_processes, _warm)
            worker_ready.clear()
            for _ in range(_processes):  # each submit with no idle worker spawns one more
                started = _executor.submit(_warm)
                started.add_done_callback(lambda f, ex=_executor: _on_started(ex, f))
        return _executor


def _on_started(pool: ProcessPoolExecutor, started: Future[np.ndarray]) -> None:
    if pool is _executor and not started.cancelled() and started.exception() is None:
        worker_ready.set()


def replace_broken(pool: ProcessPoolExecutor) -> None:
    """A worker process died: drop its pool (it refuses all work now) and start another."""
    global _executor
    with _executor_lock:
        if _executor is not pool:
            return  # another call saw it first
        _executor = None
        worker_ready.clear()
    stop_pool(pool)
    executor()


def worker_pids() -> list[int]:
    """The worker process ids (operators' tools and the fault tests that kill one)."""
    pool = _executor
    return list((getattr(pool, "_processes", None) or {}).keys()) if pool is not None else []
