"""Synthesis under load, with the real pyopenjtalk and real worker processes: how many workers
(IVR_TTS_WORKERS and its default), two of them sharing the work and one SIGKILLed, a unit wanted by
many replies at once made once, whole replies for gather mode, item answers pre-rendered in the
background at nice 19."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from ivr.config import Settings
from ivr.speech import tts_workers
from ivr.speech.prerender import PRERENDER_NICE, Prerenderer, answer_texts
from ivr.speech.sentences import split_sentences
from ivr.speech.tts import Synthesizer, render_unit
from voices.cache import VoiceCache

REPLY = ("小型家電は、燃やせないごみです。電池は外してください。袋に入らない大きなものは、"
         "大型ごみとして申し込んでください。ほかに、ご質問はありますか。")
NEW_POOL_S = 60.0  # fresh workers import pyopenjtalk and load the voice (seconds on a busy machine)


def render_where(unit: str) -> tuple[int, np.ndarray]:
    """In a worker: which process made ``unit``."""
    return os.getpid(), render_unit(unit, 1.0)


async def ready_pool(processes: int) -> list[int]:
    async with asyncio.timeout(NEW_POOL_S):
        while not (tts_workers.worker_ready.is_set() and len(tts_workers.worker_pids()) == processes):
            tts_workers.executor()
            await asyncio.sleep(0.1)
    return tts_workers.worker_pids()


@pytest.fixture
def two_workers():
    tts_workers.configure(2)
    tts_workers.executor()
    yield
    tts_workers.configure(tts_workers.SYNTH_PROCESSES)  # the other tests' single worker, started afresh
    tts_workers.shutdown()


def test_worker_count_is_the_setting_or_every_core_when_twilio_recognises_speech():
    cores = len(os.sched_getaffinity(0))
    assert tts_workers.workers_for(Settings(tts_workers=3)) == 3
    assert tts_workers.workers_for(Settings(twilio_mode="stream")) == 1  # Whisper has the other core
    assert tts_workers.workers_for(Settings(twilio_mode="gather")) == cores  # no phone speech decoded here
    assert tts_workers.workers_for(Settings(twilio_mode="gather", audiosocket_port=9092)) == 1  # Asterisk's is
    assert tts_workers.workers_for(Settings(twilio_mode="gather", tts_workers=1)) == 1
    with pytest.raises(ValueError):
        tts_workers.configure(0)


async def test_two_workers_both_synthesise(two_workers):
    pids = await ready_pool(2)
    loop = asyncio.get_running_loop()
    units = [f"{n}丁目の燃やせるごみは、毎週月曜日と木曜日です。" for n in range(1, 9)]
    made = await asyncio.gather(*(loop.run_in_executor(tts_workers.executor(), render_where, u) for u in units))
    assert {pid for pid, _ in made} == set(pids) and len(pids) == 2
    for unit, (_, pcm) in zip(units, made, strict=True):
        assert np.array_equal(pcm, render_unit(unit, 1.0))  # the same audio as made here


async def test_a_killed_worker_of_two_costs_no_reply_and_both_are_replaced(two_workers):
    old = await ready_pool(2)
    fresh = Synthesizer(1.0)
    reply = asyncio.ensure_future(fresh.whole(REPLY))
    await asyncio.sleep(0.05)  # its units are queued or being made in the workers
    os.kill(old[0], signal.SIGKILL)
    pcm = await asyncio.wait_for(reply, 30)
    assert np.array_equal(pcm, Synthesizer(1.0).synthesize(REPLY))  # every unit, made here when not there
    new = await ready_pool(2)
    assert not set(new) & set(old)
    again = Synthesizer(1.0)
    assert len(await again.whole("ワーカーが入れ替わりました。")) > 4000 and again.rendered == 1


async def test_a_unit_many_replies_want_at_once_is_made_once():
    fresh = Synthesizer(1.0)
    units = split_sentences(REPLY)

    async def streamed() -> np.ndarray:
        return np.concatenate([chunk async for chunk in fresh.stream(REPLY)])

    replies = await asyncio.gather(*(fresh.whole(REPLY) for _ in range(5)), streamed(), streamed())
    assert fresh.rendered == len(units)  # not 7 × — 50 callers asking about one town wait for one synthesis
    whole = fresh.synthesize(REPLY)
    assert all(np.array_equal(r, whole) for r in replies)
    await fresh.whole(REPLY)
    assert fresh.rendered == len(units) and not fresh._making  # a whole reply from memory: no synthesis


async def test_a_reply_given_up_cancels_its_units_and_the_next_one_makes_them():
    fresh = Synthesizer(1.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):  # gather mode's SYNTH_TIMEOUT_S, in miniature
            await fresh.whole(REPLY)
    assert not fresh._making
    assert np.array_equal(await fresh.whole(REPLY), fresh.synthesize(REPLY))


async def test_item_answers_are_rendered_in_the_background_at_nice_19(tmp_path, brain):
    tts = Synthesizer(1.0, VoiceCache(tmp_path, Synthesizer(1.0).voice))
    texts = answer_texts(brain.kb)[:40:2]  # the 20 most-asked items' answers
    units = {u for t in texts for u in split_sentences(t)}
    tts.sentence_audio(next(iter(units)))  # one a call has made already: kept, not made again
    rendered = tts.rendered
    background = Prerenderer(tts)
    background.start(texts)
    priority = None
    deadline = time.monotonic() + NEW_POOL_S
    while priority is None and time.monotonic() < deadline:
        pool = background._pool
        for pid in list((getattr(pool, "_processes", None) or {}).keys()):
            priority = os.getpriority(os.PRIO_PROCESS, pid)
        await asyncio.sleep(0.05)
    background.join(NEW_POOL_S * 2)
    assert priority == PRERENDER_NICE
    assert background.rendered == len(units) - 1 and tts.rendered == rendered
    reloaded = VoiceCache(tmp_path, tts.voice)
    assert reloaded.load() == len(units)  # on disk for the next start
    served = Synthesizer(1.0, reloaded)
    assert np.array_equal(await served.whole(texts[0]), tts.synthesize(texts[0])) and served.rendered == 0


STOPPED_WITHIN_S = 1.0  # a terminated worker is gone at once; left to itself it runs its queued units first


def _running(pid: int) -> bool:
    """``pid`` is a live process (a zombie nobody reaped, as under a container's bare init, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_background_render_stopped_while_its_worker_starts_leaves_no_process(tmp_path, brain):
    """`ivr serve` stopped a few seconds after it started, while the nice-19 worker was still being
    spawned, once never exited (CI): the worker, never told to stop, was joined at exit forever."""
    background = Prerenderer(Synthesizer(1.0, VoiceCache(tmp_path, Synthesizer(1.0).voice)))
    background.start(answer_texts(brain.kb)[:40])
    processes = []
    deadline = time.monotonic() + NEW_POOL_S
    while not processes and time.monotonic() < deadline:
        processes = list((getattr(background._pool, "_processes", None) or {}).values())
        await asyncio.sleep(0.01)
    background.stop()  # as the server's shutdown does, the worker still starting
    assert processes
    deadline = time.monotonic() + STOPPED_WITHIN_S
    while any(_running(p.pid) for p in processes) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not any(_running(p.pid) for p in processes)
    background.join(NEW_POOL_S)
    assert background.rendered == 0


DIES_AT_ONCE = """
import multiprocessing, os
from concurrent.futures import ProcessPoolExecutor
from ivr.speech import tts_workers
pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=tts_workers._start_worker,
                           initargs=(None, tts_workers._warm, os.getpid()))
pool.submit(abs, -1)  # spawns the worker
print(*pool._processes, flush=True)
os._exit(0)  # the server killed before its worker has even started
"""


def test_a_worker_whose_server_died_before_it_started_exits():
    """A SIGTERM during `ivr serve`'s start-up killed it while the background render's worker was
    still starting: the worker then took init for its server and stayed, blocked, at nice 19."""
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-c", DIES_AT_ONCE], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    pid = int(server.stdout.readline())  # not read to the end: a stray worker would hold the pipe open
    server.wait(NEW_POOL_S)
    deadline = time.monotonic() + NEW_POOL_S
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(pid)
