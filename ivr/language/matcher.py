"""Find knowledge-base phrases in caller text by surface, by reading, and fuzzily by reading.

Speech recognition tends to get the sound right and the kanji wrong (完全地 for 乾電池), drop
a first mora (いぞうこ), or write words in kana. So each phrase is indexed by its surface
and by its kana reading, and caller text is searched three ways, best first: surface
substring, reading substring, then rapidfuzz's partial ratio on readings with an edit
budget that grows with the phrase length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import jaconv
from rapidfuzz import fuzz, process

from ivr.language.normalize import nfkc
from ivr.language.readings import reading

K = TypeVar("K")

MIN_READING_SUBSTRING = 3  # 2-mora readings (カン, ビン) hide inside too many other words
MIN_FUZZY_READING = 4  # below this one edit is a different word
EXACT_SURFACE = 100.0
EXACT_READING = 97.0  # the sound matched but not the kanji: nearly as good
LENGTH_WEIGHT = 2.0  # a longer phrase wins over a short one inside it (スプレー缶 over 缶)


@dataclass(frozen=True)
class Match(Generic[K]):
    key: K
    form: str  # the indexed phrase that matched
    score: float  # 0–100
    how: str  # surface | reading | fuzzy
    length: int  # characters (or morae) matched, to prefer the longest phrase

    @property
    def rank(self) -> float:
        return self.score + LENGTH_WEIGHT * self.length


def _edit_budget(morae: int) -> int:
    return 1 if morae < 8 else 2


def _surface(text: str) -> str:
    return jaconv.hira2kata(nfkc(text))


class PhraseMatcher(Generic[K]):
    """An index of (key, phrase) pairs; one key may have many phrases (name, aliases …)."""

    def __init__(self, phrases: list[tuple[K, str]]) -> None:
        self._keys: list[K] = []
        self._forms: list[str] = []
        self._surfaces: list[str] = []
        self._readings: list[str] = []
        seen: set[tuple[str, object]] = set()
        for key, phrase in phrases:
            surface = _surface(phrase)
            if not surface or (surface, key) in seen:
                continue
            seen.add((surface, key))
            self._keys.append(key)
            self._forms.append(phrase)
            self._surfaces.append(surface)
            self._readings.append(reading(phrase))
        self._fuzzy_idx = [i for i, r in enumerate(self._readings) if len(r) >= MIN_FUZZY_READING]
        self._fuzzy_readings = [self._readings[i] for i in self._fuzzy_idx]

    def __len__(self) -> int:
        return len(self._forms)

    def find(self, text: str, limit: int = 5, fuzzy: bool = True) -> list[Match[K]]:
        """Best matches first, at most one per key."""
        surface = _surface(text)
        text_reading = reading(text)
        found: dict[object, Match[K]] = {}

        def offer(i: int, score: float, how: str, length: int) -> None:
            key = self._keys[i]
            best = found.get(key)
            candidate = Match(key, self._forms[i], score, how, length)
            if best is None or candidate.rank > best.rank:
                found[key] = candidate

        for i, s in enumerate(self._surfaces):
            if s in surface:
                offer(i, EXACT_SURFACE, "surface", len(s))
        if text_reading:
            for i, r in enumerate(self._readings):
                if len(r) >= MIN_READING_SUBSTRING and r in text_reading:
                    offer(i, EXACT_READING, "reading", len(r))
            if fuzzy and self._fuzzy_readings:
                for _form, score, j in process.extract(
                    text_reading, self._fuzzy_readings, scorer=fuzz.partial_ratio,
                    limit=limit * 4, score_cutoff=75,
                ):
                    i = self._fuzzy_idx[j]
                    n = len(self._readings[i])
                    allowed = 100.0 * (1 - _edit_budget(n) / n)  # one substitution = two indels
                    if score >= allowed:
                        offer(i, min(score, EXACT_READING - 1) * 0.95, "fuzzy", n)
        ranked = sorted(found.values(), key=lambda m: m.rank, reverse=True)
        return ranked[:limit]

    def best(self, text: str, min_score: float = 0.0) -> Match[K] | None:
        matches = self.find(text, limit=1)
        return matches[0] if matches and matches[0].score >= min_score else None
