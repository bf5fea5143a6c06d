"""Speech synthesis with the real pyopenjtalk: audio format, speed, streaming, caches, splitting."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from ivr.speech import tts
from ivr.speech.sentences import MAX_UNIT_CHARS, sentences, split_sentences, spoken_length
from ivr.speech.tts import Synthesizer
from voices.cache import VoiceCache

REPLY = ("燃やせるごみは、週に2回の収集です。地域によって、月曜日と木曜日か、火曜日と金曜日です。"
         "収集日の朝、7時30分までに出してください。")


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return Synthesizer(1.0)


def collect(synthesizer: Synthesizer, text: str) -> tuple[list[np.ndarray], list[float]]:
    async def run() -> tuple[list[np.ndarray], list[float]]:
        chunks, times = [], []
        started = time.perf_counter()
        async for chunk in synthesizer.stream(text):
            chunks.append(chunk)
            times.append(time.perf_counter() - started)
        return chunks, times

    return asyncio.run(run())


def test_sentences_keep_their_own_ends():
    """A read-back's ？ stays (「…ですね？。」 is no sentence the bot said); an unended one is given 。."""
    assert sentences("ぽりたんく、ですね？") == ["ぽりたんく、ですね？"]
    assert sentences("冷蔵庫は家電です。よろしいですか？") == ["冷蔵庫は家電です。", "よろしいですか？"]
    assert sentences("ほかに、ご質問は") == ["ほかに、ご質問は。"]
    assert sentences("「はい」と。ね") == ["「はい」と。", "ね。"] and sentences("。") == []


def test_split_sentences():
    assert split_sentences("") == [] and split_sentences("  \n ") == []
    assert split_sentences("はい。わかりました！本当ですか？") == ["はい。わかりました！", "本当ですか？"]
    assert split_sentences("わかりました。本当？") == ["わかりました。本当？"]  # a short last one joins back
    assert split_sentences("一行目\n二行目です。") == ["一行目", "二行目です。"]
    assert split_sentences("本当ですか！？") == ["本当ですか！？"]
    long = "エアコン、テレビ、冷蔵庫と冷凍庫、洗濯機と衣類乾燥機は、家電リサイクル法の対象です。"
    units = split_sentences(long)
    assert "".join(units) == long and len(units) > 1
    assert all(spoken_length(u) <= MAX_UNIT_CHARS for u in units)
    assert split_sentences("こちらは、自動音声のアシスタントがお答えしています。")[0].startswith("こちらは、自動")


def test_synthesize_is_nonsilent_8k_int16(synth):
    pcm = synth.synthesize("燃やせるごみは、週に2回の収集です。")
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    seconds = len(pcm) / tts.SAMPLE_RATE
    assert 1.5 < seconds < 6.0  # 18 characters at ~0.16 s each
    level = np.sqrt(np.mean(pcm.astype(np.float64) ** 2))
    assert level > 1000  # speech, not silence (≈ -20 dBFS)
    assert np.mean(np.abs(pcm) >= 32767) < 0.001  # next to no clipping
    assert synth.synthesize_ulaw("はい、そうです。") and isinstance(synth.synthesize_ulaw("はい。"), bytes)


def test_speed_changes_duration():
    text = "ほかに、ご質問はありますか。"
    normal = len(Synthesizer(1.0).synthesize(text))
    fast = len(Synthesizer(1.5).synthesize(text))
    slow = len(Synthesizer(0.8).synthesize(text))
    assert fast < 0.8 * normal and slow > 1.1 * normal


def test_empty_text(synth):
    assert len(synth.synthesize("")) == 0
    assert len(synth.synthesize(" \n\t")) == 0
    assert len(synth.synthesize("。")) == 0
    assert collect(synth, "")[0] == []


def test_stream_yields_units_in_order_and_the_first_early():
    fresh = Synthesizer(1.0)  # nothing cached: every unit is synthesised
    chunks, times = collect(fresh, REPLY)
    units = split_sentences(REPLY)
    assert len(chunks) == len(units) >= 4
    assert fresh.rendered == len(units)
    assert times[0] < 0.6 * times[-1]  # the first unit plays while the rest are made
    # in order, and joined equal to the whole-reply synthesis (same audio, same pauses)
    assert np.array_equal(np.concatenate(chunks), fresh.synthesize(REPLY))
    for chunk, unit in zip(chunks, units, strict=True):
        assert np.array_equal(chunk[: len(fresh.sentence_audio(unit))], fresh.sentence_audio(unit))


def test_stream_closed_early_stops(synth):
    async def first_only() -> np.ndarray:
        stream = synth.stream(REPLY)
        first = await anext(stream)
        await stream.aclose()  # barge-in
        return first

    assert len(asyncio.run(first_only())) > 0


def test_lru_keeps_synthesised_units(monkeypatch):
    fresh = Synthesizer(1.0)
    first = fresh.sentence_audio("ほかに、ご質問はありますか。")
    again = fresh.sentence_audio("ほかに、ご質問はありますか。")
    assert again is first and fresh.rendered == 1
    monkeypatch.setattr(tts, "LRU_UNITS", 2)
    for text in ("はい、どうぞ。", "ありがとうございます。", "失礼いたします。"):
        fresh.sentence_audio(text)
    assert len(fresh._recent) == 2 and fresh.cached("はい、どうぞ。") is None


def test_voice_cache_hit_returns_stored_audio_without_synthesis(tmp_path, synth):
    cache = VoiceCache(tmp_path, synth.voice)
    text = "ほかに、ご質問はありますか。"
    stored = synth.render(text)
    cache.put(text, stored)
    reloaded = VoiceCache(tmp_path, synth.voice)
    assert reloaded.load() == 1
    cached = Synthesizer(1.0, reloaded)
    assert np.array_equal(cached.synthesize(text), stored)
    chunks, times = collect(cached, text)
    assert np.array_equal(chunks[0], stored) and times[0] < 0.01
    assert cached.rendered == 0


def test_voice_cache_of_another_voice_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Synthesizer(1.2, VoiceCache(tmp_path, tts.voice_key(1.0)))


def test_voice_key_names_speed_and_dictionary():
    assert tts.voice_key(1.0) != tts.voice_key(0.9)
    assert "dict" in tts.voice_key(1.0)
