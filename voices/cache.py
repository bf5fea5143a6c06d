"""Pre-rendered prompt audio on disk, all held in memory while the bot runs.

Fixed prompts and FAQ answers are synthesised once by ``ivr voices build``; at run time a
lookup is a hash and a dict access (microseconds), so cached replies start with no synthesis
delay. Audio is 8 kHz int16 ``.npy`` (loads without decoding), one folder per voice: the
folder name carries everything that changes the sound (see ``ivr.speech.tts.voice_key``),
and each file is named by a hash of that voice and the text.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

SUFFIX = ".npy"


def _safe(voice: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in voice)


class VoiceCache:
    """Text → audio for one voice, stored under ``directory/<voice>/``."""

    def __init__(self, directory: Path, voice: str) -> None:
        self.directory = Path(directory)
        self.voice = voice
        self.folder = self.directory / _safe(voice)
        self._audio: dict[str, np.ndarray] = {}

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.voice}\n{text}".encode()).hexdigest()[:32]

    def path(self, text: str) -> Path:
        return self.folder / f"{self.key(text)}{SUFFIX}"

    def load(self) -> int:
        """Read every prompt of this voice into memory (call once at start); returns the count."""
        self._audio.clear()
        if self.folder.is_dir():
            for file in self.folder.glob(f"*{SUFFIX}"):
                try:
                    self._audio[file.stem] = np.load(file, allow_pickle=False)
                except (OSError, ValueError):
                    continue  # a broken file is re-rendered by the next build
        return len(self._audio)

    def get(self, text: str) -> np.ndarray | None:
        return self._audio.get(self.key(text))

    def __contains__(self, text: str) -> bool:
        return self.key(text) in self._audio

    def __len__(self) -> int:
        return len(self._audio)

    def put(self, text: str, pcm: np.ndarray) -> Path:
        """Store ``pcm`` (8 kHz int16) for ``text``, on disk and in memory."""
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16:
            raise TypeError(f"expected int16 samples, got {pcm.dtype}")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(text)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.save(f, pcm, allow_pickle=False)
        tmp.replace(path)  # atomic: a bot loading meanwhile sees the whole file or none
        self._audio[self.key(text)] = pcm
        return path

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else 0
