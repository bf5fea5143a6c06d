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

_NOT_KATAKANA = re.compile(r"[^\u30a1-\u30faー]")
_BRACKETED = re.compile(r"[（(【\[〔［][^）)】\]〕］]*[）)】\]〕］]")


@lru_cache(maxsize=1)
def _g2p():  # noqa: ANN202 - the import is slow (dictionary load), so it is done once, lazily
    import pyopenjtalk

    return pyopenjtalk.g2p


# Readings of the knowledge base's few thousand phrases, kept on disk between runs: g2p costs
# ~0.5 ms a phrase, which made start-up seconds slower. Keyed by the g2p version.
_known: dict[str, str] = {}
_new = 0


def _cache_file(cache_dir: Path) -> Path:
    return Path(cache_dir) / f"readings-pyopenjtalk-{version('pyopenjtalk-plus')}.json"


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
    kana = _g2p()(text, kana=True)
    return _NOT_KATAKANA.sub("", jaconv.hira2kata(kana))


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


def reading_of_name(name: str) -> str:
    """Reading of a display name, leaving out bracketed notes such as （大宮通り北側）."""
    return reading(_BRACKETED.sub("", name)) or reading(name)
