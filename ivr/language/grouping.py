"""Group the utterances the bot failed on, so staff deal with a question once, not once a caller.

Callers ask the same thing in slightly different words, and ASR spells the same words in kana one
time and kanji the next (れいぞうこ / 冷蔵庫): utterances are compared on the **kana reading** of
their matching form (fillers and Kansai forms normalised, ``ivr.language.normalize``), with
rapidfuzz's ratio. Greedy: the most frequent utterance opens a group and takes every other one
that reads close enough to it; a few hundred utterances group in well under a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from rapidfuzz import fuzz

from ivr.knowledge.editing import clean_text
from ivr.language.normalize import normalize
from ivr.language.readings import reading

SAME_QUESTION = 82  # ratio of readings: 80 put 燃えるごみ and 燃えないごみ questions together; 85 split
MAX_SHOWN = 5  # texts shown (and added) per group: near-duplicates, more add little


class Failed(Protocol):
    """``analytics.store.FailedUtterance``: only these fields are read."""

    text: str
    at: datetime
    outcome: str
    intent: str


@dataclass
class Group:
    key: str  # the first text's reading: stable across page loads, names the group in forms
    texts: list[str]  # distinct texts, most frequent first
    count: int  # utterances in the group
    last_at: datetime
    outcomes: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)

    @property
    def shown(self) -> list[str]:
        return self.texts[:MAX_SHOWN]

    @property
    def guess(self) -> str:
        """What the bot most often took these for ('' when never anything)."""
        for intent, _ in self.intents.most_common():
            if intent and intent != "not_understood":
                return intent
        return ""


def matching_reading(text: str) -> str:
    return reading(normalize(text)) or normalize(text)


def group_failed(utterances: list[Failed], skip: set[str] | None = None) -> list[Group]:
    """Groups of ``utterances`` (texts in ``skip`` left out), the biggest first, then the newest."""
    skip = skip or set()
    by_text: dict[str, list[Failed]] = {}
    for u in utterances:
        text = clean_text(u.text)
        if text and text not in skip:
            by_text.setdefault(text, []).append(u)
    order = sorted(by_text, key=lambda t: (-len(by_text[t]), -max(u.at.timestamp() for u in by_text[t]), t))
    groups: list[tuple[str, list[str]]] = []
    for text in order:
        key = matching_reading(text)
        for head, members in groups:
            if fuzz.ratio(head, key) >= SAME_QUESTION:
                members.append(text)
                break
        else:
            groups.append((key, [text]))
    out = []
    for key, members in groups:
        said = [u for t in members for u in by_text[t]]
        out.append(Group(key=key, texts=members, count=len(said), last_at=max(u.at for u in said),
                         outcomes=Counter(u.outcome for u in said), intents=Counter(u.intent for u in said)))
    out.sort(key=lambda g: (-g.count, -g.last_at.timestamp()))
    return out
