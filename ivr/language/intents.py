"""Which FAQ topic a caller means: a hybrid of kana-reading n-grams and sentence embeddings.

Five views of the normalised utterance feed one linear classifier (liblinear's SVM, trained
on the FAQ examples at start-up in under a second, so editing faq.yaml retrains it):

- character n-grams of the **kana reading** — robust to kanji that ASR got wrong;
- character n-grams of the surface text — kanji carry meaning when they are right;
- a sentence embedding (USE multilingual by default) — paraphrases and dialect;
- entity tokens (the named item's category, a category word, an area, a date) — テレビ and
  ドライヤー are said the same way but belong to different topics;
- content words in dictionary form (``lemmas``) — 死んどんねん and 死んでいる are one verb.

Margins become probabilities by a softmax with ``CONFIDENCE_TEMPERATURE``, fitted on the
development split by ``bench/nlu.py --calibrate``, so a confidence of 0.8 is right about 80%
of the time; the dialogue's accept/confirm thresholds rely on that.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jaconv
import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.svm import LinearSVC

from ivr.knowledge.models import Topic
from ivr.language.embeddings import EXAMPLE_EMBEDDING_FORM, Embedder, ExampleEmbeddingCache
from ivr.language.lemmas import content_lemmas
from ivr.language.normalize import normalize
from ivr.language.readings import indexed_reading, reading

CONFIDENCE_TEMPERATURE = 0.31  # fitted on the dev split by bench/nlu.py --calibrate
EMBEDDING_WEIGHT = 2.0  # the dense view is 512 numbers against thousands of n-grams (4-fold CV on dev)
ENTITY_WEIGHT = 1.0  # one entity token weighs about as much as a strong n-gram
LEMMA_WEIGHT = 1.0  # 4-fold CV on dev: 0.941 → 0.946 (0.5: 0.931, 1.5: 0.937)
SVM_C = 1.0
SVM_SEED = 0  # liblinear shuffles its examples: a fixed seed makes every start train the same model
TOP_K = 3
AUGMENT_KANA = True  # 4-fold CV on the dev split: 0.885 → 0.907
AUGMENT_CLIPPED = True

# caller text → (normalised text with the item masked, entity tokens); see ``understand``
Prepare = Callable[[str], tuple[str, list[str]]]


def unprepared(text: str) -> tuple[str, list[str]]:
    return normalize(text), []


def _tfidf_one(vectoriser: TfidfVectorizer, doc: str) -> tuple[np.ndarray, np.ndarray]:
    """One sentence's tf-idf as (columns, values): what ``vectoriser.transform`` gives (count,
    sublinear tf, idf, l2 norm), without its per-call input checks and scipy matrices, whose
    bookkeeping costs more than the arithmetic for one row (~1 ms a turn)."""
    x = CountVectorizer.transform(vectoriser, [doc])
    values = x.data.astype(np.float64)
    if vectoriser.sublinear_tf:
        values = np.log(values) + 1.0
    values *= vectoriser.idf_[x.indices]
    norm = float(np.sqrt(values @ values))
    return x.indices, values / norm if norm else values


@dataclass(frozen=True)
class IntentGuess:
    intent: str
    confidence: float
    alternatives: list[tuple[str, float]]  # the next best topics, for a confirmation question
    probabilities: dict[str, float]  # every topic


class IntentClassifier:
    """Trained on every topic's examples; ``classify`` is thread-safe."""

    def __init__(
        self,
        topics: list[Topic],
        embedder: Embedder,
        prepare: Prepare = unprepared,
        extra: list[tuple[str, str]] = (),
        cache_dir: Path | None = None,
    ) -> None:
        texts: list[str] = []
        labels: list[str] = []
        for topic in topics:
            for example in (topic.title, *topic.examples):
                texts.append(example)
                labels.append(topic.id)
        for text, label in extra:
            texts.append(text)
            labels.append(label)
        if AUGMENT_KANA:  # ASR often writes the whole utterance in kana: teach that form too
            for text, label in list(zip(texts, labels, strict=True)):
                kana = jaconv.kata2hira(indexed_reading(normalize(text)))
                if kana:
                    texts.append(kana)
                    labels.append(label)
                if AUGMENT_CLIPPED and len(kana) > 4:  # and the VAD clips the first mora
                    texts.append(kana[2:] if kana[1] in "ゃゅょぁぃぅぇぉっんー" else kana[1:])
                    labels.append(label)
        self._embedder = embedder
        self._example_cache = ExampleEmbeddingCache(embedder, cache_dir)
        self._entities = CountVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None, binary=True)
        self._kana = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1)
        self._surface = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self._lemmas = TfidfVectorizer(analyzer="word", tokenizer=str.split, token_pattern=None, lowercase=False,
                                       ngram_range=(1, 2), sublinear_tf=True)
        prepared = [prepare(t) for t in texts]
        cache = self._cache_file(cache_dir, embedder.name, prepared, labels)
        if not self._load(cache):
            x = self._fit_features([p[0] for p in prepared], [p[1] for p in prepared])
            self._model = LinearSVC(C=SVM_C, random_state=SVM_SEED)
            self._model.fit(x, labels)
            self._save(cache)
        self.classes: list[str] = list(self._model.classes_)
        # the weights by feature (one row each) and where each view's columns start, for margins()
        self._weights = np.ascontiguousarray(self._model.coef_.T)
        sizes = [len(v.vocabulary_) for v in (self._kana, self._surface, self._entities, self._lemmas)]
        starts = np.cumsum([0, *sizes])
        self._views = list(zip(starts[:4], (1.0, 1.0, ENTITY_WEIGHT, LEMMA_WEIGHT), strict=True))
        self._dense_at = int(starts[4])

    # The fitted model is cached on disk (~4 s to fit on 2 cores), keyed by everything it was
    # trained from, so an edit to faq.yaml, the items or a tunable retrains it.
    @staticmethod
    def _cache_file(cache_dir: Path | None, model_name: str, prepared: list, labels: list[str]) -> Path | None:
        if cache_dir is None:
            return None
        key = json.dumps([prepared, labels, model_name, sklearn.__version__, EMBEDDING_WEIGHT, ENTITY_WEIGHT,
                          LEMMA_WEIGHT, SVM_C, SVM_SEED, EXAMPLE_EMBEDDING_FORM], ensure_ascii=False)
        return Path(cache_dir) / f"intents-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pkl"

    def _load(self, path: Path | None) -> bool:
        if path is None or not path.exists():
            return False
        try:  # our own file in our own cache folder, written by _save below
            with path.open("rb") as fh:
                self._kana, self._surface, self._entities, self._lemmas, self._model = pickle.load(fh)  # noqa: S301
            return True
        except Exception:  # a stale or broken cache only costs a refit
            return False

    def _save(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump((self._kana, self._surface, self._entities, self._lemmas, self._model), fh)
            tmp.replace(path)
            for old in path.parent.glob("intents-*.pkl"):  # one model per cache: drop stale ones
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass

    def _fit_features(self, normalised: list[str], tokens: list[list[str]]) -> sparse.csr_matrix:
        """Fit the four vocabularies and build the training matrix; ``margins`` reads one
        sentence's row from the same views in the same column order."""
        a = self._kana.fit_transform([indexed_reading(t) or t for t in normalised])
        b = self._surface.fit_transform(normalised)
        c = self._entities.fit_transform([" ".join(tok) or "none" for tok in tokens])
        d = self._lemmas.fit_transform([content_lemmas(t) for t in normalised])
        dense = self._example_cache.embed(normalised) * EMBEDDING_WEIGHT
        return sparse.hstack([a, b, c * ENTITY_WEIGHT, d * LEMMA_WEIGHT, sparse.csr_matrix(dense)]).tocsr()

    def margins(self, masked: str, tokens: list[str]) -> np.ndarray:
        """Raw per-topic scores (what the temperature is fitted on) of a prepared utterance.

        x·W + b summed view by view over the features present, with scikit-learn's per-call
        input checks off: for one sentence, checks and sparse-matrix bookkeeping cost more than
        the arithmetic (~3 ms of a 10 ms budget).
        """
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            kana = _tfidf_one(self._kana, reading(masked) or masked)
            surface = _tfidf_one(self._surface, masked)
            entities = CountVectorizer.transform(self._entities, [" ".join(tokens) or "none"])
            lemmas = _tfidf_one(self._lemmas, content_lemmas(masked))
        dense = self._embedder.embed([masked])[0] * EMBEDDING_WEIGHT
        out = self._model.intercept_ + dense @ self._weights[self._dense_at:]
        views = (kana, surface, (entities.indices, entities.data.astype(np.float64)), lemmas)
        for (columns, values), (start, weight) in zip(views, self._views, strict=True):
            out = out + (values * weight) @ self._weights[start + columns]
        return out

    def probabilities(self, masked: str, tokens: list[str]) -> np.ndarray:
        z = self.margins(masked, tokens) / CONFIDENCE_TEMPERATURE
        z = np.exp(z - z.max())
        return z / z.sum()

    def classify(self, masked: str, tokens: list[str]) -> IntentGuess:
        """Classify a prepared utterance (normalised, entities masked, entity tokens)."""
        probs = self.probabilities(masked, tokens)
        order = np.argsort(probs)[::-1][:TOP_K]
        ranked = [(str(self.classes[i]), float(probs[i])) for i in order]
        return IntentGuess(ranked[0][0], ranked[0][1], ranked[1:],
                           {str(c): float(p) for c, p in zip(self.classes, probs, strict=True)})
