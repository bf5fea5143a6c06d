"""The knowledge base's words for the recogniser: which item and category names Whisper is told to expect.

There are no call statistics, so "most asked" is read from the knowledge base's own caller
phrasings (faq.yaml examples and phrasings.csv, ~2,600 sentences written as callers speak): an
item counts once for every phrasing naming it, a category by the word callers use for it
(燃えるごみ, not 燃やせるごみ). Names are counted as written, not through the NLU's matcher, whose
readings and fuzzy hits find すみ (炭) in すみません.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ivr.knowledge.base import KnowledgeBase, load_knowledge
from ivr.knowledge.loader import KnowledgeError

log = logging.getLogger(__name__)

# Two-character kana names (ござ, くし, いす) sit inside everyday words (ございます, ください);
# two kanji (包丁, 布団, 新聞) name the thing.
_KANJI_PAIR = re.compile(r"^[\u4e00-\u9fff々]{2}$")
SEPARATOR = "、"


def _countable(name: str) -> bool:
    return len(name) >= 3 or bool(_KANJI_PAIR.fullmatch(name))


def _phrasings(kb: KnowledgeBase) -> list[str]:
    return [e for topic in kb.topics for e in topic.examples] + [text for text, _topic in kb.phrasings]


def most_asked(kb: KnowledgeBase, items: int, categories: int) -> list[str]:
    """Up to ``categories`` category words then ``items`` item names, most asked first; each
    category by its callers' most used word, categories and items by how many phrasings name them."""
    texts = _phrasings(kb)
    words: list[tuple[int, str]] = []
    for category in kb.categories:
        used = Counter({w: sum(w in t for t in texts) for w in (category.name, *category.aliases) if _countable(w)})
        if used and (top := used.most_common(1)[0])[1]:
            words.append((top[1], top[0]))
    item_counts = Counter({i.name: sum(i.name in t for t in texts) for i in kb.items if _countable(i.name)})
    chosen = [w for _n, w in sorted(words, key=lambda x: -x[0])[:categories]]
    named: list[str] = []
    for name, count in item_counts.most_common():
        if len(named) >= items or not count:
            break
        if not any(name in w for w in chosen + named):  # 生ごみ is said in 生ごみの日 already
            named.append(name)
    return chosen + named


def hotwords(words: Sequence[str]) -> str:
    """The words as one string for faster-whisper's ``hotwords`` (read as a list, not a sentence)."""
    return SEPARATOR.join(words)


def kb_hotwords(data_dir: Path | str, items: int, categories: int = 0) -> str | None:
    """``hotwords(most_asked(…))`` for a knowledge-base folder; None (no hotwords) if it does not load."""
    try:
        kb = load_knowledge(data_dir)
    except (KnowledgeError, OSError) as exc:
        log.warning("ASR hotwords off: the knowledge base in %s did not load (%s)", data_dir, exc)
        return None
    return hotwords(most_asked(kb, items, categories)) or None
