"""Telephone audio helpers, with soundfile (libsndfile) as the independent μ-law reference."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from ivr.audio import codec

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def sf_ulaw_encode(pcm: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, pcm, 8000, format="RAW", subtype="ULAW")
    return buf.getvalue()


def sf_ulaw_decode(data: bytes) -> np.ndarray:
    pcm, _ = sf.read(io.BytesIO(data), format="RAW", subtype="ULAW", samplerate=8000, channels=1, dtype="int16")
    return pcm


def sine(freq: float, seconds: float, rate: int, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def test_constants():
    assert (codec.SAMPLE_RATE, codec.FRAME_MS, codec.FRAME_SAMPLES) == (8000, 20, 160)


def test_ulaw_decode_all_256_codes_match_soundfile():
    codes = bytes(range(256))
    assert np.array_equal(codec.ulaw_decode(codes), sf_ulaw_decode(codes))


def test_ulaw_encode_every_int16_matches_soundfile():
    assert codec.ulaw_encode(ALL_INT16) == sf_ulaw_encode(ALL_INT16)


def test_ulaw_encode_sweep_of_speechlike_values_matches_soundfile():
    rng = np.random.default_rng(7)
    pcm = np.clip(rng.normal(0, 4000, 16000), -32768, 32767).astype(np.int16)
    assert codec.ulaw_encode(pcm) == sf_ulaw_encode(pcm)


def test_ulaw_round_trips():
    decoded = codec.ulaw_decode(bytes(range(256)))
    assert np.array_equal(codec.ulaw_decode(codec.ulaw_encode(decoded)), decoded)  # codes are fixed points
    back = codec.ulaw_decode(codec.ulaw_encode(ALL_INT16)).astype(np.int32)
    error = np.abs(back - ALL_INT16.astype(np.int32))
    assert error.max() <= 1024  # the largest step, at the top segment
    loud = np.abs(ALL_INT16.astype(np.int32)) > 256
    assert (error[loud] / np.abs(ALL_INT16[loud].astype(np.int32))).max() < 0.07  # ~6 % steps: log companding


def test_ulaw_types():
    assert codec.ulaw_decode(b"").dtype == np.int16
    assert codec.ulaw_encode(np.zeros(0, np.int16)) == b""
    assert len(codec.ulaw_encode(np.zeros(160, np.int16))) == 160
    with pytest.raises(TypeError):
        codec.ulaw_encode(np.zeros(4, np.float32))


def test_resample_int16_lengths_and_level():
    pcm = codec.to_int16(sine(1000, 1.0, 8000, 10000))
    up = codec.resample(pcm, 8000, 16000)
    assert up.dtype == np.int16 and abs(len(up) - 16000) <= 1
    down = codec.resample(up, 16000, 8000)
    assert down.dtype == np.int16 and abs(len(down) - 8000) <= 1
    assert rms(up[800:-800]) == pytest.approx(rms(pcm[400:-400]), rel=0.02)
    assert rms(down[400:-400]) == pytest.approx(rms(pcm[400:-400]), rel=0.02)


def test_resample_int16_clips_instead_of_wrapping():
    square = np.tile(np.r_[np.full(20, 32767), np.full(20, -32768)], 200).astype(np.int16)
    out = codec.resample(square, 8000, 48000)
    assert out.dtype == np.int16
    # soxr overshoots a full-scale square (Gibbs); wrapping would put large negatives in the top halves
    first_half = out[30:90]  # inside the first +32767 plateau (×6 rate)
    assert first_half.min() > 0 and out.max() == 32767


def test_resample_float_stays_float():
    x = sine(440, 0.5, 48000, 0.5).astype(np.float32)
    y = codec.resample(x, 48000, 8000)
    assert y.dtype == np.float32 and abs(len(y) - 4000) <= 1
    assert codec.resample(x.astype(np.float64), 48000, 8000).dtype == np.float64
    same = codec.resample(x, 8000, 8000)
    assert same is not x and np.array_equal(same, x)


def test_frames_pad_the_last_frame():
    pcm = np.arange(1, 162, dtype=np.int16)  # 161 samples
    out = list(codec.frames(pcm))
    assert [len(f) for f in out] == [160, 160]
    assert all(f.dtype == np.int16 for f in out)
    assert out[1][0] == 161 and not out[1][1:].any()
    assert len(list(codec.frames(np.zeros(320, np.int16)))) == 2
    assert list(codec.frames(np.zeros(0, np.int16))) == []


def test_bytes_conversion():
    pcm = np.array([1, -2, 32767, -32768], dtype=np.int16)
    data = codec.pcm16_to_bytes(pcm)
    assert data[:2] == b"\x01\x00" and len(data) == 8  # little-endian
    back = codec.bytes_to_pcm16(data)
    assert back.dtype == np.int16 and np.array_equal(back, pcm)
    back[0] = 5  # a writable copy
    with pytest.raises(ValueError):
        codec.bytes_to_pcm16(b"\x01\x00\x02")


def test_wav_pcm16_round_trip(tmp_path):
    pcm = codec.to_int16(sine(300, 0.5, 8000, 8000))
    path = tmp_path / "a.wav"
    codec.write_wav(path, pcm)
    assert sf.info(str(path)).subtype == "PCM_16"
    assert np.array_equal(codec.read_wav(path), pcm)


def test_wav_ulaw_round_trip(tmp_path):
    pcm = codec.to_int16(sine(300, 0.5, 8000, 8000))
    path = tmp_path / "u.wav"
    codec.write_wav(path, pcm, ulaw=True)
    info = sf.info(str(path))
    assert (info.subtype, info.samplerate) == ("ULAW", 8000)
    assert np.array_equal(codec.read_wav(path), codec.ulaw_decode(codec.ulaw_encode(pcm)))


def test_read_wav_16k_stereo_becomes_8k_mono(tmp_path):
    left = sine(500, 1.0, 16000, 0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "s.wav"
    sf.write(str(path), stereo, 16000, subtype="PCM_16")
    pcm = codec.read_wav(path)
    assert pcm.dtype == np.int16 and pcm.ndim == 1 and abs(len(pcm) - 8000) <= 1
    assert rms(pcm[400:-400]) == pytest.approx(0.25 * 32768 / np.sqrt(2), rel=0.03)  # the channels' mean


def test_write_wav_other_rate(tmp_path):
    path = tmp_path / "r.wav"
    codec.write_wav(path, np.zeros(16000, np.int16), rate=16000)
    assert sf.info(str(path)).samplerate == 16000
    assert len(codec.read_wav(path)) == 8000
