"""Kana readings via pyopenjtalk's g2p.

Speech recognition often gets the sound right and the kanji wrong (完全地 for 乾電池), so the
knowledge base and caller text are both compared on readings. The ``pyopenjtalk-plus``
distribution bundles its dictionary, so this works offline.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import jaconv
from rapidfuzz import fuzz

from ivr.language import user_dictionary

_NOT_KATAKANA = re.compile(r"[^\u30a1-\u30faー]")
READING_FORM = 3  # names the disk cache; bump when readings change form (3: long vowels as ー, per word)
_BRACKETED = re.compile(r"[（(【\[〔［][^）)】\]〕］]*[）)】\]〕］]")


@lru_cache(maxsize=1)
def _frontend():  # noqa: ANN202 - the import is slow (dictionary load), so it is done once, lazily
    import pyopenjtalk

    user_dictionary.ensure_installed()  # place-name and term readings (readings.csv) first
    return pyopenjtalk.run_frontend


def is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch in "々〆ヶ"


@lru_cache(maxsize=4096)
def morphemes(text: str) -> tuple[tuple[str, str, str, str], ...]:
    """(surface, part of speech, dictionary form, pronunciation) of each word of ``text``.

    One analysis serves both the reading and the lemmas (``lemmas.py``) of a caller's turn:
    it is most of the cost of either (~1 ms), so it is done once and remembered.
    """
    return tuple((m["string"], m["pos"], m["orig"], m["pron"]) for m in _frontend()(text))


@lru_cache(maxsize=1024)
def word_classes(text: str) -> tuple[tuple[str, str, str, str], ...]:
    """(surface, part of speech, its first subdivision, conjugation form) of each word: what
    says whether an utterance can end where it stopped (``turn_end.py``)."""
    return tuple((m["string"], m["pos"], m["pos_group1"], m["cform"]) for m in _frontend()(text))


# Readings of the knowledge base's few thousand phrases, kept on disk between runs: g2p costs
# ~0.5 ms a phrase, which made start-up seconds slower. Keyed by the g2p version and user dictionary.
_known: dict[str, str] = {}
_new = 0


def _cache_file(cache_dir: Path) -> Path:
    words = user_dictionary.ensure_installed() or "none"
    return Path(cache_dir) / f"readings-{READING_FORM}-pyopenjtalk-{version('pyopenjtalk-plus')}-dict-{words}.json"


def load_reading_cache(cache_dir: Path) -> None:
    global _new
    try:
        _known.update(json.loads(_cache_file(cache_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass  # no cache yet, or a broken one: readings are recomputed
    _new = 0


def save_reading_cache(cache_dir: Path) -> None:
    """Write the cache if new readings were computed; a read-only disk only costs speed."""
    if not _new:
        return
    try:
        path = _cache_file(cache_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_known, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


@lru_cache(maxsize=65536)
def reading(text: str) -> str:
    """Katakana reading (long vowels as ー) of ``text``; '' when it has no speakable part."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    known = _known.get(text)
    if known is not None:
        return known
    return "".join(_word_readings(text))


def _word_readings(text: str) -> list[str]:
    """One reading per word of NFKC-stripped ``text``, as pyopenjtalk.g2p(kana=True) gives it:
    long vowels never span two."""
    words = [surface if pos == "記号" else pron.replace("’", "") for surface, pos, _, pron in morphemes(text)]
    return [long_vowels(_NOT_KATAKANA.sub("", jaconv.hira2kata(w))) for w in words]


@lru_cache(maxsize=1024)
def word_ends(text: str) -> frozenset[int]:
    """Offsets in ``reading(text)`` where a word ends: a reading match that stops inside a word
    (ショージ in ショージキ, 正直) is another word, not the phrase."""
    text = unicodedata.normalize("NFKC", text).strip()
    ends, at = set(), 0
    for r in _word_readings(text) if text else ():
        at += len(r)
        ends.add(at)
    return frozenset(ends)


@lru_cache(maxsize=1024)
def inside_kanji_words(text: str) -> frozenset[int]:
    """Offsets in ``reading(text)`` strictly inside a word written with kanji: a reading match that
    stops there (ペットノフン in ペットの分別, ペットノフンベツ) cut a word the caller wrote whole."""
    text = unicodedata.normalize("NFKC", text).strip()
    inside, at = set(), 0
    for (surface, *_), r in zip(morphemes(text), _word_readings(text), strict=True) if text else ():
        if any(map(is_kanji, surface)):
            inside.update(range(at + 1, at + len(r)))
        at += len(r)
    return frozenset(inside)


def _vowel(ch: str) -> str:
    roman = jaconv.kana2alphabet(jaconv.kata2hira(ch))
    return roman[-1] if roman and roman[-1] in "aiueo" else ""


# The vowel each katakana ends in (キ → i, ョ → o); ン, ッ and ー have none.
_VOWEL_OF = {chr(c): _vowel(chr(c)) for c in range(0x30A1, 0x30F7)} | {"ャ": "a", "ュ": "u", "ョ": "o"}


def vowel_of(kana: str) -> str:
    """The vowel (a i u e o) a katakana ends in; '' for ン, ッ and ー."""
    return _VOWEL_OF.get(kana, "")


_LENGTHENS = {("o", "ウ"), ("u", "ウ"), ("e", "イ"), ("o", "オ"), ("a", "ア"), ("i", "イ"), ("u", "ウ"), ("e", "エ")}


def long_vowels(kana: str) -> str:
    """Write every long vowel as ー: g2p reads 冷蔵庫 レーゾーコ but れいぞうこ レイゾーコ, and
    ASR output comes in both spellings, so readings are compared in one form."""
    out: list[str] = []
    vowel = ""
    for ch in kana:
        if out and (vowel, ch) in _LENGTHENS:
            out.append("ー")
            continue  # the vowel carries on: コウウ stays コーー only in theory
        out.append(ch)
        vowel = _VOWEL_OF.get(ch, "") if ch != "ー" else vowel
    return "".join(out)


def romaji(kana: str) -> str:
    """Kana as Latin letters, long marks dropped (ナカトミガオカ → nakatomigaoka). Compared this way
    a consonant Whisper misheard in noise (ナサトミ for ナカトミ) costs one letter of two, where
    compared kana by kana it costs as much as a kana missing."""
    return jaconv.kana2alphabet(jaconv.kata2hira(kana)).replace("-", "")


class Sound:
    """A reading and its romaji, compared as a listener would: the mean of rapidfuzz ratios on the
    kana and on the romaji, so one misheard consonant (ナサトミ for ナカトミ) costs half a kana,
    and a kana missing costs one."""

    __slots__ = ("kana", "latin")

    def __init__(self, kana: str) -> None:
        self.kana = kana
        self.latin = romaji(kana)

    def likeness(self, other: Sound) -> float:
        return (fuzz.ratio(self.kana, other.kana) + fuzz.ratio(self.latin, other.latin)) / 2


def charwise_reading(text: str) -> str:
    """``text`` with each kanji replaced by its reading alone (放丁 → ホーチョー), for words ASR
    spelled with homophone kanji that g2p, reading the pair as one word, would read otherwise."""
    return "".join(reading(ch) or ch if "\u4e00" <= ch <= "\u9fff" else ch for ch in text)


def indexed_reading(text: str) -> str:
    """Reading of a knowledge-base phrase, remembered in the on-disk cache.

    Only knowledge-base text goes to disk, never what callers said.
    """
    global _new
    out = reading(text)
    key = unicodedata.normalize("NFKC", text).strip()
    if key and key not in _known:
        _known[key] = out
        _new += 1
    return out


def _forget() -> None:
    """Another user dictionary was installed: readings computed with the old one are stale."""
    global _new
    reading.cache_clear()
    morphemes.cache_clear()
    _known.clear()
    _new = 0


user_dictionary.on_change(_forget)


def reading_of_name(name: str) -> str:
    """Reading of a display name, leaving out bracketed notes such as （大宮通り北側）."""
    return reading(_BRACKETED.sub("", name)) or reading(name)
