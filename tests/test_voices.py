"""Pre-rendered prompts: the voice cache, which texts are fixed, building, and the CLI commands."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from ivr.config import Settings
from ivr.dialogue import prompts
from ivr.speech.sentences import split_sentences
from ivr.speech.tts import Synthesizer, voice_key
from voices import build as voices_build
from voices import cli as voices_cli
from voices.cache import VoiceCache

SLICE = [prompts.ANYTHING_ELSE, prompts.GOODBYE]  # a small build: the full Nara build takes ~1 min


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return Synthesizer(1.0)


def test_voice_cache_round_trip_and_fast_lookup(tmp_path):
    cache = VoiceCache(tmp_path, "v1")
    pcm = np.arange(-500, 500, dtype=np.int16)
    path = cache.put("こんにちは。", pcm)
    assert path.parent.name == "v1" and path.suffix == ".npy"
    assert VoiceCache(tmp_path, "v2").load() == 0  # another voice sees nothing
    loaded = VoiceCache(tmp_path, "v1")
    assert loaded.load() == 1 and len(loaded) == 1 and "こんにちは。" in loaded
    assert np.array_equal(loaded.get("こんにちは。"), pcm)
    assert loaded.get("さようなら。") is None
    started = time.perf_counter()
    for _ in range(1000):
        loaded.get("こんにちは。")
    assert (time.perf_counter() - started) / 1000 < 0.010  # a hash and a dict lookup
    with pytest.raises(TypeError):
        cache.put("x", np.zeros(3, np.float32))


def test_fixed_texts_are_whole_units_without_placeholders(nara_kb):
    units = voices_build.fixed_texts(nara_kb)
    assert len(units) == len(set(units)) > 100
    assert not any("{" in u or "}" in u for u in units)
    assert all(split_sentences(u) == [u] for u in units)  # exactly as the Synthesizer splits
    assert "お電話ありがとうございます。" in units and "奈良市の、ごみの自動案内です。" in units  # {city} filled
    assert prompts.ANYTHING_ELSE in units
    answer = nara_kb.topic_by_id["fluorescent"].answer
    assert set(split_sentences(answer)) <= set(units)
    assert set(split_sentences(prompts.CONFIRM_TOPIC.format(title=nara_kb.topics[0].title))) <= set(units)
    assert not set(split_sentences(nara_kb.topic_by_id["item_category"].answer)) & set(units)  # has {item}


def test_build_renders_missing_units_once(tmp_path, nara_kb, synth):
    cache = VoiceCache(tmp_path, synth.voice)
    first = voices_build.build(nara_kb, synth, cache, progress=False, texts=SLICE)
    units = voices_build.units_of(SLICE)
    assert first.units == first.rendered == len(units) and first.bytes_on_disk > 0
    assert len(list(cache.folder.glob("*.npy"))) == len(units)
    second = voices_build.build(nara_kb, synth, cache, progress=False, texts=SLICE)
    assert second.rendered == 0  # a no-op
    reloaded = VoiceCache(tmp_path, synth.voice)
    reloaded.load()
    player = Synthesizer(1.0, reloaded)
    assert len(player.synthesize(prompts.GOODBYE)) > 0 and player.rendered == 0


def test_build_refuses_another_voice(tmp_path, nara_kb, synth):
    with pytest.raises(ValueError):
        voices_build.build(nara_kb, synth, VoiceCache(tmp_path, "other"), progress=False, texts=SLICE)


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(voices_cli.voices_app, name="voices")
    app.command()(voices_cli.say)
    return app


def test_voices_build_command(tmp_path, monkeypatch):
    settings = Settings(voices_dir=tmp_path / "voices", cache_dir=tmp_path / "cache")
    monkeypatch.setattr(voices_cli, "get_settings", lambda: settings)
    monkeypatch.setattr(voices_build, "fixed_texts", lambda kb: voices_build.units_of(SLICE))
    result = CliRunner().invoke(cli(), ["voices", "build"])
    assert result.exit_code == 0, result.output
    assert "3 sentences, 3 rendered" in result.output
    assert len(list((tmp_path / "voices").glob(f"*/{'*.npy'}"))) == 3
    again = CliRunner().invoke(cli(), ["voices", "build", "--speed", "1.0"])
    assert "0 rendered" in again.output
    assert (tmp_path / "voices" / voice_key(1.0).replace("/", "_")).is_dir()


def test_say_writes_a_wav(tmp_path):
    out = tmp_path / "say.wav"
    result = CliRunner().invoke(cli(), ["say", "ほかに、ご質問はありますか。", "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = sf.info(str(out))
    assert (info.samplerate, info.subtype, info.channels) == (8000, "PCM_16", 1) and info.duration > 1
    wide = tmp_path / "wide.wav"
    result = CliRunner().invoke(cli(), ["say", "はい、そうです。", "-o", str(wide), "--rate", "16000", "--ulaw"])
    assert result.exit_code == 0, result.output
    assert (sf.info(str(wide)).samplerate, sf.info(str(wide)).subtype) == (16000, "ULAW")
    empty = CliRunner().invoke(cli(), ["say", " ", "-o", str(tmp_path / "e.wav")])
    assert empty.exit_code != 0
