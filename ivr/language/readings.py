"""Kana readings via pyopenjtalk's g2p.

Speech recognition often gets the sound right and the kanji wrong (完全地 for 乾電池), so the
knowledge base and caller text are both compared on readings. The ``pyopenjtalk-plus``
distribution bundles its dictionary, so this works offline.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jaconv

_NOT_KATAKANA = re.compile(r"[^\u30a1-\u30faー]")
_BRACKETED = re.compile(r"[（(【\[〔［][^）)】\]〕］]*[）)】\]〕］]")


@lru_cache(maxsize=1)
def _g2p():  # noqa: ANN202 - the import is slow (dictionary load), so it is done once, lazily
    import pyopenjtalk

    return pyopenjtalk.g2p


@lru_cache(maxsize=65536)
def reading(text: str) -> str:
    """Katakana reading (long vowels as ー) of ``text``; '' when it has no speakable part."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    kana = _g2p()(text, kana=True)
    return _NOT_KATAKANA.sub("", jaconv.hira2kata(kana))


def reading_of_name(name: str) -> str:
    """Reading of a display name, leaving out bracketed notes such as （大宮通り北側）."""
    return reading(_BRACKETED.sub("", name)) or reading(name)
