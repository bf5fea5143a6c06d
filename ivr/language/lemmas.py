"""Content words in their dictionary form: 死んどんねん → 死ぬ, 投げよってん → 投げる.

Character n-grams see 死んどん and 死んでいます as different strings; the morphological
analyser inside pyopenjtalk (the same one that gives readings) reduces inflected and dialect
verb forms to one base form, which lets the intent classifier generalise from a few
phrasings a topic to the many ways callers conjugate them.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from ivr.language import user_dictionary
from ivr.language.readings import morphemes

CONTENT_POS = ("名詞", "動詞", "形容詞", "副詞", "形容動詞")  # particles and endings say little about the topic
NO_WORDS = "none"  # the classifier's vectoriser needs one token even for 「えーと」


@lru_cache(maxsize=65536)
def content_lemmas(text: str) -> str:
    """Space-separated base forms of the content words of ``text`` (``NO_WORDS`` if none)."""
    words = []
    for surface, pos, base, _ in morphemes(unicodedata.normalize("NFKC", text).strip()):
        if pos in CONTENT_POS and not surface.startswith("〇"):
            words.append(base if base and base != "*" else surface)
    return " ".join(words) or NO_WORDS


def _forget() -> None:
    content_lemmas.cache_clear()


user_dictionary.on_change(_forget)
