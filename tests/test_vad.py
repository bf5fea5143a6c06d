"""Silero VAD streamed 20 ms at a time gives faster-whisper's own (batched) probabilities."""

from __future__ import annotations

import numpy as np
import soxr

from ivr.speech.vad import FRAME_SAMPLES, UPSAMPLE_TAPS, WINDOW_SAMPLES, SileroVad, Upsampler, silero_session


def _speech() -> np.ndarray:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts("燃えるごみの収集日はいつですか")
    x = soxr.resample(wav / np.abs(wav).max() * 0.5, sr, 8000) * 32767
    pad = np.zeros(4000)
    return np.concatenate([pad, x, pad]).astype(np.int16)


def test_streaming_matches_faster_whisper_batched() -> None:
    from faster_whisper.vad import get_vad_model

    pcm = _speech()
    pcm = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]
    vad = SileroVad()
    streamed = [vad.silero_probability(f) for f in pcm.reshape(-1, FRAME_SAMPLES)]
    x16 = Upsampler()(pcm)  # the same 16 kHz samples, computed in one go
    assert len(x16) == 2 * len(pcm)
    batched = get_vad_model()(x16[: len(x16) // WINDOW_SAMPLES * WINDOW_SAMPLES]).reshape(-1)
    # after frame k, floor(320 k / 512) windows are complete and the newest one is reported
    done = [(k + 1) * 2 * FRAME_SAMPLES // WINDOW_SAMPLES for k in range(len(streamed))]
    expected = [float(batched[w - 1]) if w else 0.0 for w in done]
    np.testing.assert_allclose(streamed, expected, atol=1e-5)
    assert batched.max() > 0.7  # it is speech, so this compares something


def test_upsampler_is_soxr_quality_and_frame_regular() -> None:
    pcm = _speech()
    whole = soxr.resample(pcm.astype(np.float32) / 32768.0, 8000, 16000, quality="HQ")
    up = Upsampler()
    pieces = [up(f) for f in pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)]
    assert {len(p) for p in pieces} == {2 * FRAME_SAMPLES}  # no bursts: every frame, 320 samples
    delay = (UPSAMPLE_TAPS - 1) // 2
    streamed = np.concatenate(pieces)[delay:]
    n = len(streamed) - 1000
    assert np.abs(streamed[:n] - whole[:n]).max() < 0.005  # speech peaks at 0.5


def test_calls_keep_their_own_state_but_share_the_session() -> None:
    pcm = _speech()[: 40 * FRAME_SAMPLES * 3]
    frames = pcm.reshape(-1, FRAME_SAMPLES)
    a, b = SileroVad(), SileroVad()
    assert a._session is b._session is silero_session()
    only_a = [a.probability(f) for f in frames]
    b.probability(np.full(FRAME_SAMPLES, 3000, dtype=np.int16))  # b hears something else
    a.reset()
    again = [a.probability(f) for f in frames]
    assert only_a == again  # reset really forgets, and b never touched a's state
