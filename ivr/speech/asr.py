"""Caller speech to text: faster-whisper on one endpointed utterance at a time.

Decoding is tuned for a phone line, not for podcasts: one pass at temperature 0 (the fallback
ladder cost 7–23 s on a bad utterance — a caller will not wait), Japanese forced, no timestamps,
no VAD (the endpointer already cut the turn), no conditioning on earlier text. A domain sentence
primes the vocabulary (CER 0.25 → ~0.19), the knowledge base's most-asked item names go in as
faster-whisper ``hotwords`` (``ivr.speech.vocabulary``; understood 26 → 30 of 48 dev telephone
clips), and two known failure modes are caught afterwards:
Whisper reading the prompt back on near-silence, and its stock hallucinations (YouTube outros,
subtitle credits) on noise. Both come back as empty text with a ``dropped`` reason, so the
dialogue treats them as silence rather than as something the caller said; a stock outro from a
decode primed with hotwords is first decoded again with the sentence alone. Every result carries
``confidence`` (0–1, from Whisper's own scores) for the dialogue to weigh the text by.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soxr
import yaml
from faster_whisper import BatchedInferencePipeline, WhisperModel
from rapidfuzz import fuzz

from ivr.knowledge.loader import MUNICIPALITY_FILE
from ivr.language.normalize import has_words
from ivr.language.readings import reading
from ivr.speech import lead_in as lead
from ivr.speech import primed_echo
from ivr.speech.lead_in import LeadIn
from ivr.speech.transcript_checks import (  # noqa: F401 - re-exported: asr is where callers look
    COMPRESSION_RATIO_MAX,
    HALLUCINATIONS,
    LEAK_MIN_CHARS,
    Hallucination,
    compression_ratio,
    confidence,
    hallucination,
    is_prompt_leak,
)
from ivr.speech.vad import LINE_RATE
from ivr.speech.vocabulary import kb_hotwords

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

WHISPER_RATE = 16000  # Whisper's only input rate
COMPUTE_TYPE = "int8"  # 1.4 vs 2.0 CPU-s a decode for float32 (CER 0.055 vs 0.025 on 12 TTS questions)
LANGUAGE = "ja"  # forced: detection costs another pass, and a wrong guess on a 1 s clip loses the turn
# Beam 5 vs greedy on 12 μ-law TTS questions, prompt on: CER 0.025 vs 0.086 for a median 0.77 vs
# 0.69 s a decode (the 30 s encoder pass dominates; the decoder is a few short steps): worth ~10 %.
BEAM_SIZE = 5


# A sentence a caller could say, naming what callers ask about: Whisper base then writes ごみ,
# 乾電池, 粗大ごみ instead of ゴミ, 完全中, 育み. A bare word list primes less well than a sentence.
def domain_prompt(city: str) -> str:
    """The prompt for one city's hotline: the city's own name is a word callers say."""
    return (
        f"{city}のごみ相談の電話です。粗大ごみの申し込み、燃えるごみやプラスチック、ペットボトルの収集日、"
        "冷蔵庫や乾電池、蛍光灯、スプレー缶の捨て方について質問します。"
    )


DOMAIN_PROMPT = domain_prompt("奈良市")


def _city_name(data_dir: Path) -> str:
    """The municipality's name from the knowledge base (``MUNICIPALITY_FILE``); 市 if unreadable."""
    try:
        return str(yaml.safe_load((Path(data_dir) / MUNICIPALITY_FILE).read_text(encoding="utf-8"))["name"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "市"


# A turn whose loudest sample is below this (int16, −54 dBFS) holds no voice, only a line with nothing
# on it: Whisper is not asked, because it writes something for silence (0.5 s of zeros gave
# 「スプレゼリー」 with a no-speech probability of 0.597, just under the 0.6 below, on one CPU).
SILENCE_PEAK = 64
NO_SPEECH_PROB_MIN = 0.6  # with AVG_LOGPROB_MAX: Whisper's own "nothing was said" rule for a segment
AVG_LOGPROB_MAX = -1.0  # a confident decode is kept even when the no-speech head is unsure
LEAK_SAME_SOUND_RATIO = 70  # reading similarity at which the unprompted retry confirms the prompted text
# An answer to the bot's question is short: two characters read back from the question (ご質問は,
# おつなぎ for a lone ええ) are already an echo, where a domain word of that length may be real.
ANSWER_LEAK_MIN_CHARS = 2


@dataclass(frozen=True)
class Decoded:
    """One Whisper pass over one utterance: its segments' texts and confidence signals."""
    texts: tuple[str, ...]
    no_speech_probs: tuple[float, ...]
    avg_logprobs: tuple[float, ...]
    hotwords: bool = False  # the decode was primed with the knowledge base's hotwords too


@dataclass(frozen=True)
class AsrResult:
    """What the caller said ('' if nothing usable) and why, for the dialogue and the call log."""

    text: str
    raw_text: str  # Whisper's output of the decode used, before any dropping
    dropped: str | None  # None, "empty_audio", "no_speech" or "hallucination:<name>"
    prompt_used: bool  # the text comes from a decode primed with the domain prompt
    prompt_leak: bool  # the primed decode only read the prompt back; the text is from a re-run without it
    retried: bool  # a second decode without the prompt ran (leak suspected; confirmed or not)
    no_speech_prob: float
    avg_logprob: float
    audio_ms: int
    decode_ms: int  # wall time of this utterance's decode(s); in a batch, its even share of the batch
    hotwords_used: bool = False  # the text comes from a decode primed with the knowledge base's hotwords
    compression_ratio: float = 0.0  # of ``text`` (UTF-8 bytes / zlib bytes); 0 for no text
    confidence: float = 0.0
    """How far to trust ``text``, 0–1 (see ``confidence``): exp(avg_logprob), the geometric-mean
    probability Whisper gave its own tokens, times 1 − no_speech_prob (not for a short answer,
    whose clear はい the no-speech head calls silence), scaled down by COMPRESSION_RATIO_MAX / ratio
    when the text compresses like a loop; 0 when nothing usable was heard. On the dev telephone
    set (hotwords on) it ranks understood transcripts above misunderstood ones: AUC 0.79."""
    chosen: str = ""  # of the answers the dialogue expects, the one the audio sounds most like (forced_choice)


def to_whisper_audio(pcm: np.ndarray) -> np.ndarray:
    """8 kHz int16 line audio → 16 kHz float32 in [-1, 1], as Whisper's feature extractor wants."""
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError("utterance audio must be a 1-D int16 numpy array at 8 kHz")
    return soxr.resample(pcm.astype(np.float32) / 32768.0, LINE_RATE, WHISPER_RATE).astype(np.float32)


def _peak(pcm: np.ndarray) -> int:
    return max(int(pcm.max()), -int(pcm.min()))  # as ints: −(−32768) overflows int16


def _speech_only(decoded: Decoded, *, short_answer: bool = False) -> tuple[str, float, float]:
    """Joined text of the segments that are speech, plus the worst no-speech and mean log-prob.
    A ``short_answer`` keeps every segment: Whisper's no-speech head calls a lone 0.3 s はい
    silence, and that はい was the answer to the question the bot had just asked."""
    kept = [
        text
        for text, nsp, alp in zip(decoded.texts, decoded.no_speech_probs, decoded.avg_logprobs, strict=True)
        if short_answer or not (nsp > NO_SPEECH_PROB_MIN and alp < AVG_LOGPROB_MAX)
    ]
    nsp = max(decoded.no_speech_probs, default=1.0)
    alp = float(np.mean(decoded.avg_logprobs)) if decoded.avg_logprobs else 0.0
    return "".join(kept).strip(), nsp, alp


class Transcriber:
    """One loaded Whisper model; thread-safe, ``workers`` decodes can run at the same time."""

    def __init__(
        self,
        model_dir: Path | str,
        *,
        threads: int = 2,
        workers: int = 1,
        prompt: str | None = DOMAIN_PROMPT,
        beam_size: int = BEAM_SIZE,
        hotwords: str | None = None,
    ) -> None:
        self.model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type=COMPUTE_TYPE,
            cpu_threads=threads,
            num_workers=workers,
            local_files_only=True,
        )
        self.prompt = prompt or None
        self.beam_size = beam_size
        self.hotwords = hotwords or None  # the knowledge base's words, with the domain prompt only
        self.pieces = primed_echo.primed_pieces(hotwords) if prompt else frozenset()  # what the prime can write
        self._batched = BatchedInferencePipeline(self.model)

    @classmethod
    def from_settings(cls, settings: Settings, *, progress: bool = True) -> Transcriber:
        from ivr.speech.model_files import resolve_asr_model

        return cls(
            resolve_asr_model(settings, progress=progress),
            threads=settings.asr_threads,
            workers=settings.asr_workers,
            prompt=domain_prompt(_city_name(settings.data_dir)) if settings.asr_prompt else None,
            hotwords=kb_hotwords(settings.data_dir, settings.asr_hotwords) if settings.asr_hotwords else None,
        )

    def _options(self, prompt: str | None, prefix: str | None = None, hotwords: str | None = None) -> dict[str, object]:
        return {
            "hotwords": hotwords if prefix is None else None,  # faster-whisper ignores them after a prefix
            "prefix": prefix,
            "language": LANGUAGE,
            "beam_size": self.beam_size,
            "temperature": [0.0],  # no fallback ladder: it turned 1 s decodes into 7–23 s ones
            "without_timestamps": True,
            "condition_on_previous_text": False,
            "vad_filter": False,  # the endpointer already cut the utterance
            "initial_prompt": prompt,
            "no_speech_threshold": None,  # decided in _speech_only, so a drop is recorded, not silent
        }

    def _decode(
        self, audio: np.ndarray, prompt: str | None, prefix: str | None = None, hotwords: str | None = None
    ) -> Decoded:
        """One Whisper pass; the only place the model runs for a single utterance."""
        segments, _info = self.model.transcribe(audio, **self._options(prompt, prefix, hotwords))
        segs = list(segments)  # the generator decodes lazily: consume it here, in this thread
        return Decoded(
            tuple(s.text for s in segs),
            tuple(s.no_speech_prob for s in segs),
            tuple(s.avg_logprob for s in segs),
            hotwords=bool(hotwords) and prefix is None,
        )

    def _decode_batch(self, audios: Sequence[np.ndarray], prompt: str | None) -> list[Decoded]:
        """Several utterances in one batched encoder/decoder pass (for throughput under load)."""
        gap = np.zeros(WHISPER_RATE // 10, dtype=np.float32)  # keeps clips apart on the shared timeline
        clips, offset, pieces = [], 0, []
        for audio in audios:
            clips.append({"start": offset / WHISPER_RATE, "end": (offset + len(audio)) / WHISPER_RATE})
            pieces += [audio, gap]
            offset += len(audio) + len(gap)
        options = self._options(prompt, hotwords=self.hotwords)
        for key in ("condition_on_previous_text", "no_speech_threshold", "prefix"):
            options.pop(key)  # the batched pipeline fixes the first and has no second
        segments, _info = self._batched.transcribe(
            np.concatenate(pieces), clip_timestamps=clips, batch_size=len(audios), **options
        )
        by_clip: list[list] = [[] for _ in audios]
        starts = np.array([c["start"] * self.model.frames_per_second for c in clips])
        for seg in segments:  # a segment's seek is its clip's start in frames (give or take rounding)
            by_clip[int(np.argmin(np.abs(starts - seg.seek)))].append(seg)
        return [
            Decoded(
                tuple(s.text for s in segs),
                tuple(s.no_speech_prob for s in segs),
                tuple(s.avg_logprob for s in segs),
                hotwords=self.hotwords is not None,
            )
            for segs in by_clip
        ]

    def transcribe(self, pcm: np.ndarray, *, question: str | None = None, lead_in: LeadIn | None = None) -> AsrResult:
        """Text of one 8 kHz int16 utterance; blocking (~1 s on 2 cores), so run it in the pool.

        ``question``: the yes/no question the bot has just asked, so the turn is most likely a
        short answer to it. It then primes Whisper instead of the domain sentence (which made a
        lone はい 「ごみ相談の」 and いいえ 「スプレー缶」: on dev clips of short answers in five voices,
        right yes/no 33/68 with the domain prompt, 43 with none, 47 with the question and the
        short echo check below), a read-back
        of the question is an echo however short, and the no-speech filter keeps the turn.
        ``lead_in``: the question's audio as the caller heard it; a short turn is then decoded
        after it (``ivr.speech.lead_in``: right yes/no 23/45 → 38/45 on dev short answers)."""
        return self.transcribe_batch([pcm], batched=False, questions=[question], lead_ins=[lead_in])[0]

    def transcribe_batch(
        self,
        pcms: Sequence[np.ndarray],
        *,
        batched: bool = True,
        questions: Sequence[str | None] | None = None,
        lead_ins: Sequence[LeadIn | None] | None = None,
    ) -> list[AsrResult]:
        """Several utterances; ``batched`` decodes them in one pass, else one after another."""
        asked = list(questions) if questions is not None else [None] * len(pcms)
        leads = list(lead_ins) if lead_ins is not None else [None] * len(pcms)
        started = time.perf_counter()
        audios = [to_whisper_audio(pcm) for pcm in pcms]
        live = [i for i, a in enumerate(audios) if a.size and _peak(pcms[i]) >= SILENCE_PEAK]
        if batched and len(live) > 1 and not any(asked) and not any(leads):  # one shared prompt per batch
            decoded = dict(zip(live, self._decode_batch([audios[i] for i in live], self.prompt), strict=True))
        else:
            decoded = {i: self._decode_answer(pcms[i], audios[i], asked[i], leads[i]) for i in live}
        shared_ms = int((time.perf_counter() - started) * 1000 / max(1, len(live)))
        results = []
        for i, pcm in enumerate(pcms):
            audio_ms = len(pcm) * 1000 // LINE_RATE
            if i not in decoded:
                dropped = "no_speech" if len(pcm) else "empty_audio"
                results.append(AsrResult("", "", dropped, False, False, False, 1.0, 0.0, audio_ms, 0))
                continue
            result = self._finish(audios[i], decoded[i], audio_ms, question=asked[i])
            results.append(replace(result, decode_ms=result.decode_ms + shared_ms))
        return results

    def _decode_answer(
        self, pcm: np.ndarray, audio: np.ndarray, question: str | None, lead_in: LeadIn | None
    ) -> Decoded:
        """One turn: after the lead-in when a short answer to the bot's question, else primed (question or domain)."""
        def plain() -> Decoded:
            return self._decode(audio, question or self.prompt, hotwords=None if question else self.hotwords)

        alone = None
        if lead_in is not None and lead.fits(pcm):
            both = self._decode(to_whisper_audio(lead_in.before(pcm)), None, prefix=lead_in.text)
            answer = lead_in.answer("".join(both.texts))
            if answer is not None and not has_words(answer):
                log.info("ASR lead-in: nothing written after the question; decoding the turn alone")
                return self._unwritten_answer(audio)
            echo = lead_in.echo(answer) if answer is not None else None
            if answer is not None and echo is not None:
                alone = plain()
                if fuzz.partial_ratio(reading(echo), reading("".join(alone.texts))) >= LEAK_SAME_SOUND_RATIO:
                    echo = None  # said, not only read from the question
                else:
                    log.info("ASR lead-in: %r repeats the question's %r; the turn alone is taken", answer, echo)
            if answer is not None and echo is None:
                answer = lead_in.settle(answer, lambda: "".join(self._unwritten_answer(audio).texts))
                return Decoded((answer,), both.no_speech_probs[:1], both.avg_logprobs[:1])
            if answer is None:
                log.info("ASR lead-in: the decode dropped the forced prefix; decoding the turn alone")
        return alone or plain()

    def _unwritten_answer(self, audio: np.ndarray) -> Decoded:
        """A short turn the lead-in decode left empty (「。」 alone: Whisper took it for the dialogue's
        end), decoded alone and unprimed, after a yes/no or a slot question alike. Not primed with
        the question, which tips a short unclear turn into 「はい」 (a dev voice's いえ read as はい would
        confirm a read-back the caller refused), nor with the domain sentence, which a lone うん
        reads back (「スプレー缶の音」, an item the caller never named). Before, the turn was dropped
        as silence. bench/replies.py (dev, with yes_no's 嫌 / はようねがいします / はいます): right
        yes/no 49 → 52 of 64 clean, 33 → 38 at 20 dB, wrong unchanged; other replies dropped at 20 dB
        20 → 4 of 40."""
        return self._decode(audio, None)

    def _finish(self, audio: np.ndarray, decoded: Decoded, audio_ms: int, *, question: str | None = None) -> AsrResult:
        """Leak check (with a re-run when needed), then the no-speech and hallucination filters."""
        started = time.perf_counter()
        short_answer = question is not None
        prompt = question or self.prompt
        text, nsp, alp = _speech_only(decoded, short_answer=short_answer)
        raw = "".join(decoded.texts).strip()
        prompt_used, leak, retried = prompt is not None, False, False
        min_chars = ANSWER_LEAK_MIN_CHARS if short_answer else LEAK_MIN_CHARS
        primed = f"{self.hotwords}。{prompt}" if decoded.hotwords else prompt  # what could be read back
        listed = not short_answer  # the domain sentence lists words; a question does not
        if prompt is not None and primed is not None and is_prompt_leak(raw, primed, min_chars, listed=listed):
            retried = True
            plain = self._decode(audio, None)
            plain_text, plain_nsp, plain_alp = _speech_only(plain, short_answer=short_answer)
            same = fuzz.ratio(reading(raw), reading(plain_text)) >= LEAK_SAME_SOUND_RATIO if plain_text else False
            if not same:  # unprimed, the audio says something else (or nothing): the text was the prompt
                leak, prompt_used = True, False
                text, nsp, alp, raw = plain_text, plain_nsp, plain_alp, "".join(plain.texts).strip()
                log.info("ASR prompt leak: primed decode read the prompt back; unprimed gives %r", text)
        hotwords_used = decoded.hotwords and not leak
        if hotwords_used and text and hallucination(text) is not None:
            # A longer prime tips Whisper into a stock outro on some noisy turns (ご視聴ありがとう
            # ございました for 包丁の捨て方 at 20 dB): try once more with the sentence alone.
            retried = True
            # That decode may read the sentence itself back (「ごみ相談の電話です」 for 青野町です at 20 dB,
            # then answered as the item 電話機): a leak is no better than the outro, and is dropped too.
            again = self._decode(audio, prompt)
            again_text, again_nsp, again_alp = _speech_only(again, short_answer=short_answer)
            leaked = prompt is not None and is_prompt_leak("".join(again.texts).strip(), prompt, min_chars,
                                                           listed=listed)
            if again_text and hallucination(again_text) is None and not leaked:
                text, nsp, alp, hotwords_used = again_text, again_nsp, again_alp, False
                raw = "".join(again.texts).strip()
                log.info("ASR hallucination with hotwords; the prompt alone gives %r", text)
            elif leaked:
                log.info("ASR hallucination with hotwords; the prompt alone reads the prompt back: dropped")
        doubted = False
        if prompt_used and not short_answer and not retried and text:  # one re-decode a turn at most
            swap = primed_echo.recheck(text, self.pieces, lambda: _speech_only(self._decode(audio, None)))
            if swap is not None:  # the prime's word, not the caller's: the unprimed decode, doubted
                (text, nsp, alp), raw, doubted, retried, prompt_used = swap, swap[0], True, True, False
        dropped = None
        if not has_words(text):  # 「。」 or 「?」 alone: no word
            text, dropped = "", "no_speech"
        elif (known := hallucination(text)) is not None:
            dropped = f"hallucination:{known.name}"
            log.info("ASR hallucination dropped (%s): %r", known.name, text)
            text = ""
        elif compression_ratio(text) > COMPRESSION_RATIO_MAX:  # ライス、エキマン、ライス、… read from talk behind
            dropped = "hallucination:loop"
            log.info("ASR decoder loop dropped: %r", text)
            text = ""
        elapsed = int((time.perf_counter() - started) * 1000)
        return AsrResult(
            text,
            raw,
            dropped,
            prompt_used,
            leak,
            retried,
            nsp,
            alp,
            audio_ms,
            elapsed,
            hotwords_used=hotwords_used,
            compression_ratio=compression_ratio(text),
            confidence=min(confidence(text, alp, nsp, short_answer=short_answer),
                           primed_echo.ECHO_DOUBT_CONFIDENCE if doubted else 1.0),
        )
