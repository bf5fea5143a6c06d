"""Which of a few known answers the caller's audio sounds most like, scored by Whisper itself.

When the bot has asked for a town and the transcript names none (「ご紹介です」 for 五条町です on a
20 dB line), the words Whisper wrote are its best guess among all Japanese, not among this
city's towns. Forcing each nearby town's name through the decoder (``align``: the probability
Whisper gives each token of a given text, given the audio) asks the model the narrower question.
The same serves an answer to the item question (「リテンサです」 for 自転車です), scored against the
items nearest in sound (``ivr.language.sound_guesses.items_near``).
Whisper prefers common words whatever it hears (池田町 outscored 紀寺町 on a clip of 紀寺町), so
each text's score on silence is subtracted: what the audio adds is what counts.

Measured on the dev and dev2 town answers of bench/call_goals.py (3 voices, clean and 20 dB, cut
roughly as the endpointer cuts them) that neither the transcript nor the sound guess placed: of 15, the
raw scores picked the right town 7 times, with each text's silence score taken off 9 (3 of the
others had the right town outside the 12 nearest in sound). The choice is only ever read back
(「ごじょうちょう、ですね？」), so a wrong one costs the caller a いいえ. The 30 s encoder window is
kept: cut to 10 s (3× faster) the scores drifted and clean 赤膚町 lost to 池田町. It costs ~1.1 s
of both cores (one more encoder pass, three decoder passes) on such a turn only.
"""

from __future__ import annotations

import threading

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from ivr.speech.asr import LANGUAGE, to_whisper_audio

WINDOW_FRAMES = 3000  # Whisper's 30 s window of mel frames; a shorter one shifted the scores (see above)
PRIOR_WEIGHT = 1.0  # share of a text's silence score taken off; of the 15 dev misses right at 0: 7, 0.5: 7, 1: 9
ALIGN_BATCH = 4  # texts per decoder pass: bigger batches copy the 30 s encoder output and ran slower per text
SILENCE_SAMPLES = 8000  # 1 s of 8 kHz silence: the audio the prior is scored on


class ForcedChooser:
    """Scores candidate texts against one utterance; thread-safe (the ASR pool's workers share it)."""

    def __init__(self, model: WhisperModel) -> None:
        self.model = model
        self.tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=LANGUAGE)
        self._start = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self._prior: dict[str, float] = {}
        self._lock = threading.Lock()
        self._silence: tuple[np.ndarray, int] | None = None

    def choose(self, pcm: np.ndarray, texts: list[str]) -> str:
        """The text the 8 kHz int16 ``pcm`` sounds most like, less Whisper's taste for it on
        silence; "" for no texts."""
        if not texts:
            return ""
        heard = self.scores(pcm, texts)
        priors = self._priors(texts)
        adjusted = [score - PRIOR_WEIGHT * prior for score, prior in zip(heard, priors, strict=True)]
        return texts[int(np.argmax(adjusted))]

    def scores(self, pcm: np.ndarray, texts: list[str]) -> list[float]:
        """Mean log-probability of each text's tokens, forced through the decoder after ``pcm``."""
        encoded, frames = self._encode(pcm)
        return self._score(encoded, frames, texts)

    def _priors(self, texts: list[str]) -> list[float]:
        with self._lock:
            missing = [t for t in texts if t not in self._prior]
            if self._silence is None and missing:
                self._silence = self._encode(np.zeros(SILENCE_SAMPLES, dtype=np.int16))
            silence = self._silence
        if missing and silence is not None:
            scored = dict(zip(missing, self._score(*silence, missing), strict=True))
            with self._lock:
                self._prior.update(scored)
        return [self._prior[t] for t in texts]

    def _encode(self, pcm: np.ndarray) -> tuple[np.ndarray, int]:
        features = self.model.feature_extractor(to_whisper_audio(pcm))
        frames = min(features.shape[-1], WINDOW_FRAMES)
        padded = np.zeros((features.shape[0], WINDOW_FRAMES), dtype=np.float32)
        padded[:, :frames] = features[:, :frames]
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None]))
        return np.array(self.model.model.encode(view, to_cpu=True)), frames

    def _score(self, encoded: np.ndarray, frames: int, texts: list[str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(texts), ALIGN_BATCH):
            chunk = texts[i : i + ALIGN_BATCH]
            tokens = [self.tokenizer.encode(t) for t in chunk]
            batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0)))
            for result in self.model.model.align(batch, self._start, tokens, [frames] * len(chunk)):
                probs = np.maximum(np.asarray(result.text_token_probs, dtype=np.float64), 1e-9)
                out.append(float(np.mean(np.log(probs))))
        return out
