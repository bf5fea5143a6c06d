"""Voice activity on the phone line: Silero VAD v6, streamed 20 ms at a time.

The model is the ONNX file that ships inside faster-whisper (nothing to download). The v6 graph
takes 16 kHz only — a fixed ``(n, 576)`` input: 512 new samples (32 ms) plus the last 64 samples
of the previous window as context — and carries an LSTM state (``h``, ``c``) from window to
window. So each call owns a streaming 8 → 16 kHz resampler, a sample buffer and that state,
while the InferenceSession itself (1.2 MB, thread-safe ``run``) is shared by every call.
Fed one window at a time this way, the probabilities equal faster-whisper's batched ones exactly.

The resampler is a stateful FIR (scipy), not soxr's ResampleStream: soxr streams in bursts
(940–1700 samples every 3–5 frames), which would make the VAD's timing jitter by up to 100 ms and
run several windows in one frame. The FIR gives exactly 320 samples per frame, 8 ms behind.

Two things keep it hearing on a real line (both measured in bench/turns.py):
- Its recurrent state goes deaf on long input: after 20 s of line silence (a caller listening to
  the greeting) 「ペットボトルって何ごみですか」 peaked at 0.38 instead of 0.82, the turn opened a
  second late and Whisper lost the start; a 「はい」 never opened one. ``refresh`` clears the
  state, and the endpointer calls it on every stretch of silence (as Pipecat resets Silero's
  state every few seconds).
- Short and soft words: a voiced frame well above the noise floor (``voicing.py``) counts as
  speech even when Silero is unsure, so a 0.3 s はい on a clean line opens a turn.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from typing import Protocol

import numpy as np
import onnxruntime
from scipy import signal

from ivr.speech.voicing import Voicing

log = logging.getLogger(__name__)

LINE_RATE = 8000  # telephone audio: 8 kHz mono int16 everywhere in ivr
FRAME_MS = 20  # one RTP packet / Twilio media chunk
FRAME_SAMPLES = LINE_RATE * FRAME_MS // 1000  # 160 samples
VAD_RATE = 16000  # the only rate the v6 graph accepts (its input width is fixed at 512 + 64)
WINDOW_SAMPLES = 512  # 32 ms at 16 kHz: the v6 window
CONTEXT_SAMPLES = 64  # tail of the previous window the model sees again, as in faster_whisper/vad.py
STATE_SHAPE = (1, 1, 128)  # LSTM h and c of the v6 graph
UPSAMPLE_TAPS = 255  # with the two below: VAD probabilities within 0.004 of an offline soxr HQ resample
UPSAMPLE_CUTOFF = 0.48  # of the 16 kHz Nyquist = 3.84 kHz: the phone band ends at 3.4 kHz, images start at 4
UPSAMPLE_KAISER_BETA = 8.0  # ~80 dB image rejection; 63 plain taps left images that moved probabilities by 0.3
ORT_THREADS = 1  # a window costs ~0.1 ms; more threads only add contention between calls
VAD_MODEL_FILE = "silero_vad_v6.onnx"  # in faster_whisper/assets
VOICED_PROBABILITY = 0.75  # a clearly voiced frame scores this (over the 0.5 threshold) whatever Silero says


class VoiceDetector(Protocol):
    """Anything that scores a 20 ms frame for speech; the endpointer only needs this."""

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability in [0, 1] for the audio up to and including ``frame``."""
        ...


def check_frame(frame: object) -> np.ndarray:
    """One 20 ms frame at 8 kHz, int16, mono; anything else is a caller bug worth a clear message."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"audio frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.int16:
        raise ValueError(f"audio frame must be int16 PCM, got dtype {frame.dtype}")
    if frame.shape != (FRAME_SAMPLES,):
        raise ValueError(
            f"audio frame must be {FRAME_SAMPLES} samples ({FRAME_MS} ms at {LINE_RATE} Hz, mono), "
            f"got shape {frame.shape}"
        )
    return frame


_FIR = (signal.firwin(UPSAMPLE_TAPS, UPSAMPLE_CUTOFF, window=("kaiser", UPSAMPLE_KAISER_BETA)) * 2).astype(np.float32)


class Upsampler:
    """8 → 16 kHz, streaming: zero-stuff by two, low-pass (gain 2 restores the level)."""

    def __init__(self) -> None:
        self._state = np.zeros(len(_FIR) - 1, dtype=np.float32)

    def __call__(self, pcm: np.ndarray) -> np.ndarray:
        """int16 8 kHz samples → float32 16 kHz in [-1, 1], exactly twice as many."""
        stuffed = np.zeros(2 * len(pcm), dtype=np.float32)
        stuffed[::2] = pcm.astype(np.float32) / 32768.0
        out, self._state = signal.lfilter(_FIR, 1.0, stuffed, zi=self._state)
        return out.astype(np.float32)


_session: onnxruntime.InferenceSession | None = None
_session_lock = threading.Lock()


def silero_session() -> onnxruntime.InferenceSession:
    """The one Silero session of the process, created on first use (calls start cheap after that)."""
    global _session
    with _session_lock:
        if _session is None:
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = ORT_THREADS
            opts.inter_op_num_threads = ORT_THREADS
            opts.log_severity_level = 3  # errors only: ORT warns about unused initialisers in this graph
            model = resources.files("faster_whisper") / "assets" / VAD_MODEL_FILE
            _session = onnxruntime.InferenceSession(
                model.read_bytes(), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            log.debug("Silero VAD v6 loaded from %s", model)
        return _session


class SileroVad:
    """Per-call streaming Silero VAD: create one for each call, never share one between calls."""

    def __init__(self, session: onnxruntime.InferenceSession | None = None) -> None:
        self._session = session or silero_session()
        self.reset()

    def reset(self) -> None:
        """Forget the call so far (recurrent state, context, resampler): for a new call or a re-sync."""
        self._upsample = Upsampler()
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet in a full window
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._voicing = Voicing()
        self.refresh()
        self._last = 0.0

    def refresh(self) -> None:
        """Clear the recurrent state only (the audio context and resampler run on): call it in
        silence, so the next word meets a detector as alert as at the start of a call."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        """Probability of the newest 32 ms window (3 frames in 8 complete none and repeat the last
        one), raised to ``VOICED_PROBABILITY`` when this frame is clearly voiced."""
        check_frame(frame)
        silero = self.silero_probability(frame)
        return max(silero, VOICED_PROBABILITY) if self._voicing.voiced(frame) else silero

    def silero_probability(self, frame: np.ndarray) -> float:
        """Silero's own probability for the newest window, without the voicing opinion."""
        upsampled = self._upsample(frame)
        pending = np.concatenate([self._pending, upsampled]) if self._pending.size else upsampled
        start = 0
        while pending.size - start >= WINDOW_SAMPLES:
            window = pending[start : start + WINDOW_SAMPLES]
            self._last = self._run(window)
            start += WINDOW_SAMPLES
        self._pending = pending[start:].copy()
        return self._last

    def _run(self, window: np.ndarray) -> float:
        model_input = np.concatenate([self._context, window])[np.newaxis, :]
        out, self._h, self._c = self._session.run(None, {"input": model_input, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT_SAMPLES:].copy()
        return float(out.reshape(-1)[0])
