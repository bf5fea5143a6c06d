"""Speech figures on this machine: ASR accuracy and speed, TTS first audio, turn latency, throughput.

    .venv/bin/python bench/speech.py [--limit N] [--calls N] [--skip-throughput]

Prints, over the telephone test set (bench/telephone_set.py: synthesised questions at several
speeds and pitches, band-limited, two noise levels, 8 kHz μ-law):
- CER on surface text and on kana readings, ASR latency p50/p95, and how often the transcript
  is understood (intent and item) as the text really said was;
- TTS time to first audio, uncached and from the pre-rendered voice cache;
- end of caller speech → first bot audio frame, p50/p95, through the whole call (endpointer,
  Whisper, dialogue, TTS, paced playback) with audio fed in real time;
- ASR throughput with 1, 4 and 8 utterances submitted at once.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from telephone_set import Sample, build  # noqa: E402

from ivr.audio.codec import FRAME_MS, frames  # noqa: E402
from ivr.config import DEFAULT_DATA_DIR, Settings, get_settings  # noqa: E402
from ivr.dialogue import prompts  # noqa: E402
from ivr.dialogue.state import Brain  # noqa: E402
from ivr.language.readings import reading  # noqa: E402
from ivr.speech.services import SpeechServices  # noqa: E402
from ivr.speech.tts import Synthesizer, voice_key  # noqa: E402
from ivr.speech.voice_call import VoiceCall  # noqa: E402
from simulator.audio import RecordingTransport  # noqa: E402
from simulator.runtime import Simulator  # noqa: E402
from voices.cache import VoiceCache  # noqa: E402

TRAILING_SILENCE_MS = 2500  # past the end-of-turn silence and the longest hold after a clause left open
TODAY = date(2026, 11, 27)  # a fixed day: dates in the questions parse the same on every run
_DROP = str.maketrans("", "", " 　、。，．,.!?！？「」・ー")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DROP)


def cer(ref: str, hyp: str) -> float:
    return Levenshtein.distance(ref, hyp) / max(1, len(ref))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _by_noise(samples: list[Sample], values: list, show: Callable[[list], str]) -> str:
    """One figure per noise level, loudest signal first: 「20 dB 0.220, 10 dB 0.353」."""
    levels = sorted({s.snr_db for s in samples}, reverse=True)
    return ", ".join(
        f"{snr:g} dB {show([v for v, s in zip(values, samples, strict=True) if s.snr_db == snr])}" for snr in levels
    )


def _meaning(brain: Brain, text: str) -> tuple[str, str | None]:
    parse = brain.nlu.parse(text, TODAY)
    return parse.intent, parse.item.name if parse.item else None


def asr_figures(speech: SpeechServices, samples: list[Sample], brain: Brain, model: str = "") -> None:
    """CER, and what CER costs: how often the understanding of the transcript (intent and item)
    is the understanding of what was really said."""
    surface, kana, latency, understood = [], [], [], []
    for s in samples:
        started = time.perf_counter()
        result = asyncio.run(speech.asr.transcribe(s.pcm))
        latency.append((time.perf_counter() - started) * 1000)
        surface.append(cer(_plain(s.text), _plain(result.text)))
        kana.append(cer(reading(s.text), reading(result.text)))
        understood.append(_meaning(brain, result.text) == _meaning(brain, s.text))
        print(f"  {kana[-1]:.2f} {'=' if understood[-1] else '≠'} {s.label:>16}  {s.text} → {result.text}", flush=True)
    print(f"ASR over {len(samples)} telephone utterances (Whisper {model or 'base, bundled'}):")
    print(f"  CER surface {statistics.mean(surface):.3f}, CER reading {statistics.mean(kana):.3f}"
          f"  (by noise: {_by_noise(samples, kana, lambda v: f'{statistics.mean(v):.3f}')})")
    print(f"  latency p50 {pct(latency, 50):.0f} ms, p95 {pct(latency, 95):.0f} ms, max {max(latency):.0f} ms")
    print(f"  understood as the reference text (same intent and item): {sum(understood)}/{len(understood)}"
          f"  (by noise: {_by_noise(samples, understood, lambda v: f'{sum(v)}/{len(v)}')})")


async def _first_chunk_ms(tts: Synthesizer, text: str) -> float:
    started = time.perf_counter()
    async for _pcm in tts.stream(text):
        return (time.perf_counter() - started) * 1000
    return float("nan")


def tts_figures(speed: float) -> None:
    replies = ["冷蔵庫は、家電リサイクル法の対象です。市では収集できません。買い替えるお店に引き取りを頼んでください。",
               "大宮町一丁目の燃えるごみは、毎週月曜日と木曜日です。",
               "乾電池は、有害ごみです。透明な袋に入れて出してください。"]
    uncached = [asyncio.run(_first_chunk_ms(Synthesizer(speed), text)) for text in replies * 2]
    with tempfile.TemporaryDirectory() as tmp:
        cache = VoiceCache(Path(tmp), voice_key(speed))
        warm = Synthesizer(speed, cache)
        fixed = [prompts.GREETING.format(city="奈良市") + prompts.MENU, prompts.ANYTHING_ELSE, prompts.TRANSFERRING]
        from ivr.speech.sentences import split_sentences

        for text in fixed:
            for unit in split_sentences(text):
                cache.put(unit, warm.render(unit))
        cached = [asyncio.run(_first_chunk_ms(warm, text)) for text in fixed * 3]
    print("TTS time to first audio (sentence streaming):")
    print(f"  uncached p50 {pct(uncached, 50):.0f} ms, max {max(uncached):.0f} ms; "
          f"cached prompt p50 {pct(cached, 50):.2f} ms, max {max(cached):.2f} ms")


async def _one_call(sim: Simulator, speech: SpeechServices, sample: Sample) -> tuple[float, bool] | None:
    transport = RecordingTransport()
    call = VoiceCall(sim.session(), speech, transport, pace=True)
    transport.call = call
    call.player.pace = False  # the greeting is not what is measured: play it instantly
    await call.start()
    await call.settled()
    call.player.pace = True
    greeted = len(call.records)
    audio = np.concatenate([sample.pcm, np.zeros(TRAILING_SILENCE_MS * 8, np.int16)])
    last_speech_frame = sample.speech_end // 160  # the frame holding the caller's last audible sound
    speech_end = 0.0
    next_at = time.monotonic()
    for i, frame in enumerate(frames(audio)):  # in real time, as a phone line delivers it
        await call.audio(frame)
        if i == last_speech_frame:
            speech_end = time.monotonic()  # the caller's last sound was just delivered
        next_at += FRAME_MS / 1000
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(call.records) > greeted:
            record = call.records[greeted]
            first = call.player.stats.first_audio.get(record.prompt)
            if first is not None:
                await call.close()
                wait = first - speech_end
                print(f"  {wait * 1000:5.0f} ms  asr {record.asr_ms:4.0f} ms held {record.held_ms:4d} ms"
                      f" {'(started at the pause)' if record.speculated else '(after the turn ended)':24}"
                      f" {sample.label:>16}  {record.transcript}", flush=True)
                return wait, record.held_ms > 0
        elif call.idle and call.player.idle and time.monotonic() > next_at + 3:
            break  # nothing heard (ASR dropped it)
        await asyncio.sleep(0.005)
    await call.close()
    return None


def turn_figures(speech: SpeechServices, samples: list[Sample]) -> None:
    sim = Simulator(DEFAULT_DATA_DIR, "2016-06-01T10:00", "", get_settings().cache_dir)
    sim.brain.nlu.parse("冷蔵庫は何ごみですか", sim.clock().date())  # warmed and frozen as `ivr serve` does
    gc.collect()
    gc.freeze()
    waits, held = [], []
    for s in samples:
        out = asyncio.run(_one_call(sim, speech, s))
        if out is not None:
            (held if out[1] else waits).append(out[0] * 1000)
    settings = get_settings()
    print(f"End of caller speech → first bot audio, whole call path, real-time audio ({len(waits) + len(held)}/"
          f"{len(samples)} turns answered; includes the {settings.end_of_turn_silence_ms} ms end-of-turn silence):")
    print(f"  sentence-final and open turns ({len(waits)}): p50 {pct(waits, 50):.0f} ms, p95 {pct(waits, 95):.0f} ms,"
          f" max {max(waits, default=float('nan')):.0f} ms")
    print(f"  turns held after a clause left open ({len(held)}, up to {settings.continuation_wait_ms} ms of silence):"
          f" p50 {pct(held, 50):.0f} ms, p95 {pct(held, 95):.0f} ms")


def throughput_figures(speech: SpeechServices, samples: list[Sample]) -> None:
    print("ASR throughput (utterances submitted at once to the shared pool):")
    for n in (1, 4, 8):
        batch = [samples[i % len(samples)].pcm for i in range(n)]

        async def run(batch: list[np.ndarray] = batch) -> list[float]:
            async def one(pcm: np.ndarray) -> float:
                started = time.perf_counter()
                await speech.asr.transcribe(pcm)
                return time.perf_counter() - started

            return await asyncio.gather(*(one(p) for p in batch))

        started = time.perf_counter()
        each = asyncio.run(run())
        wall = time.perf_counter() - started
        print(f"  {n} streams: {n / wall:.2f} utterances/s, latency p50 {pct(each, 50) * 1000:.0f} ms,"
              f" max {max(each) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N utterances")
    parser.add_argument("--calls", type=int, default=16, help="utterances for the whole-call latency")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--asr-model", type=Path, help="a local CTranslate2 Whisper folder instead of the bundled base")
    args = parser.parse_args()
    settings: Settings = get_settings()
    if args.asr_model:
        settings = settings.model_copy(update={"asr_model": str(args.asr_model.resolve())})
    samples = build(args.limit)
    print(f"telephone test set: {len(samples)} utterances ({len({s.text for s in samples})} questions)")
    speech = SpeechServices.load(settings)
    cache = speech.tts.cache
    print(f"voice cache: {len(cache) if cache else 0} pre-rendered prompt units"
          " (`ivr voices build`; `ivr serve` renders missing ones at start-up)")
    asyncio.run(speech.asr.transcribe(samples[0].pcm))  # warm-up: first call loads kernels
    try:
        asr_figures(speech, samples, Brain.load(settings.data_dir, settings.embedding_model, settings.cache_dir),
                    settings.asr_model)
        tts_figures(settings.tts_speed)
        turn_figures(speech, samples[: args.calls])
        if not args.skip_throughput:
            throughput_figures(speech, samples)
    finally:
        speech.close()


if __name__ == "__main__":
    main()
