"""``ivr voices build``: pre-render every reply the bot can say without variable parts.

Replies are cached per synthesis unit (``split_sentences``), exactly as the Synthesizer
streams them, so a reply made of fixed sentences (an FAQ answer followed by ほかに、ご質問は
ありますか。) plays from the cache even though the whole string was never rendered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from tqdm import tqdm

from ivr.dialogue import prompts
from ivr.knowledge.base import KnowledgeBase
from ivr.speech.sentences import split_sentences
from ivr.speech.tts import Synthesizer
from voices.cache import VoiceCache

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def kb_constants(kb: KnowledgeBase) -> dict[str, str]:
    """Placeholders whose value is fixed for a knowledge base, as the dialogue fills them."""
    return {
        "city": kb.municipality.name,  # session.py: GREETING.format(city=…)
        "example": kb.areas[0].town if kb.areas else "青山",  # handlers.py: ASK_AREA.format(example=…)
    }


def fixed_replies(kb: KnowledgeBase) -> list[str]:
    """Whole fixed replies: prompts (with KB constants filled), FAQ answers without
    placeholders, topic confirmations, and the compositions the dialogue speaks."""
    constants = kb_constants(kb)
    texts: list[str] = []
    for text in prompts.every_prompt().values():
        names = set(_PLACEHOLDER.findall(text))
        if names <= constants.keys():
            texts.append(text.format(**{n: constants[n] for n in names}) if names else text)
    texts.append(prompts.GREETING.format(city=constants["city"]) + prompts.MENU)  # the call's opening
    for topic in kb.topics:
        texts.append(prompts.confirm_topic(topic.title, topic.handler))  # a fixed set: one per topic
        if not _PLACEHOLDER.search(topic.answer):
            texts += [topic.answer, topic.answer + prompts.ANYTHING_ELSE]  # session.py adds the latter
    return texts


def units_of(texts: Iterable[str]) -> list[str]:
    """Distinct synthesis units of ``texts``, in first-seen order."""
    return list(dict.fromkeys(unit for text in texts for unit in split_sentences(text)))


def fixed_texts(kb: KnowledgeBase) -> list[str]:
    """Every unit to pre-render for ``kb``: the fixed replies split as the Synthesizer splits."""
    return units_of(fixed_replies(kb))


@dataclass
class BuildReport:
    units: int  # units the knowledge base needs
    rendered: int  # synthesised by this build (0 when everything was there)
    seconds: float
    bytes_on_disk: int  # the whole voice folder


def build(
    kb: KnowledgeBase,
    synthesizer: Synthesizer,
    cache: VoiceCache,
    progress: bool = True,
    texts: list[str] | None = None,
) -> BuildReport:
    """Render the units ``cache`` lacks (all of ``fixed_texts(kb)``, or ``texts``); a second run
    with nothing new is a no-op."""
    if cache.voice != synthesizer.voice:
        raise ValueError(f"cache is for {cache.voice!r}, synthesizer speaks {synthesizer.voice!r}")
    started = time.perf_counter()
    units = fixed_texts(kb) if texts is None else units_of(texts)
    missing = [u for u in units if u not in cache]
    for unit in tqdm(missing, desc="voices", unit="sentence", disable=not progress or not missing):
        cache.put(unit, synthesizer.render(unit))
    return BuildReport(len(units), len(missing), time.perf_counter() - started, cache.size_bytes())
