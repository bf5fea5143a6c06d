"""Put back a knowledge-base word that Whisper spelt with other kanji of the same sounds.

Whisper writes what it hears with kanji that carry the sound: 不法投棄 comes out as 武法統規.
g2p then reads the non-word character by character with other readings (タケホートーブンマワシ),
so neither the words nor the readings the classifier knows are there, and the caller hears
「うまく聞き取れませんでした」 twice. Read one on'yomi per character (``kanji_on.py``), the run
reads ブホートーキ: 不法投棄 but for voicing. Only a run no dictionary word covers is re-read,
only into a word of the knowledge base's own topics (titles, examples, keywords, phrasings),
and only when exactly one word fits; item names are left to the item matcher, which reads
such a guess back (``EntityExtractor._by_kanji_sounds``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from ivr.language.kanji_on import KANJI_RUN, run_readings
from ivr.language.matcher import MIN_DEVOICED, devoiced
from ivr.language.normalize import nfkc
from ivr.language.readings import indexed_reading, morphemes

MIN_RESPELL = 5  # kana; shorter readings (ケーサン, ジカン) match too many other kanji pairs by chance


class Respeller:
    """Reading (also with voicing folded) → the readings of the knowledge base's topic words
    that sound so, and the commonest spelling of each (phrasings also hold ASR's own misspellings,
    不法投機 beside 不法投棄: one word, read one way)."""

    def __init__(self, texts: Iterable[str], is_item: Callable[[str], bool]) -> None:
        spellings: dict[str, Counter[str]] = defaultdict(Counter)
        self._readings: dict[str, set[str]] = defaultdict(set)
        self._known: set[str] = set()
        for text in texts:
            for run in KANJI_RUN.findall(nfkc(text)):
                self._known.add(run)
                r = indexed_reading(run)
                if len(r) >= MIN_RESPELL and not is_item(r):
                    spellings[r][run] += 1
                    self._readings[r].add(r)
                    if len(r) >= MIN_DEVOICED:
                        self._readings[devoiced(r)].add(r)
        self._spelling = {r: counts.most_common(1)[0][0] for r, counts in spellings.items()}

    def respell(self, text: str) -> tuple[str, bool]:
        """``text`` with each sound-spelt run replaced by the one topic word it reads as, and
        whether any was: a guess the dialogue confirms before it acts on it."""
        changed = False
        for run in KANJI_RUN.findall(text):
            if run in self._known or len(morphemes(run)) < 2:
                continue  # the knowledge base's own spelling, or a dictionary word: what was said
            fits = {w for r in run_readings(run) if len(r) >= MIN_RESPELL
                    for w in self._readings.get(r, set()) | self._readings.get(devoiced(r), set())}
            if len(fits) == 1 and (word := self._spelling[fits.pop()]) != run:
                text = text.replace(run, word, 1)
                changed = True
        return text, changed
